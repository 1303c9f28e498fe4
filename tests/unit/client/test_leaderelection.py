"""Lease-based leader election over FakeClient and FakeClock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.client.events import EventRecorder
from pyk8s.client.fake import FakeClient
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import EVENTS, LEASES
from pyk8s.client.kubeconfig import ClientConfig
from pyk8s.client.leaderelection import (
    LeaderElector,
    LeadershipLost,
    leader_election_client,
    leader_election_timeout,
)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def advance(clock: FakeClock, seconds: float, step: float = 0.25) -> None:
    """Move the fake clock forward in small steps, letting every task run in between."""
    t = 0.0
    while t < seconds - 1e-9:
        clock.step(step)
        t += step
        await settle()


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0)


class Candidate:
    def __init__(self, fake: FakeClient, clock: FakeClock, identity: str, **kw: Any) -> None:
        self.elector = LeaderElector(fake, "kube-system", "kube-controller-manager", identity, clock=clock, **kw)
        self.leading = False
        self.cancelled = False
        self.task: asyncio.Task[Any] | None = None

    async def lead(self) -> None:
        self.leading = True
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            self.leading = False
            raise

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run(self.lead))


def lease_spec(fake: FakeClient) -> dict[str, Any]:
    [lease] = fake.objects(LEASES)
    spec: dict[str, Any] = lease["spec"]
    return spec


async def stop(*candidates: Candidate) -> None:
    for c in candidates:
        if c.task is not None and not c.task.done():
            c.task.cancel()
    await asyncio.gather(*(c.task for c in candidates if c.task is not None), return_exceptions=True)


async def test_only_one_of_two_candidates_leads() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    seen: list[str] = []
    a = Candidate(fake, clock, "a")
    b = Candidate(fake, clock, "b", on_new_leader=seen.append)
    a.start()
    await until(lambda: a.leading)
    spec = lease_spec(fake)
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 15 and spec["leaseTransitions"] == 0
    assert spec["acquireTime"] == spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
    b.start()
    try:
        await advance(clock, 60)
        assert a.leading and not b.leading
        assert a.elector.is_leader() and not b.elector.is_leader() and b.elector.leader() == "a"
        assert seen == ["a"]
        spec = lease_spec(fake)
        assert spec["holderIdentity"] == "a" and spec["leaseTransitions"] == 0
        assert spec["acquireTime"] == "2026-01-01T00:00:00.000000Z"
        assert spec["renewTime"] > "2026-01-01T00:00:55"  # renewed every 2 s
    finally:
        await stop(a, b)


async def test_standby_takes_over_once_the_leader_stops_renewing() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a = Candidate(fake, clock, "a")
    b = Candidate(fake, clock, "b")
    a.start()
    await until(lambda: a.leading)
    b.start()
    await advance(clock, 5)
    assert not b.leading
    # The leader's process hangs up: its task is gone and its release never reaches the server.
    fake.fail_next("update", "leases", ConnectionError("connection reset"))
    await stop(a)
    assert a.cancelled
    assert lease_spec(fake)["holderIdentity"] == "a"
    last_renew = clock.monotonic()
    try:
        while not b.leading:
            await advance(clock, 0.25)
        # b takes over a lease duration after it first saw the last renewal (which was at most one retry period
        # before the leader died); seeing it and retrying afterwards each take up to one jittered retry period.
        waited = clock.monotonic() - last_renew
        assert 15 - 2 <= waited <= 15 + 2 * (2 * 2.2) + 0.25
        spec = lease_spec(fake)
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    finally:
        await stop(b)


async def test_release_on_cancel_lets_the_standby_in_at_once() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a = Candidate(fake, clock, "a")
    b = Candidate(fake, clock, "b")
    a.start()
    await until(lambda: a.leading)
    b.start()
    await advance(clock, 4)
    await stop(a)
    spec = lease_spec(fake)
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
    assert a.cancelled and not a.elector.is_leader()
    try:
        await advance(clock, 2 * 2.2 + 0.25)  # within one jittered retry period
        assert b.leading
        assert lease_spec(fake)["holderIdentity"] == "b" and lease_spec(fake)["leaseTransitions"] == 1
    finally:
        await stop(b)


async def test_failed_renewals_cancel_lead_and_raise_leadership_lost() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a = Candidate(fake, clock, "a")
    a.start()
    await until(lambda: a.leading)
    for _ in range(100):
        fake.fail_next("update", "leases", ConnectionError("apiserver down"))
    await advance(clock, 9)
    assert a.leading and a.task is not None and not a.task.done()  # still within the renew deadline
    await advance(clock, 4)
    assert a.task.done()
    with pytest.raises(LeadershipLost):
        a.task.result()
    assert a.cancelled


async def test_lead_returning_releases_and_returns_its_result() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    elector = LeaderElector(fake, "default", "job", "me", clock=clock)

    async def lead() -> str:
        return "finished"

    assert await elector.run(lead) == "finished"
    assert lease_spec(fake)["holderIdentity"] == ""


async def test_conflicting_write_is_a_failed_try_not_a_crash() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    a = Candidate(fake, clock, "a")
    a.start()
    await until(lambda: a.leading)
    # Someone else rewrites the lease behind the leader's back: its fast-path update conflicts, it rereads.
    [lease] = fake.objects(LEASES)
    lease["metadata"].pop("resourceVersion")
    lease["spec"]["renewTime"] = "2026-01-01T00:00:01.000000Z"
    await fake.update(LEASES, lease)
    try:
        await advance(clock, 3)
        assert a.leading
        assert lease_spec(fake)["holderIdentity"] == "a"
        assert lease_spec(fake)["renewTime"] >= "2026-01-01T00:00:02"
    finally:
        await stop(a)


async def test_became_leader_event_and_config_checks() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    recorder = EventRecorder(fake, "kube-controller-manager", clock=clock)
    a = Candidate(fake, clock, "host_1234", recorder=recorder)
    a.start()
    await until(lambda: a.leading)
    await stop(a)
    await recorder.flush()
    [ev] = fake.objects(EVENTS)
    assert (ev["reason"], ev["message"]) == ("LeaderElection", "host_1234 became leader")
    assert ev["involvedObject"]["kind"] == "Lease" and ev["involvedObject"]["apiVersion"] == "coordination.k8s.io/v1"
    with pytest.raises(ValueError, match="leaseDuration must be greater than renewDeadline"):
        LeaderElector(fake, "ns", "n", "id", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match=r"renewDeadline must be greater than retryPeriod\*JitterFactor"):
        LeaderElector(fake, "ns", "n", "id", renew_deadline=2, retry_period=2)


class HangingUpdates(FakeClient):
    """Lease updates never answer once `hang` is set (a stalled connection)."""

    hang = False

    async def update(self, resource: Any, obj: Obj, **kw: Any) -> Obj:
        if self.hang:
            await asyncio.Event().wait()
        return await super().update(resource, obj, **kw)


async def test_release_is_bounded_by_the_leader_election_timeout() -> None:
    clock = FakeClock()
    fake = HangingUpdates(clock=clock)
    a = Candidate(fake, clock, "a")  # renew deadline 10 s: requests time out after 5 s
    assert a.elector.release_timeout == 5
    a.start()
    await until(lambda: a.leading)
    fake.hang = True
    assert a.task is not None
    a.task.cancel()
    await settle()
    assert a.cancelled and not a.task.done()  # lead() stopped; the release is under way
    clock.step(4.9)
    await settle()
    assert not a.task.done()
    clock.step(0.1)
    await until(a.task.done)
    assert a.task.cancelled()
    assert lease_spec(fake)["holderIdentity"] == "a"  # the release did not get through


def test_leader_election_client_has_its_own_unthrottled_short_timeout_client() -> None:
    workload = ClientConfig(server="https://127.0.0.1:6443", qps=5, burst=10, timeout=60,
                            user_agent="kube-scheduler/pyk8s", max_connections=100)
    le = leader_election_client(workload, renew_deadline=10)
    assert le.config is not workload
    assert le.config.timeout == 5 and le.config.qps is None and le.config.burst is None
    assert le._limiter is None
    assert le.user_agent == "kube-scheduler/pyk8s/leader-election"
    assert le.config.server == workload.server
    # the workload config is untouched
    assert (workload.timeout, workload.qps, workload.user_agent) == (60, 5, "kube-scheduler/pyk8s")
    assert leader_election_client(workload, renew_deadline=1).config.timeout == 1  # at least 1 s
    assert leader_election_timeout(15) == 7.5 and leader_election_timeout(0.5) == 1
