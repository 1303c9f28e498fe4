"""Node lifecycle and taint eviction against the fake client: a node whose lease stops goes Unknown, is
tainted unreachable, its pods are evicted (at once, or after tolerationSeconds), and recovery untaints it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.api import meta
from pyk8s.client.kinds import EVENTS, LEASES, NODES, PODS
from pyk8s.controllers.framework import ControllerOptions
from pyk8s.controllers.nodelifecycle import DESCRIPTOR, TAINT_EVICTION_DESCRIPTOR
from pyk8s.controllers.nodelifecycle.controller import NodeLifecycleController
from pyk8s.controllers.nodelifecycle.tainteviction import TaintEvictionController
from tests.unit.controllers.harness import Harness, until

NS = "default"
UNREACHABLE_TOLERATION = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                          "tolerationSeconds": 5}


class Env(Harness):
    def __init__(self) -> None:
        super().__init__(ControllerOptions(node_monitor_period=1, node_monitor_grace_period=4,
                                           node_startup_grace_period=10))

    def now(self) -> str:
        return meta.now_rfc3339(self.clock.now())

    def node(self, name: str, status: str = "True") -> dict[str, Any]:
        stamp = self.now()
        conds = [{"type": t, "status": s, "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
                 for t, s in (("Ready", status), ("MemoryPressure", "False"), ("DiskPressure", "False"),
                              ("PIDPressure", "False"))]
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {},
                "status": {"conditions": conds}}

    def lease(self, name: str) -> dict[str, Any]:
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": meta.now_micro(self.clock.now())}}

    def pod(self, name: str, node: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}],
                         "tolerations": tolerations or []},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}

    async def renew(self, name: str) -> None:
        self.client.seed(LEASES, self.lease(name))
        want = self.lease(name)["spec"]["renewTime"]
        await until(lambda: (self.factory.informer(LEASES).lister.get(
            f"kube-node-lease/{name}") or {}).get("spec", {}).get("renewTime") == want)

    def stored(self, name: str) -> dict[str, Any]:
        return next(n for n in self.client.objects(NODES) if n["metadata"]["name"] == name)

    def cached(self, name: str) -> dict[str, Any] | None:
        return self.factory.informer(NODES).lister.get(name)

    async def sourced_events(self) -> list[tuple[str, str, str, str]]:
        for r in self.recorders:
            await r.flush()
        return [(e["source"]["component"], e["involvedObject"].get("name", ""), e["reason"], e["message"])
                for e in self.client.objects(EVENTS)]


def taints_of(node: dict[str, Any] | None) -> list[tuple[str, str]]:
    return sorted((t["key"], t["effect"]) for t in ((node or {}).get("spec") or {}).get("taints") or ())


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    yield e
    await e.stop()


async def test_lease_stops_unknown_tainted_evicted_then_recovered(env: Env) -> None:
    for n in ("n1", "n2"):
        env.client.seed(NODES, env.node(n))
        env.client.seed(LEASES, env.lease(n))
    env.client.seed(PODS, env.pod("tolerant", "n1", [UNREACHABLE_TOLERATION]))
    env.client.seed(PODS, env.pod("plain", "n1"))
    env.client.seed(PODS, env.pod("elsewhere", "n2"))
    nlc = DESCRIPTOR.new(env.ctx)
    te = TAINT_EVICTION_DESCRIPTOR.new(env.ctx)
    assert isinstance(nlc, NodeLifecycleController) and isinstance(te, TaintEvictionController)
    await env.start()

    await nlc.monitor_node_health()
    assert not [a for a in env.client.actions if a.verb in ("update", "patch")]
    assert ("node-controller", "n1", "RegisteredNode", "Node n1 event: Registered Node n1 in Controller") \
        in await env.sourced_events()

    # n1's kubelet stops; n2 keeps renewing its lease
    env.clock.step(5)
    await env.renew("n2")
    await nlc.monitor_node_health()
    n1 = env.stored("n1")
    for cond in n1["status"]["conditions"]:
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."), cond
    assert {c["status"] for c in env.stored("n2")["status"]["conditions"] if c["type"] == "Ready"} == {"True"}
    status_writes = [(a.resource, a.name, a.subresource) for a in env.client.actions if a.verb == "update"]
    assert ("nodes", "n1", "status") in status_writes
    assert sorted(n for r, n, s in status_writes if r == "pods") == ["plain", "tolerant"]
    for p in env.client.objects(PODS, NS):
        ready = next(c for c in p["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == ("True" if p["metadata"]["name"] == "elsewhere" else "False")
    events = await env.sourced_events()
    assert ("node-controller", "n1", "NodeNotReady", "Node n1 status is now: NodeNotReady") in events
    assert ("node-controller", "plain", "NodeNotReady", "Node is not ready") in events
    assert taints_of(env.stored("n1")) == []  # the taint comes from the next pass, once Unknown is observed

    await until(lambda: (env.cached("n1") or {}).get("status", {}).get("conditions", [{}])[0].get("status")
                == "Unknown")
    await nlc.monitor_node_health()
    await nlc.do_no_execute_tainting_pass()
    taint = next(t for t in env.stored("n1")["spec"]["taints"] if t["effect"] == "NoExecute")
    assert taint["key"] == "node.kubernetes.io/unreachable" and taint["timeAdded"] == env.now()
    await until(lambda: taints_of(env.cached("n1")) == [("node.kubernetes.io/unreachable", "NoExecute")])
    await nlc.reconcile("n1")  # TaintNodesByCondition
    assert taints_of(env.stored("n1")) == [("node.kubernetes.io/unreachable", "NoExecute"),
                                           ("node.kubernetes.io/unreachable", "NoSchedule")]

    # taint eviction: the intolerant pod goes at once, the tolerant one after its 5 seconds
    await until(lambda: "default/plain" in te.scheduled and "default/tolerant" in te.scheduled)
    await until(lambda: len(te.controller.queue) > 0)
    await te.controller.process_next()
    deletes = [a.name for a in env.client.actions if a.verb == "delete"]
    assert deletes == ["plain"]
    env.clock.step(4)
    assert await te.reconcile("default/tolerant") is not None  # not due yet: requeued
    env.clock.step(1)
    await until(lambda: len(te.controller.queue) > 0)
    await te.controller.process_next()
    assert [a.name for a in env.client.actions if a.verb == "delete"] == ["plain", "tolerant"]
    patch = next(a for a in env.client.actions if a.verb == "patch" and a.name == "tolerant")
    assert patch.subresource == "status"
    cond = patch.body["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "DisruptionTarget", "True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")
    events = await env.sourced_events()
    assert ("taint-eviction-controller", "plain", "TaintManagerEviction", "Marking for deletion Pod default/plain") \
        in events
    assert ("taint-eviction-controller", "tolerant", "TaintManagerEviction",
            "Marking for deletion Pod default/tolerant") in events
    assert not [e for e in events if e[1] == "elsewhere"]

    # the kubelet comes back: taints go
    env.client.seed(NODES, {**env.stored("n1"), "status": env.node("n1")["status"]})
    await env.renew("n1")
    await env.renew("n2")
    await until(lambda: (env.cached("n1") or {}).get("status", {}).get("conditions", [{}])[0].get("status") == "True")
    await nlc.monitor_node_health()
    assert taints_of(env.stored("n1")) == [("node.kubernetes.io/unreachable", "NoSchedule")]
    await until(lambda: taints_of(env.cached("n1")) == [("node.kubernetes.io/unreachable", "NoSchedule")])
    await nlc.reconcile("n1")
    assert taints_of(env.stored("n1")) == []


async def test_not_ready_node_gets_not_ready_taints_and_swaps_to_unreachable(env: Env) -> None:
    env.client.seed(NODES, env.node("n1", status="False"))
    env.client.seed(NODES, env.node("n2"))
    nlc = DESCRIPTOR.new(env.ctx)
    assert isinstance(nlc, NodeLifecycleController)
    await env.start()
    await nlc.monitor_node_health()
    await nlc.do_no_execute_tainting_pass()
    assert taints_of(env.stored("n1")) == [("node.kubernetes.io/not-ready", "NoExecute")]
    await until(lambda: taints_of(env.cached("n1")) == [("node.kubernetes.io/not-ready", "NoExecute")])
    await nlc.reconcile("n1")
    assert ("node.kubernetes.io/not-ready", "NoSchedule") in taints_of(env.stored("n1"))

    # both go quiet past the grace period; n2 keeps its lease
    env.clock.step(5)
    await env.renew("n2")
    await nlc.monitor_node_health()  # n1 -> Unknown
    await until(lambda: (env.cached("n1") or {}).get("status", {}).get("conditions", [{}])[0].get("status")
                == "Unknown")
    await nlc.monitor_node_health()  # observed Unknown with the not-ready taint: swapped at once
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints_of(env.stored("n1"))
    assert ("node.kubernetes.io/not-ready", "NoExecute") not in taints_of(env.stored("n1"))


async def test_all_nodes_down_is_a_full_disruption_without_taints(env: Env) -> None:
    env.client.seed(NODES, env.node("only"))
    nlc = DESCRIPTOR.new(env.ctx)
    assert isinstance(nlc, NodeLifecycleController)
    await env.start()
    await nlc.monitor_node_health()
    env.clock.step(5)
    await nlc.monitor_node_health()
    await until(lambda: (env.cached("only") or {}).get("status", {}).get("conditions", [{}])[0].get("status")
                == "Unknown")
    await nlc.monitor_node_health()
    await nlc.do_no_execute_tainting_pass()
    assert nlc.zone_states == {"": "FullDisruption"}
    assert ("node.kubernetes.io/unreachable", "NoExecute") not in taints_of(env.stored("only"))


async def test_never_ready_node_waits_for_the_startup_grace(env: Env) -> None:
    env.client.seed(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "new"}, "spec": {},
                          "status": {}})
    env.client.seed(NODES, env.node("ok"))
    nlc = DESCRIPTOR.new(env.ctx)
    assert isinstance(nlc, NodeLifecycleController)
    await env.start()
    await nlc.monitor_node_health()
    env.clock.step(9)
    await env.renew("ok")
    await nlc.monitor_node_health()
    assert not (env.stored("new").get("status") or {}).get("conditions")
    env.clock.step(2)
    await env.renew("ok")
    await nlc.monitor_node_health()
    conds = {c["type"]: c for c in env.stored("new")["status"]["conditions"]}
    assert conds["Ready"]["reason"] == "NodeStatusNeverUpdated"


async def test_pod_bound_to_a_not_ready_node_is_marked_not_ready(env: Env) -> None:
    env.client.seed(NODES, env.node("down", status="False"))
    env.client.seed(NODES, env.node("up"))
    nlc = DESCRIPTOR.new(env.ctx)
    assert isinstance(nlc, NodeLifecycleController)
    await env.start()
    await nlc.monitor_node_health()
    await env.client.create(PODS, env.pod("late", "down"))
    await until(lambda: len(nlc.pod_controller.queue) > 0)
    await nlc.pod_controller.process_next()
    pod = env.client.objects(PODS, NS)[0]
    assert [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"] == ["False"]


async def test_taint_eviction_cancels_when_the_taint_goes(env: Env) -> None:
    tainted = env.node("n1")
    tainted["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    env.client.seed(NODES, tainted)
    env.client.seed(PODS, env.pod("p", "n1", [UNREACHABLE_TOLERATION]))
    env.client.seed(PODS, env.pod("forever", "n1", [{**UNREACHABLE_TOLERATION, "tolerationSeconds": None}]))
    te = TAINT_EVICTION_DESCRIPTOR.new(env.ctx)
    assert isinstance(te, TaintEvictionController)
    await env.start()
    await until(lambda: "default/p" in te.scheduled)
    assert "default/forever" not in te.scheduled
    env.client.seed(NODES, {**tainted, "spec": {}})
    await until(lambda: "default/p" not in te.scheduled)
    env.clock.step(10)
    assert await te.reconcile("default/p") is None
    assert not [a for a in env.client.actions if a.verb == "delete"]
    assert ("taint-eviction-controller", "p", "TaintManagerEviction", "Cancelling deletion of Pod default/p") \
        in await env.sourced_events()


def _without_uids(body: Any) -> Any:
    """`body` without its (randomly generated) uid fields, so two runs compare equal."""
    if isinstance(body, dict):
        return {k: _without_uids(v) for k, v in body.items() if k != "uid"}
    if isinstance(body, list):
        return [_without_uids(v) for v in body]
    return body


async def _monitor_script(quiet_path: bool) -> tuple[list, dict, list, dict, set, int]:
    """A few monitor passes over a healthy node, a node that goes silent, a Ready node still carrying an
    unreachable taint and a node that never posted status; returns what the controller wrote and kept."""
    env = Env()
    try:
        for n in ("healthy", "silent", "tainted"):
            env.client.seed(NODES, env.node(n))
            env.client.seed(LEASES, env.lease(n))
        tainted = env.node("tainted")
        tainted["spec"]["taints"] = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
        env.client.seed(NODES, tainted)
        env.client.seed(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fresh"}, "spec": {}})
        env.client.seed(PODS, env.pod("p", "silent"))
        nlc = NodeLifecycleController(env.ctx)
        quiet = 0
        if not quiet_path:
            nlc._update_quiet_node = lambda node, zones: False  # type: ignore[method-assign]
        else:
            counted = nlc._update_quiet_node

            def counting(node: dict[str, Any], zones: dict[str, list[Any]]) -> bool:
                nonlocal quiet
                done = counted(node, zones)
                quiet += done
                return done
            nlc._update_quiet_node = counting  # type: ignore[method-assign]
        await env.start()
        for step in range(6):
            await nlc.monitor_node_health()
            await nlc.do_no_execute_tainting_pass()
            await env.settle()
            env.clock.step(2)
            await env.renew("healthy")
            if step < 3:
                await env.renew("tainted")
        writes = [(a.verb, a.resource, a.name, a.subresource, _without_uids(a.body)) for a in env.client.actions
                  if a.resource != "events"]
        health = {n: (h.probe_timestamp, h.ready_transition_timestamp, h.ready, h.lease_renew)
                  for n, h in nlc.health.items()}
        events = sorted(await env.sourced_events())
        pending = {z: q.pending() for z, q in nlc.zone_tainters.items()}
        return writes, health, events, pending, set(nlc.nodes_to_retry), quiet
    finally:
        await env.stop()


async def test_quiet_nodes_are_settled_without_tasks_exactly_as_the_full_path_would() -> None:
    full = await _monitor_script(quiet_path=False)
    fast = await _monitor_script(quiet_path=True)
    assert fast[:5] == full[:5]
    assert any(w[1] == "nodes" and w[3] == "status" for w in full[0])  # the silent node was marked Unknown
    assert fast[5] >= 10  # most node checks took the quiet path
