"""The garbage collector against the fake client: background, foreground and orphan deletion of a
Deployment -> ReplicaSet -> Pod chain, several owners, dangling owners found at start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pyk8s.api.resources import Resource
from pyk8s.base.clock import FakeClock
from pyk8s.client.events import EventRecorder
from pyk8s.client.fake import FakeClient
from pyk8s.client.informer import SharedInformerFactory
from pyk8s.client.kinds import CONFIGMAPS, DEPLOYMENTS, PODS, REPLICA_SETS
from pyk8s.controllers.framework import ControllerContext, ControllerOptions
from pyk8s.controllers.garbagecollector import DESCRIPTOR
from pyk8s.controllers.garbagecollector.controller import GarbageCollector

NS = "default"


class Env:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.fake = FakeClient(clock=self.clock)
        self.factory = SharedInformerFactory(self.fake, clock=self.clock)
        self.ctx = ControllerContext(client=self.fake, informers=self.factory,
                                     recorder=lambda c: EventRecorder(self.fake, c, clock=self.clock),
                                     clock=self.clock, options=ControllerOptions(extra={"concurrent_gc_syncs": 2}))
        self.gc: GarbageCollector | None = None

    async def start(self) -> GarbageCollector:
        gc = DESCRIPTOR.new(self.ctx)
        assert isinstance(gc, GarbageCollector)
        self.gc = gc
        self.factory.start()
        assert await self.factory.wait_for_sync(5)
        return gc

    async def settle(self, done: Callable[[], bool], timeout: float = 5.0) -> None:
        """Run both queues until `done()` holds (informer echoes arrive between rounds)."""
        gc = self.gc
        assert gc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            progressed = True
            while progressed:
                progressed = False
                for ctrl in (gc.controller, gc.orphan_controller):
                    while len(ctrl.queue):
                        await ctrl.process_next()
                        progressed = True
            if done():
                return
            if loop.time() > deadline:
                raise AssertionError("condition not reached")
            await asyncio.sleep(0.01)

    def names(self, r: Resource) -> list[str]:
        return [o["metadata"]["name"] for o in self.fake.objects(r, NS)]

    def deletes(self, plural: str) -> list[Any]:
        return [a for a in self.fake.actions if a.verb == "delete" and a.resource == plural]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env()
    yield e
    await e.factory.stop()


def owner_ref(owner: dict[str, Any], block: bool = True) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": block}


async def chain(fake: FakeClient, pods: int = 2) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    deploy = await fake.create(DEPLOYMENTS, {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "metadata": {"name": "web", "namespace": NS}, "spec": {"replicas": 2}})
    rs = await fake.create(REPLICA_SETS, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "metadata": {"name": "web-1", "namespace": NS,
                                                       "ownerReferences": [owner_ref(deploy)]}})
    made = []
    for i in range(pods):
        made.append(await fake.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                             "metadata": {"name": f"web-1-{i}", "namespace": NS,
                                                          "ownerReferences": [owner_ref(rs)]},
                                             "spec": {"containers": [{"name": "c", "image": "x"}]}}))
    return deploy, rs, made


async def test_background_deletion_removes_replicasets_then_pods(env: Env) -> None:
    _, rs, pods = await chain(env.fake)
    gc = await env.start()
    await env.settle(lambda: len(gc.graph) >= 4)
    env.fake.clear_actions()

    await env.fake.delete(DEPLOYMENTS, "web", NS, propagation_policy="Background")
    await env.settle(lambda: not env.names(REPLICA_SETS) and not env.names(PODS))

    rs_delete = env.deletes("replicasets")
    assert len(rs_delete) == 1
    assert rs_delete[0].body["propagationPolicy"] == "Background"
    assert rs_delete[0].body["preconditions"]["uid"] == rs["metadata"]["uid"]
    pod_deletes = env.deletes("pods")
    assert sorted(a.name for a in pod_deletes) == ["web-1-0", "web-1-1"]
    assert {a.body["preconditions"]["uid"] for a in pod_deletes} == {p["metadata"]["uid"] for p in pods}
    # the ReplicaSet went first: the pods were only collected once their owner was gone
    order = [a.resource for a in env.fake.actions if a.verb == "delete"]
    assert order.index("replicasets") < order.index("pods")
    # one lookup of the vanished ReplicaSet at most: the absent-owner cache answers for the second pod
    rs_gets = [a for a in env.fake.actions if a.verb == "get" and a.resource == "replicasets"]
    assert len(rs_gets) <= 1


async def test_foreground_deletion_waits_for_blocking_dependents(env: Env) -> None:
    await chain(env.fake)
    gc = await env.start()
    await env.settle(lambda: len(gc.graph) >= 4)
    env.fake.clear_actions()

    await env.fake.delete(DEPLOYMENTS, "web", NS, propagation_policy="Foreground")
    held = env.fake.objects(DEPLOYMENTS, NS)[0]
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    await env.settle(lambda: not env.names(DEPLOYMENTS))

    assert env.names(REPLICA_SETS) == [] and env.names(PODS) == []
    rs_delete = env.deletes("replicasets")
    assert rs_delete[0].body["propagationPolicy"] == "Foreground"  # the RS has dependents of its own
    assert {a.body["propagationPolicy"] for a in env.deletes("pods")} == {"Background"}
    finalizer_patches = [a for a in env.fake.actions if a.verb == "patch" and a.body.get("metadata", {}).get(
        "finalizers", "absent") is None]
    assert [(a.resource, a.name) for a in finalizer_patches] == [("replicasets", "web-1"), ("deployments", "web")]
    assert all(a.body["metadata"]["resourceVersion"] for a in finalizer_patches)


async def test_foreground_deletion_of_an_owner_without_dependents(env: Env) -> None:
    gc = await env.start()
    await env.fake.create(CONFIGMAPS, {"metadata": {"name": "lonely", "namespace": NS}})
    await env.settle(lambda: len(gc.graph) == 1)
    await env.fake.delete(CONFIGMAPS, "lonely", NS, propagation_policy="Foreground")
    await env.settle(lambda: not env.fake.objects(CONFIGMAPS, NS))


async def test_orphan_deletion_keeps_dependents_without_the_reference(env: Env) -> None:
    deploy, rs, _ = await chain(env.fake)
    gc = await env.start()
    await env.settle(lambda: len(gc.graph) >= 4)

    await env.fake.delete(DEPLOYMENTS, "web", NS, propagation_policy="Orphan")
    await env.settle(lambda: not env.names(DEPLOYMENTS))

    remaining = env.fake.objects(REPLICA_SETS, NS)
    assert [r["metadata"]["name"] for r in remaining] == ["web-1"]
    assert not remaining[0]["metadata"].get("ownerReferences")
    assert len(env.names(PODS)) == 2  # still owned by the (live) ReplicaSet
    assert env.deletes("replicasets") == [] and env.deletes("pods") == []
    patch = next(a for a in env.fake.actions if a.verb == "patch" and a.resource == "replicasets")
    assert patch.body == {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": deploy["metadata"]["uid"]}],
                                       "uid": rs["metadata"]["uid"]}}


async def test_dependent_with_another_live_owner_only_loses_the_dangling_reference(env: Env) -> None:
    a = await env.fake.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "a", "namespace": NS}})
    b = await env.fake.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "b", "namespace": NS}})
    await env.fake.create(PODS, {"metadata": {"name": "shared", "namespace": NS, "ownerReferences": [
        {**owner_ref(a, block=False), "controller": False}, {**owner_ref(b, block=False), "controller": False}]},
        "spec": {"containers": [{"name": "c", "image": "x"}]}})
    gc = await env.start()
    await env.settle(lambda: len(gc.graph) == 3)

    await env.fake.delete(CONFIGMAPS, "a", NS)
    await env.settle(lambda: len(env.fake.objects(PODS, NS)[0]["metadata"].get("ownerReferences") or []) == 1)
    pod = env.fake.objects(PODS, NS)[0]
    assert [r["name"] for r in pod["metadata"]["ownerReferences"]] == ["b"]
    assert env.deletes("pods") == []

    await env.fake.delete(CONFIGMAPS, "b", NS)
    await env.settle(lambda: not env.names(PODS))


async def test_dangling_owner_found_at_start_is_collected(env: Env) -> None:
    ghost = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gone", "uid": "no-such-uid"}}
    await env.fake.create(REPLICA_SETS, {"metadata": {"name": "stale", "namespace": NS,
                                                      "ownerReferences": [owner_ref(ghost)]}})
    live = await env.fake.create(DEPLOYMENTS, {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "metadata": {"name": "live", "namespace": NS}})
    await env.fake.create(REPLICA_SETS, {"metadata": {"name": "kept", "namespace": NS,
                                                      "ownerReferences": [owner_ref(live)]}})
    await env.start()
    await env.settle(lambda: env.names(REPLICA_SETS) == ["kept"])
    assert [a.name for a in env.deletes("replicasets")] == ["stale"]


async def test_owner_recreated_with_a_new_uid_counts_as_gone(env: Env) -> None:
    await chain(env.fake, pods=0)
    await env.fake.delete(DEPLOYMENTS, "web", NS)
    await env.fake.create(DEPLOYMENTS, {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "metadata": {"name": "web", "namespace": NS}})
    await env.start()
    await env.settle(lambda: not env.names(REPLICA_SETS))
    assert env.names(DEPLOYMENTS) == ["web"]
