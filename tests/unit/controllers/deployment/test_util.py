"""Pure Deployment arithmetic: fenceposts, revisions, annotations, ReplicaSet selection, status, progress."""

from __future__ import annotations

import datetime

import pytest

from pyk8s.controllers.deployment import util
from pyk8s.controllers.deployment.hash import compute_hash

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


def deployment(replicas: int = 10, surge: object = "25%", unavailable: object = "25%", strategy: str = "RollingUpdate",
               annotations: dict | None = None, status: dict | None = None, generation: int = 1) -> dict:
    spec: dict = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE,
                  "strategy": {"type": strategy}, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": generation,
                         "annotations": annotations or {}}, "spec": spec, "status": status or {}}


def rs(name: str, replicas: int, *, created: str = "2026-01-01T00:00:00Z", revision: str | None = None,
       template: dict | None = None, available: int = 0, annotations: dict | None = None, status_replicas: int = 0) -> dict:
    ann = dict(annotations or {})
    if revision is not None:
        ann["deployment.kubernetes.io/revision"] = revision
    return {"metadata": {"name": name, "uid": f"uid-{name}", "creationTimestamp": created, "annotations": ann},
            "spec": {"replicas": replicas, "template": template or TEMPLATE},
            "status": {"replicas": status_replicas, "availableReplicas": available}}


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable rounds down
    ("25%", "25%", 1, (1, 0)),
    (0, "1%", 2, (0, 1)),  # both zero after rounding: unavailable 1
    ("0%", "0%", 5, (0, 1)),
    (2, 3, 10, (2, 3)),
    ("100%", 0, 3, (3, 0)),
])
def test_resolve_fenceposts(surge: object, unavailable: object, desired: int, expected: tuple[int, int]) -> None:
    assert util.resolve_fenceposts(surge, unavailable, desired) == expected


def test_scaled_value_errors() -> None:
    with pytest.raises(util.IntOrStringError, match="string is not a percentage"):
        util.scaled_value("5", 10, True)
    with pytest.raises(util.IntOrStringError, match='invalid value "x%"'):
        util.scaled_value("x%", 10, True)


def test_max_surge_and_unavailable() -> None:
    d = deployment(10)
    assert (util.max_surge(d), util.max_unavailable(d)) == (3, 2)
    assert util.max_unavailable(deployment(0)) == 0
    assert util.max_unavailable(deployment(3, unavailable=5)) == 3  # capped at replicas
    assert (util.max_surge(deployment(strategy="Recreate")), util.max_unavailable(deployment(strategy="Recreate"))) \
        == (0, 0)


def test_conditions_keep_transition_time_for_same_status() -> None:
    status: dict = {}
    util.set_condition(status, util.new_condition("Progressing", "True", "A", "a", NOW))
    later = NOW + datetime.timedelta(minutes=5)
    util.set_condition(status, util.new_condition("Progressing", "True", "A", "again", later))
    assert status["conditions"][0]["message"] == "a"  # same status and reason: untouched
    util.set_condition(status, util.new_condition("Progressing", "True", "B", "b", later))
    cond = util.get_condition(status, "Progressing")
    assert cond is not None and cond["reason"] == "B"
    assert cond["lastTransitionTime"] == "2026-01-01T12:00:00Z" and cond["lastUpdateTime"] == "2026-01-01T12:05:00Z"
    util.set_condition(status, util.new_condition("Progressing", "False", "C", "c", later))
    cond = util.get_condition(status, "Progressing")
    assert cond is not None and cond["lastTransitionTime"] == "2026-01-01T12:05:00Z"
    util.remove_condition(status, "Progressing")
    assert status["conditions"] == []


def test_revisions() -> None:
    rss = [rs("a", 0, revision="3"), rs("b", 0, revision="7"), rs("c", 0, revision="bad"), rs("d", 0)]
    assert util.max_revision(rss) == 7
    assert util.last_revision(rss) == 3
    with pytest.raises(ValueError):
        util.revision(rss[2])


