"""Per-key exponential backoff (client-go flowcontrol.Backoff) for deleting failed daemon pods.

The kubelet may keep rejecting a daemon pod (for example for lack of resources); without a backoff the
controller and the kubelet would fight in a hot loop of create, fail, delete. Upstream uses 1s doubling to 15m.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyk8s.base.clock import Clock

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 15 * 60.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, clock: Clock, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> None:
        self.clock = clock
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def get(self, key: str) -> float:
        e = self._entries.get(key)
        return e.backoff if e else 0.0

    def next(self, key: str) -> None:
        """Record a new attempt: start at the initial delay, or double (up to the maximum)."""
        now = self.clock.monotonic()
        e = self._entries.get(key)
        if e is None or now - e.last_update > 2 * self.maximum:
            self._entries[key] = _Entry(self.initial, now)
        else:
            e.backoff = min(e.backoff * 2, self.maximum)
            e.last_update = now

    def in_backoff_since_update(self, key: str) -> bool:
        e = self._entries.get(key)
        if e is None:
            return False
        now = self.clock.monotonic()
        if now - e.last_update > 2 * self.maximum:
            return False
        return now - e.last_update < e.backoff

    def gc(self) -> None:
        """Drop entries idle for more than twice the maximum delay."""
        now = self.clock.monotonic()
        for key in [k for k, e in self._entries.items() if now - e.last_update > 2 * self.maximum]:
            del self._entries[key]
