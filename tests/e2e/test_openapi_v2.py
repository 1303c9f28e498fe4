"""kubectl 1.27 and 1.28 validate create -f / apply / replace / edit through /openapi/v2 (gnostic protobuf) only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyk8s.apiserver.openapi_v2 import PROTOBUF_ACCEPT, PROTOBUF_CONTENT_TYPE, decode_message
from tests.apiserver_process import APIServerProcess
from tests.conftest import SDK_BIN, Kubectl
from tests.integration.http import AdminHTTP

OLD_KUBECTLS = ["kubectl.1.27", "kubectl.1.28"]

CONFIGMAP_YAML = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
"""

DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(name)s
  labels: {app: %(name)s}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      containers:
      - name: web
        image: %(image)s
        ports: [{containerPort: 80}]
"""


@pytest.fixture(params=OLD_KUBECTLS)
def old_kubectl(request: pytest.FixtureRequest, apiserver: APIServerProcess, tmp_path: Path) -> Kubectl:
    binary = SDK_BIN / request.param
    if not binary.exists():
        pytest.skip(f"{binary} is not installed on this machine")
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(str(binary), apiserver.kubeconfig, home)


@pytest.fixture
def old_namespace(old_kubectl: Kubectl) -> Iterator[str]:
    with old_kubectl.temp_namespace("v2") as name:
        yield name


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def deployment(name: str, replicas: int = 1, image: str = "nginx:1.25") -> str:
    return DEPLOYMENT_YAML % {"name": name, "replicas": replicas, "image": image}


def test_create_from_files(old_kubectl: Kubectl, old_namespace: str, tmp_path: Path) -> None:
    k, n = old_kubectl, ["-n", old_namespace]
    assert "configmap/settings created" in k("create", "-f", write(tmp_path, "cm.yaml", CONFIGMAP_YAML), *n)
    assert "deployment.apps/made created" in k("create", "-f", write(tmp_path, "d.yaml", deployment("made")), *n)
    assert k("get", "configmap", "settings", "-o", "jsonpath={.data.mode}", *n) == "fast"
    assert k("get", "deploy", "made", "-o", "jsonpath={.spec.template.spec.containers[0].image}", *n) == "nginx:1.25"


def test_apply_twice_then_replace_and_edit(old_kubectl: Kubectl, old_namespace: str, tmp_path: Path) -> None:
    k, n = old_kubectl, ["-n", old_namespace]
    first = write(tmp_path, "v1.yaml", deployment("applied", replicas=1))
    assert "deployment.apps/applied created" in k("apply", "-f", first, *n)
    second = write(tmp_path, "v2.yaml", deployment("applied", replicas=3, image="nginx:1.26"))
    assert "deployment.apps/applied configured" in k("apply", "-f", second, *n)
    assert k("get", "deploy", "applied", "-o", "jsonpath={.spec.replicas}", *n) == "3"
    assert k("apply", "-f", second, *n).strip() == "deployment.apps/applied unchanged"

    third = write(tmp_path, "v3.yaml", deployment("applied", replicas=2, image="nginx:1.27"))
    assert "deployment.apps/applied replaced" in k("replace", "-f", third, *n)
    assert k("get", "deploy", "applied", "-o", "jsonpath={.spec.replicas}", *n) == "2"

    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 4/' \"$1\"\n")
    editor.chmod(0o755)
    res = k.run("edit", "deployment", "applied", *n, env={"KUBE_EDITOR": str(editor), "EDITOR": str(editor)})
    assert "deployment.apps/applied edited" in res.stdout, res.stderr
    assert k("get", "deploy", "applied", "-o", "jsonpath={.spec.replicas}", *n) == "4"


def test_strict_validation_still_rejects_unknown_fields(old_kubectl: Kubectl, old_namespace: str,
                                                         tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", CONFIGMAP_YAML.replace("data:", "bogus: 1\ndata:"))
    res = old_kubectl.run("create", "-f", bad, "-n", old_namespace, check=False)
    assert res.returncode != 0
    assert "bogus" in res.stderr
    assert "failed to download openapi" not in res.stderr and "could not find the requested resource" not in res.stderr


def test_explain(old_kubectl: Kubectl) -> None:
    out = old_kubectl("explain", "deployment.spec.replicas")
    assert re.search(r"FIELD:\s+replicas\s+<integer>", out), out
    assert re.search(r"KIND:\s+Deployment", out) and "desired pods" in out


def test_openapi_v2_over_http(apiserver: APIServerProcess) -> None:
    api = AdminHTTP(apiserver.kubeconfig)
    pb = api.request("GET", "/openapi/v2", headers={"Accept": PROTOBUF_ACCEPT})
    assert pb.status == 200 and pb.headers["Content-Type"] == PROTOBUF_CONTENT_TYPE
    doc = decode_message("Document", pb.body)
    assert doc["swagger"] == "2.0" and "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" in doc["paths"]
    etag = pb.headers["ETag"]
    assert api.request("GET", "/openapi/v2", headers={"Accept": PROTOBUF_ACCEPT, "If-None-Match": etag}).status == 304

    js = api.request("GET", "/openapi/v2", headers={"Accept": "application/json"})
    assert js.status == 200 and js.headers["Content-Type"].startswith("application/json")
    assert js.json()["definitions"].keys() == doc["definitions"].keys()
    assert api.request("GET", "/openapi/v2", headers={"Accept": "text/html"}).status == 406

    legacy = api.request("GET", "/swagger-2.0.0.pb-v1", headers={"Accept": "application/json, */*"})
    assert legacy.status == 200 and legacy.headers["Content-Type"] == PROTOBUF_CONTENT_TYPE
    assert legacy.body == pb.body
