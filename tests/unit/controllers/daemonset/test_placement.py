"""Where daemon pods belong and what they look like: eligibility, tolerations, node affinity, counts, history."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.controllers.daemonset import history
from pyk8s.controllers.daemonset.daemonpods import (
    UNIQUE_LABEL_KEY,
    InvalidIntOrPercent,
    add_daemon_tolerations,
    create_pod_template,
    is_pod_updated,
    node_should_run,
    replace_node_name_affinity,
    scaled_value,
    surge_count,
    target_node_name,
    unavailable_count,
)
from pyk8s.controllers.daemonset.plan import pods_should_be_on_node, rolling_update
from pyk8s.controllers.daemonset.predicates import required_affinity_matches

Obj = dict[str, Any]
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def node(name: str, labels: dict[str, str] | None = None, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def daemonset(spec: Obj | None = None, **strategy: Any) -> Obj:
    template_spec: Obj = {"containers": [{"name": "c", "image": "busybox"}], **(spec or {})}
    return {"metadata": {"name": "ds", "namespace": "default", "uid": "ds-uid"},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}}, "spec": template_spec},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": strategy or {"maxUnavailable": 1}}}}


def pod(name: str, node_name: str, hash_: str, *, ready: bool = True, phase: str = "Running",
        created: str = "2026-01-01T00:00:00Z") -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "creationTimestamp": created,
                         "labels": {"app": "d", UNIQUE_LABEL_KEY: hash_}},
            "spec": {"affinity": replace_node_name_affinity(None, node_name)},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_plain_node_runs_daemon_pods() -> None:
    assert node_should_run(node("n1"), daemonset()) == (True, True)


def test_node_selector_and_affinity_limit_nodes() -> None:
    ds = daemonset({"nodeSelector": {"disk": "ssd"}})
    assert node_should_run(node("n1", {"disk": "ssd"}), ds) == (True, True)
    assert node_should_run(node("n2", {"disk": "hdd"}), ds) == (False, False)
    ds = daemonset({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "cpu", "operator": "Gt", "values": ["4"]}]},
                              {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}})
    assert node_should_run(node("n1", {"cpu": "8"}), ds)[0]
    assert node_should_run(node("n2", {"zone": "a"}), ds)[0]
    assert not node_should_run(node("n3", {"cpu": "2", "zone": "b"}), ds)[0]
    assert not node_should_run(node("n4"), ds)[0]


def test_template_node_name_pins_the_daemon_set() -> None:
    ds = daemonset({"nodeName": "n2"})
    assert node_should_run(node("n1"), ds) == (False, False)
    assert node_should_run(node("n2"), ds) == (True, True)


def test_untolerated_taints() -> None:
    ds = daemonset()
    no_schedule = node("n1", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    no_execute = node("n2", taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}])
    prefer = node("n3", taints=[{"key": "dedicated", "value": "db", "effect": "PreferNoSchedule"}])
    # A NoSchedule taint keeps new pods away but lets a running one stay; NoExecute evicts it.
    assert node_should_run(no_schedule, ds) == (False, True)
    assert node_should_run(no_execute, ds) == (False, False)
    assert node_should_run(prefer, ds) == (True, True)
    tolerant = daemonset({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db"}]})
    assert node_should_run(no_schedule, tolerant) == (True, True)
    assert node_should_run(no_execute, tolerant) == (True, True)
    wrong_value = daemonset({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web"}]})
    assert node_should_run(no_schedule, wrong_value) == (False, True)


def test_default_tolerations_cover_node_conditions() -> None:
    ds = daemonset()
    for key, effect in (("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule"),
                        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                        ("node.kubernetes.io/pid-pressure", "NoSchedule")):
        assert node_should_run(node("n", taints=[{"key": key, "effect": effect}]), ds) == (True, True), key
    network = node("n", taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}])
    assert node_should_run(network, ds)[0] is False
    assert node_should_run(network, daemonset({"hostNetwork": True}))[0] is True


def test_default_toleration_replaces_a_bounded_one() -> None:
    spec: Obj = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                                  "tolerationSeconds": 300}, {"key": "x", "operator": "Exists"}]}
    add_daemon_tolerations(spec)
    not_ready = [t for t in spec["tolerations"] if t.get("key") == "node.kubernetes.io/not-ready"]
    assert not_ready == [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]
    assert {"key": "x", "operator": "Exists"} in spec["tolerations"]
    assert len(spec["tolerations"]) == 7


def test_node_affinity_pins_pod_and_keeps_other_affinity() -> None:
    original: Obj = {"podAntiAffinity": {"x": 1}, "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": []}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}}
    aff = replace_node_name_affinity(original, "n7")
    assert aff["podAntiAffinity"] == {"x": 1}
    assert aff["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 1}]
    assert aff["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]
    assert original["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": []}]
    assert target_node_name({"spec": {"affinity": aff}}) == "n7"
    assert target_node_name({"spec": {"nodeName": "n2", "affinity": aff}}) == "n2"
    assert target_node_name({"spec": {}}) is None
    assert required_affinity_matches({"affinity": aff}, node("n7"))
    assert not required_affinity_matches({"affinity": aff}, node("n8"))


def test_pod_template_carries_hash_and_tolerations() -> None:
    ds = daemonset()
    tpl = create_pod_template(ds["spec"]["template"], None, "abc")
    assert tpl["metadata"]["labels"] == {"app": "d", UNIQUE_LABEL_KEY: "abc"}
    assert len(tpl["spec"]["tolerations"]) == 6
    assert "tolerations" not in ds["spec"]["template"]["spec"]  # the DaemonSet itself is untouched
    assert create_pod_template(ds["spec"]["template"], 3, "abc")["metadata"]["labels"]["pod-template-generation"] == "3"
    assert is_pod_updated({"metadata": {"labels": {UNIQUE_LABEL_KEY: "abc"}}}, "abc", None)
    assert not is_pod_updated({"metadata": {"labels": {UNIQUE_LABEL_KEY: "old"}}}, "abc", None)


def test_scaled_values_and_budgets() -> None:
    assert scaled_value(3, 10, True) == 3
    assert scaled_value("25%", 5, True) == 2
    assert scaled_value("25%", 5, False) == 1
    with pytest.raises(InvalidIntOrPercent):
        scaled_value("3", 10, True)
    assert unavailable_count(daemonset(maxUnavailable="50%"), 3) == 2
    assert unavailable_count(daemonset(maxSurge=1), 3) == 1  # unset maxUnavailable: the default 1
    assert surge_count(daemonset(maxUnavailable=0, maxSurge="10%"), 5) == 1
    on_delete = daemonset()
    on_delete["spec"]["updateStrategy"] = {"type": "OnDelete"}
    assert unavailable_count(on_delete, 5) == 0 and surge_count(on_delete, 5) == 0


def test_history_records_template_under_hash_name() -> None:
    ds = daemonset()
    h = history.compute_hash(ds["spec"]["template"], None)
    assert h == history.compute_hash(ds["spec"]["template"], None)
    assert h != history.compute_hash(ds["spec"]["template"], 1)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    rev = history.new_revision(ds, 3, h)
    assert rev["metadata"]["name"] == f"ds-{h}"
    assert rev["metadata"]["labels"] == {"app": "d", UNIQUE_LABEL_KEY: h}
    assert rev["metadata"]["ownerReferences"][0]["uid"] == "ds-uid"
    assert rev["revision"] == 3
    assert rev["data"]["spec"]["template"]["$patch"] == "replace"
    assert history.matches(ds, rev)
    changed = daemonset({"hostNetwork": True})
    assert not history.matches(changed, rev)
    assert history.compute_hash(changed["spec"]["template"], None) != h


def test_failed_and_duplicate_pods_on_a_node() -> None:
    ds = daemonset()
    n1 = node("n1")
    failed = pod("p-failed", "n1", "h", phase="Failed", ready=False)
    older = pod("p-old", "n1", "h", created="2026-01-01T00:00:00Z")
    newer = pod("p-new", "n1", "h", created="2026-01-01T00:01:00Z")
    d = pods_should_be_on_node(n1, {"n1": [newer, failed, older]}, ds, "h", NOW)
    assert not d.needs_pod
    assert [p["metadata"]["name"] for p in d.failed] == ["p-failed"]
    assert [p["metadata"]["name"] for p in d.delete] == ["p-new"]
    assert pods_should_be_on_node(n1, {}, ds, "h", NOW).needs_pod
    tainted = node("n2", taints=[{"key": "k", "effect": "NoExecute"}])
    d = pods_should_be_on_node(tainted, {"n2": [older]}, ds, "h", NOW)
    assert [p["metadata"]["name"] for p in d.delete] == ["p-old"]


def _names(pods: list[Obj]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def test_rolling_update_stays_within_max_unavailable() -> None:
    ds = daemonset(maxUnavailable=1)
    by_node = {f"n{i}": [pod(f"old{i}", f"n{i}", "old")] for i in range(3)}
    d = rolling_update(ds, by_node, "new", 0, 1, 3, NOW, lambda n: True)
    assert _names(d.delete) == ["old0"] and d.create_on == []
    # A replacement that is not yet available uses up the budget.
    by_node["n0"] = [pod("new0", "n0", "new", ready=False)]
    assert rolling_update(ds, by_node, "new", 0, 1, 3, NOW, lambda n: True).delete == []
    by_node["n0"] = [pod("new0", "n0", "new")]
    assert _names(rolling_update(ds, by_node, "new", 0, 1, 3, NOW, lambda n: True).delete) == ["old1"]
    assert _names(rolling_update(ds, by_node, "new", 0, 2, 3, NOW, lambda n: True).delete) == ["old1", "old2"]
    # Unavailable old pods are replaced regardless of the budget.
    by_node["n1"] = [pod("old1", "n1", "old", ready=False)]
    by_node["n2"] = [pod("old2", "n2", "old", ready=False)]
    assert _names(rolling_update(ds, by_node, "new", 0, 1, 3, NOW, lambda n: True).delete) == ["old1", "old2"]


def test_rolling_update_with_surge() -> None:
    ds = daemonset(maxUnavailable=0, maxSurge=1)
    by_node = {f"n{i}": [pod(f"old{i}", f"n{i}", "old")] for i in range(3)}
    d = rolling_update(ds, by_node, "new", 1, 0, 3, NOW, lambda n: True)
    assert d.delete == [] and d.create_on == ["n0"]
    by_node["n0"].append(pod("new0", "n0", "new", ready=False))
    d = rolling_update(ds, by_node, "new", 1, 0, 3, NOW, lambda n: True)
    assert d.delete == [] and d.create_on == []  # the surge pod is not available yet
    by_node["n0"][1] = pod("new0", "n0", "new")
    d = rolling_update(ds, by_node, "new", 1, 0, 3, NOW, lambda n: True)
    assert _names(d.delete) == ["old0"] and d.create_on == ["n1"]
