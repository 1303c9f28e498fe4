"""ReplicaSet status from its pods: counters, omitempty shape, ReplicaFailure, pod template."""

from __future__ import annotations

import datetime

import pytest

from pyk8s.controllers.replicaset.podtemplate import NoLabelsError, pod_from_template
from pyk8s.controllers.replicaset.status import calculate_status, status_unchanged

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def rs(replicas: int = 3, min_ready: int = 0, status: dict | None = None, generation: int = 1) -> dict:
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}, "annotations": {"a": "b"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid", "generation": generation},
            "spec": spec, "status": status or {"replicas": 0}}


def pod(labels: dict, ready: bool, ready_ago: int = 100) -> dict:
    t = (NOW - datetime.timedelta(seconds=ready_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": {"labels": labels}, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": t}]}}


def test_counts() -> None:
    full = {"app": "web", "tier": "fe"}
    pods = [pod(full, True), pod(full, True, ready_ago=5), pod({"app": "web"}, False)]
    status = calculate_status(rs(min_ready=10), pods, None, NOW)
    assert status == {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 1}


def test_zero_counters_are_omitted_but_replicas_is_not() -> None:
    assert calculate_status(rs(), [], None, NOW) == {"replicas": 0}


def test_replica_failure_condition_added_then_removed() -> None:
    failed = calculate_status(rs(), [], RuntimeError('pods "x" is forbidden: exceeded quota'), NOW)
    assert failed["conditions"] == [{"type": "ReplicaFailure", "status": "True",
                                     "lastTransitionTime": "2026-01-01T12:00:00Z", "reason": "FailedCreate",
                                     "message": 'pods "x" is forbidden: exceeded quota'}]
    healed = calculate_status(rs(status=failed), [], None, NOW)
    assert "conditions" not in healed
    # An existing failure is not rewritten by a later failure.
    again = calculate_status(rs(status=failed), [], RuntimeError("other"), NOW + datetime.timedelta(seconds=9))
    assert again["conditions"] == failed["conditions"]


def test_status_unchanged_needs_observed_generation() -> None:
    current = {"replicas": 2, "readyReplicas": 2, "observedGeneration": 1}
    assert status_unchanged(rs(status=current), {"replicas": 2, "readyReplicas": 2})
    assert not status_unchanged(rs(status=current, generation=2), {"replicas": 2, "readyReplicas": 2})
    assert not status_unchanged(rs(status=current), {"replicas": 2, "readyReplicas": 1})


def test_pod_from_template() -> None:
    owner = rs()
    p = pod_from_template(owner, "apps/v1", "ReplicaSet")
    assert p["metadata"] == {
        "generateName": "web-", "namespace": "ns", "labels": {"app": "web", "tier": "fe"},
        "annotations": {"a": "b"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs-uid",
                             "controller": True, "blockOwnerDeletion": True}]}
    assert p["spec"] == owner["spec"]["template"]["spec"]
    p["spec"]["containers"][0]["image"] = "changed"
    assert owner["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    owner["spec"]["template"]["metadata"]["labels"] = {}
    with pytest.raises(NoLabelsError):
        pod_from_template(owner, "apps/v1", "ReplicaSet")
