"""The pod garbage collector: ordering, the terminated threshold, orphans after quarantine, stuck pods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import NODES, PODS
from pyk8s.controllers.framework import ControllerOptions, Result
from pyk8s.controllers.podgc import DESCRIPTOR
from pyk8s.controllers.podgc.controller import PodGCController
from pyk8s.controllers.podgc.policy import eviction_then_age_order, is_terminated, terminated_to_delete
from tests.unit.controllers.harness import Harness, until

NS = "default"


def pod(name: str, phase: str = "Running", *, created: str = "2026-01-01T00:00:00Z", node: str = "",
        reason: str = "", deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": NS, "creationTimestamp": created}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        md["finalizers"] = ["example.com/hold"]
    status: dict[str, Any] = {"phase": phase}
    if reason:
        status["reason"] = reason
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def node(name: str, ready: str = "True", taints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"taints": taints or []}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def test_order_and_threshold() -> None:
    pods = [pod("new", "Succeeded", created="2026-01-03T00:00:00Z"),
            pod("old", "Failed", created="2026-01-01T00:00:00Z"),
            pod("evicted", "Failed", created="2026-01-05T00:00:00Z", reason="Evicted"),
            pod("tie-b", "Succeeded", created="2026-01-02T00:00:00Z"),
            pod("tie-a", "Succeeded", created="2026-01-02T00:00:00Z"),
            pod("running"), pod("pending", "Pending"), pod("unknown", "Unknown")]
    names = [p["metadata"]["name"] for p in eviction_then_age_order(pods[:5])]
    assert names == ["evicted", "old", "tie-a", "tie-b", "new"]
    assert [p["metadata"]["name"] for p in terminated_to_delete(pods, 3)] == ["evicted", "old"]
    assert terminated_to_delete(pods, 5) == [] and terminated_to_delete(pods, 0) == []


def test_terminated_is_any_phase_but_pending_running_unknown() -> None:
    assert is_terminated(pod("done", "Succeeded")) and is_terminated(pod("failed", "Failed"))
    assert not any(is_terminated(pod(p, p)) for p in ("Pending", "Running", "Unknown"))
    assert is_terminated({"metadata": {"name": "no-phase"}, "status": {}})  # wider than podstate.is_terminal


class Env(Harness):
    def __init__(self, threshold: int = 12500) -> None:
        super().__init__(ControllerOptions(terminated_pod_gc_threshold=threshold))

    async def start_controller(self) -> PodGCController:
        c = DESCRIPTOR.new(self.ctx)
        assert isinstance(c, PodGCController)
        await self.start()
        return c

    def deleted(self) -> list[str]:
        return [a.name for a in self.client.actions if a.verb == "delete" and a.resource == "pods"]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env(threshold=2)
    yield e
    await e.stop()


async def test_terminated_pods_over_the_threshold_are_force_deleted(env: Env) -> None:
    for p in (pod("a", "Succeeded", created="2026-01-01T00:00:01Z"), pod("b", "Failed", created="2026-01-01T00:00:02Z"),
              pod("c", "Succeeded", created="2026-01-01T00:00:03Z"), pod("d", "Failed", created="2026-01-01T00:00:04Z"),
              pod("live")):
        env.client.seed(PODS, p)
    c = await env.start_controller()
    result = await c.reconcile("gc")
    assert result == Result(requeue_after=20.0)
    assert sorted(env.deleted()) == ["a", "b"]
    deletes = [a for a in env.client.actions if a.verb == "delete"]
    assert all(a.body == {"gracePeriodSeconds": 0} for a in deletes)
    # terminal pods are not patched to Failed first
    assert not [a for a in env.client.actions if a.verb == "patch"]
    assert sorted(p["metadata"]["name"] for p in env.client.objects(PODS)) == ["c", "d", "live"]


async def test_orphaned_pods_are_deleted_after_quarantine_and_a_live_check(env: Env) -> None:
    env.client.seed(NODES, node("n1"))
    env.client.seed(PODS, pod("on-gone", node="gone"))
    env.client.seed(PODS, pod("on-n1", node="n1"))
    env.client.seed(PODS, pod("on-late", node="late"))
    c = await env.start_controller()
    await c.gc()
    assert env.deleted() == [] and set(c.quarantine) == {"gone", "late"}
    assert not [a for a in env.client.actions if a.verb == "get"]

    env.clock.step(20)
    await c.gc()
    assert env.deleted() == []

    await env.client.create(NODES, node("late"))  # shows up during the quarantine
    await until(lambda: env.ctx.informers.informer(NODES).lister.get("late") is not None)
    env.clock.step(20)
    await c.gc()
    assert env.deleted() == ["on-gone"]
    assert [a.name for a in env.client.actions if a.verb == "get"] == ["gone"]
    patch = next(a for a in env.client.actions if a.verb == "patch")
    assert (patch.resource, patch.name, patch.subresource) == ("pods", "on-gone", "status")
    assert patch.body["status"]["phase"] == "Failed"
    cond = patch.body["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "DisruptionTarget", "True", "DeletionByPodGC", "PodGC: node no longer exists")
    assert c.quarantine == {}


async def test_orphan_check_errors_are_retried_later(env: Env) -> None:
    env.client.seed(PODS, pod("p", node="gone"))
    c = await env.start_controller()
    await c.gc()
    env.clock.step(40)
    env.client.fail_next("get", "nodes", errors.InternalError("boom"))
    await c.gc()
    assert env.deleted() == [] and c.quarantine == {}
    await c.gc()  # quarantined again, as upstream re-adds it on the next pass
    assert env.deleted() == [] and "gone" in c.quarantine
    env.clock.step(40)
    await c.gc()
    assert env.deleted() == ["p"]


async def test_unscheduled_terminating_and_out_of_service_pods(env: Env) -> None:
    env.client.seed(NODES, node("broken", ready="False",
                              taints=[{"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}]))
    env.client.seed(NODES, node("fine"))
    env.client.seed(PODS, pod("unscheduled", "Pending", deleting=True))
    env.client.seed(PODS, pod("stuck", node="broken", deleting=True))
    env.client.seed(PODS, pod("graceful", node="fine", deleting=True))
    env.client.seed(PODS, pod("running-on-broken", node="broken"))
    c = await env.start_controller()
    await c.gc()
    assert sorted(env.deleted()) == ["stuck", "unscheduled"]
    patched = sorted(a.name for a in env.client.actions if a.verb == "patch")
    assert patched == ["stuck", "unscheduled"]  # both were not terminal: marked Failed first
