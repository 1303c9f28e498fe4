"""EventRecorder writes Events as client-go's record package does, correlated like its EventCorrelator."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import pytest

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.events import EventRecorder
from pyk8s.client.fake import FakeClient
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import EVENTS, NODES

RS: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": "web-7c5ddbdf54", "namespace": "prod", "uid": "u-1", "resourceVersion": "42"}}


def setup() -> tuple[FakeClient, FakeClock, EventRecorder]:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    return fake, clock, EventRecorder(fake, "replicaset-controller", clock=clock)


async def test_event_shape() -> None:
    fake, _, rec = setup()
    rec.event(RS, "Normal", "SuccessfulCreate", "Created pod: web-7c5ddbdf54-abcde")
    assert rec.pending() == 1 and fake.actions == []  # queued, not written by event()
    await rec.flush()
    [ev] = fake.objects(EVENTS)
    assert re.fullmatch(r"web-7c5ddbdf54\.[0-9a-f]+", ev["metadata"]["name"])
    assert int(ev["metadata"]["name"].split(".")[1], 16) == 1767225600 * 10**9  # UnixNano of the FakeClock
    assert ev["metadata"]["namespace"] == "prod"
    assert ev["involvedObject"] == {"kind": "ReplicaSet", "namespace": "prod", "name": "web-7c5ddbdf54", "uid": "u-1",
                                    "apiVersion": "apps/v1", "resourceVersion": "42"}
    assert (ev["type"], ev["reason"], ev["message"]) == ("Normal", "SuccessfulCreate",
                                                         "Created pod: web-7c5ddbdf54-abcde")
    assert ev["source"] == {"component": "replicaset-controller"}
    assert ev["firstTimestamp"] == ev["lastTimestamp"] == "2026-01-01T00:00:00Z"
    assert ev["count"] == 1
    assert ev["reportingComponent"] == "replicaset-controller" and ev["reportingInstance"] == ""


async def test_cluster_scoped_object_and_missing_kind() -> None:
    fake, _, _ = setup()
    rec = EventRecorder(fake, "kubelet", host="node-1", clock=FakeClock())
    rec.event({"metadata": {"name": "node-1", "uid": "n-uid"}}, "Warning", "NodeNotReady", "down",
              kind="Node", api_version="v1")
    await rec.flush()
    [ev] = fake.objects(EVENTS)
    assert ev["metadata"]["namespace"] == "default"
    assert ev["involvedObject"] == {"kind": "Node", "name": "node-1", "uid": "n-uid", "apiVersion": "v1"}
    assert ev["source"] == {"component": "kubelet", "host": "node-1"} and ev["reportingInstance"] == "node-1"
    # Two events at the same instant still get distinct names.
    rec.event({"metadata": {"name": "node-1"}}, "Normal", "A", "a", kind="Node")
    rec.event({"metadata": {"name": "node-1"}}, "Normal", "B", "b", kind="Node")
    await rec.flush()
    assert len(fake.objects(EVENTS)) == 3


async def test_identical_events_patch_count_and_last_timestamp() -> None:
    fake, clock, rec = setup()
    rec.event(RS, "Warning", "FailedCreate", "quota exceeded")
    await rec.flush()
    clock.step(30)
    rec.event(RS, "Warning", "FailedCreate", "quota exceeded")
    rec.event(RS, "Warning", "FailedCreate", "quota exceeded")
    await rec.flush()
    assert [a.verb for a in fake.actions] == ["create", "patch", "patch"]
    patch = fake.actions[2]
    assert patch.body == {"count": 3, "lastTimestamp": "2026-01-01T00:00:30Z", "message": "quota exceeded"}
    [ev] = fake.objects(EVENTS)
    assert ev["count"] == 3 and ev["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert ev["lastTimestamp"] == "2026-01-01T00:00:30Z"


async def test_patch_of_a_vanished_event_creates_it_again() -> None:
    fake, _, rec = setup()
    rec.event(RS, "Normal", "X", "same")
    await rec.flush()
    [ev] = fake.objects(EVENTS)
    await fake.delete(EVENTS, ev["metadata"]["name"], "prod")
    rec.event(RS, "Normal", "X", "same")
    await rec.flush()
    [again] = fake.objects(EVENTS)
    assert again["metadata"]["name"] == ev["metadata"]["name"] and again["count"] == 2


async def test_similar_events_are_aggregated_after_ten() -> None:
    fake, _, rec = setup()
    for i in range(11):
        rec.event(RS, "Warning", "FailedCreate", f"error {i}")
    await rec.flush()
    events = fake.objects(EVENTS)
    messages = sorted(e["message"] for e in events)
    assert len(events) == 10
    assert [m for m in messages if not m.startswith("(combined")] == sorted(f"error {i}" for i in range(9))
    creates = [a.body["message"] for a in fake.actions if a.verb == "create"]
    assert creates[-1] == "(combined from similar events): error 9"  # the 10th different message
    combined = next(e for e in events if e["message"].startswith("(combined"))
    assert combined["count"] == 2  # the 11th patched the combined event (count, lastTimestamp, message)
    assert combined["message"] == "(combined from similar events): error 10"
    assert fake.actions[-1].verb == "patch"
    assert fake.actions[-1].body["message"] == "(combined from similar events): error 10"


async def test_spam_filter_allows_burst_of_25_per_object_then_one_per_5_minutes() -> None:
    fake, clock, rec = setup()
    for i in range(27):
        rec.event(RS, "Normal", f"Reason{i}", "m")
    await rec.flush()
    assert len(fake.objects(EVENTS)) == 25
    clock.step(300)
    rec.event(RS, "Normal", "Later", "m")
    rec.event(RS, "Normal", "Later2", "m")
    await rec.flush()
    assert len(fake.objects(EVENTS)) == 26


async def test_write_errors_are_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    fake, _, rec = setup()
    fake.fail_next("create", "events", errors.Forbidden("events is forbidden"))
    rec.event(RS, "Normal", "A", "first")
    rec.event(RS, "Normal", "B", "second")
    with caplog.at_level(logging.ERROR, logger="pyk8s.client.events"):
        await rec.flush()
    assert [e["reason"] for e in fake.objects(EVENTS)] == ["B"]
    assert "events is forbidden" in caplog.text


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0)


@pytest.mark.parametrize("failure", [ConnectionError("connection refused"),
                                     errors.TooManyRequests("too many requests"),
                                     errors.ServiceUnavailable("the apiserver is starting")])
async def test_unreachable_or_overloaded_server_is_retried_every_10s(failure: Exception) -> None:
    fake, clock, rec = setup()
    for _ in range(3):
        fake.fail_next("create", "events", failure)
    rec.event(RS, "Normal", "A", "first")
    flush = asyncio.create_task(rec.flush())

    def creates() -> int:
        return sum(a.verb == "create" for a in fake.actions)

    await until(clock.has_sleepers)
    assert creates() == 1
    clock.step(10)  # the first wait is random, at most 10 s
    await until(lambda: creates() == 2 and clock.has_sleepers())
    clock.step(9.9)  # later waits are exactly 10 s
    for _ in range(10):
        await asyncio.sleep(0)
    assert creates() == 2
    clock.step(0.1)
    await until(lambda: creates() == 3 and clock.has_sleepers())
    clock.step(10)
    await asyncio.wait_for(flush, 5)
    assert creates() == 4
    assert [e["reason"] for e in fake.objects(EVENTS)] == ["A"]


async def test_retries_stop_after_12_tries(caplog: pytest.LogCaptureFixture) -> None:
    fake, clock, rec = setup()
    for _ in range(20):
        fake.fail_next("create", "events", ConnectionError("connection refused"))
    rec.event(RS, "Normal", "A", "first")
    rec.event(RS, "Normal", "B", "second")  # waits behind A, as upstream's single writer
    flush = asyncio.create_task(rec.flush())
    with caplog.at_level(logging.ERROR, logger="pyk8s.client.events"):
        while not flush.done():
            await until(lambda: clock.has_sleepers() or flush.done())
            clock.step(10)
    assert sum(a.verb == "create" for a in fake.actions) == 12 + 9  # A: 12 tries; B: 8 failures, then written
    assert [e["reason"] for e in fake.objects(EVENTS)] == ["B"]
    assert "retry limit exceeded" in caplog.text


async def test_full_queue_drops_and_bad_type_is_ignored() -> None:
    fake, clock, _ = setup()
    rec = EventRecorder(fake, "c", clock=clock, queue_size=2)
    rec.event(RS, "Normal", "A", "1")
    rec.event(RS, "Normal", "B", "2")
    rec.event(RS, "Normal", "C", "3")
    rec.event(RS, "Bogus", "D", "4")
    assert rec.pending() == 2 and rec.dropped == 1
    await rec.flush()
    assert sorted(e["reason"] for e in fake.objects(EVENTS)) == ["A", "B"]


async def test_run_writes_in_the_background() -> None:
    fake, _, rec = setup()
    task = asyncio.create_task(rec.run())
    try:
        rec.event({"metadata": {"name": "n1"}}, "Normal", "Starting", "Starting kubelet.", kind="Node",
                  api_version="v1")
        deadline = asyncio.get_running_loop().time() + 5
        while not fake.objects(EVENTS):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.objects(NODES) == [] and fake.objects(EVENTS)[0]["reason"] == "Starting"
