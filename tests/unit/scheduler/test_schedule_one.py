import asyncio
import random

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import NODES, PODS
from pyk8s.scheduler.cache import Cache
from pyk8s.scheduler.framework.interface import EVENT_ASSIGNED_POD_DELETE, CycleState
from pyk8s.scheduler.framework.runtime import Framework, Profile
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo
from pyk8s.scheduler.plugins.registry import in_tree_registry
from pyk8s.scheduler.queue import BACKOFF_Q, UNSCHEDULABLE_PODS, SchedulingQueue
from pyk8s.scheduler.schedule_one import PodScheduler, SchedulingAlgorithm, num_feasible_nodes_to_find
from pyk8s.scheduler.simulate import offline_framework, schedule_offline
from tests.unit.scheduler.helpers import Events, build_cache, make_node, make_pod

CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_num_feasible_nodes_to_find():
    assert num_feasible_nodes_to_find(0, 50) == 50
    assert num_feasible_nodes_to_find(0, 100) == 100
    assert num_feasible_nodes_to_find(0, 1000) == 420
    assert num_feasible_nodes_to_find(0, 5000) == 500
    assert num_feasible_nodes_to_find(0, 6000) == 300  # floor of 5%
    assert num_feasible_nodes_to_find(30, 5000) == 1500
    assert num_feasible_nodes_to_find(1, 5000) == 100  # never fewer than 100


def test_sampling_round_robin_and_spreading():
    cache = build_cache([make_node(f"n{i:03}") for i in range(300)])
    fwk = offline_framework(cache)
    algo = SchedulingAlgorithm(rng=random.Random(0))
    r = algo.schedule_pod(fwk, CycleState(), PodInfo(make_pod("p")), cache.snapshot)
    # 300 nodes: (50 - 300/125)% = 48% -> 144 nodes are filtered and scored; the next cycle starts after them.
    assert (r.evaluated_nodes, r.feasible_nodes) == (144, 144)
    assert algo.next_start_node_index == 144
    r = algo.schedule_pod(fwk, CycleState(), PodInfo(make_pod("q")), cache.snapshot)
    assert algo.next_start_node_index == 288


def test_offline_loop_spreads_pods_over_empty_nodes():
    cache = build_cache([make_node(f"n{i}") for i in range(20)])
    result = schedule_offline(cache, [make_pod(f"p{i}") for i in range(40)])
    counts: dict[str, int] = {}
    for node in result.placements.values():
        assert node is not None
        counts[node] = counts.get(node, 0) + 1
    assert sorted(counts.values()) == [2] * 20


def test_ties_broken_randomly():
    algo = SchedulingAlgorithm(rng=random.Random(3))
    nodes = [NodeInfo(make_node(f"n{i}")) for i in range(4)]
    picks = {algo.select_host(nodes, [5, 9, 9, 9]) for _ in range(200)}
    assert picks == {"n1", "n2", "n3"}
    assert algo.select_host(nodes, [1, 2, 3, 0]) == "n2"


