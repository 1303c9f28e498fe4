"""The disruption controller over the fake client and real informers."""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.client.kinds import DEPLOYMENTS, POD_DISRUPTION_BUDGETS, PODS, REPLICA_SETS, STATEFUL_SETS
from pyk8s.controllers.disruption import DESCRIPTOR, DisruptionController
from tests.unit.controllers.builders import pod
from tests.unit.controllers.harness import Harness

Obj = dict[str, Any]


async def started(world: Harness) -> DisruptionController:
    ctrl = DisruptionController(world.ctx)
    await world.start()
    await world.settle()
    return ctrl


def budget(**spec: Any) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "budget", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def workload(kind: str, name: str, replicas: int, owner: Obj | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default"}
    if owner is not None:
        md["ownerReferences"] = [owner]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": md, "spec": {"replicas": replicas}}


def ref(obj: Obj) -> Obj:
    return {"apiVersion": obj.get("apiVersion", "apps/v1"), "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True}


async def status_of(world: Harness) -> Obj:
    return (await world.client.get(POD_DISRUPTION_BUDGETS, "budget", "default"))["status"]


def test_descriptor() -> None:
    assert (DESCRIPTOR.name, DESCRIPTOR.aliases) == ("disruption", ("disruption-controller",))


async def test_max_unavailable_counts_the_deployment_scale(world: Harness) -> None:
    dep = world.client.seed(DEPLOYMENTS, workload("Deployment", "web", 4))
    rs = world.client.seed(REPLICA_SETS, workload("ReplicaSet", "web-abc", 99, owner=ref(dep)))
    for i in range(3):
        world.client.seed(PODS, pod(f"web-{i}", owner=ref(rs), ready=i != 2))
    world.client.seed(POD_DISRUPTION_BUDGETS, budget(maxUnavailable=1))
    ctrl = await started(world)
    await ctrl.reconcile("default/budget")
    status = await status_of(world)
    assert {k: status[k] for k in ("expectedPods", "desiredHealthy", "currentHealthy", "disruptionsAllowed",
                                   "observedGeneration")} == {"expectedPods": 4, "desiredHealthy": 3,
                                                              "currentHealthy": 2, "disruptionsAllowed": 0,
                                                              "observedGeneration": 1}
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    assert world.recorders[0].component == "controllermanager"

    await world.settle()
    world.client.clear_actions()
    await ctrl.reconcile("default/budget")
    assert world.writes("poddisruptionbudgets") == []  # already up to date


async def test_min_available_number_needs_no_controllers(world: Harness) -> None:
    world.client.seed(PODS, pod("a"))
    world.client.seed(PODS, pod("b"))
    world.client.seed(PODS, pod("c"))
    world.client.seed(POD_DISRUPTION_BUDGETS, budget(minAvailable=2))
    ctrl = await started(world)
    await ctrl.reconcile("default/budget")
    status = await status_of(world)
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (3, 1)
    assert status["conditions"][0]["reason"] == "SufficientPods"
    assert await world.involved_events() == []


async def test_percent_with_an_unmanaged_pod_warns(world: Harness) -> None:
    ss = world.client.seed(STATEFUL_SETS, workload("StatefulSet", "db", 2))
    world.client.seed(PODS, pod("db-0", owner=ref(ss)))
    world.client.seed(PODS, pod("naked"))
    world.client.seed(POD_DISRUPTION_BUDGETS, budget(minAvailable="50%"))
    ctrl = await started(world)
    await ctrl.reconcile("default/budget")
    status = await status_of(world)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"]) == (2, 1, 2)
    ((type_, reason, message, involved),) = await world.involved_events()
    assert (type_, reason, involved) == ("Warning", "UnmanagedPods", "PodDisruptionBudget/budget")
    assert "(selector: &LabelSelector{MatchLabels:map[string]string{app: web,}," in message


async def test_unknown_controller_fails_safe(world: Harness) -> None:
    world.client.seed(PODS, pod("a", owner={"apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
                                         "uid": "u", "controller": True}))
    world.client.seed(POD_DISRUPTION_BUDGETS, budget(minAvailable="50%"))
    ctrl = await started(world)
    await ctrl.reconcile("default/budget")
    status = await status_of(world)
    assert status["disruptionsAllowed"] == 0
    (cond,) = status["conditions"]
    assert (cond["status"], cond["reason"]) == ("False", "SyncFailed")
    assert cond["message"] == 'no matches for kind "Widget" in version "example.com/v1"'
    assert [e[1] for e in await world.involved_events()] == ["CalculateExpectedPodCountFailed"]


async def test_no_pods_is_a_normal_event(world: Harness) -> None:
    world.client.seed(POD_DISRUPTION_BUDGETS, budget(minAvailable=1))
    ctrl = await started(world)
    await ctrl.reconcile("default/budget")
    assert await world.involved_events() == [("Normal", "NoPods", "No matching pods found", "PodDisruptionBudget/budget")]
    assert (await status_of(world))["disruptionsAllowed"] == 0


async def test_evicted_pod_is_forgotten_after_two_minutes(world: Harness) -> None:
    for name in ("a", "b", "c"):
        world.client.seed(PODS, pod(name))
    now = meta.now_rfc3339(world.clock.now())
    world.client.seed(POD_DISRUPTION_BUDGETS, {**budget(minAvailable=2),
                                             "status": {"disruptedPods": {"a": now}, "observedGeneration": 1}})
    ctrl = await started(world)
    while len(ctrl.controller.queue):
        await ctrl.controller.process_next()
    status = await status_of(world)
    assert (status["currentHealthy"], status["disruptionsAllowed"], status["disruptedPods"]) == (2, 0, {"a": now})

    await world.settle()
    await world.step(121)  # the recheck the sync asked for comes due
    assert len(ctrl.controller.queue) == 1
    await ctrl.controller.process_next()
    status = await status_of(world)
    assert (status["currentHealthy"], status["disruptionsAllowed"]) == (3, 1)
    assert "disruptedPods" not in status
    assert [e[1:] for e in await world.involved_events()] == [
        ("NotDeleted", "Pod was expected by PDB default/default to be deleted but it wasn't", "Pod/a")]


async def test_pod_events_queue_the_budget_and_stale_conditions_are_reset(world: Harness) -> None:
    world.client.seed(POD_DISRUPTION_BUDGETS, budget(minAvailable=1))
    ctrl = await started(world)
    while len(ctrl.controller.queue):
        await ctrl.controller.process_next()
    p = pod("a")
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                                      "message": "Eviction API: evicting",
                                      "lastTransitionTime": meta.now_rfc3339(world.clock.now())})
    world.client.seed(PODS, p)
    await world.settle()
    assert len(ctrl.controller.queue) == 1
    assert len(ctrl.stale_pods.queue) == 0
    await world.step(120)
    assert len(ctrl.stale_pods.queue) == 1
    await ctrl.stale_pods.process_next()
    cond = [c for c in (await world.client.get(PODS, "a", "default"))["status"]["conditions"]
            if c["type"] == "DisruptionTarget"]
    assert cond == [{"type": "DisruptionTarget", "status": "False", "lastProbeTime": None,
                     "lastTransitionTime": meta.now_rfc3339(world.clock.now())}]
