"""Rolling-update and proportional-scaling plans (pure), checked against upstream's worked examples."""

from __future__ import annotations

from pyk8s.controllers.deployment.recreate import old_pods_running
from pyk8s.controllers.deployment.rolling import (
    max_scaled_down,
    new_replica_set_target,
    old_scale_down_plan,
    unhealthy_cleanup_plan,
)
from pyk8s.controllers.deployment.scaling import scale_plan

TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}}


def deployment(replicas: int, surge: object, unavailable: object) -> dict:
    return {"metadata": {"name": "web", "uid": "d"},
            "spec": {"replicas": replicas, "template": TEMPLATE,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}},
            "status": {}}


def rs(name: str, replicas: int, available: int = 0, created: str = "2026-01-01T00:00:00Z",
       annotations: dict | None = None) -> dict:
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": annotations or {}},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas": available}}


def sizes(plan: list) -> list[tuple[str, int]]:
    return [(r["metadata"]["name"], n) for r, n in plan]


def test_new_replica_set_grows_up_to_surge() -> None:
    d = deployment(10, 3, 2)
    new = rs("new", 0)
    assert new_replica_set_target(d, [rs("old", 10, 10), new], new) == 3
    assert new_replica_set_target(d, [rs("old", 8, 8), rs("new", 5)], rs("new", 5)) == 5  # at 13 already
    assert new_replica_set_target(d, [rs("new", 12)], rs("new", 12)) == 10  # too big: down to replicas


def test_upstream_case_1_crashlooping_new_pods_block_scale_down() -> None:
    # 10 replicas, maxUnavailable 2, maxSurge 3; new RS scaled to 5 but never available; old RS at 8.
    d = deployment(10, 3, 2)
    new, old = rs("new", 5, 0), rs("old", 8, 7, created="2025-12-01T00:00:00Z")
    assert max_scaled_down(d, [old, new], new) == 13 - 8 - 5  # 0: nothing may go
    # Rolling back makes the good RS the new one: only 1 of its 8 is unavailable.
    assert max_scaled_down(d, [new, old], old) == 13 - 8 - 1


def test_unhealthy_replicas_go_first_then_available_ones_within_budget() -> None:
    d = deployment(10, 3, 2)
    a = rs("a", 5, 3, created="2025-01-01T00:00:00Z")
    b = rs("b", 5, 5, created="2025-02-01T00:00:00Z")
    assert sizes(unhealthy_cleanup_plan([b, a], 10)) == [("a", 3)]
    assert sizes(unhealthy_cleanup_plan([b, a], 1)) == [("a", 4)]
    new = rs("new", 3, 3)
    # available 3+5+3 = 11, minAvailable 8: 3 may go, oldest first.
    assert sizes(old_scale_down_plan(d, [rs("a", 3, 3, created="2025-01-01T00:00:00Z"), b, new],
                                     [rs("a", 3, 3, created="2025-01-01T00:00:00Z"), b])) == [("a", 0)]
    assert old_scale_down_plan(d, [rs("a", 8, 8), rs("new", 3, 0)], [rs("a", 8, 8)]) == []


def test_old_scale_down_does_not_count_pods_a_replica_set_is_deleting() -> None:
    # 4 replicas, maxSurge 1, maxUnavailable 1: old was scaled 4 -> 3 and still reports 4 available; a new pod is
    # ready. Really available: 3 old + 1 new = 4, so one old pod may go (old -> 2), not two.
    d = deployment(4, 1, 1)
    old, new = rs("old", 3, 4), rs("new", 2, 1)
    assert sizes(old_scale_down_plan(d, [old, new], [old])) == [("old", 2)]


def test_fenceposts_1_desired_unavailable_only() -> None:
    # 1 desired, maxUnavailable 1%, maxSurge 0%: resolves to unavailable 1: old goes first, then new comes.
    d = deployment(1, "0%", "1%")
    old, new = rs("old", 1, 1), rs("new", 0)
    assert new_replica_set_target(d, [old, new], new) == 0
    assert sizes(old_scale_down_plan(d, [old, new], [old])) == [("old", 0)]
    assert new_replica_set_target(d, [rs("old", 0), new], new) == 1


def test_scale_plan_single_active_replica_set() -> None:
    d = deployment(5, 1, 0)
    only = rs("only", 3, 3)
    [step] = scale_plan(d, only, [rs("old", 0)])
    assert (step.rs["metadata"]["name"], step.size, step.operation) == ("only", 5, None)
    assert scale_plan(deployment(3, 1, 0), only, []) == []


def test_scale_plan_proportional_during_rollout() -> None:
    # Rolling out 10 (surge 3) with 8 old + 5 new = 13; scaled to 15: new max 18, +5 spread 8:5.
    d = deployment(15, 3, 2)
    ann = {"deployment.kubernetes.io/max-replicas": "13", "deployment.kubernetes.io/desired-replicas": "10"}
    old = rs("old", 8, 8, created="2025-01-01T00:00:00Z", annotations=ann)
    new = rs("new", 5, 0, created="2025-02-01T00:00:00Z", annotations=ann)
    plan = scale_plan(d, new, [old])
    assert [(s.rs["metadata"]["name"], s.size, s.operation) for s in plan] == [("old", 11, "up"), ("new", 7, "up")]
    assert sum(s.size for s in plan) == 18
    # Scaled down to 5 (max 7): -6 spread, largest (old) first; nothing below zero.
    down = scale_plan(deployment(5, 2, 1), new, [old])
    assert [(s.rs["metadata"]["name"], s.operation) for s in down] == [("old", "down"), ("new", "down")]
    assert sum(s.size for s in down) == 7 and all(s.size >= 0 for s in down)


def test_scale_plan_saturated_new_replica_set_zeroes_old() -> None:
    d = deployment(3, 1, 0)
    new = rs("new", 3, 3, annotations={"deployment.kubernetes.io/desired-replicas": "3"})
    plan = scale_plan(d, new, [rs("adopted", 2, 2)])
    assert [(s.rs["metadata"]["name"], s.size) for s in plan] == [("adopted", 0)]


def test_old_pods_running() -> None:
    new, old = rs("new", 0), {**rs("old", 0), "status": {"replicas": 0}}
    assert not old_pods_running(new, [old], {"old": [], "new": [{"status": {"phase": "Running"}}]})
    assert old_pods_running(new, [old], {"old": [{"status": {"phase": "Pending"}}]})
    assert not old_pods_running(new, [old], {"old": [{"status": {"phase": "Succeeded"}}]})
    assert old_pods_running(None, [{**old, "status": {"replicas": 1}}], {})
