"""The ServiceAccount admission plugin on the wire: a new pod runs as a service account that must exist, and gets
the projected kube-api-access volume mounted in every container unless automounting is turned off."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.http import AdminHTTP, Reply

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def ok(reply: Reply, code: int = 200) -> dict[str, Any]:
    assert reply.status == code, (reply.status, reply.body[:800])
    body: dict[str, Any] = reply.json()
    return body


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def make_account(api: AdminHTTP, ns: str, name: str, **fields: Any) -> None:
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}, **fields})
    assert reply.status in (201, 409), (reply.status, reply.body[:800])


@pytest.fixture
def bare_ns(api: AdminHTTP) -> Iterator[str]:
    """A namespace with no service accounts at all (no controller-manager runs here)."""
    name = f"sa-{uuid.uuid4().hex[:10]}"
    ok(api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
       201)
    yield name
    api.request("DELETE", f"/api/v1/namespaces/{name}")


def test_new_pod_gets_the_default_account_and_the_api_access_volume(api: AdminHTTP, ns: str) -> None:
    make_account(api, ns, "default")
    created = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods",
                             pod("p", initContainers=[{"name": "i", "image": "busybox"}])), 201)
    spec = created["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    (volume,) = spec["volumes"]
    name = volume["name"]
    assert name.startswith("kube-api-access-") and len(name) == len("kube-api-access-") + 5
    assert volume["projected"] == {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    }
    mount = {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    stored = ok(api.request("GET", f"/api/v1/namespaces/{ns}/pods/p"))
    assert stored["spec"]["volumes"] == spec["volumes"]


def test_automount_false_on_pod_or_account_adds_nothing(api: AdminHTTP, ns: str) -> None:
    make_account(api, ns, "default")
    make_account(api, ns, "quiet", automountServiceAccountToken=False)
    for name, spec in (("off", {"automountServiceAccountToken": False}), ("quiet", {"serviceAccountName": "quiet"})):
        created = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod(name, **spec)), 201)["spec"]
        assert "volumes" not in created and "volumeMounts" not in created["containers"][0], created
    # the pod's own choice wins over the account's
    created = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods",
                             pod("loud", serviceAccountName="quiet", automountServiceAccountToken=True)), 201)["spec"]
    assert created["volumes"][0]["name"].startswith("kube-api-access-")


def test_missing_account_is_forbidden(api: AdminHTTP, bare_ns: str) -> None:
    reply = api.request("POST", f"/api/v1/namespaces/{bare_ns}/pods", pod("p", serviceAccountName="robot"))
    assert reply.status == 403, (reply.status, reply.body[:800])
    status = reply.json()
    assert status["reason"] == "Forbidden" and status["code"] == 403
    assert status["message"] == (f'pods "p" is forbidden: error looking up service account {bare_ns}/robot: '
                                 'serviceaccount "robot" not found')
    assert status["details"] == {"name": "p", "kind": "pods"}
    # no "default" account either (the serviceaccount controller is not running here)
    reply = api.request("POST", f"/api/v1/namespaces/{bare_ns}/pods", pod("q"))
    assert reply.status == 403 and reply.json()["message"].endswith('serviceaccount "default" not found')
    make_account(api, bare_ns, "robot")
    ok(api.request("POST", f"/api/v1/namespaces/{bare_ns}/pods", pod("p", serviceAccountName="robot")), 201)


def test_pod_update_keeps_the_account(api: AdminHTTP, ns: str) -> None:
    make_account(api, ns, "default")
    make_account(api, ns, "other")
    created = ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("p")), 201)
    created["metadata"]["labels"] = {"a": "b"}
    updated = ok(api.request("PUT", f"/api/v1/namespaces/{ns}/pods/p", created))
    assert updated["spec"] == created["spec"]
    changed = {**updated, "spec": {**updated["spec"], "serviceAccountName": "other", "serviceAccount": "other"}}
    reply = api.request("PUT", f"/api/v1/namespaces/{ns}/pods/p", changed)
    assert reply.status == 422 and "pod updates may not change fields" in reply.json()["message"]