def test_new_rs_annotations_on_create_and_rollback() -> None:
    d = deployment(4, annotations={"kubernetes.io/change-cause": "v2", "deployment.kubernetes.io/revision": "9",
                                   "kubectl.kubernetes.io/last-applied-configuration": "{}"})
    new = rs("n", 0)
    assert util.set_new_rs_annotations(d, new, "3", exists=False)
    assert new["metadata"]["annotations"] == {
        "kubernetes.io/change-cause": "v2", "deployment.kubernetes.io/revision": "3",
        "deployment.kubernetes.io/desired-replicas": "4", "deployment.kubernetes.io/max-replicas": "5"}
    # Rolling back onto an old ReplicaSet: its old revision goes to revision-history.
    old = rs("o", 0, revision="1")
    assert util.set_new_rs_annotations(d, old, "4", exists=True)
    assert old["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert old["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert util.set_new_rs_annotations(d, old, "6", exists=True)
    assert old["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1,4"
    assert not util.set_new_rs_annotations(d, old, "5", exists=True)  # never lowered
    assert "deployment.kubernetes.io/desired-replicas" not in old["metadata"]["annotations"]


def test_revision_history_is_capped_in_characters() -> None:
    old = rs("o", 0, revision="9", annotations={"deployment.kubernetes.io/revision-history": "1,2,3"})
    util.set_new_rs_annotations(deployment(), old, "10", exists=True, history_limit_chars=5)
    assert old["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "2,3,9"


def test_find_new_and_old_replica_sets_ignore_hash_label() -> None:
    d = deployment()
    hashed = {"metadata": {"labels": {"app": "web", "pod-template-hash": "abc"}}, "spec": TEMPLATE["spec"]}
    other = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}
    newer = rs("newer", 1, created="2026-01-01T01:00:00Z", template=hashed)
    older = rs("older", 1, created="2026-01-01T00:30:00Z", template=hashed)
    stale = rs("stale", 0, template=other)
    assert util.find_new_replica_set(d, [newer, stale, older]) is older
    required, all_old = util.find_old_replica_sets(d, [newer, stale, older])
    assert [r["metadata"]["name"] for r in all_old] == ["newer", "stale"]
    assert [r["metadata"]["name"] for r in required] == ["newer"]
    # A null creationTimestamp (kubectl rollout undo sends one) and an empty map equal an absent one.
    undo_template = {"metadata": {"labels": {"app": "web"}, "creationTimestamp": None, "annotations": {}},
                     "spec": TEMPLATE["spec"]}
    assert util.equal_ignore_hash(undo_template, TEMPLATE)


def test_sorting() -> None:
    a = rs("a", 2, created="2026-01-01T00:00:01Z", revision="2")
    b = rs("b", 2, created="2026-01-01T00:00:02Z", revision="1")
    c = rs("c", 5, created="2026-01-01T00:00:03Z", revision="3")
    assert [r["metadata"]["name"] for r in util.sort_by_size_older([a, b, c])] == ["c", "a", "b"]
    assert [r["metadata"]["name"] for r in util.sort_by_size_newer([a, b, c])] == ["c", "b", "a"]
    assert [r["metadata"]["name"] for r in util.sort_by_revision([a, b, c])] == ["b", "a", "c"]
    latest = util.find_active_or_latest(None, [rs("x", 0, created="2026-01-01T00:00:01Z"),
                                               rs("y", 0, created="2026-01-01T00:00:02Z")])
    assert latest is not None and latest["metadata"]["name"] == "y"
    assert util.find_active_or_latest(a, [b]) is None
    assert util.find_active_or_latest(a, [rs("z", 0)]) is a


def test_proportion_rounds_half_away_from_zero() -> None:
    d = deployment(15, surge=3, unavailable=0)  # max 18; replica sets were sized for max 13 before
    big = rs("big", 8, annotations={"deployment.kubernetes.io/max-replicas": "13"})
    small = rs("small", 5, annotations={"deployment.kubernetes.io/max-replicas": "13"})
    # 8 * 18 / 13 = 11.07 -> 11 (+3); 5 * 18 / 13 = 6.92 -> 7 (+2)
    assert util.proportion(big, d, 5, 0) == 3
    assert util.proportion(small, d, 5, 3) == 2
    assert util.proportion(small, d, 5, 4) == 1  # never more than what is left
    assert util.replica_set_fraction(rs("x", 5), deployment(0)) == -5


def test_new_rs_new_replicas() -> None:
    d = deployment(10, surge=3)
    new = rs("new", 0)
    assert util.new_rs_new_replicas(d, [rs("old", 10), new], new) == 3
    assert util.new_rs_new_replicas(d, [rs("old", 13), new], new) == 0
    full = rs("new", 9)
    assert util.new_rs_new_replicas(d, [rs("old", 0), full], full) == 10  # never above replicas
    assert util.new_rs_new_replicas(deployment(4, strategy="Recreate"), [new], new) == 4


def test_is_saturated() -> None:
    d = deployment(3)
    sat = rs("n", 3, available=3, annotations={"deployment.kubernetes.io/desired-replicas": "3"})
    assert util.is_saturated(d, sat)
    assert not util.is_saturated(d, rs("n", 3, available=2, annotations={"deployment.kubernetes.io/desired-replicas": "3"}))
    assert not util.is_saturated(d, rs("n", 3, available=3))


def test_calculate_status_and_available_condition() -> None:
    d = deployment(4, unavailable=1, generation=3, status={"collisionCount": 0})
    new = rs("new", 2, available=2, status_replicas=2)
    old = rs("old", 2, available=1, status_replicas=2)
    st = util.calculate_status([old, new], new, d, NOW)
    assert st["observedGeneration"] == 3 and st["replicas"] == 4 and st["updatedReplicas"] == 2
    assert st["availableReplicas"] == 3 and st["unavailableReplicas"] == 1 and st["collisionCount"] == 0
    assert "readyReplicas" not in st  # zero counters are omitted, as Go's omitempty does
    assert util.get_condition(st, "Available") == {
        "type": "Available", "status": "True", "lastUpdateTime": "2026-01-01T12:00:00Z",
        "lastTransitionTime": "2026-01-01T12:00:00Z", "reason": "MinimumReplicasAvailable",
        "message": "Deployment has minimum availability."}
    worse = util.calculate_status([old, rs("new", 2, status_replicas=2)], None, d, NOW)
    assert (util.get_condition(worse, "Available") or {}).get("reason") == "MinimumReplicasUnavailable"


def test_complete_progressing_timed_out() -> None:
    d = deployment(2, generation=2, status={"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2})
    assert util.deployment_complete(d, {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                                        "observedGeneration": 2})
    assert not util.deployment_complete(d, {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2,
                                            "observedGeneration": 1})
    assert util.deployment_progressing(d, {"replicas": 3, "updatedReplicas": 2, "availableReplicas": 2})
    assert util.deployment_progressing(d, {"replicas": 2, "updatedReplicas": 1, "availableReplicas": 2})
    assert not util.deployment_progressing(d, {"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2})
    cond = util.new_condition("Progressing", "True", "ReplicaSetUpdated", "m", NOW - datetime.timedelta(seconds=601))
    assert util.deployment_timed_out(d, {"conditions": [cond]}, NOW)
    cond = util.new_condition("Progressing", "True", "ReplicaSetUpdated", "m", NOW - datetime.timedelta(seconds=600))
    assert not util.deployment_timed_out(d, {"conditions": [cond]}, NOW)
    done = util.new_condition("Progressing", "True", "NewReplicaSetAvailable", "m", NOW - datetime.timedelta(days=1))
    assert not util.deployment_timed_out(d, {"conditions": [done]}, NOW)


def test_hash_is_stable_and_safe() -> None:
    h = compute_hash(TEMPLATE, None)
    assert h == compute_hash({"spec": TEMPLATE["spec"], "metadata": {"labels": {"app": "web"}}}, None)
    assert h != compute_hash(TEMPLATE, 1)
    assert h != compute_hash({**TEMPLATE, "spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}, None)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
