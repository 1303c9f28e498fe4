"""The DaemonSet controller against the fake client: pods per node, new nodes, taints, rolling update, status."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import CONTROLLER_REVISIONS, DAEMON_SETS, EVENTS, NODES, PODS
from pyk8s.controllers.daemonset import DESCRIPTOR, DaemonSetController
from pyk8s.controllers.daemonset.daemonpods import UNIQUE_LABEL_KEY, target_node_name
from tests.unit.controllers.harness import Harness

Obj = dict[str, Any]
KEY = "default/ds"


@dataclass
class Env:
    world: Harness
    ctrl: DaemonSetController

    @property
    def fake(self) -> FakeClient:
        return self.world.client

    def pods(self) -> list[Obj]:
        return self.fake.objects(PODS, "default")

    def pods_by_node(self) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for p in self.pods():
            out.setdefault(str(target_node_name(p)), []).append(p)
        return out

    def status(self) -> Obj:
        return self.fake.objects(DAEMON_SETS, "default")[0].get("status") or {}

    def actions(self, verb: str, plural: str) -> list[Any]:
        return [a for a in self.fake.actions if a.verb == verb and a.resource == plural]

    async def synced(self) -> None:
        """Wait until every informer cache shows what the fake store holds."""
        await self.world.settle()

    async def sync(self) -> None:
        await self.synced()
        await self.ctrl.reconcile(KEY)
        await self.synced()

    async def add_node(self, name: str, labels: dict[str, str] | None = None,
                       taints: list[Obj] | None = None) -> None:
        await self.fake.create(NODES, {"metadata": {"name": name, "labels": labels or {}},
                                       "spec": {"taints": taints or []}})

    async def make_ready(self, pod: Obj) -> None:
        fresh = await self.fake.get(PODS, pod["metadata"]["name"], "default")
        fresh["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        await self.fake.update(PODS, fresh, subresource="status")


@pytest.fixture
async def env(world: Harness) -> Env:
    ctrl = DaemonSetController(world.ctx)
    await world.start()
    return Env(world, ctrl)


def daemonset(max_unavailable: int | str = 1, **template_spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "agent", "image": "agent:1"}], **template_spec}},
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 0}},
                     "revisionHistoryLimit": 10}}


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "daemonset"
    assert DESCRIPTOR.new is DaemonSetController


async def test_one_pod_per_node(env: Env) -> None:
    for n in ("n1", "n2", "n3"):
        await env.add_node(n)
    await env.fake.create(DAEMON_SETS, daemonset(), "default")
    await env.sync()

    by_node = env.pods_by_node()
    assert sorted(by_node) == ["n1", "n2", "n3"]
    assert all(len(pods) == 1 for pods in by_node.values())
    revisions = env.fake.objects(CONTROLLER_REVISIONS, "default")
    assert len(revisions) == 1
    hash_ = revisions[0]["metadata"]["labels"][UNIQUE_LABEL_KEY]
    assert revisions[0]["metadata"]["name"] == f"ds-{hash_}"
    for p in env.pods():
        m = p["metadata"]
        assert m["name"].startswith("ds-") and m["generateName"] == "ds-"
        assert m["labels"] == {"app": "agent", UNIQUE_LABEL_KEY: hash_}
        assert m["ownerReferences"][0]["kind"] == "DaemonSet" and m["ownerReferences"][0]["controller"] is True
        assert "nodeName" not in p["spec"]  # the scheduler binds it
        keys = {t["key"] for t in p["spec"]["tolerations"]}
        assert "node.kubernetes.io/not-ready" in keys and "node.kubernetes.io/unschedulable" in keys

    await env.ctrl.recorder.flush()
    messages = sorted(e["message"] for e in env.fake.objects(EVENTS, "default") if e["reason"] == "SuccessfulCreate")
    assert messages == sorted(f"Created pod: {p['metadata']['name']}" for p in env.pods())

    # A second pass creates nothing more and reports the counts.
    env.fake.clear_actions()
    await env.sync()
    assert env.actions("create", "pods") == []
    status = env.status()
    assert status["desiredNumberScheduled"] == 3 and status["currentNumberScheduled"] == 3
    assert status["updatedNumberScheduled"] == 3 and status["numberMisscheduled"] == 0
    assert status["observedGeneration"] == 1
    assert status.get("numberReady", 0) == 0 and status["numberUnavailable"] == 3

    for p in env.pods():
        await env.make_ready(p)
    await env.sync()
    status = env.status()
    assert status["numberReady"] == 3 and status["numberAvailable"] == 3 and "numberUnavailable" not in status


async def test_follows_nodes_added_and_relabelled(env: Env) -> None:
    await env.add_node("n1", {"role": "edge"})
    await env.add_node("n2", {"role": "core"})
    await env.fake.create(DAEMON_SETS, daemonset(nodeSelector={"role": "edge"}), "default")
    await env.sync()
    assert sorted(env.pods_by_node()) == ["n1"]

    # A new eligible node: the node handler queues the DaemonSet, and its sync adds a pod there.
    await env.add_node("n3", {"role": "edge"})
    await env.synced()
    assert await asyncio.wait_for(env.ctrl.controller.process_next(), 5)
    await env.synced()
    assert sorted(env.pods_by_node()) == ["n1", "n3"]

    # Relabelling n1 away from the selector removes its pod; relabelling n2 into it adds one.
    for name, role in (("n1", "core"), ("n2", "edge")):
        node = await env.fake.get(NODES, name)
        node["metadata"]["labels"]["role"] = role
        await env.fake.update(NODES, node)
    await env.sync()
    await env.sync()
    assert sorted(env.pods_by_node()) == ["n2", "n3"]
    await env.ctrl.recorder.flush()
    assert any(e["reason"] == "SuccessfulDelete" and e["message"].startswith("Deleted pod: ds-")
               for e in env.fake.objects(EVENTS, "default"))


async def test_skips_tainted_nodes_without_tolerations(env: Env) -> None:
    await env.add_node("n1")
    await env.add_node("n2", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    await env.fake.create(DAEMON_SETS, daemonset(), "default")
    await env.sync()
    await env.sync()
    assert sorted(env.pods_by_node()) == ["n1"]
    assert env.status()["desiredNumberScheduled"] == 1

    ds = await env.fake.get(DAEMON_SETS, "ds", "default")
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    await env.fake.update(DAEMON_SETS, ds)
    await env.sync()  # n2 gets a pod; n1's (unready, out of date) pod is replaced by the rolling update
    await env.sync()
    assert sorted(env.pods_by_node()) == ["n1", "n2"]
    assert env.status()["desiredNumberScheduled"] == 2


async def test_rolling_update_respects_max_unavailable(env: Env) -> None:
    for n in ("n1", "n2", "n3"):
        await env.add_node(n)
    await env.fake.create(DAEMON_SETS, daemonset(max_unavailable=1), "default")
    await env.sync()
    for p in env.pods():
        await env.make_ready(p)
    await env.sync()
    old_hash = env.pods()[0]["metadata"]["labels"][UNIQUE_LABEL_KEY]

    ds = await env.fake.get(DAEMON_SETS, "ds", "default")
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    await env.fake.update(DAEMON_SETS, ds)

    deleted = 0
    for step in range(12):
        env.fake.clear_actions()
        await env.sync()
        deleted += len(env.actions("delete", "pods"))
        pods = env.pods()
        new = [p for p in pods if p["metadata"]["labels"][UNIQUE_LABEL_KEY] != old_hash]
        # Never more than one node without an available pod.
        available = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        assert len(available) >= 2, f"step {step}: only {len(available)} available"
        assert len(env.actions("delete", "pods")) <= 1
        for p in new:
            if (p.get("status") or {}).get("phase") != "Running":
                await env.make_ready(p)
        if len(new) == 3 and all((p.get("status") or {}).get("phase") == "Running" for p in pods):
            break
    else:
        raise AssertionError("rolling update did not finish")
    assert deleted == 3 and step >= 5  # one old pod at a time, each replacement ready before the next

    await env.sync()
    revisions = sorted(env.fake.objects(CONTROLLER_REVISIONS, "default"), key=lambda r: r["revision"])
    assert [r["revision"] for r in revisions] == [1, 2]
    new_hash = revisions[1]["metadata"]["labels"][UNIQUE_LABEL_KEY]
    assert {p["metadata"]["labels"][UNIQUE_LABEL_KEY] for p in env.pods()} == {new_hash}
    assert all(p["spec"]["containers"][0]["image"] == "agent:2" for p in env.pods())
    status = env.status()
    assert status["updatedNumberScheduled"] == 3 and status["numberAvailable"] == 3
    assert status["observedGeneration"] == 2


async def test_on_delete_strategy_leaves_old_pods(env: Env) -> None:
    await env.add_node("n1")
    ds = daemonset()
    ds["spec"]["updateStrategy"] = {"type": "OnDelete"}
    await env.fake.create(DAEMON_SETS, ds, "default")
    await env.sync()
    (old,) = env.pods()
    await env.make_ready(old)
    fresh = await env.fake.get(DAEMON_SETS, "ds", "default")
    fresh["spec"]["template"]["spec"]["containers"][0]["image"] = "agent:2"
    await env.fake.update(DAEMON_SETS, fresh)
    await env.sync()
    await env.sync()
    assert [p["metadata"]["name"] for p in env.pods()] == [old["metadata"]["name"]]
    assert env.status().get("updatedNumberScheduled", 0) == 0

    await env.fake.delete(PODS, old["metadata"]["name"], "default")
    await env.sync()
    (replacement,) = env.pods()
    assert replacement["spec"]["containers"][0]["image"] == "agent:2"


async def test_adopts_orphans_and_releases_mislabelled_pods(env: Env) -> None:
    await env.add_node("n1")
    await env.add_node("n2")
    orphan = {"metadata": {"name": "orphan", "namespace": "default", "labels": {"app": "agent"}},
              "spec": {"nodeName": "n1", "containers": [{"name": "agent", "image": "agent:1"}]}}
    await env.fake.create(PODS, orphan, "default")
    await env.fake.create(DAEMON_SETS, daemonset(), "default")
    await env.sync()
    ds_uid = env.fake.objects(DAEMON_SETS, "default")[0]["metadata"]["uid"]
    adopted = next(p for p in env.pods() if p["metadata"]["name"] == "orphan")
    assert [(r["kind"], r["uid"]) for r in adopted["metadata"]["ownerReferences"]] == [("DaemonSet", ds_uid)]
    assert sorted(env.pods_by_node()) == ["n1", "n2"] and len(env.pods_by_node()["n1"]) == 1

    await env.fake.patch(PODS, "orphan", {"metadata": {"labels": {"app": "other"}}}, "default")
    await env.sync()
    released = next(p for p in env.pods() if p["metadata"]["name"] == "orphan")
    assert not released["metadata"].get("ownerReferences")
    await env.sync()
    assert len(env.pods_by_node()["n1"]) == 2  # the released pod no longer counts: n1 gets a daemon pod
