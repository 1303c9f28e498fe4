"""The Priority admission plugin and the system PriorityClasses, on the wire, as upstream kube-apiserver 1.33 shows them.

PriorityClasses are cluster-scoped and the apiserver is shared by the session, so every class made here has a
unique name and is deleted again (a leftover global default would change every later pod's priority).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.http import AdminHTTP, Reply

CLASSES = "/apis/scheduling.k8s.io/v1/priorityclasses"


def ok(reply: Reply, code: int = 200) -> dict[str, Any]:
    assert reply.status == code, (reply.status, reply.body[:800])
    body: dict[str, Any] = reply.json()
    return body


def forbidden(reply: Reply) -> str:
    assert reply.status == 403, (reply.status, reply.body[:800])
    status: dict[str, Any] = reply.json()
    assert status["kind"] == "Status" and status["reason"] == "Forbidden" and status["code"] == 403, status
    message: str = status["message"]
    return message


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def priority_class(name: str, value: int, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, **fields}


@pytest.fixture
def classes(api: AdminHTTP) -> Iterator[list[str]]:
    """Names of PriorityClasses a test made; all deleted afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        api.request("DELETE", f"{CLASSES}/{name}")


def make_class(api: AdminHTTP, made: list[str], value: int, **fields: Any) -> str:
    name = f"pc-{uuid.uuid4().hex[:10]}"
    made.append(name)
    ok(api.request("POST", CLASSES, priority_class(name, value, **fields)), 201)
    return name


def test_system_classes_exist_with_upstream_values(api: AdminHTTP) -> None:
    node = ok(api.request("GET", f"{CLASSES}/system-node-critical"))
    cluster = ok(api.request("GET", f"{CLASSES}/system-cluster-critical"))
    assert node["value"] == 2000001000 and cluster["value"] == 2000000000
    assert node["description"] == "Used for system critical pods that must not be moved from their current node."
    assert cluster["description"] == ("Used for system critical pods that must run in the cluster, "
                                      "but can be moved to another node if necessary.")
    for pc in (node, cluster):
        assert pc["preemptionPolicy"] == "PreemptLowerPriority" and not pc.get("globalDefault")


def test_system_class_cannot_be_deleted(api: AdminHTTP) -> None:
    message = forbidden(api.request("DELETE", f"{CLASSES}/system-node-critical"))
    assert message == ('priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: '
                       "this is a system priority class and cannot be deleted")
    ok(api.request("GET", f"{CLASSES}/system-node-critical"))


def test_pod_gets_priority_and_preemption_policy_of_its_class(api: AdminHTTP, ns: str, classes: list[str]) -> None:
    name = make_class(api, classes, 4242, preemptionPolicy="Never")
    spec = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("p", priorityClassName=name)), 201)["spec"]
    assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == (name, 4242, "Never")


def test_system_class_allowed_outside_kube_system(api: AdminHTTP, ns: str) -> None:
    body = pod("crit", priorityClassName="system-cluster-critical")
    spec = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", body), 201)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (2000000000, "PreemptLowerPriority")


def test_pod_without_class_gets_zero_and_no_class_name(api: AdminHTTP, ns: str) -> None:
    spec = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("plain")), 201)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec


def test_unknown_class_is_forbidden(api: AdminHTTP, ns: str) -> None:
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("lost", priorityClassName="no-such-class"))
    assert forbidden(reply) == 'pods "lost" is forbidden: no PriorityClass with name no-such-class was found'
    assert reply.json()["details"] == {"name": "lost", "kind": "pods"}


def test_explicit_priority_must_match_the_class(api: AdminHTTP, ns: str, classes: list[str]) -> None:
    name = make_class(api, classes, 100)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("mismatch", priorityClassName=name, priority=7))
    assert forbidden(reply) == ('pods "mismatch" is forbidden: the integer value of priority (7) must not be provided '
                                "in pod spec; priority admission controller computed 100 from the given PriorityClass "
                                "name")
    same = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("match", priorityClassName=name, priority=100)),
              201)
    assert same["spec"]["priority"] == 100


def test_explicit_preemption_policy_must_match_the_class(api: AdminHTTP, ns: str, classes: list[str]) -> None:
    name = make_class(api, classes, 100, preemptionPolicy="Never")
    body = pod("policy", priorityClassName=name, preemptionPolicy="PreemptLowerPriority")
    assert forbidden(api.request("POST", f"/api/v1/namespaces/{ns}/pods", body)) == (
        'pods "policy" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided '
        "in pod spec; priority admission controller computed Never from the given PriorityClass name")


def test_global_default_applies_and_only_one_may_exist(api: AdminHTTP, ns: str, classes: list[str]) -> None:
    default = make_class(api, classes, 555, globalDefault=True, preemptionPolicy="Never")
    spec = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("defaulted")), 201)["spec"]
    assert (spec["priorityClassName"], spec["priority"], spec["preemptionPolicy"]) == (default, 555, "Never")

    second = f"pc-{uuid.uuid4().hex[:10]}"
    classes.append(second)
    message = forbidden(api.request("POST", CLASSES, priority_class(second, 1, globalDefault=True)))
    assert message == (f'priorityclasses.scheduling.k8s.io "{second}" is forbidden: PriorityClass {default} is '
                       "already marked as default. Only one default can exist")

    other = make_class(api, classes, 2)
    patch = {"Content-Type": "application/merge-patch+json"}
    reply = api.request("PATCH", f"{CLASSES}/{other}", b'{"globalDefault": true}', headers=patch)
    assert forbidden(reply) == (f'priorityclasses.scheduling.k8s.io "{other}" is forbidden: PriorityClass {default} '
                                "is already marked as default. Only one default can exist")
    # The default itself may be updated while it stays the default.
    relabelled = api.request("PATCH", f"{CLASSES}/{default}", b'{"metadata": {"labels": {"x": "y"}}}', headers=patch)
    assert ok(relabelled)["globalDefault"] is True
