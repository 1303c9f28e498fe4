"""serviceaccounts/token (TokenRequest) against a real apiserver, and the issued tokens as credentials."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.apiserver_process import APIServerProcess
from tests.conftest import Kubectl
from tests.integration.http import AdminHTTP


def _sa(api: AdminHTTP, ns: str, name: str) -> dict[str, Any]:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
    assert r.status == 201, r.body
    return r.json()  # type: ignore[no-any-return]


def _token_request(api: AdminHTTP, ns: str, name: str, spec: dict[str, Any] | None = None) -> Any:
    return api.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}})


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def _whoami(api: AdminHTTP, token: str) -> Any:
    return api.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                       headers={"Authorization": f"Bearer {token}"}, anonymous=True)


def test_token_request_issues_a_token_the_apiserver_accepts(api: AdminHTTP, ns: str) -> None:
    sa = _sa(api, ns, "robot")
    before = int(time.time())
    r = _token_request(api, ns, "robot")
    assert r.status == 201, r.body
    out = r.json()
    assert out["kind"] == "TokenRequest" and out["spec"]["expirationSeconds"] == 3600
    assert out["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    token = out["status"]["token"]
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:robot"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": "robot", "uid": sa["metadata"]["uid"]}
    assert before <= claims["iat"] <= claims["nbf"] + 1 and claims["exp"] - claims["iat"] == 3600
    assert out["status"]["expirationTimestamp"].endswith("Z")

    review = _whoami(api, token)
    assert review.status == 201, review.body
    user = review.json()["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{ns}:robot"
    assert user["uid"] == sa["metadata"]["uid"]
    assert set(user["groups"]) == {"system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"}

    # A tampered token, a token for another audience, and a token whose account is gone are all refused.
    assert _whoami(api, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")).status == 401
    other = _token_request(api, ns, "robot", {"audiences": ["vault"]}).json()["status"]["token"]
    assert _claims(other)["aud"] == ["vault"]
    assert _whoami(api, other).status == 401
    assert api.request("DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/robot").status == 200
    assert _whoami(api, token).status == 401


def test_token_request_bounds_and_errors(api: AdminHTTP, ns: str) -> None:
    _sa(api, ns, "bot")
    r = _token_request(api, ns, "bot", {"expirationSeconds": 599})
    assert r.status == 422
    assert r.json()["message"] == ('TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
                                   "Invalid value: 599: may not specify a duration less than 10 minutes")
    r = _token_request(api, ns, "bot", {"expirationSeconds": 600})
    assert r.status == 201 and r.json()["spec"]["expirationSeconds"] == 600
    claims = _claims(r.json()["status"]["token"])
    assert claims["exp"] - claims["iat"] == 600
    r = _token_request(api, ns, "nobody")
    assert (r.status, r.json()["message"]) == (404, 'serviceaccounts "nobody" not found')
    # Bound to a pod: the pod's name and uid are claims, and deleting the pod invalidates the token.
    pod = api.request("POST", f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"serviceAccountName": "bot", "containers": [{"name": "c", "image": "busybox"}]}}).json()
    r = _token_request(api, ns, "bot", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                           "uid": pod["metadata"]["uid"]}})
    assert r.status == 201, r.body
    token = r.json()["status"]["token"]
    assert _claims(token)["kubernetes.io"]["pod"] == {"name": "p", "uid": pod["metadata"]["uid"]}
    review = _whoami(api, token).json()["status"]["userInfo"]
    assert review["extra"]["authentication.kubernetes.io/pod-name"] == ["p"]
    r = _token_request(api, ns, "bot", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                                           "uid": "wrong"}})
    assert r.status == 409
    r = _token_request(api, ns, "bot", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "absent"}})
    assert r.status == 404
    api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/p?gracePeriodSeconds=0")
    assert _whoami(api, token).status == 401


@pytest.mark.parametrize("binary", ["kubectl", "/usr/lib/google-cloud-sdk/bin/kubectl.1.31"])
def test_kubectl_create_token(apiserver: APIServerProcess, api: AdminHTTP, ns: str, tmp_path: Path,
                              binary: str) -> None:
    if not Path(binary).exists() and binary != "kubectl":
        pytest.skip(f"{binary} is not installed")
    _sa(api, ns, "builder")
    kubectl = Kubectl(binary, apiserver.kubeconfig, tmp_path)
    token = kubectl("create", "token", "builder", "-n", ns, "--duration=20m",
                    "--audience=https://kubernetes.default.svc.cluster.local").strip()
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:builder"
    assert claims["exp"] - claims["iat"] == 1200
    assert _whoami(api, token).status == 201
    res = kubectl.run("create", "token", "ghost", "-n", ns, check=False)
    assert res.returncode == 1 and 'serviceaccounts "ghost" not found' in res.stderr
