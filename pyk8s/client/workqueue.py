"""Work queues with client-go semantics (k8s.io/client-go/util/workqueue), for asyncio.

`WorkQueue` is a FIFO of keys with two sets: *dirty* (needs processing) and *processing* (handed to a worker,
not yet `done`). Adding a key that is already dirty is a no-op; adding a key that is being processed marks it
dirty and it is queued again when the worker calls `done`, so no key is ever processed by two workers at once
and bursts of events for one object collapse into one reconcile.

`DelayingQueue` adds `add_after` (the earliest pending time for a key wins), timed by the injected Clock, so a
`FakeClock.step()` releases due keys. `RateLimitingQueue` adds `add_rate_limited`/`forget`/`num_requeues` over a
`RateLimiter`; the default is upstream's DefaultControllerRateLimiter: the larger of a per-key exponential
backoff (5 ms doubling to 1000 s) and an overall token bucket (10 qps, burst 100).

After `shut_down()`, adds are ignored, keys already queued are still handed out, and then `get()` raises
`QueueShutDown` (upstream's Get returns shutdown=true) to every waiting and later caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from pyk8s.base.clock import REAL_CLOCK, Clock

log = logging.getLogger("pyk8s.client.workqueue")

DEFAULT_BASE_DELAY = 0.005  # 5 ms
DEFAULT_MAX_DELAY = 1000.0  # 1000 s
DEFAULT_QPS = 10.0
DEFAULT_BURST = 100


class QueueShutDown(Exception):
    """`get()` on a queue that is shut down and empty: the worker should return."""


# ---------------------------------------------------------------------------------------------------- rate limiters


class RateLimiter(Protocol):
    def when(self, item: str) -> float:
        """Seconds to wait before `item` may be processed again; counts one more failure for it."""

    def forget(self, item: str) -> None:
        """Stop tracking `item` (it succeeded): its backoff starts over."""

    def num_requeues(self, item: str) -> int:
        """How many times `item` has failed since it was last forgotten."""


class ItemExponentialFailureRateLimiter:
    """base_delay * 2^failures, capped at max_delay, per item."""

    def __init__(self, base_delay: float, max_delay: float) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[str, int] = {}

    def when(self, item: str) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 1024:  # 2.0**1024 overflows a float; upstream caps the same way at its int64 limit
            return self.max_delay
        return min(self.base_delay * (2.0 ** exp), self.max_delay)

    def forget(self, item: str) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: str) -> int:
        return self._failures.get(item, 0)


class ItemFastSlowRateLimiter:
    """fast_delay for the first max_fast_attempts failures of an item, slow_delay after."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        self.fast_delay = fast_delay
        self.slow_delay = slow_delay
        self.max_fast_attempts = max_fast_attempts
        self._failures: dict[str, int] = {}

    def when(self, item: str) -> float:
        n = self._failures.get(item, 0) + 1
        self._failures[item] = n
        return self.fast_delay if n <= self.max_fast_attempts else self.slow_delay

    def forget(self, item: str) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: str) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """An overall token bucket (golang.org/x/time/rate semantics): starts full with `burst` tokens, refills at
    `qps`; each `when` takes a token and, when the bucket is in debt, returns the wait until it is not."""

    def __init__(self, qps: float, burst: int, clock: Clock = REAL_CLOCK) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: str) -> float:
        now = self.clock.monotonic()
        last = now if self._last is None else min(self._last, now)
        self._tokens = min(float(self.burst), self._tokens + (now - last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return -self._tokens / self.qps if self._tokens < 0 else 0.0

    def forget(self, item: str) -> None:
        pass

    def num_requeues(self, item: str) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay any of its limiters asks for (and the most requeues any counted)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: str) -> float:
        return max((lim.when(item) for lim in self.limiters), default=0.0)

    def forget(self, item: str) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: str) -> int:
        return max((lim.num_requeues(item) for lim in self.limiters), default=0)


