"""metrics.k8s.io/v1beta1 served from a fake kubelet's Summary API; `kubectl top node|pod` with the real kubectl."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver_process import APIServerProcess
from tests.conftest import Kubectl
from tests.integration.fake_kubelet import FakeKubelet, node_object
from tests.integration.http import AdminHTTP

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def kubelet(apiserver: APIServerProcess, api: AdminHTTP) -> Iterator[tuple[FakeKubelet, str]]:
    fake = FakeKubelet(apiserver.data_dir / "pki" / "ca.crt").start()
    node = f"metrics-{uuid.uuid4().hex[:8]}"
    r = api.request("POST", "/api/v1/nodes", node_object(node, fake.port, {"tier": "test"}))
    assert r.status == 201, r.body
    obj = r.json()
    obj["status"] = node_object(node, fake.port)["status"]
    assert api.request("PUT", f"/api/v1/nodes/{node}/status", obj).status == 200
    try:
        yield fake, node
    finally:
        api.request("DELETE", f"/api/v1/nodes/{node}")
        fake.stop()


def _summary(node: str, ns: str) -> dict[str, object]:
    t = "2026-01-01T00:00:00Z"
    return {
        "node": {"nodeName": node, "cpu": {"time": t, "usageNanoCores": 250_000_000},
                 "memory": {"time": t, "workingSetBytes": 512 * MiB}},
        "pods": [
            {"podRef": {"name": "web", "namespace": ns, "uid": "u1"},
             "containers": [
                 {"name": "app", "cpu": {"time": t, "usageNanoCores": 100_000_000},
                  "memory": {"time": t, "workingSetBytes": 64 * MiB}},
                 {"name": "sidecar", "cpu": {"time": t, "usageNanoCores": 50_000_000},
                  "memory": {"time": t, "workingSetBytes": 32 * MiB + 512}}]},
            {"podRef": {"name": "elsewhere", "namespace": "other-ns", "uid": "u2"},
             "containers": [{"name": "c", "cpu": {"time": t, "usageNanoCores": 1},
                             "memory": {"time": t, "workingSetBytes": 1}}]},
        ],
    }


def _pod(api: AdminHTTP, ns: str, name: str, node: str, labels: dict[str, str]) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox"},
                                                  {"name": "sidecar", "image": "busybox"}]}})
    assert r.status == 201, r.body


def test_discovery_lists_the_metrics_group(api: AdminHTTP) -> None:
    groups = api.request("GET", "/apis").json()
    assert {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"} in \
        next(g for g in groups["groups"] if g["name"] == "metrics.k8s.io")["versions"]
    agg = api.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}).json()
    entry = next(i for i in agg["items"] if i["metadata"]["name"] == "metrics.k8s.io")
    resources = {r["resource"]: r for r in entry["versions"][0]["resources"]}
    assert resources["nodes"]["responseKind"]["kind"] == "NodeMetrics" and resources["nodes"]["scope"] == "Cluster"
    assert resources["pods"]["scope"] == "Namespaced" and resources["pods"]["verbs"] == ["get", "list"]
    rl = api.request("GET", "/apis/metrics.k8s.io/v1beta1").json()
    assert [r["name"] for r in rl["resources"]] == ["nodes", "pods"]
    assert api.request("GET", "/apis/metrics.k8s.io").json()["preferredVersion"]["version"] == "v1beta1"


def test_node_and_pod_metrics_objects(api: AdminHTTP, ns: str, kubelet: tuple[FakeKubelet, str]) -> None:
    fake, node = kubelet
    fake.summary = _summary(node, ns)
    _pod(api, ns, "web", node, {"app": "web"})
    nm = api.request("GET", f"/apis/metrics.k8s.io/v1beta1/nodes/{node}")
    assert nm.status == 200, nm.body
    body = nm.json()
    assert (body["kind"], body["apiVersion"]) == ("NodeMetrics", "metrics.k8s.io/v1beta1")
    assert body["usage"] == {"cpu": "250m", "memory": "512Mi"}
    assert body["metadata"]["labels"] == {"tier": "test"} and body["window"]
    assert fake.requests[-1].path == "/stats/summary"
    listed = api.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=tier%3Dtest").json()
    assert [i["metadata"]["name"] for i in listed["items"]] == [node]
    pm = api.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods").json()
    assert pm["kind"] == "PodMetricsList"
    assert [(i["metadata"]["name"], i["containers"]) for i in pm["items"]] == [("web", [
        {"name": "app", "usage": {"cpu": "100m", "memory": "64Mi"}},
        {"name": "sidecar", "usage": {"cpu": "50m", "memory": str(32 * MiB + 512)}}])]
    assert api.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector=app%3Dnone"
                       ).json()["items"] == []
    missing = api.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/nope")
    assert (missing.status, missing.json()["message"]) == (404, 'pods.metrics.k8s.io "nope" not found')


def test_kubectl_top(apiserver: APIServerProcess, api: AdminHTTP, ns: str, kubelet: tuple[FakeKubelet, str],
                     tmp_path: Path) -> None:
    fake, node = kubelet
    fake.summary = _summary(node, ns)
    _pod(api, ns, "web", node, {"app": "web"})
    kubectl = Kubectl("kubectl", apiserver.kubeconfig, tmp_path)
    lines = kubectl("top", "node", node).splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert lines[1].split() == [node, "250m", "12%", "512Mi", "12%"]
    lines = kubectl("top", "pod", "-n", ns).splitlines()
    assert [line.split() for line in lines] == [["NAME", "CPU(cores)", "MEMORY(bytes)"], ["web", "150m", "96Mi"]]
    lines = kubectl("top", "pod", "web", "-n", ns, "--containers").splitlines()
    assert [line.split() for line in lines[1:]] == [["web", "app", "100m", "64Mi"], ["web", "sidecar", "50m", "32Mi"]]
