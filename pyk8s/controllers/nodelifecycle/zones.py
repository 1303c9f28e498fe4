"""Per-zone eviction pacing: zone states, a token bucket, and the rate-limited queue of nodes to taint.

Upstream tains nodes NoExecute through one RateLimitedTimedQueue per zone (scheduler/rate_limited_queue.go)
whose limiter follows the zone's health (ComputeZoneState): --node-eviction-rate when normal,
--secondary-node-eviction-rate (or 0 in small clusters) when partially disrupted, and 0 everywhere when
every zone is fully disrupted (the control plane, not the nodes, is the likely fault).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pyk8s.base.clock import Clock

Obj = dict[str, Any]

STATE_INITIAL = "Initial"
STATE_NORMAL = "Normal"
STATE_FULL_DISRUPTION = "FullDisruption"
STATE_PARTIAL_DISRUPTION = "PartialDisruption"

EVICTION_RATE_LIMITER_BURST = 1


def compute_zone_state(ready_conditions: list[Obj | None], unhealthy_threshold: float) -> tuple[int, str]:
    """(not-ready count, state): no ready node is a full disruption; more than 2 not ready and at least
    `unhealthy_threshold` of the zone a partial one."""
    ready = sum(1 for c in ready_conditions if c is not None and c.get("status") == "True")
    not_ready = len(ready_conditions) - ready
    if ready == 0 and not_ready > 0:
        return not_ready, STATE_FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= unhealthy_threshold:
        return not_ready, STATE_PARTIAL_DISRUPTION
    return not_ready, STATE_NORMAL


class TokenBucket:
    """flowcontrol's token bucket (starts full); qps <= 0 never accepts."""

    def __init__(self, qps: float, burst: int, clock: Clock) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def try_accept(self) -> bool:
        if self.qps <= 0:
            return False
        now = self.clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


Action = Callable[[str], Awaitable[tuple[bool, float]]]


class TaintQueue:
    """Upstream RateLimitedTimedQueue over node names: an item stays a member after it is processed, so adding
    it again is a no-op until `remove` (when the node recovers or its taint disappeared)."""

    def __init__(self, qps: float, clock: Clock) -> None:
        self.clock = clock
        self.limiter = TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, clock)
        self._members: set[str] = set()
        self._pending: dict[str, float] = {}  # name -> monotonic time it may be processed

    def add(self, name: str) -> bool:
        if name in self._members:
            return False
        self._members.add(name)
        self._pending[name] = self.clock.monotonic()
        return True

    def remove(self, name: str) -> bool:
        self._pending.pop(name, None)
        if name in self._members:
            self._members.discard(name)
            return True
        return False

    def pending(self) -> list[str]:
        return sorted(self._pending, key=lambda n: self._pending[n])

    async def try_each(self, action: Action) -> None:
        """Run `action` on due items, oldest first, while the limiter allows; (False, wait) retries later."""
        for name in self.pending():
            now = self.clock.monotonic()
            due = self._pending.get(name)
            if due is None or due > now:
                continue
            if not self.limiter.try_accept():
                return
            ok, wait = await action(name)
            if name not in self._pending:
                continue  # removed meanwhile
            if ok:
                del self._pending[name]
            else:
                self._pending[name] = self.clock.monotonic() + wait

    def swap_limiter(self, qps: float) -> None:
        if self.limiter.qps == qps:
            return
        fresh = TokenBucket(qps, EVICTION_RATE_LIMITER_BURST, self.clock)
        if qps > 0 and not self.limiter.try_accept():
            fresh.try_accept()  # the old bucket was drained: so is the new one (burst 1)
        self.limiter = fresh
