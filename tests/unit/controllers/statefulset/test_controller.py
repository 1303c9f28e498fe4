"""The StatefulSet controller against the fake client: ordered and parallel scaling, PVCs, rolling updates."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import CONTROLLER_REVISIONS, EVENTS, PERSISTENT_VOLUME_CLAIMS, PODS, STATEFUL_SETS
from pyk8s.controllers.statefulset import DESCRIPTOR, StatefulSetController
from pyk8s.controllers.statefulset.pods import POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_LABEL
from tests.unit.controllers.harness import Harness

Obj = dict[str, Any]
KEY = "default/web"


@dataclass
class Env:
    world: Harness
    ctrl: StatefulSetController

    @property
    def fake(self) -> FakeClient:
        return self.world.client

    def pod_names(self) -> list[str]:
        return sorted(p["metadata"]["name"] for p in self.fake.objects(PODS, "default"))

    def pod(self, name: str) -> Obj:
        return next(p for p in self.fake.objects(PODS, "default") if p["metadata"]["name"] == name)

    def status(self) -> Obj:
        return self.fake.objects(STATEFUL_SETS, "default")[0].get("status") or {}

    def created(self, plural: str) -> list[str]:
        return [a.name for a in self.fake.actions if a.verb == "create" and a.resource == plural]

    def deleted(self, plural: str) -> list[str]:
        return [a.name for a in self.fake.actions if a.verb == "delete" and a.resource == plural]

    async def synced(self) -> None:
        """Wait until every informer cache shows what the fake store holds."""
        await self.world.settle()

    async def sync(self) -> None:
        self.fake.clear_actions()
        await self.synced()
        await self.ctrl.reconcile(KEY)
        await self.synced()

    async def make_ready(self, name: str, ready: bool = True) -> None:
        pod = await self.fake.get(PODS, name, "default")
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        await self.fake.update(PODS, pod, subresource="status")

    async def all_ready(self) -> None:
        for name in self.pod_names():
            if (self.pod(name).get("status") or {}).get("phase") != "Running":
                await self.make_ready(name)

    async def patch_spec(self, spec: Obj) -> None:
        await self.fake.patch(STATEFUL_SETS, "web", {"spec": spec}, "default", patch_type="merge")

    async def events(self) -> list[tuple[str, str]]:
        await self.ctrl.recorder.flush()
        return [(e["reason"], e["message"]) for e in self.fake.objects(EVENTS, "default")]


@pytest.fixture
async def env(world: Harness) -> Env:
    ctrl = StatefulSetController(world.ctx)
    await world.start()
    return Env(world, ctrl)


def statefulset(replicas: int, *, policy: str = "OrderedReady", claims: bool = False, **spec: Any) -> Obj:
    body: Obj = {"replicas": replicas, "serviceName": "nginx", "podManagementPolicy": policy,
                 "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "revisionHistoryLimit": 10, **spec}
    if claims:
        body["volumeClaimTemplates"] = [{"metadata": {"name": "www"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": "default"},
            "spec": body}


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "statefulset"
    assert DESCRIPTOR.new is StatefulSetController


async def test_ordered_ready_creates_one_at_a_time(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(3), "default")
    await env.sync()
    assert env.pod_names() == ["web-0"]
    web0 = env.pod("web-0")
    assert web0["metadata"]["labels"][POD_NAME_LABEL] == "web-0"
    assert web0["metadata"]["labels"][POD_INDEX_LABEL] == "0"
    assert web0["spec"]["hostname"] == "web-0" and web0["spec"]["subdomain"] == "nginx"
    (revision,) = env.fake.objects(CONTROLLER_REVISIONS, "default")
    assert web0["metadata"]["labels"][REVISION_LABEL] == revision["metadata"]["name"]

    await env.sync()  # web-0 exists but is not Running and Ready: nothing more
    assert env.created("pods") == [] and env.pod_names() == ["web-0"]
    await env.make_ready("web-0", ready=False)
    await env.sync()
    assert env.pod_names() == ["web-0"]

    await env.make_ready("web-0")
    await env.sync()
    assert env.created("pods") == ["web-1"]
    await env.make_ready("web-1")
    await env.sync()
    assert env.created("pods") == ["web-2"]
    await env.make_ready("web-2")
    await env.sync()
    status = env.status()
    assert status["replicas"] == 3 and status["readyReplicas"] == 3 and status["availableReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"] == revision["metadata"]["name"]
    assert status["observedGeneration"] == 1

    events = await env.events()
    assert ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") in events
    assert ("SuccessfulCreate", "create Pod web-2 in StatefulSet web successful") in events


async def test_ordered_scale_down_in_reverse(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(3), "default")
    for _ in range(3):
        await env.sync()
        await env.all_ready()
    await env.sync()
    assert env.pod_names() == ["web-0", "web-1", "web-2"]

    await env.patch_spec({"replicas": 1})
    await env.sync()
    assert env.deleted("pods") == ["web-2"]
    assert env.pod_names() == ["web-0", "web-1"]
    await env.sync()
    assert env.deleted("pods") == ["web-1"]
    await env.sync()
    assert env.deleted("pods") == [] and env.pod_names() == ["web-0"]
    assert env.status()["replicas"] == 1
    assert ("SuccessfulDelete", "delete Pod web-2 in StatefulSet web successful") in await env.events()


async def test_ordered_scale_down_waits_for_termination(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(3), "default")
    for _ in range(3):
        await env.sync()
        await env.all_ready()
    # Pods bound to a node terminate gracefully: the controller waits for web-2 to be gone before web-1.
    for name in env.pod_names():
        pod = await env.fake.get(PODS, name, "default")
        pod["spec"]["nodeName"] = "n1"
        await env.fake.update(PODS, pod)
    await env.patch_spec({"replicas": 1})
    await env.sync()
    assert env.deleted("pods") == ["web-2"]
    assert env.pod("web-2")["metadata"].get("deletionTimestamp")
    await env.sync()
    assert env.deleted("pods") == []
    await env.fake.delete(PODS, "web-2", "default", grace_period_seconds=0)
    await env.sync()
    assert env.deleted("pods") == ["web-1"]


async def test_parallel_creates_and_deletes_at_once(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(3, policy="Parallel"), "default")
    await env.sync()
    assert sorted(env.created("pods")) == ["web-0", "web-1", "web-2"]
    await env.patch_spec({"replicas": 0})
    await env.sync()
    assert sorted(env.deleted("pods")) == ["web-0", "web-1", "web-2"]
    assert env.pod_names() == []


async def test_claims_are_created_before_their_pod(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(2, claims=True), "default")
    await env.sync()
    order = [(a.verb, a.resource, a.name) for a in env.fake.actions if a.verb == "create"]
    assert order.index(("create", "persistentvolumeclaims", "www-web-0")) < order.index(("create", "pods", "web-0"))
    claim = env.fake.objects(PERSISTENT_VOLUME_CLAIMS, "default")[0]
    assert claim["metadata"]["name"] == "www-web-0"
    assert claim["metadata"]["labels"] == {"app": "web"}
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    assert "ownerReferences" not in claim["metadata"]  # default retention: Retain
    assert env.pod("web-0")["spec"]["volumes"] == [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}]
    events = await env.events()
    assert ("SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success") in events

    await env.make_ready("web-0")
    await env.sync()
    assert env.created("persistentvolumeclaims") == ["www-web-1"] and env.created("pods") == ["web-1"]
    # Scaling down keeps the claims.
    await env.make_ready("web-1")
    await env.patch_spec({"replicas": 0})
    await env.sync()
    await env.sync()
    assert env.pod_names() == []
    assert len(env.fake.objects(PERSISTENT_VOLUME_CLAIMS, "default")) == 2


async def test_delete_retention_policy_owns_claims(env: Env) -> None:
    body = statefulset(1, claims=True,
                       persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})
    await env.fake.create(STATEFUL_SETS, body, "default")
    await env.sync()
    await env.make_ready("web-0")
    await env.sync()  # the claim is in the cache now: its ownerReference to the set is added
    (claim,) = env.fake.objects(PERSISTENT_VOLUME_CLAIMS, "default")
    set_uid = env.fake.objects(STATEFUL_SETS, "default")[0]["metadata"]["uid"]
    assert [(r["kind"], r["uid"], r.get("controller")) for r in claim["metadata"]["ownerReferences"]] == [
        ("StatefulSet", set_uid, True)]


async def test_partitioned_rolling_update(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(3), "default")
    for _ in range(3):
        await env.sync()
        await env.all_ready()
    await env.sync()
    old_revision = env.status()["currentRevision"]

    await env.patch_spec({"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}},
                          "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}})
    await env.sync()
    assert env.deleted("pods") == ["web-2"]  # the highest ordinal first
    new_revision = env.status()["updateRevision"]
    assert new_revision != old_revision and env.status()["currentRevision"] == old_revision

    await env.sync()
    assert env.created("pods") == ["web-2"]
    assert env.pod("web-2")["metadata"]["labels"][REVISION_LABEL] == new_revision
    assert env.pod("web-2")["spec"]["containers"][0]["image"] == "nginx:2"
    await env.sync()
    assert env.deleted("pods") == []  # waits for web-2 to be Running and Ready
    await env.make_ready("web-2")
    await env.sync()
    assert env.deleted("pods") == ["web-1"]
    await env.sync()
    assert env.created("pods") == ["web-1"]
    await env.make_ready("web-1")
    for _ in range(3):
        await env.sync()
        assert env.deleted("pods") == []  # web-0 is below the partition
    status = env.status()
    assert status["updatedReplicas"] == 2 and status["currentReplicas"] == 1
    assert status["currentRevision"] == old_revision and status["updateRevision"] == new_revision
    assert env.pod("web-0")["metadata"]["labels"][REVISION_LABEL] == old_revision

    # Dropping the partition finishes the rollout and the update revision becomes current.
    await env.patch_spec({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}})
    await env.sync()
    assert env.deleted("pods") == ["web-0"]
    await env.sync()
    await env.make_ready("web-0")
    await env.sync()
    status = env.status()
    assert status["currentRevision"] == status["updateRevision"] == new_revision
    assert status["updatedReplicas"] == status["currentReplicas"] == status["readyReplicas"] == 3
    assert status["observedGeneration"] == 3
    assert len(env.fake.objects(CONTROLLER_REVISIONS, "default")) == 2


async def test_on_delete_updates_only_deleted_pods(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(1, updateStrategy={"type": "OnDelete"}), "default")
    await env.sync()
    await env.make_ready("web-0")
    await env.patch_spec({"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}})
    await env.sync()
    await env.sync()
    assert env.deleted("pods") == [] and env.pod("web-0")["spec"]["containers"][0]["image"] == "nginx:1"
    await env.fake.delete(PODS, "web-0", "default")
    await env.sync()
    assert env.pod("web-0")["spec"]["containers"][0]["image"] == "nginx:2"


async def test_start_ordinal(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(2, policy="Parallel", ordinals={"start": 3}), "default")
    await env.sync()
    assert env.pod_names() == ["web-3", "web-4"]
    assert env.pod("web-4")["metadata"]["labels"][POD_INDEX_LABEL] == "4"


async def test_pod_events_reach_the_queue(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(2), "default")
    await env.synced()
    assert await asyncio.wait_for(env.ctrl.controller.process_next(), 5)
    await env.synced()
    assert env.pod_names() == ["web-0"]
    await env.make_ready("web-0")
    await env.synced()
    assert await asyncio.wait_for(env.ctrl.controller.process_next(), 5)
    await env.synced()
    assert env.pod_names() == ["web-0", "web-1"]


async def test_failed_member_is_replaced(env: Env) -> None:
    await env.fake.create(STATEFUL_SETS, statefulset(1), "default")
    await env.sync()
    first_uid = env.pod("web-0")["metadata"]["uid"]
    pod = await env.fake.get(PODS, "web-0", "default")
    pod["status"] = {"phase": "Failed"}
    await env.fake.update(PODS, pod, subresource="status")
    await env.sync()
    assert env.deleted("pods") == ["web-0"] and env.pod_names() == []
    await env.sync()
    assert env.pod_names() == ["web-0"] and env.pod("web-0")["metadata"]["uid"] != first_uid
