"""Workqueue semantics ported from client-go's queue, delaying queue, rate-limiting queue and rate limiter tests."""

from __future__ import annotations

import asyncio

import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.client.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    QueueShutDown,
    RateLimitingQueue,
    WorkQueue,
    default_controller_rate_limiter,
)

MS = 0.001


async def until(cond: object, timeout: float = 5.0) -> None:
    """Let the loop run until `cond()` holds (a deadline, not a sleep for synchronisation)."""
    assert callable(cond)
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0)


# ---- queue_test.go ----

async def test_basic_producers_and_consumers() -> None:
    q = WorkQueue()
    producers, consumers, per_producer = 50, 10, 50
    seen: list[str] = []

    async def produce(p: int) -> None:
        for i in range(per_producer):
            q.add(f"{p}-{i}")
            await asyncio.sleep(0)

    async def consume() -> None:
        while True:
            try:
                item = await q.get()
            except QueueShutDown:
                return
            seen.append(item)
            await asyncio.sleep(0)
            q.done(item)

    workers = [asyncio.create_task(consume()) for _ in range(consumers)]
    await asyncio.gather(*(produce(p) for p in range(producers)))
    await until(lambda: len(q) == 0 and len(seen) == producers * per_producer)
    q.shut_down()
    await asyncio.wait_for(asyncio.gather(*workers), 5)
    assert sorted(seen) == sorted(f"{p}-{i}" for p in range(producers) for i in range(per_producer))
    q.add("late")
    assert len(q) == 0  # adds after shut_down are ignored


async def test_add_while_processing_is_requeued_at_done() -> None:
    q = WorkQueue()
    q.add("foo")
    item = await q.get()
    q.add("foo")
    assert len(q) == 0  # not queued while a worker holds it
    q.add("foo")
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "foo"
    q.done("foo")
    assert len(q) == 0


async def test_len_and_collapse() -> None:
    q = WorkQueue()
    q.add("foo")
    assert len(q) == 1
    q.add("bar")
    assert len(q) == 2
    q.add("foo")  # already queued
    assert len(q) == 2
    assert [await q.get(), await q.get()] == ["foo", "bar"]


async def test_reinsert() -> None:
    q = WorkQueue()
    q.add("foo")
    i = await q.get()
    assert i == "foo"
    q.add(i)
    q.done(i)
    assert await q.get() == "foo"
    q.done("foo")
    assert len(q) == 0


async def test_shut_down_wakes_getters_and_drains_queued_items_first() -> None:
    q = WorkQueue()
    waiting = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shut_down()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(waiting, 5)

    q2 = WorkQueue()
    q2.add("a")
    q2.shut_down()
    assert await q2.get() == "a"  # upstream Get still hands out what was queued
    with pytest.raises(QueueShutDown):
        await q2.get()


async def test_shut_down_with_drain_waits_for_done() -> None:
    q = WorkQueue()
    q.add("foo")
    q.add("bar")
    foo = await q.get()
    bar = await q.get()
    drained = asyncio.create_task(q.shut_down_with_drain())
    await asyncio.sleep(0)
    assert not drained.done()
    q.done(foo)
    await asyncio.sleep(0)
    assert not drained.done()
    q.done(bar)
    await asyncio.wait_for(drained, 5)


async def test_cancelled_getter_passes_its_wake_on() -> None:
    q = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("x")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs
    assert await asyncio.wait_for(second, 5) == "x"


# ---- delaying_queue_test.go ----

async def test_simple_delaying_queue() -> None:
    clock = FakeClock()
    q = DelayingQueue("test-simple", clock)
    q.add_after("foo", 50 * MS)
    await until(lambda: clock.has_sleepers())
    assert q.waiting() == 1 and len(q) == 0
    clock.step(60 * MS)
    await until(lambda: len(q) == 1)
    assert q.waiting() == 0
    q.done(await q.get())
    clock.step(10)
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(q) == 0


async def test_deduping_keeps_the_earliest_time() -> None:
    clock = FakeClock()
    q = DelayingQueue("test-dedupe", clock)
    q.add_after("foo", 50 * MS)
    q.add_after("foo", 70 * MS)
    assert q.waiting() == 1
    clock.step(60 * MS)
    await until(lambda: len(q) == 1)
    q.done(await q.get())
    clock.step(20 * MS)  # past the second (dropped) add
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(q) == 0

    q.add_after("foo", 50 * MS)
    q.add_after("foo", 30 * MS)  # the earlier one wins
    assert q.waiting() == 1
    clock.step(40 * MS)
    await until(lambda: len(q) == 1)
    q.done(await q.get())
    clock.step(20 * MS)
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(q) == 0


async def test_add_two_fire_early() -> None:
    clock = FakeClock()
    q = DelayingQueue("test-addtwofireearly", clock)
    q.add_after("foo", 1)
    q.add_after("bar", 50 * MS)
    assert q.waiting() == 2
    clock.step(60 * MS)
    await until(lambda: len(q) == 1)
    assert q.waiting() == 1
    assert await q.get() == "bar"
    q.add_after("baz", 2)
    clock.step(1)
    await until(lambda: len(q) == 1)
    assert await q.get() == "foo"
    clock.step(2)
    await until(lambda: len(q) == 1)
    assert q.waiting() == 0
    assert await q.get() == "baz"


