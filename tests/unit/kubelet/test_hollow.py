"""Hollow nodes against the fake client: registration, leases, node status, pod lifecycle, failure switches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pyk8s.api import meta
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.informer import SharedInformerFactory
from pyk8s.client.kinds import LEASES, NODES, PODS
from pyk8s.kubelet.hollow import (
    ANNOTATION_EXIT_CODE,
    ANNOTATION_HEARTBEAT,
    ANNOTATION_IGNORE_SIGTERM,
    ANNOTATION_RUN_SECONDS,
    NODE_LEASE_NAMESPACE,
    HollowNodes,
    PodIPPool,
    fallback_pod_cidr,
    image_id,
    normalize_image,
)

NS = "default"
Obj = dict[str, Any]


async def eventually(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


@dataclass
class Rig:
    fake: FakeClient
    clock: FakeClock
    factory: SharedInformerFactory
    nodes: HollowNodes
    task: asyncio.Task[None]

    def pod(self, name: str) -> Obj | None:
        return next((p for p in self.fake.objects(PODS, NS) if p["metadata"]["name"] == name), None)

    def node(self, name: str) -> Obj:
        return next(n for n in self.fake.objects(NODES) if n["metadata"]["name"] == name)

    def lease(self, name: str) -> Obj:
        return next(x for x in self.fake.objects(LEASES, NODE_LEASE_NAMESPACE) if x["metadata"]["name"] == name)

    def phase(self, name: str) -> str:
        p = self.pod(name)
        return str(((p or {}).get("status") or {}).get("phase", ""))

    async def set_cidr(self, node: str, cidr: str) -> None:
        await self.fake.patch(NODES, node, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})

    async def step(self, seconds: float) -> None:
        """Advance the fake clock and let woken tasks run their writes."""
        self.clock.step(seconds)
        for _ in range(50):
            await asyncio.sleep(0)


Make = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    rigs: list[Rig] = []

    async def build(count: int = 2, seed: Callable[[FakeClient], None] | None = None, **kw: Any) -> Rig:
        clock = FakeClock()
        fake = FakeClient(clock=clock)
        if seed:
            seed(fake)
        factory = SharedInformerFactory(fake, clock=clock)
        nodes = HollowNodes(fake, count=count, clock=clock, informers=factory, **kw)
        task = asyncio.create_task(nodes.run())
        rig = Rig(fake, clock, factory, nodes, task)
        rigs.append(rig)
        await eventually(nodes.registered.is_set, what="registration")
        # the lease and status loops take their start time when they first run: let both park on the clock
        await eventually(lambda: clock.sleeper_count() >= 2, what="heartbeat loops waiting")
        return rig

    yield build
    for r in rigs:
        r.task.cancel()
        await asyncio.gather(r.task, return_exceptions=True)
        await r.factory.stop()


def pod(name: str, node: str = "hollow-node-0", *, restart: str = "Always", annotations: dict[str, str] | None = None,
        **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "annotations": dict(annotations or {})},
            "spec": {"nodeName": node, "restartPolicy": restart,
                     "containers": [{"name": "main", "image": "nginx"}, {"name": "aux", "image": "quay.io/x/y:1"}],
                     **spec},
            "status": {"phase": "Pending"}}


# ---------------------------------------------------------------- pure helpers

def test_image_names() -> None:
    assert normalize_image("busybox") == "docker.io/library/busybox:latest"
    assert normalize_image("me/app:2") == "docker.io/me/app:2"
    assert normalize_image("localhost:5000/app") == "localhost:5000/app:latest"
    assert normalize_image("quay.io/x/y@sha256:ab") == "quay.io/x/y@sha256:ab"
    assert image_id("nginx").startswith("docker.io/library/nginx@sha256:")
    assert image_id("nginx") == image_id("docker.io/library/nginx:latest")


def test_pod_ip_pool_lowest_free_and_reuse() -> None:
    pool = PodIPPool("10.244.3.0/24")
    assert [pool.allocate() for _ in range(3)] == ["10.244.3.2", "10.244.3.3", "10.244.3.4"]
    pool.release("10.244.3.3")
    assert pool.allocate() == "10.244.3.3"
    assert pool.reserve("10.244.3.5") and not pool.reserve("10.0.0.1")
    assert pool.allocate() == "10.244.3.6"
    tiny = PodIPPool("10.0.0.0/30")  # .0 network, .1 gateway, .2 usable, .3 broadcast
    assert tiny.allocate() == "10.0.0.2" and tiny.allocate() is None
    assert fallback_pod_cidr("10.244.0.0/16", 3) == "10.244.3.0/24"
    assert fallback_pod_cidr("fd00::/48", 1) == "fd00:0:0:1::/64"


# ---------------------------------------------------------------- nodes and leases

async def test_registration_node_shape_and_lease(make: Make) -> None:
    rig = await make(count=3)
    names = sorted(n["metadata"]["name"] for n in rig.fake.objects(NODES))
    assert names == ["hollow-node-0", "hollow-node-1", "hollow-node-2"]
    node = rig.node("hollow-node-1")
    labels = node["metadata"]["labels"]
    assert labels == {"kubernetes.io/hostname": "hollow-node-1", "kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64", "node.pyk8s.io/hollow": "true", "type": "hollow"}
    st = node["status"]
    assert st["capacity"] == st["allocatable"] == {"cpu": "32", "memory": "256Gi", "pods": "110",
                                                   "ephemeral-storage": "100Gi"}
    conds = {c["type"]: c for c in st["conditions"]}
    assert [c["type"] for c in st["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert conds["Ready"]["status"] == "True" and conds["Ready"]["reason"] == "KubeletReady"
    assert conds["Ready"]["message"] == "kubelet is posting ready status"
    assert conds["MemoryPressure"]["status"] == "False"
    assert conds["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    assert conds["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"
    assert conds["PIDPressure"]["reason"] == "KubeletHasSufficientPID"
    assert st["addresses"] == [{"type": "InternalIP", "address": "10.254.0.2"},
                               {"type": "Hostname", "address": "hollow-node-1"}]
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = st["nodeInfo"]
    assert info["kubeletVersion"] == "v1.33.0+pyk8s" and info["containerRuntimeVersion"] == "hollow://1.0"
    assert info["architecture"] == "amd64" and info["operatingSystem"] == "linux" and info["kernelVersion"]
    lease = rig.lease("hollow-node-1")
    assert lease["spec"]["holderIdentity"] == "hollow-node-1" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["spec"]["renewTime"] == meta.now_micro(rig.clock.now())
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "hollow-node-1",
                                                     "uid": node["metadata"]["uid"]}]


async def test_existing_node_is_adopted(make: Make) -> None:
    def seed(fake: FakeClient) -> None:
        fake.seed(NODES, {"metadata": {"name": "hollow-node-0", "labels": {"keep": "me"}}, "spec": {},
                          "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})

    rig = await make(count=1, seed=seed)
    node = rig.node("hollow-node-0")
    assert node["metadata"]["labels"]["keep"] == "me" and node["metadata"]["labels"]["type"] == "hollow"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    verbs = [a.verb for a in rig.fake.actions if a.resource == "nodes" and a.verb not in ("list", "watch")]
    assert verbs[:2] == ["create", "get"]


async def test_leases_renew_spread_over_the_interval(make: Make) -> None:
    rig = await make(count=4, heartbeat_interval=10.0)
    t0 = rig.lease("hollow-node-0")["spec"]["renewTime"]
    await rig.step(2.5)  # a quarter of the interval: only the first node is due
    await eventually(lambda: rig.lease("hollow-node-0")["spec"]["renewTime"] != t0, what="first renewal")
    assert all(rig.lease(f"hollow-node-{i}")["spec"]["renewTime"] == t0 for i in (1, 2, 3))
    await rig.step(7.5)
    await eventually(lambda: all(rig.lease(f"hollow-node-{i}")["spec"]["renewTime"] != t0 for i in range(4)),
                     what="all renewed")
    renewed = [a for a in rig.fake.actions if a.resource == "leases" and a.verb == "update"]
    assert len(renewed) == 4


async def test_node_status_heartbeat_keeps_transition_time(make: Make) -> None:
    rig = await make(count=1, status_update_frequency=60.0, heartbeat_interval=1000.0)
    before = {c["type"]: c for c in rig.node("hollow-node-0")["status"]["conditions"]}
    await rig.step(60)

    def heartbeat_moved() -> bool:
        now = {c["type"]: c for c in rig.node("hollow-node-0")["status"]["conditions"]}
        return now["Ready"]["lastHeartbeatTime"] != before["Ready"]["lastHeartbeatTime"]

    await eventually(heartbeat_moved, what="status update")
    after = {c["type"]: c for c in rig.node("hollow-node-0")["status"]["conditions"]}
    assert after["Ready"]["lastTransitionTime"] == before["Ready"]["lastTransitionTime"]
    assert after["Ready"]["lastHeartbeatTime"] == meta.now_rfc3339(rig.clock.now())


# ---------------------------------------------------------------- pods

async def test_pod_runs_with_ip_from_pod_cidr(make: Make) -> None:
    rig = await make(count=1)
    await rig.set_cidr("hollow-node-0", "10.244.7.0/24")
    await rig.fake.create(PODS, pod("web", initContainers=[
        {"name": "init", "image": "busybox"}, {"name": "side", "image": "envoy", "restartPolicy": "Always"}]))
    await eventually(lambda: rig.phase("web") == "Running", what="Running")
    p = rig.pod("web")
    assert p is not None
    st = p["status"]
    assert st["podIP"] == "10.244.7.2" and st["podIPs"] == [{"ip": "10.244.7.2"}]
    assert st["hostIP"] == "10.254.0.1" and st["hostIPs"] == [{"ip": "10.254.0.1"}]
    assert st["startTime"] == meta.now_rfc3339(rig.clock.now())
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                     "ContainersReady": "True", "PodScheduled": "True"}
    cs = st["containerStatuses"]
    assert [c["name"] for c in cs] == ["aux", "main"]
    main = cs[1]
    assert main["ready"] is True and main["started"] is True and main["restartCount"] == 0
    assert main["image"] == "docker.io/library/nginx:latest"
    assert main["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert main["containerID"].startswith("hollow://") and "running" in main["state"]
    init, side = st["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed" and init["state"]["terminated"]["exitCode"] == 0
    assert side["state"].keys() == {"running"} and side["started"] is True
    # a second pod takes the next address; a finished pod's address is reused
    await rig.fake.create(PODS, pod("two"))
    await eventually(lambda: rig.phase("two") == "Running")
    assert (rig.pod("two") or {})["status"]["podIP"] == "10.244.7.3"


async def test_pod_waits_for_pod_cidr(make: Make) -> None:
    rig = await make(count=1)
    await rig.fake.create(PODS, pod("early"))
    await eventually(lambda: "default/early" in rig.nodes._waiting_cidr.get("hollow-node-0", set()),
                     what="waiting for podCIDR")
    assert rig.phase("early") == "Pending"
    await rig.set_cidr("hollow-node-0", "10.244.9.0/24")
    await eventually(lambda: rig.phase("early") == "Running")
    assert (rig.pod("early") or {})["status"]["podIP"] == "10.244.9.2"


async def test_host_network_pod_uses_node_ip(make: Make) -> None:
    rig = await make(count=2)
    await rig.fake.create(PODS, pod("hn", node="hollow-node-1", hostNetwork=True))
    await eventually(lambda: rig.phase("hn") == "Running")
    st = (rig.pod("hn") or {})["status"]
    assert st["podIP"] == st["hostIP"] == "10.254.0.2"


async def test_pods_of_other_nodes_are_ignored(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16")
    await rig.fake.create(PODS, pod("elsewhere", node="real-node"))
    await rig.fake.create(PODS, pod("mine"))
    await eventually(lambda: rig.phase("mine") == "Running")
    assert rig.phase("elsewhere") == "Pending"
    assert (rig.pod("mine") or {})["status"]["podIP"] == "10.244.0.2"


async def test_never_pod_completes_after_run_seconds(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16", pod_run_seconds=1.0)
    await rig.fake.create(PODS, pod("job", restart="Never"))
    await eventually(lambda: rig.phase("job") == "Running")
    await rig.step(1.0)
    await eventually(lambda: rig.phase("job") == "Succeeded", what="Succeeded")
    st = (rig.pod("job") or {})["status"]
    conds = {c["type"]: c for c in st["conditions"]}
    assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "PodCompleted"
    assert conds["ContainersReady"]["reason"] == "PodCompleted"
    assert conds["Initialized"]["reason"] == "PodCompleted"
    for c in st["containerStatuses"]:
        term = c["state"]["terminated"]
        assert term["exitCode"] == 0 and term["reason"] == "Completed" and c["ready"] is False
    # its address is free again
    await rig.fake.create(PODS, pod("next"))
    await eventually(lambda: rig.phase("next") == "Running")
    assert (rig.pod("next") or {})["status"]["podIP"] == st["podIP"]


async def test_exit_code_and_run_seconds_annotations(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16", pod_run_seconds=1.0)
    await rig.fake.create(PODS, pod("fails", restart="Never",
                                    annotations={ANNOTATION_EXIT_CODE: "3", ANNOTATION_RUN_SECONDS: "5"}))
    await eventually(lambda: rig.phase("fails") == "Running")
    await rig.step(1.0)
    assert rig.phase("fails") == "Running"
    await rig.step(4.0)
    await eventually(lambda: rig.phase("fails") == "Failed", what="Failed")
    st = (rig.pod("fails") or {})["status"]
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 3 and term["reason"] == "Error"
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodFailed"


async def test_on_failure_restarts_with_backoff(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16", pod_run_seconds=1.0)
    await rig.fake.create(PODS, pod("crash", restart="OnFailure", annotations={ANNOTATION_EXIT_CODE: "1"}))
    await eventually(lambda: rig.phase("crash") == "Running")
    await rig.step(1.0)

    def first(field: str) -> Any:
        return ((rig.pod("crash") or {})["status"]["containerStatuses"][0]).get(field)

    await eventually(lambda: first("restartCount") == 1, what="restart")
    assert first("state")["waiting"]["reason"] == "CrashLoopBackOff"
    assert first("lastState")["terminated"]["exitCode"] == 1
    assert rig.phase("crash") == "Running"
    await rig.step(10.0)
    await eventually(lambda: "running" in first("state"), what="running again")


async def test_always_pod_keeps_running(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16", pod_run_seconds=1.0)
    await rig.fake.create(PODS, pod("svc", annotations={ANNOTATION_EXIT_CODE: "1"}))
    await eventually(lambda: rig.phase("svc") == "Running")
    await rig.step(100.0)
    assert rig.phase("svc") == "Running"


async def test_deleted_pod_stops_at_once(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16")
    await rig.fake.create(PODS, pod("gone", terminationGracePeriodSeconds=30))
    await eventually(lambda: rig.phase("gone") == "Running")
    await rig.fake.delete(PODS, "gone", NS)
    assert (rig.pod("gone") or {})["metadata"].get("deletionTimestamp")  # graceful: the kubelet must confirm
    await eventually(lambda: rig.pod("gone") is None, what="pod removed")
    confirm = [a for a in rig.fake.actions if a.verb == "delete" and a.name == "gone"][-1]
    assert confirm.body["gracePeriodSeconds"] == 0 and confirm.body["preconditions"]["uid"]
    stopped = [a for a in rig.fake.actions if a.name == "gone" and a.subresource == "status"][-1]
    term = stopped.body["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"


async def test_ignore_sigterm_waits_for_the_grace_period(make: Make) -> None:
    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16")
    await rig.fake.create(PODS, pod("stubborn", terminationGracePeriodSeconds=30,
                                    annotations={ANNOTATION_IGNORE_SIGTERM: "true"}))
    await eventually(lambda: rig.phase("stubborn") == "Running")
    await rig.fake.delete(PODS, "stubborn", NS)
    await eventually(lambda: rig.nodes._runs["default/stubborn"].deletion_seen is not None, what="deletion seen")
    await rig.step(29)
    assert rig.pod("stubborn") is not None and rig.phase("stubborn") == "Running"
    await rig.step(1)
    await eventually(lambda: rig.pod("stubborn") is None, what="pod removed")
    last_status = [a for a in rig.fake.actions if a.name == "stubborn" and a.subresource == "status"][-1]
    term = last_status.body["status"]["containerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 137 and term["reason"] == "Error"


async def test_stopped_heartbeat_freezes_node_and_resumes(make: Make) -> None:
    rig = await make(count=2, fallback_cluster_cidr="10.244.0.0/16", heartbeat_interval=10.0)
    await rig.fake.patch(NODES, "hollow-node-0", {"metadata": {"annotations": {ANNOTATION_HEARTBEAT: "stopped"}}})
    await eventually(lambda: rig.nodes.heartbeat_stopped("hollow-node-0"), what="annotation seen")
    frozen = rig.lease("hollow-node-0")["spec"]["renewTime"]
    other = rig.lease("hollow-node-1")["spec"]["renewTime"]
    await rig.fake.create(PODS, pod("stuck"))
    await rig.step(10)
    await eventually(lambda: rig.lease("hollow-node-1")["spec"]["renewTime"] != other, what="other renews")
    assert rig.lease("hollow-node-0")["spec"]["renewTime"] == frozen
    assert rig.phase("stuck") == "Pending"
    await rig.fake.patch(NODES, "hollow-node-0", {"metadata": {"annotations": {ANNOTATION_HEARTBEAT: None}}})
    await eventually(lambda: rig.lease("hollow-node-0")["spec"]["renewTime"] != frozen, what="lease resumes")
    await eventually(lambda: rig.phase("stuck") == "Running", what="pod runs after resume")


async def test_restart_adopts_running_pods_and_their_addresses(make: Make) -> None:
    running = pod("old")
    running["metadata"]["uid"] = "u-old"
    running["status"] = {"phase": "Running", "startTime": "2026-01-01T00:00:00Z", "podIP": "10.244.0.2",
                         "podIPs": [{"ip": "10.244.0.2"}],
                         "containerStatuses": [{"name": "main", "containerID": "hollow://abc", "restartCount": 0},
                                               {"name": "aux", "containerID": "hollow://def", "restartCount": 0}]}

    def seed(fake: FakeClient) -> None:
        fake.seed(PODS, running)

    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16", seed=seed)
    await rig.fake.create(PODS, pod("new"))
    await eventually(lambda: rig.phase("new") == "Running")
    assert (rig.pod("new") or {})["status"]["podIP"] == "10.244.0.3"
    assert not [a for a in rig.fake.actions if a.name == "old" and a.subresource == "status"]


async def test_restart_reserves_every_running_pods_address_before_starting_new_ones(make: Make) -> None:
    running = pod("z-old")
    running["metadata"]["uid"] = "u-old"
    running["status"] = {"phase": "Running", "startTime": "2026-01-01T00:00:00Z", "podIP": "10.244.0.2",
                         "podIPs": [{"ip": "10.244.0.2"}],
                         "containerStatuses": [{"name": "main", "containerID": "hollow://abc", "restartCount": 0},
                                               {"name": "aux", "containerID": "hollow://def", "restartCount": 0}]}

    def seed(fake: FakeClient) -> None:
        fake.seed(PODS, running)
        for i in range(3):  # pending pods the restarted process may well reach before the running one
            fake.seed(PODS, pod(f"a-new-{i}"))

    rig = await make(count=1, fallback_cluster_cidr="10.244.0.0/16", seed=seed)
    names = [f"a-new-{i}" for i in range(3)]
    await eventually(lambda: all(rig.phase(n) == "Running" for n in names))
    ips = [(rig.pod(n) or {})["status"]["podIP"] for n in names]
    assert "10.244.0.2" not in ips and len(set(ips)) == 3
