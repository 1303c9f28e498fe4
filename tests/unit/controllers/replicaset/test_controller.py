"""The ReplicaSet controller against the fake client and real informers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import EVENTS, PODS, REPLICA_SETS
from pyk8s.controllers.framework import Result
from pyk8s.controllers.replicaset import DESCRIPTOR, ReplicaSetController
from pyk8s.controllers.replicaset.tally import PodTally
from tests.unit.controllers.harness import Harness

NS = "default"
LABELS = {"app": "web"}


def replica_set(replicas: int, *, name: str = "web", min_ready: int = 0) -> dict:
    spec: dict = {"replicas": replicas, "selector": {"matchLabels": LABELS},
                  "template": {"metadata": {"labels": {**LABELS, "tier": "fe"}},
                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def owner_ref(rs: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


async def started(world: Harness) -> ReplicaSetController:
    ctrl = ReplicaSetController(world.ctx)
    await world.start()
    return ctrl


def creates(world: Harness) -> list:
    return [a for a in world.client.actions if a.verb == "create" and a.resource == "pods"]


def rs_status(world: Harness, name: str = "web") -> dict:
    return next(r for r in world.client.objects(REPLICA_SETS, NS) if r["metadata"]["name"] == name).get("status") or {}


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "replicaset"
    assert DESCRIPTOR.new is ReplicaSetController


async def test_scale_up_creates_pods_from_the_template(world: Harness) -> None:
    ctrl = await started(world)
    rs = await world.client.create(REPLICA_SETS, replica_set(5))
    await world.run(ctrl)
    pods = world.pods()
    assert len(pods) == 5 and len(creates(world)) == 5
    for p in pods:
        assert p["metadata"]["generateName"] == "web-" and p["metadata"]["name"].startswith("web-")
        assert p["metadata"]["labels"] == {"app": "web", "tier": "fe"}
        assert p["metadata"]["ownerReferences"] == [owner_ref(rs)]
        assert p["spec"] == rs["spec"]["template"]["spec"]
    assert rs_status(world) == {"replicas": 5, "fullyLabeledReplicas": 5, "observedGeneration": 1}
    events = await world.involved_events()
    assert sorted(e[2] for e in events) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    assert {(e[0], e[1], e[3]) for e in events} == {("Normal", "SuccessfulCreate", "ReplicaSet/web")}

    await world.make_ready()
    await world.run(ctrl)
    assert rs_status(world) == {"replicas": 5, "fullyLabeledReplicas": 5, "readyReplicas": 5,
                                "availableReplicas": 5, "observedGeneration": 1}


async def test_expectations_prevent_double_creates(world: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ctrl = await started(world)
    await world.client.create(REPLICA_SETS, replica_set(3))
    await world.settle()
    lister = ctrl.pod_informer.lister
    stale = lister.list(NS)
    assert stale == []
    await ctrl.reconcile(f"{NS}/web")
    assert len(creates(world)) == 3
    # A cache that has not caught up with our own creates yet: the controller must not create again.
    monkeypatch.setattr(lister, "list", lambda namespace=None: list(stale))
    monkeypatch.setattr(lister, "by_index", lambda index_name, value: list(stale))
    monkeypatch.setattr(ctrl, "tally", PodTally())  # the tally is as stale as the cache it is kept from
    ctrl.expectations.expect_creations(f"{NS}/web", 3)
    await ctrl.reconcile(f"{NS}/web")
    assert len(creates(world)) == 3
    # Without expectations the same stale cache would have doubled the pods.
    ctrl.expectations.forget(f"{NS}/web")
    await ctrl.reconcile(f"{NS}/web")
    assert len(creates(world)) == 6
    monkeypatch.undo()
    await world.settle()
    assert ctrl.expectations.satisfied(f"{NS}/web")


async def test_creations_are_observed_through_the_informer(world: Harness) -> None:
    ctrl = await started(world)
    await world.client.create(REPLICA_SETS, replica_set(3))
    await world.settle()
    ctrl.expectations.expect_creations(f"{NS}/web", 0)
    await world.run(ctrl)
    assert len(creates(world)) == 3 and ctrl.expectations.satisfied(f"{NS}/web")
    await ctrl.reconcile(f"{NS}/web")
    assert len(creates(world)) == 3


async def test_slow_start_stops_after_a_failing_batch(world: Harness) -> None:
    ctrl = await started(world)
    await world.client.create(REPLICA_SETS, replica_set(10))
    await world.settle()
    world.client.fail_next("create", "pods", errors.Forbidden('pods "web-x" is forbidden: exceeded quota'))
    with pytest.raises(errors.Forbidden):
        await ctrl.reconcile(f"{NS}/web")
    # First batch of 1 failed: nothing more was attempted.
    assert len(creates(world)) == 1 and world.pods() == []
    status = rs_status(world)
    assert status["conditions"][0]["type"] == "ReplicaFailure"
    assert status["conditions"][0]["reason"] == "FailedCreate"
    assert status["conditions"][0]["message"] == 'pods "web-x" is forbidden: exceeded quota'
    assert ("Warning", "FailedCreate", 'Error creating: pods "web-x" is forbidden: exceeded quota',
            "ReplicaSet/web") in await world.involved_events()
    # Skipped creates were subtracted from the expectations: the next sync retries at once.
    assert ctrl.expectations.satisfied(f"{NS}/web")
    await ctrl.reconcile(f"{NS}/web")
    await world.settle()
    assert len(world.pods()) == 10
    await world.run(ctrl)
    assert "conditions" not in rs_status(world)


async def test_scale_down_deletes_the_least_useful_pods(world: Harness) -> None:
    ctrl = await started(world)
    rs = await world.client.create(REPLICA_SETS, replica_set(3))
    await world.run(ctrl)
    names = sorted(p["metadata"]["name"] for p in world.pods())
    await world.make_ready(names=names[:2])  # names[2] stays Pending and unscheduled
    await world.run(ctrl)
    rs = await world.client.get(REPLICA_SETS, "web", NS)
    rs["spec"]["replicas"] = 2
    await world.client.update(REPLICA_SETS, rs)
    await world.run(ctrl)
    assert sorted(p["metadata"]["name"] for p in world.pods()) == names[:2]
    assert ("Normal", "SuccessfulDelete", f"Deleted pod: {names[2]}", "ReplicaSet/web") in await world.involved_events()
    # Now a ready pod has to go: it is deleted gracefully and no longer counted while it terminates.
    rs = await world.client.get(REPLICA_SETS, "web", NS)
    rs["spec"]["replicas"] = 1
    await world.client.update(REPLICA_SETS, rs)
    await world.run(ctrl)
    terminating = [p for p in world.pods() if p["metadata"].get("deletionTimestamp")]
    assert len(terminating) == 1
    assert rs_status(world)["replicas"] == 1
    assert len(creates(world)) == 3


async def test_adopts_orphans_and_releases_pods_that_stop_matching(world: Harness) -> None:
    ctrl = await started(world)
    orphan = await world.client.create(PODS, {"metadata": {"name": "orphan", "namespace": NS, "labels": LABELS},
                                            "spec": {"containers": [{"name": "c", "image": "x"}]}})
    other = await world.client.create(PODS, {"metadata": {"name": "other", "namespace": NS, "labels": {"app": "db"}},
                                           "spec": {"containers": [{"name": "c", "image": "x"}]}})
    rs = await world.client.create(REPLICA_SETS, replica_set(2))
    await world.run(ctrl)
    adopted = await world.client.get(PODS, "orphan", NS)
    assert adopted["metadata"]["ownerReferences"] == [owner_ref(rs)]
    assert "ownerReferences" not in (await world.client.get(PODS, "other", NS))["metadata"]
    patch = next(a for a in world.client.actions if a.verb == "patch" and a.name == "orphan")
    assert patch.body == {"metadata": {"ownerReferences": [owner_ref(rs)], "uid": orphan["metadata"]["uid"]}}
    assert len(creates(world)) == 3  # two seeded by the test, one by the controller
    assert other["metadata"]["uid"]

    # Relabel the adopted pod: it is released and replaced.
    adopted["metadata"]["labels"] = {"app": "moved"}
    await world.client.update(PODS, adopted)
    await world.run(ctrl)
    released = await world.client.get(PODS, "orphan", NS)
    assert not released["metadata"].get("ownerReferences")
    owned = [p for p in world.pods() if p["metadata"].get("ownerReferences")]
    assert len(owned) == 2


async def test_terminal_and_terminating_pods_are_not_counted(world: Harness) -> None:
    ctrl = await started(world)
    rs = await world.client.create(REPLICA_SETS, replica_set(2))
    for name, status in (("done", {"phase": "Succeeded"}), ("failed", {"phase": "Failed"})):
        await world.client.create(PODS, {"metadata": {"name": name, "namespace": NS, "labels": LABELS,
                                                    "ownerReferences": [owner_ref(rs)]},
                                       "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": status})
    await world.client.create(PODS, {"metadata": {"name": "going", "namespace": NS, "labels": LABELS,
                                                "ownerReferences": [owner_ref(rs)], "finalizers": ["hold"]},
                                   "spec": {"containers": [{"name": "c", "image": "x"}]}})
    await world.client.delete(PODS, "going", NS)
    await world.run(ctrl)
    active = [p for p in world.pods() if p["metadata"]["name"] not in ("done", "failed", "going")]
    assert len(active) == 2
    assert rs_status(world)["replicas"] == 2


async def test_min_ready_seconds_requeues_until_available(world: Harness) -> None:
    ctrl = await started(world)
    await world.client.create(REPLICA_SETS, replica_set(1, min_ready=10))
    await world.run(ctrl)
    await world.make_ready()
    await world.settle()
    result = await ctrl.reconcile(f"{NS}/web")
    assert result == Result(requeue_after=11.0)
    assert rs_status(world)["readyReplicas"] == 1 and "availableReplicas" not in rs_status(world)
    await world.run(ctrl)
    await world.step(11)
    await world.run(ctrl)
    assert rs_status(world)["availableReplicas"] == 1


async def test_deleted_replica_set_forgets_expectations(world: Harness) -> None:
    ctrl = await started(world)
    await world.client.create(REPLICA_SETS, replica_set(2))
    await world.settle()
    ctrl.expectations.expect_creations(f"{NS}/web", 5)  # creates that will never be seen
    assert not ctrl.expectations.satisfied(f"{NS}/web")
    await world.client.delete(REPLICA_SETS, "web", NS)
    await world.settle()
    assert ctrl.expectations.satisfied(f"{NS}/web")
    assert await ctrl.reconcile(f"{NS}/web") is None


async def test_run_reconciles_and_writes_events_until_cancelled(world: Harness) -> None:
    ctrl = ReplicaSetController(world.ctx)
    await world.start()
    task = asyncio.create_task(ctrl.run())
    try:
        await world.client.create(REPLICA_SETS, replica_set(2))
        deadline = time.monotonic() + 5
        while not (len(world.pods()) == 2 and len(world.client.objects(EVENTS, NS)) == 2):
            assert time.monotonic() < deadline, "run() did not create the pods and their events"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert task.cancelled()


async def _one_sync(scenario: random.Random, *, tallied: bool) -> tuple[list, dict, list, bool]:
    """Build the scenario's ReplicaSet and pods in a fresh world, run one sync, and return what it wrote:
    (actions, status, event reasons, whether the tallied path ran)."""
    world = Harness()
    try:
        ctrl = await started(world)
        rs_body = replica_set(scenario.randint(0, 6), min_ready=scenario.choice([0, 0, 0, 5]))
        rs = await world.client.create(REPLICA_SETS, rs_body)
        for i in range(scenario.randint(0, 8)):
            owner = scenario.choice([owner_ref(rs), owner_ref(rs), None, {**owner_ref(rs), "uid": "someone-else"}])
            labels = scenario.choice([{"app": "web", "tier": "fe"}, {"app": "web", "tier": "fe"}, {"app": "web"},
                                      {"app": "db"}])
            md: dict = {"name": f"p{i}", "namespace": NS, "labels": labels}
            if owner is not None:
                md["ownerReferences"] = [owner]
            if scenario.random() < 0.15:
                md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
                md["finalizers"] = ["example.com/hold"]
            ready = scenario.choice(["True", "False", None])
            status: dict = {"phase": scenario.choice(["Pending", "Running", "Running", "Succeeded", "Failed"])}
            if ready is not None:
                status["conditions"] = [{"type": "Ready", "status": ready,
                                         "lastTransitionTime": "2020-01-01T00:00:00Z"}]
            world.client.seed(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": md,
                                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": status})
        await world.settle()
        world.client.clear_actions()
        used_tally: list[bool] = []
        if tallied:
            counted = ctrl._sync_counted

            async def spy(*args: object, **kwargs: object) -> Result | None:
                used_tally.append(True)
                return await counted(*args, **kwargs)  # type: ignore[arg-type]
            ctrl._sync_counted = spy  # type: ignore[method-assign]
        else:
            ctrl._tallied_counts = lambda rs, selector: None  # type: ignore[method-assign]
        with contextlib.suppress(Exception):
            await ctrl.reconcile(f"{NS}/web")
        actions = sorted((a.verb, a.resource, a.name, a.subresource) for a in world.client.actions
                         if a.resource != "events")
        reasons = sorted((e[0], e[1]) for e in await world.involved_events())
        return actions, rs_status(world), reasons, bool(used_tally)
    finally:
        await world.stop()


async def test_the_tallied_sync_writes_exactly_what_visiting_every_pod_writes() -> None:
    """Random mixes of owned, orphaned, foreign, terminal, terminating, ready and mislabelled pods: a sync
    from the tally, when it applies, writes the same pods, status and events as the sync over every pod."""
    fast = 0
    for seed in range(60):
        with_tally = await _one_sync(random.Random(seed), tallied=True)
        every_pod = await _one_sync(random.Random(seed), tallied=False)
        assert with_tally[:3] == every_pod[:3], seed
        fast += with_tally[3]
    assert fast >= 20  # the tallied path was exercised, not always skipped


async def test_a_steady_sync_does_not_visit_the_pods(world: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    ctrl = await started(world)
    await world.client.create(REPLICA_SETS, replica_set(4))
    await world.run(ctrl)
    await world.make_ready()
    await world.settle()

    def no_visits(*args: object) -> list:
        raise AssertionError("a steady sync listed the pods")
    monkeypatch.setattr("pyk8s.controllers.replicaset.controller.claim_candidates", no_visits)
    await world.run(ctrl)
    assert rs_status(world) == {"replicas": 4, "fullyLabeledReplicas": 4, "readyReplicas": 4,
                                "availableReplicas": 4, "observedGeneration": 1}
