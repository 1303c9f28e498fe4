"""slowStartBatch: call a function `count` times in doubling batches, stopping after the first failing batch.

Starting small means a create that will fail (quota, admission) fails once instead of hundreds of times,
and the event stream is not flooded. Calls within a batch run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

SLOW_START_INITIAL_BATCH_SIZE = 1  # controller.SlowStartInitialBatchSize


async def slow_start_batch(count: int, initial_batch_size: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """(successful calls, first error of the failing batch or None). Batches grow 1, 2, 4, ... capped by what is left."""
    remaining = count
    successes = 0
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for r in failures:
            if isinstance(r, asyncio.CancelledError):
                raise r
        successes += batch - len(failures)
        if failures:
            return successes, failures[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None
