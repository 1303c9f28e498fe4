"""Injected time: every timer in pyk8s reads a Clock so tests can step time instead of sleeping.

`Clock` is the real thing (wall time for timestamps, monotonic time for durations, asyncio sleeps).
`FakeClock` keeps both at values a test controls; `step()` moves time forward and wakes every sleeper
whose deadline has passed, in deadline order.
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime.datetime:
        """The current wall time, timezone-aware UTC (for timestamps written into objects)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and deadlines)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock. Cancellable."""


class RealClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


REAL_CLOCK = RealClock()


class FakeClock:
    """A clock that only moves when a test calls `step()`; sleepers wake at their deadlines."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self._wall = start or datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        self._mono = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime.datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._seq), fut))
        await fut

    def has_sleepers(self) -> bool:
        return any(not f.done() for _, _, f in self._sleepers)

    def sleeper_count(self) -> int:
        """How many tasks are asleep on this clock (a test waits for its loops to park before stepping)."""
        return sum(not f.done() for _, _, f in self._sleepers)

    def step(self, seconds: float) -> None:
        """Advance time by `seconds` and wake every sleeper whose deadline is now reached."""
        self._mono += seconds
        self._wall += datetime.timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