class Env:
    """A PodScheduler over a FakeClient holding the same nodes and pods as the cache."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.fake = FakeClient(clock=self.clock)
        self.cache = Cache(clock=self.clock)
        self.events = Events()
        self.queue = SchedulingQueue(clock=self.clock)
        self.fwk = Framework(Profile(), in_tree_registry(), client=self.fake, snapshot=self.cache.snapshot,
                             recorder=self.events, clock=self.clock, nominator=self.queue)
        self.queue = SchedulingQueue(clock=self.clock, events=self.fwk.events_to_register())
        self.fwk.nominator = self.queue
        self.sched = PodScheduler(client=self.fake, cache=self.cache, queue=self.queue,
                                  frameworks={"default-scheduler": self.fwk}, recorder=self.events, clock=self.clock,
                                  algorithm=SchedulingAlgorithm(rng=random.Random(0)), pod_lookup=self.lookup)

    def lookup(self, key: str):
        ns, name = key.split("/")
        for p in self.fake.objects(PODS, ns):
            if p["metadata"]["name"] == name:
                return p
        return None

    async def node(self, node):
        created = await self.fake.create(NODES, node)
        self.cache.add_node(created)

    async def pod(self, pod):
        created = await self.fake.create(PODS, pod)
        if created["spec"].get("nodeName"):
            self.cache.add_pod(PodInfo(created))
        else:
            self.queue.add(PodInfo(created))
        return created

    async def step(self):
        """One scheduling cycle and the tasks it started; fails fast if no pod is ready to pop."""
        await asyncio.wait_for(self.sched.schedule_one(), 5)
        await asyncio.wait_for(self.sched.wait_for_tasks(), 5)

    async def get(self, name):
        return await self.fake.get(PODS, name, "default")


async def test_pod_is_bound_with_scheduled_event():
    env = Env()
    await env.node(make_node("n1"))
    await env.pod(make_pod("p"))
    await env.step()
    assert (await env.get("p"))["spec"]["nodeName"] == "n1"
    [binding] = [a for a in env.fake.actions if a.subresource == "binding"]
    assert binding.body["target"]["name"] == "n1"
    assert env.events.items == [("Normal", "Scheduled", "default/p", "Successfully assigned default/p to n1")]
    assert env.cache.is_assumed(PodInfo(await env.get("p")).uid_key)
    assert env.sched.scheduled == 1 and env.queue.in_flight_count() == 0


async def test_failed_scheduling_message_mixes_reasons_and_preemption():
    env = Env()
    await env.node(make_node("n1", cpu="1"))
    await env.node(make_node("cp1", taints=[CP_TAINT]))
    await env.node(make_node("cp2", taints=[CP_TAINT]))
    await env.pod(make_pod("big", cpu="2"))
    await env.step()
    expected = ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
                "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
                "3 Preemption is not helpful for scheduling.")
    assert env.events.items == [("Warning", "FailedScheduling", "default/big", expected)]
    pod = await env.get("big")
    [cond] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", expected)
    assert env.queue.where("default/big") == UNSCHEDULABLE_PODS
    queued = env.queue.get("default/big")
    assert queued is not None and queued.unschedulable_plugins == {"NodeResourcesFit", "TaintToleration"}
    # A second failure with the same message does not patch the status again.
    env.fake.clear_actions()
    env.clock.step(2)
    env.queue.force_activate_all()
    await env.step()
    assert env.events.items[-1][3] == expected
    assert not [a for a in env.fake.actions if a.verb == "patch"]


async def test_preemption_nominates_then_schedules_after_victim_is_gone():
    env = Env()
    await env.node(make_node("n1", cpu="1"))
    victim = await env.pod(make_pod("low", cpu="1", node_name="n1", priority=0))
    await env.pod(make_pod("high", cpu="1", priority=1000))
    await env.step()
    assert [a.name for a in env.fake.actions if a.verb == "delete"] == ["low"]
    high = await env.get("high")
    assert high["status"]["nominatedNodeName"] == "n1"
    assert env.events.items[-1] == ("Warning", "FailedScheduling", "default/high",
                                    "0/1 nodes are available: 1 Insufficient cpu.")
    assert ("Normal", "Preempted", "default/low", f"Preempted by pod {high['metadata']['uid']} on node n1") \
        in env.events.items
    # The informer reports the victim gone: the cache frees it and the queue retries the preemptor.
    env.cache.remove_pod(PodInfo(victim))
    env.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, victim, None)
    env.clock.step(2)
    env.queue.flush_backoff_completed()
    await env.step()
    assert (await env.get("high"))["spec"]["nodeName"] == "n1"


async def test_preemption_policy_never_message():
    env = Env()
    await env.node(make_node("n1", cpu="1"))
    await env.pod(make_pod("low", cpu="1", node_name="n1", priority=0))
    await env.pod(make_pod("high", cpu="1", priority=1000, spec={"preemptionPolicy": "Never"}))
    await env.step()
    assert env.events.items[-1][3] == ("0/1 nodes are available: 1 Insufficient cpu. "
                                       "preemption: not eligible due to preemptionPolicy=Never.")
    assert not [a for a in env.fake.actions if a.verb == "delete"]


async def test_bind_failure_forgets_the_assumed_pod_and_requeues():
    env = Env()
    await env.node(make_node("n1"))
    await env.pod(make_pod("p", cpu="1"))
    env.fake.fail_next("create_subresource", "pods", errors.InternalError("etcd is sad"))
    await env.step()
    assert env.cache.nodes["n1"].req_cpu == 0 and env.cache.assumed_count() == 0
    assert env.queue.where("default/p") == BACKOFF_Q
    kind, reason, _, message = env.events.items[-1]
    assert (kind, reason) == ("Warning", "FailedScheduling")
    assert message == 'running Bind plugin "DefaultBinder": etcd is sad'
    cond = next(c for c in (await env.get("p"))["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["reason"] == "SchedulerError"
    env.clock.step(1.5)
    env.queue.flush_backoff_completed()
    await env.step()
    assert (await env.get("p"))["spec"]["nodeName"] == "n1"


async def test_no_nodes_and_deleted_pods():
    env = Env()
    await env.pod(make_pod("p"))
    await env.step()
    assert env.events.items[-1][3] == "no nodes available to schedule pods"
    assert env.queue.where("default/p") == BACKOFF_Q
    # A pod deleted while it was being scheduled is not requeued.
    await env.node(make_node("n1", cpu="1"))
    await env.pod(make_pod("gone", cpu="2"))
    qpi = await env.queue.pop()
    while qpi.pod_info.name != "gone":
        env.queue.done(qpi.key)
        qpi = await env.queue.pop()
    await env.fake.delete(PODS, "gone", "default")
    await env.sched.schedule_queued_pod(qpi)
    await env.sched.wait_for_tasks()
    assert env.queue.where("default/gone") == ""


async def test_run_loop_yields_to_binding_tasks():
    env = Env()
    for i in range(5):
        await env.node(make_node(f"n{i}"))
    for i in range(20):
        await env.pod(make_pod(f"p{i}"))
    runner = asyncio.ensure_future(env.sched.run())
    try:
        deadline = asyncio.get_running_loop().time() + 5
        while env.sched.scheduled < 20 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.001)
    finally:
        runner.cancel()
    assert env.sched.scheduled == 20
    assert all(p["spec"].get("nodeName") for p in env.fake.objects(PODS, "default"))


async def test_plugin_exception_requeues_the_pod_instead_of_stopping():
    env = Env()
    await env.node(make_node("n1"))
    await env.pod(make_pod("p"))

    def broken(state, pod, nodes):
        raise RuntimeError("plugin bug")

    env.fwk.plugins["NodeResourcesFit"].pre_filter = broken
    await env.step()
    assert env.queue.where("default/p") == BACKOFF_Q
    assert env.events.items[-1][1:] == ("FailedScheduling", "default/p", "plugin bug")
    assert env.sched.errors == 1


def test_events_name_the_pod_kind_even_for_list_items():
    from pyk8s.scheduler.schedule_one import with_pod_kind

    item = {"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": {}}
    ref = with_pod_kind(item)
    assert (ref["kind"], ref["apiVersion"], ref["metadata"]["uid"]) == ("Pod", "v1", "u")
    full = make_pod("q")
    assert with_pod_kind(full) is full


async def test_reserve_plugin_exception_undoes_the_assumption_and_requeues():
    env = Env()
    await env.node(make_node("n1"))
    created = await env.pod(make_pod("p"))

    class Broken:
        name = "Broken"

        def reserve(self, state, pod, node_name):
            raise RuntimeError("reserve bug")

        def unreserve(self, state, pod, node_name):
            pass

    env.fwk.reserve_plugins.append(Broken())
    await env.step()
    assert env.queue.where("default/p") == BACKOFF_Q
    assert not env.cache.is_assumed(PodInfo(created).uid_key)
    assert not [a for a in env.fake.actions if a.subresource == "binding"]

