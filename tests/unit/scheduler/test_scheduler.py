import asyncio
from collections.abc import Callable

import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.client.events import EventRecorder
from pyk8s.client.fake import FakeClient
from pyk8s.client.informer import SharedInformerFactory
from pyk8s.client.kinds import EVENTS, NODES, PODS, PRIORITY_CLASSES
from pyk8s.scheduler.framework.interface import ActionType
from pyk8s.scheduler.scheduler import Scheduler, node_update_events
from tests.unit.scheduler.helpers import make_node, make_pod


async def eventually(check: Callable[[], object], clock: FakeClock | None = None, timeout: float = 5.0) -> None:
    """Poll `check` until truthy (stepping the fake clock a little each round), or fail at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        if clock is not None:
            clock.step(0.25)
        await asyncio.sleep(0.005)


class Cluster:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.fake = FakeClient(clock=self.clock)
        self.factory = SharedInformerFactory(self.fake, clock=self.clock)
        self.recorder = EventRecorder(self.fake, "default-scheduler", clock=self.clock)
        self.sched = Scheduler(self.fake, self.factory, clock=self.clock, recorder=self.recorder)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.ensure_future(self.sched.run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await self.factory.stop()

    def pod(self, name: str) -> dict:
        return next(p for p in self.fake.objects(PODS, "default") if p["metadata"]["name"] == name)

    async def events(self) -> list[tuple[str, str, str]]:
        await self.recorder.flush()
        return [(e["reason"], e["involvedObject"]["name"], e["message"]) for e in self.fake.objects(EVENTS)]


@pytest.fixture
async def cluster():
    c = Cluster()
    yield c
    await c.stop()


async def test_binds_pending_pods_of_its_scheduler_name_only(cluster: Cluster):
    fake = cluster.fake
    await fake.create(NODES, make_node("n1"))
    await fake.create(NODES, make_node("n2"))
    await fake.create(PODS, make_pod("p1"))
    await fake.create(PODS, make_pod("mine", spec={"schedulerName": "other-scheduler"}))
    await cluster.start()
    await fake.create(PODS, make_pod("p2"))
    await eventually(lambda: cluster.pod("p1")["spec"].get("nodeName") and cluster.pod("p2")["spec"].get("nodeName"),
                     cluster.clock)
    assert not cluster.pod("mine")["spec"].get("nodeName")
    events = await cluster.events()
    node = cluster.pod("p1")["spec"]["nodeName"]
    assert ("Scheduled", "p1", f"Successfully assigned default/p1 to {node}") in events
    scheduled = next(e for e in cluster.fake.objects(EVENTS) if e["reason"] == "Scheduled")
    assert scheduled["involvedObject"]["kind"] == "Pod" and scheduled["source"]["component"] == "default-scheduler"
    # The bound pods reached the cache through the informer (confirming the assumed pods).
    await eventually(lambda: cluster.sched.cache.assumed_count() == 0 and cluster.sched.cache.pod_count() == 2)


async def test_unschedulable_pod_is_retried_when_a_fitting_node_appears(cluster: Cluster):
    fake = cluster.fake
    await fake.create(NODES, make_node("small", cpu="1"))
    await fake.create(PODS, make_pod("big", cpu="4"))
    await cluster.start()
    await eventually(lambda: any(c.get("type") == "PodScheduled"
                                 for c in cluster.pod("big").get("status", {}).get("conditions") or ()), cluster.clock)
    cond = next(c for c in cluster.pod("big")["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["message"] == ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
                               "1 Preemption is not helpful for scheduling.")
    assert ("FailedScheduling", "big", cond["message"]) in await cluster.events()
    await fake.create(NODES, make_node("large", cpu="8"))
    await eventually(lambda: cluster.pod("big")["spec"].get("nodeName") == "large", cluster.clock)


async def test_priority_class_resolved_for_preemption(cluster: Cluster):
    fake = cluster.fake
    await fake.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                         "metadata": {"name": "high"}, "value": 1000})
    await fake.create(NODES, make_node("n1", cpu="1"))
    await fake.create(PODS, make_pod("low", cpu="1", node_name="n1"))
    await cluster.start()
    await fake.create(PODS, make_pod("urgent", cpu="1", spec={"priorityClassName": "high"}))
    await eventually(lambda: cluster.pod("urgent").get("status", {}).get("nominatedNodeName") == "n1", cluster.clock)
    low = cluster.pod("low")
    assert low["metadata"].get("deletionTimestamp")
    assert any(c["type"] == "DisruptionTarget" for c in low["status"]["conditions"])
    # The kubelet would finish the graceful deletion; then the preemptor lands on the node.
    await fake.delete(PODS, "low", "default", grace_period_seconds=0)
    await eventually(lambda: cluster.pod("urgent")["spec"].get("nodeName") == "n1", cluster.clock)


async def test_deleted_pending_pod_leaves_the_queue(cluster: Cluster):
    fake = cluster.fake
    await fake.create(PODS, make_pod("p"))
    await cluster.start()
    await eventually(lambda: cluster.sched.queue.where("default/p") != "", cluster.clock)
    await fake.delete(PODS, "p", "default")
    await eventually(lambda: cluster.sched.queue.where("default/p") == "", cluster.clock)


def test_node_update_events():
    old = make_node("n", labels={"a": "1"})
    new = make_node("n", labels={"a": "2"}, cpu="8", unschedulable=True)
    kinds = {e.action_type for e in node_update_events(old, new)}
    assert kinds == {ActionType.UPDATE_NODE_LABEL, ActionType.UPDATE_NODE_ALLOCATABLE, ActionType.UPDATE_NODE_TAINT}
    heartbeat = make_node("n")
    heartbeat["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "x"}]
    beat2 = make_node("n")
    beat2["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": "y"}]
    assert node_update_events(heartbeat, beat2) == []


async def test_updates_of_bound_pods_reach_the_cache_without_reparsing(cluster: Cluster):
    fake = cluster.fake
    await fake.create(NODES, make_node("n1"))
    await fake.create(PODS, make_pod("p", node_name="n1", labels={"app": "a"}))
    await cluster.start()
    cache = cluster.sched.cache
    await eventually(lambda: cache.pod_count() == 1, cluster.clock)
    first = next(iter(cache.pods()))
    await fake.patch(PODS, "p", {"status": {"phase": "Running"}}, "default", subresource="status")
    await eventually(lambda: next(iter(cache.pods())).pod["status"].get("phase") == "Running", cluster.clock)
    running = next(iter(cache.pods()))
    # Same spec: the parsed requests are carried over, only the pod object changes.
    assert running is not first and running.requests is first.requests
    assert cache.nodes["n1"].label_sets == {first.label_set: 1}
    await fake.patch(PODS, "p", {"metadata": {"labels": {"app": "b"}}}, "default")
    await eventually(lambda: next(iter(cache.pods())).labels == {"app": "b"}, cluster.clock)
    relabelled = next(iter(cache.pods()))
    assert cache.nodes["n1"].label_sets == {relabelled.label_set: 1} and relabelled.label_set != first.label_set


def test_unassigned_delete_of_an_assumed_pod_frees_its_node() -> None:
    """Bound and deleted while the watch was down: the relist's delete carries the old, unassigned copy."""
    from pyk8s.scheduler.framework.types import PodInfo

    c = Cluster()
    c.sched.cache.add_node(make_node("n1"))
    pod = make_pod("p")
    pod["metadata"]["uid"] = "uid-p"
    bound = {**pod, "spec": {**pod["spec"], "nodeName": "n1"}}
    c.sched.cache.assume_pod(PodInfo(bound))
    uid = PodInfo(bound).uid_key
    assert c.sched.cache.is_assumed(uid)
    c.sched._on_pod_delete(pod)
    assert not c.sched.cache.is_assumed(uid) and c.sched.cache.get_pod(uid) is None
