import asyncio

import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.scheduler.framework.interface import (
    EVENT_NODE_ADD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    NominatingInfo,
    NominatingMode,
    QueueingHint,
)
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.scheduling_gates import SchedulingGates
from pyk8s.scheduler.queue import ACTIVE_Q, BACKOFF_Q, UNSCHEDULABLE_PODS, QueueClosed, SchedulingQueue
from tests.unit.scheduler.helpers import make_node, make_pod

NODE_LABEL = ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_LABEL)


def fit_hint(pod, old, new):
    return QueueingHint.QUEUE if new is not None and new["metadata"]["name"] == "big" else QueueingHint.QUEUE_SKIP


def new_queue(clock):
    events = [("NodeResourcesFit", ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD), fit_hint)),
              ("NodeAffinity", ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD
                                                                 | ActionType.UPDATE_NODE_LABEL)))]
    gates = SchedulingGates()

    def pre_enqueue(pod):
        s = gates.pre_enqueue(pod)
        return s.with_plugin(gates.name) if s is not None else None

    return SchedulingQueue(clock=clock, events=events, pre_enqueue=pre_enqueue)


def pi(name, **kw):
    return PodInfo(make_pod(name, **kw))


async def test_pop_orders_by_priority_then_age():
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("old-low", priority=1))
    clock.step(1)
    q.add(pi("high", priority=10))
    q.add(pi("new-low", priority=1))
    assert [(await q.pop()).pod_info.name for _ in range(3)] == ["high", "old-low", "new-low"]


async def test_pop_waits_for_a_pod_and_close_wakes_it():
    q = new_queue(FakeClock())
    task = asyncio.ensure_future(q.pop())
    await asyncio.sleep(0)
    assert not task.done()
    q.add(pi("p"))
    assert (await asyncio.wait_for(task, 1)).pod_info.name == "p"
    task = asyncio.ensure_future(q.pop())
    await asyncio.sleep(0)
    q.close()
    with pytest.raises(QueueClosed):
        await asyncio.wait_for(task, 1)


def test_backoff_doubles_to_the_cap():
    q = new_queue(FakeClock())
    q.add(pi("p"))
    qpi = q.try_pop()
    durations = []
    for _ in range(6):
        qpi.unschedulable_count += 1
        durations.append(q.backoff_duration(qpi))
    assert durations == [1, 2, 4, 8, 10, 10]
    qpi.consecutive_errors_count = 2
    assert q.backoff_duration(qpi) == 2


async def test_unschedulable_pod_waits_for_a_relevant_event():
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = await q.pop()
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    assert q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle) == UNSCHEDULABLE_PODS
    # NodeResourcesFit did not register node label updates: nothing moves.
    assert q.move_all_to_active_or_backoff(NODE_LABEL, None, make_node("x")) == 0
    # Its hint skips a node that would not fit...
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, make_node("small")) == 0
    assert q.where("default/p") == UNSCHEDULABLE_PODS
    # ... and queues for one that may: still backing off (1 s), so it goes to backoffQ first.
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, make_node("big")) == 1
    assert q.where("default/p") == BACKOFF_Q
    clock.step(0.5)
    assert q.flush_backoff_completed() == 0
    clock.step(0.6)
    assert q.flush_backoff_completed() == 1 and q.where("default/p") == ACTIVE_Q


async def test_event_during_the_cycle_sends_the_failed_pod_to_backoff():
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = await q.pop()
    cycle = q.scheduling_cycle
    q.move_all_to_active_or_backoff(NODE_LABEL)  # arrives while the pod is in flight
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    assert q.add_unschedulable_if_not_present(qpi, cycle) == BACKOFF_Q


async def test_errors_go_to_backoff_and_leftovers_flush_after_five_minutes():
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("err"))
    q.add(pi("stuck"))
    err = await q.pop()
    stuck = await q.pop()
    assert q.add_unschedulable_if_not_present(err, q.scheduling_cycle) == BACKOFF_Q  # no rejecting plugin
    stuck.unschedulable_plugins = {"NodeAffinity"}
    assert q.add_unschedulable_if_not_present(stuck, q.scheduling_cycle) == UNSCHEDULABLE_PODS
    clock.step(299)
    assert q.flush_unschedulable_leftover() == 0
    clock.step(2)
    assert q.flush_unschedulable_leftover() == 1 and q.where("default/stuck") == ACTIVE_Q


async def test_flush_loops_run_on_the_clock():
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = await q.pop()
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)  # error: backoffQ for 1 s
    runner = asyncio.ensure_future(q.run())
    try:
        for _ in range(3):
            await asyncio.sleep(0)
        clock.step(1)
        deadline = asyncio.get_running_loop().time() + 2
        while q.where("default/p") != ACTIVE_Q and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.001)
        assert q.where("default/p") == ACTIVE_Q
    finally:
        runner.cancel()