async def test_copy_shifting_orders_by_ready_time() -> None:
    clock = FakeClock()
    q = DelayingQueue("test-copyshift", clock)
    q.add_after("foo", 1)
    q.add_after("bar", 500 * MS)
    q.add_after("baz", 250 * MS)
    await until(lambda: clock.has_sleepers())
    await asyncio.sleep(0)
    clock.step(2)
    await until(lambda: len(q) == 3)
    assert [await q.get(), await q.get(), await q.get()] == ["baz", "bar", "foo"]


async def test_time_stepped_before_the_waiter_starts_still_counts() -> None:
    clock = FakeClock()
    q = DelayingQueue("early-step", clock)
    q.add_after("foo", 5)
    clock.step(5)  # no chance for the waiting task to run before the step
    await until(lambda: len(q) == 1)


async def test_add_after_non_positive_adds_now_and_shut_down_cancels_waiting() -> None:
    clock = FakeClock()
    q = DelayingQueue("now", clock)
    q.add_after("a", 0)
    assert len(q) == 1
    q.add_after("b", 5)
    q.shut_down()
    assert q.waiting() == 0
    clock.step(10)
    await asyncio.sleep(0)
    assert len(q) == 1


# ---- rate_limiting_queue_test.go ----

async def test_rate_limiting_queue() -> None:
    clock = FakeClock()
    q = RateLimitingQueue("rl", clock, ItemExponentialFailureRateLimiter(1 * MS, 1))
    q.add_rate_limited("one")
    q.add_rate_limited("one")  # 2 ms, but the pending 1 ms stays
    assert q.num_requeues("one") == 2
    q.add_rate_limited("two")
    q.add_rate_limited("two")
    assert q.num_requeues("two") == 2
    q.forget("one")
    assert q.num_requeues("one") == 0
    clock.step(1 * MS)
    await until(lambda: len(q) == 2)
    q.add_rate_limited("one")
    assert q.num_requeues("one") == 1


# ---- default_rate_limiters_test.go ----

def test_item_exponential_failure_rate_limiter() -> None:
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1)
    assert [limiter.when("one") for _ in range(5)] == pytest.approx([1 * MS, 2 * MS, 4 * MS, 8 * MS, 16 * MS])
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == pytest.approx([1 * MS, 2 * MS])
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == pytest.approx(1 * MS)


def test_item_exponential_failure_rate_limiter_overflow() -> None:
    limiter = ItemExponentialFailureRateLimiter(1 * MS, 1000)
    for _ in range(5):
        limiter.when("one")
    assert limiter.when("one") == pytest.approx(32 * MS)
    for _ in range(1000):
        limiter.when("overflow1")
    assert limiter.when("overflow1") == 1000
    for _ in range(2000):
        limiter.when("overflow1")
    assert limiter.when("overflow1") == 1000
    limiter = ItemExponentialFailureRateLimiter(60, 1000 * 3600)
    for _ in range(2):
        limiter.when("two")
    assert limiter.when("two") == 4 * 60


def test_item_fast_slow_rate_limiter() -> None:
    limiter = ItemFastSlowRateLimiter(5 * MS, 10, 3)
    assert [limiter.when("one") for _ in range(5)] == [5 * MS, 5 * MS, 5 * MS, 10, 10]
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == [5 * MS, 5 * MS]
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == 5 * MS


def test_max_of_rate_limiter() -> None:
    limiter = MaxOfRateLimiter(ItemFastSlowRateLimiter(5 * MS, 3, 3), ItemExponentialFailureRateLimiter(1 * MS, 1))
    assert [limiter.when("one") for _ in range(5)] == pytest.approx([5 * MS, 5 * MS, 5 * MS, 3, 3])
    assert limiter.num_requeues("one") == 5
    assert [limiter.when("two") for _ in range(2)] == pytest.approx([5 * MS, 5 * MS])
    assert limiter.num_requeues("two") == 2
    limiter.forget("one")
    assert limiter.num_requeues("one") == 0
    assert limiter.when("one") == pytest.approx(5 * MS)


def test_bucket_rate_limiter_burst_then_qps() -> None:
    clock = FakeClock()
    bucket = BucketRateLimiter(10, 100, clock)
    assert all(bucket.when(str(i)) == 0 for i in range(100))
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    clock.step(1)  # ten tokens come back, two were owed
    assert bucket.when("z") == 0
    assert bucket.num_requeues("z") == 0


def test_default_controller_rate_limiter() -> None:
    clock = FakeClock()
    limiter = default_controller_rate_limiter(clock)
    assert limiter.when("a") == pytest.approx(5 * MS)
    assert limiter.when("a") == pytest.approx(10 * MS)
    for _ in range(40):
        limiter.when("a")
    assert limiter.when("a") == 1000
    assert limiter.num_requeues("a") == 43
    for i in range(57):
        limiter.when(f"other{i}")  # 100 tokens used in all: the bucket is empty
    assert limiter.when("fresh") == pytest.approx(0.1)  # the bucket now dominates the fresh item's 5 ms
