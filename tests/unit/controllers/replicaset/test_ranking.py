"""The order in which a ReplicaSet deletes pods (upstream ActivePodsWithRanks) and its availability timer."""

from __future__ import annotations

import datetime

from pyk8s.controllers.replicaset.ranking import (
    deletion_cost,
    pods_to_delete,
    rank_pods_for_deletion,
    ready_since,
    seconds_until_available,
)

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready: bool | None = True, ready_ago: float = 600,
        created_ago: float = 3600, restarts: int = 0, cost: str | None = None, deleting: bool = False) -> dict:
    p: dict = {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": ts(created_ago)},
               "spec": {"nodeName": node} if node else {}, "status": {"phase": phase}}
    if ready is not None:
        p["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                      "lastTransitionTime": ts(ready_ago)}]
    if restarts:
        p["status"]["containerStatuses"] = [{"name": "c", "restartCount": restarts}]
    if cost is not None:
        p["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    if deleting:
        p["metadata"]["deletionTimestamp"] = ts(0)
    return p


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_ready_since_and_seconds_until_available() -> None:
    fresh = pod("a", ready_ago=5)
    assert ready_since(fresh) == NOW - datetime.timedelta(seconds=5)
    assert ready_since(pod("a", ready=False)) is None
    assert seconds_until_available(fresh, 10, NOW) == 5.0
    assert seconds_until_available(fresh, 4, NOW) is None
    assert seconds_until_available(pod("a", ready=False), 10, NOW) is None


def test_deletion_cost_parses_int32_only() -> None:
    assert deletion_cost(pod("a", cost="100")) == 100
    assert deletion_cost(pod("a", cost="-5")) == -5
    assert deletion_cost(pod("a", cost="1_0")) == 0
    assert deletion_cost(pod("a", cost="99999999999")) == 0
    assert deletion_cost(pod("a")) == 0


def test_order_unassigned_then_phase_then_readiness() -> None:
    pods = [pod("running-ready"), pod("running-notready", ready=False), pod("pending", phase="Pending", ready=None),
            pod("unknown", phase="Unknown"), pod("unassigned", node="", phase="Pending", ready=None)]
    assert names(rank_pods_for_deletion(pods, pods, NOW)) == [
        "unassigned", "pending", "unknown", "running-notready", "running-ready"]


def test_order_deletion_cost_before_node_rank() -> None:
    cheap = pod("cheap", node="n1", cost="-10")
    crowded = [pod("crowded-1", node="n2"), pod("crowded-2", node="n2")]
    alone = pod("alone", node="n3")
    ranked = rank_pods_for_deletion([alone, *crowded, cheap], [alone, *crowded, cheap], NOW)
    assert names(ranked)[0] == "cheap"
    assert set(names(ranked)[1:3]) == {"crowded-1", "crowded-2"}  # doubled-up pods before the lone one
    assert names(ranked)[3] == "alone"


def test_order_ready_time_then_restarts_then_age_on_a_log_scale() -> None:
    recently_ready = pod("recent", ready_ago=10, node="a")
    long_ready = pod("long", ready_ago=100000, node="b")
    assert names(rank_pods_for_deletion([long_ready, recently_ready], [], NOW)) == ["recent", "long"]
    crashy = pod("crashy", restarts=5, node="a")
    calm = pod("calm", node="b")
    assert names(rank_pods_for_deletion([calm, crashy], [], NOW)) == ["crashy", "calm"]
    young = pod("young", created_ago=60, node="a")
    old = pod("old", created_ago=86400 * 30, node="b")
    assert names(rank_pods_for_deletion([old, young], [], NOW)) == ["young", "old"]
    # Same log2 bucket of age: falls back to UID order, so the result is stable rather than by exact age.
    a = pod("a", created_ago=1000, node="x")
    b = pod("b", created_ago=1001, node="y")
    assert names(rank_pods_for_deletion([b, a], [], NOW)) == ["a", "b"]


def test_pods_to_delete_takes_the_best_candidates() -> None:
    pods = [pod("ok-1"), pod("bad", ready=False), pod("ok-2")]
    assert names(pods_to_delete(pods, pods, 1, NOW)) == ["bad"]
    assert sorted(names(pods_to_delete(pods, pods, 5, NOW))) == ["bad", "ok-1", "ok-2"]
