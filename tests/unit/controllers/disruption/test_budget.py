"""PodDisruptionBudget arithmetic: desired and current health, disrupted Pods, status and conditions."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.controllers.disruption.budget import (
    BudgetError,
    build_disrupted_pods,
    count_healthy,
    expected_and_desired,
    fail_safe_status,
    go_label_selector,
    new_status,
    pdbs_for_pod,
    reset_disruption_condition,
    scaled_value,
    stale_disruption_wait,
)
from tests.unit.controllers.builders import pod

Obj = dict[str, Any]
NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def pdb(spec: Obj, status: Obj | None = None, generation: int = 1) -> Obj:
    return {"metadata": {"name": "budget", "namespace": "default", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}, "status": status or {}}


def ago(seconds: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_scaled_values() -> None:
    assert scaled_value(3, 10, True) == 3
    assert scaled_value("25%", 10, True) == 3
    assert scaled_value("25%", 10, False) == 2
    with pytest.raises(BudgetError, match="string is not a percentage"):
        scaled_value("3", 10, True)


def test_expected_and_desired() -> None:
    assert expected_and_desired(pdb({"minAvailable": 2}), 5, None) == (5, 2)
    assert expected_and_desired(pdb({"minAvailable": "50%"}), 3, 5) == (5, 3)
    assert expected_and_desired(pdb({"maxUnavailable": 1}), 3, 4) == (4, 3)
    assert expected_and_desired(pdb({"maxUnavailable": "30%"}), 3, 4) == (4, 2)
    assert expected_and_desired(pdb({"maxUnavailable": 9}), 3, 4) == (4, 0)


def test_healthy_pods_exclude_terminating_unready_and_just_evicted() -> None:
    going = pod("going")
    going["metadata"]["deletionTimestamp"] = ago(1)
    pods = [pod("a"), pod("b"), pod("c", ready=False), going]
    assert count_healthy(pods, {}, NOW) == 2
    assert count_healthy(pods, {"a": ago(30)}, NOW) == 1
    assert count_healthy(pods, {"a": ago(300)}, NOW) == 2  # the eviction is long past: it counts again


def test_disrupted_pods_are_kept_until_deleted_or_expired() -> None:
    deleted = pod("deleted")
    deleted["metadata"]["deletionTimestamp"] = ago(1)
    budget = pdb({"minAvailable": 1}, {"disruptedPods": {"fresh": ago(30), "old": ago(300), "deleted": ago(5),
                                                         "gone": ago(5)}})
    kept, recheck, expired = build_disrupted_pods([pod("fresh"), pod("old"), deleted], budget, NOW)
    assert kept == {"fresh": ago(30)}
    assert recheck == NOW + datetime.timedelta(seconds=90)
    assert [p["metadata"]["name"] for p in expired] == ["old"]


def test_status_and_condition() -> None:
    budget = pdb({"minAvailable": 1})
    status = new_status(budget, 3, 1, 3, {}, NOW)
    assert status is not None
    assert {k: status[k] for k in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods",
                                   "observedGeneration")} == {"disruptionsAllowed": 2, "currentHealthy": 3,
                                                              "desiredHealthy": 1, "expectedPods": 3,
                                                              "observedGeneration": 1}
    assert status["conditions"] == [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
                                     "message": "", "observedGeneration": 1,
                                     "lastTransitionTime": "2026-01-01T12:00:00Z"}]
    assert new_status({**budget, "status": status}, 3, 1, 3, {}, NOW) is None  # nothing to write
    later = NOW + datetime.timedelta(minutes=5)
    tight = new_status({**budget, "status": status}, 1, 1, 3, {}, later)
    assert tight is not None and tight["disruptionsAllowed"] == 0
    assert tight["conditions"][0]["reason"] == "InsufficientPods"
    assert tight["conditions"][0]["lastTransitionTime"] == "2026-01-01T12:05:00Z"
    assert new_status(budget, 3, 1, 0, {}, NOW)["disruptionsAllowed"] == 0  # type: ignore[index]
    failed = fail_safe_status({**budget, "status": status}, "found no controllers for pod \"x\"", later)
    assert failed["disruptionsAllowed"] == 0
    assert failed["conditions"][0]["reason"] == "SyncFailed"
    assert failed["conditions"][0]["message"] == 'found no controllers for pod "x"'


def test_budgets_for_a_pod() -> None:
    everything = {"metadata": {"name": "all", "namespace": "default"}, "spec": {"selector": {}}}
    nothing = {"metadata": {"name": "none", "namespace": "default"}, "spec": {}}
    elsewhere = {**pdb({}), "metadata": {"name": "x", "namespace": "other"}}
    broken = {"metadata": {"name": "broken", "namespace": "default"},
              "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}}
    names = [p["metadata"]["name"] for p in pdbs_for_pod([pdb({}), everything, nothing, elsewhere, broken],
                                                         pod("a"))]
    assert names == ["all", "budget"]


def test_go_label_selector_text() -> None:
    assert go_label_selector({"matchLabels": {"foo": "bar"}}) == \
        "&LabelSelector{MatchLabels:map[string]string{foo: bar,},MatchExpressions:[]LabelSelectorRequirement{},}"
    assert go_label_selector({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "y"]}]}) == \
        ("&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{"
         "LabelSelectorRequirement{Key:a,Operator:In,Values:[x y],},},}")


def test_stale_disruption_target() -> None:
    p = pod("a")
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                                      "lastTransitionTime": ago(30)})
    assert stale_disruption_wait(p, NOW) == 90
    assert stale_disruption_wait(p, NOW + datetime.timedelta(minutes=5)) == 0
    p["status"]["conditions"][-1]["reason"] = "TerminationByKubelet"
    assert stale_disruption_wait(p, NOW) is None
    reset = reset_disruption_condition(p, NOW)
    assert reset["status"]["conditions"][-1] == {"type": "DisruptionTarget", "status": "False", "lastProbeTime": None,
                                                 "lastTransitionTime": "2026-01-01T12:00:00Z"}
