"""The shared reconcile loop: results map to queue operations as in controller-runtime, expectations count echoes."""

from __future__ import annotations

from pyk8s.base.clock import FakeClock
from pyk8s.controllers.framework import Controller, Expectations, Result


class Scripted:
    """A reconciler that returns (or raises) what the test lined up, and records the keys it saw."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.seen: list[str] = []

    async def reconcile(self, key: str) -> Result | None:
        self.seen.append(key)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[return-value]


async def test_success_forgets_and_requeue_after_delays() -> None:
    clock = FakeClock()
    rec = Scripted(Result(requeue_after=30), None)
    c = Controller("t", rec, clock=clock)
    c.enqueue("ns/a")
    assert await c.process_next()
    assert len(c.queue) == 0 and c.queue.num_requeues("ns/a") == 0
    clock.step(29)
    assert len(c.queue) == 0
    clock.step(1)
    assert await c.process_next()
    assert rec.seen == ["ns/a", "ns/a"]


async def test_error_requeues_rate_limited() -> None:
    clock = FakeClock()
    c = Controller("t", Scripted(RuntimeError("boom")), clock=clock)
    c.enqueue("ns/a")
    assert await c.process_next()
    assert c.queue.num_requeues("ns/a") == 1


async def test_requeue_after_zero_or_negative_is_a_rate_limited_retry_not_a_tight_loop() -> None:
    clock = FakeClock()
    c = Controller("t", Scripted(Result(requeue_after=0), Result(requeue_after=-3)), clock=clock)
    c.enqueue("ns/a")
    assert await c.process_next()
    assert c.queue.num_requeues("ns/a") == 1 and len(c.queue) == 0  # waiting out its back-off, not queued at once
    clock.step(1)
    assert await c.process_next()
    assert c.queue.num_requeues("ns/a") == 2


def test_expectations_wait_for_echoes_or_the_ttl() -> None:
    clock = FakeClock()
    e = Expectations(clock, ttl=300)
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["u1"])
    assert not e.satisfied("ns/rs")
    clock.step(301)
    assert e.satisfied("ns/rs")
