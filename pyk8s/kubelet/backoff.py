"""Per-key exponential backoff with reset (client-go's flowcontrol.Backoff), as the kubelet uses it for
container restarts (CrashLoopBackOff: 10 s doubling to 300 s) and image pulls (ImagePullBackOff).

Semantics follow upstream exactly: `next(key, event_time)` starts a key at `initial` (or doubles it, capped at
`maximum`) and records the moment; an entry whose last update is more than 2 x `maximum` before `event_time`
has expired and starts over (with 300 s: a container that ran fine for 10 min is back to 10 s).
`in_backoff_since(key, event_time)` is True while less than the current delay has passed since `event_time`.
Time is read from an injected Clock (monotonic seconds), so tests step it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyk8s.base.clock import REAL_CLOCK, Clock


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0, *, clock: Clock = REAL_CLOCK) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current delay of `key` (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def next(self, key: str, event_time: float) -> float:
        """Move `key` to its next delay (starting over after expiry); returns the new delay."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry.last_update):
            entry = self._entries[key] = _Entry(self.initial, 0.0)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
        entry.last_update = self.clock.monotonic()
        return entry.delay

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry.last_update):
            return False
        return self.clock.monotonic() - event_time < entry.delay

    def in_backoff_since_update(self, key: str, event_time: float) -> bool:
        """True while less than the current delay has passed between the last `next` and `event_time`."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry.last_update):
            return False
        return event_time - entry.last_update < entry.delay

    def remaining_since_update(self, key: str) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last_update + entry.delay - self.clock.monotonic())

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until `key` leaves the backoff that started at `event_time` (0 if it is not in backoff)."""
        if not self.in_backoff_since(key, event_time):
            return 0.0
        return max(0.0, event_time + self._entries[key].delay - self.clock.monotonic())

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self) -> None:
        """Forget entries that have expired (upstream GC)."""
        now = self.clock.monotonic()
        for key in [k for k, e in self._entries.items() if self._expired(now, e.last_update)]:
            del self._entries[key]


def go_duration(seconds: float) -> str:
    """A duration as Go's time.Duration.String() prints it: 10s, 1m20s, 5m0s, 1.5s, 250ms, 1h0m0s."""
    if seconds == 0:
        return "0s"
    neg = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        ms = seconds * 1000
        text = f"{ms:.6f}".rstrip("0").rstrip(".") + "ms" if ms >= 1 else f"{seconds * 1e6:.3f}".rstrip("0").rstrip(
            ".") + "µs"
        return ("-" if neg else "") + text
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        text = f"{int(hours)}h{int(minutes)}m{sec_text}"
    elif minutes:
        text = f"{int(minutes)}m{sec_text}"
    else:
        text = sec_text
    return ("-" if neg else "") + text
