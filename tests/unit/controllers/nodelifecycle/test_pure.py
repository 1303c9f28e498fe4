"""Pure parts of node lifecycle: taints and tolerations, the health assessment, zone states, the taint queue."""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api import meta
from pyk8s.api.taints import tolerates
from pyk8s.base.clock import FakeClock
from pyk8s.controllers.nodelifecycle.health import NodeHealth, assess
from pyk8s.controllers.nodelifecycle.taints import (
    condition_taints,
    controller_no_schedule_taints,
    matching_tolerations,
    min_toleration_seconds,
    taint_set_diff,
    with_taints,
    without_taints,
    zone_key,
)
from pyk8s.controllers.nodelifecycle.zones import (
    STATE_FULL_DISRUPTION,
    STATE_NORMAL,
    STATE_PARTIAL_DISRUPTION,
    TaintQueue,
    compute_zone_state,
)

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
UNREACHABLE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def test_toleration_matching() -> None:
    assert tolerates({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                     UNREACHABLE)
    assert tolerates({"operator": "Exists"}, UNREACHABLE)  # tolerates everything
    assert not tolerates({"key": "other", "operator": "Exists"}, UNREACHABLE)
    assert not tolerates({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"},
                         UNREACHABLE)
    assert tolerates({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"})
    assert not tolerates({"key": "k", "value": "w", "operator": "Equal"}, {"key": "k", "value": "v"})

    t300 = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
            "tolerationSeconds": 300}
    forever = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    ok, used = matching_tolerations([UNREACHABLE, NOT_READY], [t300, forever])
    assert ok and used == [t300, forever]
    assert min_toleration_seconds(used) == 300
    assert min_toleration_seconds([forever]) == -1
    assert min_toleration_seconds([{**t300, "tolerationSeconds": 0}, forever]) == 0
    assert min_toleration_seconds([]) == 0
    assert matching_tolerations([UNREACHABLE, NOT_READY], [t300]) == (False, [])


def test_condition_taints_and_diff() -> None:
    node = {"spec": {"unschedulable": True, "taints": [
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
        {"key": "user", "effect": "NoSchedule"},
        UNREACHABLE]},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"},
                                  {"type": "MemoryPressure", "status": "True"},
                                  {"type": "DiskPressure", "status": "False"}]}}
    wanted = condition_taints(node)
    assert [t["key"] for t in wanted] == ["node.kubernetes.io/unreachable", "node.kubernetes.io/memory-pressure",
                                          "node.kubernetes.io/unschedulable"]
    current = controller_no_schedule_taints(node)
    assert current == [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    add, remove = taint_set_diff(wanted, current)
    assert [t["key"] for t in add] == [t["key"] for t in wanted] and remove == current
    taints, changed = with_taints([UNREACHABLE], [{**UNREACHABLE, "timeAdded": "x"}])
    assert changed and taints == [{**UNREACHABLE, "timeAdded": "x"}]
    assert with_taints(taints, [{**UNREACHABLE, "timeAdded": "x"}]) == (taints, False)
    assert without_taints(taints, [UNREACHABLE]) == ([], True)


def test_zone_key() -> None:
    assert zone_key({"metadata": {}}) == ""
    assert zone_key({"metadata": {"labels": {"topology.kubernetes.io/zone": "a",
                                             "topology.kubernetes.io/region": "r"}}}) == "r:\x00:a"
    assert zone_key({"metadata": {"labels": {"failure-domain.beta.kubernetes.io/zone": "b",
                                             "topology.kubernetes.io/zone": "a"}}}) == ":\x00:b"


def node(heartbeat: datetime.datetime | None, status: str = "True", created: datetime.datetime = T0) -> dict[str, Any]:
    conds = []
    if heartbeat is not None:
        conds = [{"type": "Ready", "status": status, "lastHeartbeatTime": meta.now_rfc3339(heartbeat),
                  "lastTransitionTime": meta.now_rfc3339(T0)},
                 {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": meta.now_rfc3339(heartbeat),
                  "lastTransitionTime": meta.now_rfc3339(T0)}]
    return {"metadata": {"name": "n", "creationTimestamp": meta.now_rfc3339(created)},
            "status": {"conditions": conds}}


def test_assess_marks_a_quiet_node_unknown_after_the_grace_period() -> None:
    a = assess(node(T0), None, None, T0, 40, 60)
    assert a.status_update is None and a.current_ready is not None and a.current_ready["status"] == "True"
    b = assess(node(T0), a.health, None, at(40), 40, 60)
    assert b.status_update is None  # not yet: strictly after the grace period
    c = assess(node(T0), b.health, None, at(41), 40, 60)
    assert c.status_update is not None
    conds = {x["type"]: x for x in c.status_update["status"]["conditions"]}
    assert set(conds) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    ready = conds["Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert ready["lastTransitionTime"] == meta.now_rfc3339(at(41))
    assert conds["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"
    assert conds["DiskPressure"]["message"] == "Kubelet never posted node status."
    assert c.observed_ready["status"] == "True" and c.current_ready == ready


def test_assess_lease_renewals_keep_a_node_alive() -> None:
    a = assess(node(T0), None, at(0), T0, 40, 60)
    b = assess(node(T0), a.health, at(30), at(30), 40, 60)
    c = assess(node(T0), b.health, at(30), at(65), 40, 60)
    assert c.status_update is None  # lease renewed at 30: alive until 70
    d = assess(node(T0), c.health, at(30), at(71), 40, 60)
    assert d.status_update is not None


def test_assess_never_ready_node_gets_the_startup_grace() -> None:
    a = assess(node(None), None, None, at(30), 40, 60)
    assert a.status_update is None and a.current_ready is None and a.grace == 60
    assert a.observed_ready["status"] == "Unknown"
    b = assess(node(None), a.health, None, at(61), 40, 60)
    assert b.status_update is not None
    assert b.current_ready is not None and b.current_ready["reason"] == "NodeStatusNeverUpdated"


def test_assess_new_heartbeat_refreshes_the_probe() -> None:
    saved = NodeHealth(at(0), at(0), node(T0)["status"]["conditions"][0])
    a = assess(node(at(35)), saved, None, at(35), 40, 60)
    assert a.health.probe_timestamp == at(35)
    assert assess(node(at(35)), a.health, None, at(70), 40, 60).status_update is None


def test_zone_states() -> None:
    t, f = {"status": "True"}, {"status": "False"}
    assert compute_zone_state([f, None], 0.55) == (2, STATE_FULL_DISRUPTION)
    assert compute_zone_state([t, f, f], 0.55) == (2, STATE_NORMAL)
    assert compute_zone_state([t, f, f, f], 0.55) == (3, STATE_PARTIAL_DISRUPTION)
    assert compute_zone_state([t, t, f, f, f, t, t], 0.55) == (3, STATE_NORMAL)


async def test_taint_queue_paces_and_remembers_members() -> None:
    clock = FakeClock()
    q = TaintQueue(0.1, clock)
    done: list[str] = []

    async def ok(name: str) -> tuple[bool, float]:
        done.append(name)
        return True, 0.0

    assert q.add("a") and q.add("b") and not q.add("a")
    await q.try_each(ok)
    assert done == ["a"]  # burst 1, then one every 10 s
    clock.step(5)
    await q.try_each(ok)
    assert done == ["a"]
    clock.step(5)
    await q.try_each(ok)
    assert done == ["a", "b"] and q.pending() == []
    assert not q.add("a")  # processed, still a member
    assert q.remove("a") and q.add("a")
    q.swap_limiter(0)
    clock.step(100)
    await q.try_each(ok)
    assert done == ["a", "b"]

    retry = TaintQueue(1, clock)
    calls: list[str] = []

    async def later(name: str) -> tuple[bool, float]:
        calls.append(name)
        return False, 0.5

    retry.add("x")
    await retry.try_each(later)
    await retry.try_each(later)
    assert calls == ["x"]
    clock.step(1)
    await retry.try_each(later)
    assert calls == ["x", "x"]