async def test_gated_pod_waits_until_its_gates_are_removed():
    q = new_queue(FakeClock())
    gated = pi("g", spec={"schedulingGates": [{"name": "example.com/wait"}]})
    q.add(gated)
    assert q.try_pop() is None and q.where("default/g") == UNSCHEDULABLE_PODS
    assert q.get("default/g").gating_plugin == "SchedulingGates"
    assert q.flush_unschedulable_leftover() == 0
    q.update(gated, pi("g"))
    assert q.try_pop().pod_info.name == "g"


async def test_updates_while_in_flight_do_not_duplicate_and_spec_changes_requeue():
    clock = FakeClock()
    q = new_queue(clock)
    q.add(pi("p"))
    qpi = await q.pop()
    q.update(qpi.pod_info, pi("p", labels={"x": "y"}))
    assert len(q) == 0
    qpi.unschedulable_plugins = {"NodeAffinity"}
    q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    q.update(qpi.pod_info, pi("p", labels={"x": "z"}))
    assert q.where("default/p") == BACKOFF_Q


def test_nominated_pods():
    q = new_queue(FakeClock())
    a = pi("a")
    q.add_nominated_pod(a, NominatingInfo("n1", NominatingMode.OVERRIDE))
    assert [p.name for p in q.nominated_pods_for_node("n1")] == ["a"] and q.has_nominated_pods()
    q.add_nominated_pod(a, NominatingInfo("n2", NominatingMode.OVERRIDE))
    assert q.nominated_pods_for_node("n1") == [] and q.nominated_node_of(a) == "n2"
    q.delete_nominated_pod_if_exists(a)
    assert not q.has_nominated_pods()
    b = make_pod("b")
    b["status"]["nominatedNodeName"] = "n3"
    q.add(PodInfo(b))
    assert [p.name for p in q.nominated_pods_for_node("n3")] == ["b"]


def test_cluster_events_visit_only_pods_rejected_by_plugins_registered_for_them():
    calls: list[str] = []

    def hint(pod, old, new):
        calls.append(pod.name)
        return QueueingHint.QUEUE

    events = [("A", ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD), hint)),
              ("D", ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD), hint)),
              ("B", ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.DELETE), hint))]
    q = SchedulingQueue(clock=FakeClock(), events=events)
    rejectors = [{"B"}] * 500 + [{"A"}, {"C"}, {"D"}, {"A", "B"}, {"B"}, {"D"}]
    for i in range(len(rejectors)):
        q.add(pi(f"p{i}"))
    popped = [q.try_pop() for _ in rejectors]
    for qpi, plugins in zip(popped, rejectors, strict=True):
        qpi.unschedulable_plugins = set(plugins)
        assert q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle) == UNSCHEDULABLE_PODS
    # Only the pods rejected by A or D are looked at, in the order they were parked.
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, make_node("n")) == 4
    assert calls == ["p500", "p502", "p503", "p505"]
    assert q.where("default/p503") == BACKOFF_Q and q.where("default/p501") == UNSCHEDULABLE_PODS
    assert q.move_all_to_active_or_backoff(EVENT_NODE_ADD) == 0
    calls.clear()
    assigned_delete = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE)
    assert q.move_all_to_active_or_backoff(assigned_delete, make_pod("x"), None) == 501
    assert len(calls) == 501 and q.num_unschedulable() == 1
    assert q.where("default/p501") == UNSCHEDULABLE_PODS  # rejected by a plugin without events: only the timeout helps
    assert q.move_all_on_timeout() == 1 and q.num_unschedulable() == 0


def test_unschedulable_index_follows_updates_deletes_and_activation():
    calls: list[str] = []

    def hint(pod, old, new):
        calls.append(pod.name)
        return QueueingHint.QUEUE_SKIP

    clock = FakeClock()
    q = SchedulingQueue(clock=clock, events=[
        ("A", ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD), hint))])
    for name in ("a", "b", "c"):
        q.add(pi(name))
    for _ in range(3):
        qpi = q.try_pop()
        qpi.unschedulable_plugins = {"A"}
        q.add_unschedulable_if_not_present(qpi, q.scheduling_cycle)
    q.delete(pi("a"))
    q.activate([pi("b")])
    q.move_all_to_active_or_backoff(EVENT_NODE_ADD)
    assert calls == ["c"]
    # A spec change requeues "c"; when it fails again for another plugin the event no longer concerns it.
    new = make_pod("c", spec={"nodeSelector": {"x": "y"}})
    q.update(pi("c"), PodInfo(new))
    assert q.where("default/c") == BACKOFF_Q
    clock.step(2)
    q.flush_backoff_completed()
    popped = {}
    while (qpi := q.try_pop()) is not None:
        popped[qpi.key] = qpi
    assert set(popped) == {"default/b", "default/c"}
    popped["default/c"].unschedulable_plugins = {"Other"}
    assert q.add_unschedulable_if_not_present(popped["default/c"], q.scheduling_cycle) == UNSCHEDULABLE_PODS
    calls.clear()
    q.move_all_to_active_or_backoff(EVENT_NODE_ADD)
    assert calls == [] and q.where("default/c") == UNSCHEDULABLE_PODS
