"""pods/eviction against a real apiserver: PodDisruptionBudgets respected, answers and side effects as upstream.

There is no disruption controller here: each test writes the budget's status itself, as the controller would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver_process import APIServerProcess
from tests.conftest import Kubectl
from tests.integration.http import AdminHTTP, Reply

REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def ok(reply: Reply, code: int = 200) -> dict[str, Any]:
    assert reply.status == code, (reply.status, reply.body[:800])
    body: dict[str, Any] = reply.json()
    return body


def pods_path(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def pdbs_path(ns: str) -> str:
    return f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"


def make_pod(api: AdminHTTP, ns: str, name: str, *, labels: dict[str, str] | None = None, node: str = "node-1",
             phase: str = "Running", ready: bool = True) -> dict[str, Any]:
    ok(api.request("POST", pods_path(ns), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}), 201)
    if node:
        ok(api.request("POST", f"{pods_path(ns)}/{name}/binding", {
            "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}), 201)
    pod = ok(api.request("GET", f"{pods_path(ns)}/{name}"))
    conditions = [c for c in pod["status"].get("conditions") or [] if c["type"] != "Ready"]
    conditions.append({"type": "Ready", "status": "True" if ready else "False",
                       "lastTransitionTime": "2026-01-01T00:00:00Z"})
    pod["status"].update({"phase": phase, "conditions": conditions, "podIP": "10.244.0.9",
                          "podIPs": [{"ip": "10.244.0.9"}]})
    return ok(api.request("PUT", f"{pods_path(ns)}/{name}/status", pod))


def make_pdb(api: AdminHTTP, ns: str, name: str, *, allowed: int, healthy: int = 2, desired: int = 1,
             labels: dict[str, str] | None = None, observed: bool = True, policy: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"minAvailable": desired, "selector": {"matchLabels": labels or {"app": "web"}}}
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    pdb = ok(api.request("POST", pdbs_path(ns), {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                                   "metadata": {"name": name}, "spec": spec}), 201)
    pdb["status"] = {"observedGeneration": pdb["metadata"]["generation"] if observed else 0,
                     "disruptionsAllowed": allowed, "currentHealthy": healthy, "desiredHealthy": desired,
                     "expectedPods": healthy,
                     "conditions": [{"type": "DisruptionAllowed", "status": "True" if allowed else "False",
                                     "reason": "SufficientPods" if allowed else "InsufficientPods", "message": "",
                                     "observedGeneration": pdb["metadata"]["generation"],
                                     "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    return ok(api.request("PUT", f"{pdbs_path(ns)}/{name}/status", pdb))


def evict(api: AdminHTTP, ns: str, name: str, *, delete_options: dict[str, Any] | None = None,
          api_version: str = "policy/v1", query: str = "", body_name: str | None = None) -> Reply:
    body: dict[str, Any] = {"apiVersion": api_version, "kind": "Eviction",
                            "metadata": {"name": name if body_name is None else body_name, "namespace": ns}}
    if delete_options is not None:
        body["deleteOptions"] = delete_options
    return api.request("POST", f"{pods_path(ns)}/{name}/eviction{query}", body)


SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def test_without_a_budget_the_pod_is_deleted_with_the_eviction_delete_options(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    assert ok(evict(api, ns, "a", delete_options={"gracePeriodSeconds": 0}), 201) == SUCCESS
    assert api.request("GET", f"{pods_path(ns)}/a").status == 404


def test_graceful_eviction_marks_the_pod_disruption_target(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    assert ok(evict(api, ns, "a"), 201) == SUCCESS
    pod = ok(api.request("GET", f"{pods_path(ns)}/a"))
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    target = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert len(target) == 1
    assert target[0]["status"] == "True" and target[0]["reason"] == "EvictionByEvictionAPI"
    assert target[0]["message"] == "Eviction API: evicting"


def test_budget_with_room_is_spent_and_the_pod_recorded(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    make_pdb(api, ns, "budget", allowed=1)
    assert ok(evict(api, ns, "a", delete_options={"gracePeriodSeconds": 0}), 201) == SUCCESS
    assert api.request("GET", f"{pods_path(ns)}/a").status == 404
    status = ok(api.request("GET", f"{pdbs_path(ns)}/budget"))["status"]
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["a"]
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "False", "InsufficientPods")


def test_exhausted_budget_is_429_and_the_pod_stays(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    make_pdb(api, ns, "budget", allowed=0, healthy=1, desired=1)
    reply = evict(api, ns, "a")
    assert reply.status == 429
    assert reply.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": REFUSED, "reason": "TooManyRequests",
                            "details": {"causes": [{"reason": "DisruptionBudget", "message":
                                                    "The disruption budget budget needs 1 healthy pods and has 1 "
                                                    "currently"}]},
                            "code": 429}
    assert ok(api.request("GET", f"{pods_path(ns)}/a"))["metadata"].get("deletionTimestamp") is None


def test_budget_not_yet_observed_is_429_with_retry_after(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    make_pdb(api, ns, "budget", allowed=1, observed=False)
    reply = evict(api, ns, "a")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "10"
    details = reply.json()["details"]
    assert details["retryAfterSeconds"] == 10
    assert details["causes"] == [{"reason": "DisruptionBudget",
                                  "message": "The disruption budget budget is still being processed by the server."}]


def test_two_budgets_are_a_500(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    make_pdb(api, ns, "one", allowed=1)
    make_pdb(api, ns, "two", allowed=1)
    reply = evict(api, ns, "a")
    assert reply.status == 500
    assert reply.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": "This pod has more than one PodDisruptionBudget, which the eviction "
                                       "subresource does not support.", "code": 500}


@pytest.mark.parametrize("phase", ["Pending", "Succeeded", "Failed"])
def test_pods_that_cannot_count_are_evicted_without_the_budget(api: AdminHTTP, ns: str, phase: str) -> None:
    make_pod(api, ns, "a", phase=phase, ready=False)
    make_pdb(api, ns, "budget", allowed=0)
    assert ok(evict(api, ns, "a", delete_options={"gracePeriodSeconds": 0}), 201) == SUCCESS
    assert api.request("GET", f"{pods_path(ns)}/a").status == 404
    assert ok(api.request("GET", f"{pdbs_path(ns)}/budget"))["status"]["disruptionsAllowed"] == 0


def test_terminating_pod_is_evicted_without_the_budget(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    ok(api.request("DELETE", f"{pods_path(ns)}/a"))
    make_pdb(api, ns, "budget", allowed=0)
    assert ok(evict(api, ns, "a", delete_options={"gracePeriodSeconds": 0}), 201) == SUCCESS
    assert api.request("GET", f"{pods_path(ns)}/a").status == 404


def test_unready_pod_goes_without_spending_a_healthy_budget(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a", ready=False)
    make_pdb(api, ns, "budget", allowed=0, healthy=2, desired=2)
    assert ok(evict(api, ns, "a", delete_options={"gracePeriodSeconds": 0}), 201) == SUCCESS
    status = ok(api.request("GET", f"{pdbs_path(ns)}/budget"))["status"]
    assert status["disruptionsAllowed"] == 0 and "disruptedPods" not in status


def test_unready_pod_of_an_unhealthy_app_needs_always_allow(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a", ready=False)
    make_pod(api, ns, "b", ready=False)
    make_pdb(api, ns, "strict", allowed=0, healthy=0, desired=1, labels={"app": "web"})
    assert evict(api, ns, "a").status == 429
    ok(api.request("DELETE", f"{pdbs_path(ns)}/strict"))
    make_pdb(api, ns, "lenient", allowed=0, healthy=0, desired=1, policy="AlwaysAllow")
    assert ok(evict(api, ns, "b", delete_options={"gracePeriodSeconds": 0}), 201) == SUCCESS
    assert api.request("GET", f"{pods_path(ns)}/b").status == 404


def test_dry_run_changes_nothing(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    before = make_pdb(api, ns, "budget", allowed=1)
    assert ok(evict(api, ns, "a", query="?dryRun=All"), 201) == SUCCESS
    pod = ok(api.request("GET", f"{pods_path(ns)}/a"))
    assert pod["metadata"].get("deletionTimestamp") is None
    assert not [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    after = ok(api.request("GET", f"{pdbs_path(ns)}/budget"))
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_v1beta1_eviction_is_accepted(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    assert ok(evict(api, ns, "a", api_version="policy/v1beta1", delete_options={"gracePeriodSeconds": 0}),
              201) == SUCCESS


def test_bad_evictions(api: AdminHTTP, ns: str) -> None:
    make_pod(api, ns, "a")
    mismatch = evict(api, ns, "a", body_name="b")
    assert mismatch.status == 400
    assert mismatch.json()["message"] == "name in URL does not match name in Eviction object"
    missing = evict(api, ns, "nope")
    assert missing.status == 404 and missing.json()["message"] == 'pods "nope" not found'
    wrong_kind = api.request("POST", f"{pods_path(ns)}/a/eviction",
                             {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"}})
    assert wrong_kind.status == 400
    assert ok(api.request("GET", f"{pods_path(ns)}/a"))["metadata"].get("deletionTimestamp") is None


def test_kubectl_drain_evicts_and_waits(apiserver: APIServerProcess, api: AdminHTTP, ns: str,
                                        tmp_path: Path) -> None:
    node = f"drain-{ns}"
    ok(api.request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}), 201)
    try:
        make_pod(api, ns, "free", labels={"app": "free"}, node=node)
        make_pod(api, ns, "guarded", labels={"app": "guarded"}, node=node)
        make_pdb(api, ns, "guard", allowed=0, labels={"app": "guarded"})
        kubectl = Kubectl("kubectl", apiserver.kubeconfig, tmp_path)
        blocked = kubectl.run("drain", node, "--force", "--grace-period=0", "--timeout=3s", check=False)
        assert blocked.returncode != 0
        assert REFUSED in blocked.stderr
        assert api.request("GET", f"{pods_path(ns)}/free").status == 404
        assert ok(api.request("GET", f"{pods_path(ns)}/guarded"))["metadata"].get("deletionTimestamp") is None

        pdb = ok(api.request("GET", f"{pdbs_path(ns)}/guard"))
        pdb["status"]["disruptionsAllowed"] = 1
        ok(api.request("PUT", f"{pdbs_path(ns)}/guard/status", pdb))
        out = kubectl("drain", node, "--force", "--grace-period=0", "--timeout=30s", allow_stderr=True)
        assert f"node/{node} drained" in out
        assert api.request("GET", f"{pods_path(ns)}/guarded").status == 404
        assert json.loads(kubectl("get", "node", node, "-o", "json"))["spec"]["unschedulable"] is True
    finally:
        api.request("DELETE", f"/api/v1/nodes/{node}")
