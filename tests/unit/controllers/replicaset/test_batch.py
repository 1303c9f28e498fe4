"""Slow-start batching of pod creates (upstream slowStartBatch)."""

from __future__ import annotations

from pyk8s.controllers.replicaset.batch import slow_start_batch


async def test_slow_start_batches_double_and_stop_on_failure() -> None:
    calls: list[int] = []

    async def ok() -> None:
        calls.append(1)

    assert await slow_start_batch(10, 1, ok) == (10, None)
    assert len(calls) == 10

    attempts = 0

    async def fail_from_fourth() -> None:
        nonlocal attempts
        attempts += 1
        if attempts >= 4:
            raise RuntimeError("quota")

    successes, error = await slow_start_batch(10, 1, fail_from_fourth)
    # batches 1, 2 succeed (3 calls); the batch of 4 has 4 failures; nothing after it runs.
    assert successes == 3 and attempts == 7
    assert isinstance(error, RuntimeError)
    assert await slow_start_batch(0, 1, ok) == (0, None)