def default_controller_rate_limiter(clock: Clock = REAL_CLOCK) -> RateLimiter:
    """Upstream DefaultControllerRateLimiter: max(per-item 5 ms..1000 s exponential, 10 qps burst 100 bucket)."""
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(DEFAULT_BASE_DELAY, DEFAULT_MAX_DELAY),
                            BucketRateLimiter(DEFAULT_QPS, DEFAULT_BURST, clock))


# ---------------------------------------------------------------------------------------------------- queues


class WorkQueue:
    """FIFO with dirty/processing sets (see the module docstring). Use from one event loop."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._drained: list[asyncio.Future[None]] = []
        self._shutting_down = False

    def add(self, item: str) -> None:
        """Mark `item` as needing processing (ignored after shut_down, or while it is already queued)."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    async def get(self) -> str:
        """The next item, waiting for one; the caller must call `done(item)`. QueueShutDown once shut down
        and empty."""
        while not self._queue and not self._shutting_down:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake_one()  # we were woken for an item we will not take: pass the wake on
                else:
                    fut.cancel()
                raise
        if not self._queue:
            raise QueueShutDown(self.name)
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: str) -> None:
        """`item` is processed; if it was added again meanwhile, it is queued again now."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        elif not self._processing:
            for fut in self._drained:
                if not fut.done():
                    fut.set_result(None)
            self._drained.clear()

    def shut_down(self) -> None:
        """Ignore new adds and wake every waiting `get()` (they raise QueueShutDown once the queue is empty)."""
        self._shutting_down = True
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shut_down_with_drain(self) -> None:
        """shut_down, then wait until every item handed out has been marked done."""
        self.shut_down()
        while self._processing:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drained.append(fut)
            await fut

    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        """Items queued and not handed out (informational)."""
        return len(self._queue)

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return


class DelayingQueue(WorkQueue):
    """A WorkQueue whose `add_after` adds an item once `seconds` have passed on the clock."""

    def __init__(self, name: str = "", clock: Clock = REAL_CLOCK) -> None:
        super().__init__(name)
        self.clock = clock
        self._waiting: dict[str, tuple[float, asyncio.Task[None]]] = {}

    def add_after(self, item: str, seconds: float) -> None:
        """Add `item` after `seconds` (at once if <= 0). While it waits, an earlier time replaces a later one.
        Needs a running event loop."""
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(item)
            return
        ready_at = self.clock.monotonic() + seconds
        pending = self._waiting.get(item)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()
        task = asyncio.get_running_loop().create_task(self._add_when_ready(item, ready_at),
                                                      name=f"workqueue {self.name} wait {item}")
        self._waiting[item] = (ready_at, task)

    def waiting(self) -> int:
        """How many items are waiting for their time (informational)."""
        return len(self._waiting)

    def shut_down(self) -> None:
        super().shut_down()
        for _, task in self._waiting.values():
            task.cancel()
        self._waiting.clear()

    async def _add_when_ready(self, item: str, ready_at: float) -> None:
        # The deadline was fixed when the item was added: time stepped before this task first runs still counts.
        await self.clock.sleep(ready_at - self.clock.monotonic())
        pending = self._waiting.get(item)
        if pending is not None and pending[1] is asyncio.current_task():
            del self._waiting[item]
            self.add(item)


class RateLimitingQueue(DelayingQueue):
    """A DelayingQueue whose `add_rate_limited` waits as long as the rate limiter says."""

    def __init__(self, name: str = "", clock: Clock = REAL_CLOCK, rate_limiter: RateLimiter | None = None) -> None:
        super().__init__(name, clock)
        self.rate_limiter = rate_limiter if rate_limiter is not None else default_controller_rate_limiter(clock)

    def add_rate_limited(self, item: str) -> None:
        """Add `item` after the rate limiter's delay (one more failure counted for it)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: str) -> None:
        """`item` succeeded: reset its failure count (does not remove it from the queue)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: str) -> int:
        return self.rate_limiter.num_requeues(item)
