"""The official `kubernetes` Python client (sync) drives the real apiserver unchanged.

Each test configures a private ApiClient from the admin kubeconfig (never the global default) and does
create/get/list/watch/patch/replace/delete round trips the way applications and operators do. The client's
models type every field as optional, so tests take the API objects as `Any` and let assertions do the checking.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from tests.apiserver_process import APIServerProcess

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


@pytest.fixture(scope="module")
def api_client(apiserver: APIServerProcess) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(apiserver.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        yield api


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture
def namespace(core: Any) -> Iterator[str]:
    name = f"py-{uuid.uuid4().hex[:10]}"
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # what the serviceaccount controller would make: pods need their account (ServiceAccount admission)
    core.create_namespaced_service_account(name, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "default"}})
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except ApiException:
            pass


def deployment_body(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}},
    }


def status_of(exc: ApiException) -> dict[str, Any]:
    assert exc.body is not None
    body: dict[str, Any] = json.loads(exc.body)
    return body


# ---------------------------------------------------------------- namespaces
def test_namespace_round_trip(core: Any) -> None:
    name = f"py-ns-{uuid.uuid4().hex[:8]}"
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"a": "1"})))
    assert created.metadata.name == name
    assert created.metadata.uid and created.metadata.resource_version
    assert created.status.phase == "Active"
    got = core.read_namespace(name)
    assert got.metadata.uid == created.metadata.uid
    listed = core.list_namespace(label_selector="a=1")
    assert name in [n.metadata.name for n in listed.items]
    assert listed.metadata.resource_version
    patched = core.patch_namespace(name, {"metadata": {"labels": {"b": "2"}}})
    assert patched.metadata.labels["a"] == "1" and patched.metadata.labels["b"] == "2"
    merged = core.patch_namespace(name, {"metadata": {"labels": {"a": None}}},
                                  _content_type="application/merge-patch+json")
    assert "a" not in merged.metadata.labels and merged.metadata.labels["b"] == "2"
    jp = core.patch_namespace(name, [{"op": "add", "path": "/metadata/annotations", "value": {"n": "1"}}])
    assert jp.metadata.annotations == {"n": "1"}
    jp.metadata.labels["c"] = "3"
    replaced = core.replace_namespace(name, jp)
    assert replaced.metadata.labels["c"] == "3"
    assert replaced.spec.finalizers == ["kubernetes"]
    core.delete_namespace(name)  # answers with the Namespace, which the client cannot type as V1Status
    terminating = core.read_namespace(name)
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None


# ---------------------------------------------------------------- configmaps
def test_configmap_round_trip(core: Any, namespace: str) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm", labels={"tier": "x"}), data={"a": "1"})
    created = core.create_namespaced_config_map(namespace, body)
    assert created.data == {"a": "1"}
    assert created.metadata.namespace == namespace
    got = core.read_namespaced_config_map("cm", namespace)
    assert got.metadata.resource_version == created.metadata.resource_version

    listed = core.list_namespaced_config_map(namespace, label_selector="tier=x")
    assert [c.metadata.name for c in listed.items] == ["cm"]
    assert core.list_namespaced_config_map(namespace, label_selector="tier=y").items == []
    assert "cm" in [c.metadata.name for c in core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={namespace}").items]

    # A dict body goes as a strategic merge patch, a list as a JSON patch; merge patch on request.
    strategic = core.patch_namespaced_config_map("cm", namespace, {"data": {"b": "2"}})
    assert strategic.data == {"a": "1", "b": "2"}
    jsonp = core.patch_namespaced_config_map("cm", namespace, [{"op": "replace", "path": "/data/a", "value": "10"},
                                                               {"op": "remove", "path": "/data/b"}])
    assert jsonp.data == {"a": "10"}
    merge = core.patch_namespaced_config_map("cm", namespace, {"data": {"a": None, "c": "3"}},
                                             _content_type="application/merge-patch+json")
    assert merge.data == {"c": "3"}
    assert int(merge.metadata.resource_version) > int(jsonp.metadata.resource_version)

    merge.data = {"d": "4"}
    replaced = core.replace_namespaced_config_map("cm", namespace, merge)
    assert replaced.data == {"d": "4"}
    # A replace with the stale resourceVersion is refused with 409.
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("cm", namespace, merge)
    assert exc.value.status == 409
    assert status_of(exc.value)["reason"] == "Conflict"

    # Client 37 types delete replies as `object`: the Status arrives as a dict.
    status = core.delete_namespaced_config_map("cm", namespace)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "cm" and status["details"]["kind"] == "configmaps"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("cm", namespace)
    assert exc.value.status == 404
    assert status_of(exc.value)["message"] == 'configmaps "cm" not found'


def test_list_pagination(core: Any, namespace: str) -> None:
    for i in range(5):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"page-{i}"}})
    first = core.list_namespaced_config_map(namespace, limit=2)
    assert [c.metadata.name for c in first.items] == ["page-0", "page-1"]
    token = first.metadata._continue
    assert token
    names = [c.metadata.name for c in first.items]
    while token:
        page = core.list_namespaced_config_map(namespace, limit=2, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names.extend(c.metadata.name for c in page.items)
        token = page.metadata._continue
    assert names == [f"page-{i}" for i in range(5)]


def test_create_existing_is_409(core: Any, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "dup"}})
    assert exc.value.status == 409
    s = status_of(exc.value)
    assert s["reason"] == "AlreadyExists" and s["message"] == 'configmaps "dup" already exists'


# ---------------------------------------------------------------- pods
def test_pod_round_trip(core: Any, namespace: str) -> None:
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p1", labels={"run": "p1"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36",
                                                                            command=["sleep", "3600"])]))
    created = core.create_namespaced_pod(namespace, pod)
    assert created.status.phase == "Pending"
    assert created.spec.restart_policy == "Always"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.spec.termination_grace_period_seconds == 30
    assert created.spec.dns_policy == "ClusterFirst"
    assert created.status.qos_class == "BestEffort"

    got = core.read_namespaced_pod("p1", namespace)
    assert got.metadata.uid == created.metadata.uid
    assert [p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector="run=p1").items] == ["p1"]
    assert core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items == []

    patched = core.patch_namespaced_pod("p1", namespace, {"metadata": {"annotations": {"x": "y"}}})
    assert patched.metadata.annotations == {"x": "y"}
    # Strategic merge on a list keyed by name: the container's image changes, the container stays one.
    patched = core.patch_namespaced_pod("p1", namespace,
                                        {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}})
    assert [(c.name, c.image) for c in patched.spec.containers] == [("c", "busybox:1.37")]

    merged = core.patch_namespaced_pod("p1", namespace, {"metadata": {"labels": {"run": None, "m": "1"}}},
                                       _content_type="application/merge-patch+json")
    assert merged.metadata.labels == {"m": "1"}
    jp = core.patch_namespaced_pod("p1", namespace, [{"op": "replace", "path": "/spec/containers/0/image",
                                                      "value": "busybox:1.36"}])
    assert jp.spec.containers[0].image == "busybox:1.36"
    jp.metadata.labels["r"] = "1"
    replaced = core.replace_namespaced_pod("p1", namespace, jp)
    assert replaced.metadata.labels == {"m": "1", "r": "1"}
    # The pod spec is immutable apart from a few fields: changing a command is refused with 422.
    jp = core.read_namespaced_pod("p1", namespace)
    jp.spec.containers[0].command = ["sleep", "1"]
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_pod("p1", namespace, jp)
    assert exc.value.status == 422
    assert status_of(exc.value)["reason"] == "Invalid"

    status = core.read_namespaced_pod_status("p1", namespace)
    status.status.phase = "Running"
    updated = core.replace_namespaced_pod_status("p1", namespace, status)
    assert updated.status.phase == "Running"
    assert [p.metadata.name for p in core.list_namespaced_pod(namespace,
                                                              field_selector="status.phase=Running").items] == ["p1"]

    # An unscheduled pod goes at once; the delete answers with the pod.
    deleted = core.delete_namespaced_pod("p1", namespace)
    assert isinstance(deleted, client.V1Pod)
    assert deleted.metadata is not None and deleted.metadata.name == "p1"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("p1", namespace)
    assert exc.value.status == 404


# ---------------------------------------------------------------- deployments
def test_deployment_round_trip(apps: Any, namespace: str) -> None:
    created = apps.create_namespaced_deployment(namespace, deployment_body("web"))
    assert created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600

    got = apps.read_namespaced_deployment("web", namespace)
    assert got.spec.replicas == 2
    assert [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items] == ["web"]

    scale = apps.read_namespaced_deployment_scale("web", namespace)
    assert scale.spec.replicas == 2
    scaled = apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3
    assert scaled.status.selector == "app=web"
    assert apps.read_namespaced_deployment("web", namespace).spec.replicas == 3

    status = apps.read_namespaced_deployment_status("web", namespace)
    assert status.metadata.name == "web"
    assert status.spec.replicas == 3

    merged = apps.patch_namespaced_deployment("web", namespace, {"spec": {"paused": True}},
                                              _content_type="application/merge-patch+json")
    assert merged.spec.paused is True
    jp = apps.patch_namespaced_deployment("web", namespace,
                                          [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                                            "value": "busybox:1.37"}])
    assert jp.spec.template.spec.containers[0].image == "busybox:1.37"
    assert jp.metadata.generation > created.metadata.generation

    jp.spec.replicas = 1
    replaced = apps.replace_namespaced_deployment("web", namespace, jp)
    assert replaced.spec.replicas == 1

    status_reply = apps.delete_namespaced_deployment("web", namespace)
    assert status_reply["status"] == "Success" and status_reply["details"]["group"] == "apps"
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("web", namespace)
    assert exc.value.status == 404
    assert status_of(exc.value)["message"] == 'deployments.apps "web" not found'


# ---------------------------------------------------------------- services
def test_service_gets_cluster_ip(core: Any, namespace: str) -> None:
    svc = client.V1Service(metadata=client.V1ObjectMeta(name="svc"),
                           spec=client.V1ServiceSpec(selector={"app": "web"},
                                                     ports=[client.V1ServicePort(port=80, target_port=8080)]))
    created = core.create_namespaced_service(namespace, svc)
    ip = created.spec.cluster_ip
    assert ip and ipaddress.ip_address(ip) in SERVICE_CIDR
    assert created.spec.cluster_ips == [ip]
    assert created.spec.type == "ClusterIP"
    assert created.spec.ports[0].protocol == "TCP"
    assert created.spec.ports[0].target_port == 8080
    assert created.spec.session_affinity == "None"
    got = core.read_namespaced_service("svc", namespace)
    assert got.spec.cluster_ip == ip
    patched = core.patch_namespaced_service("svc", namespace, {"metadata": {"labels": {"l": "v"}}})
    assert patched.spec.cluster_ip == ip and patched.metadata.labels == {"l": "v"}
    merged = core.patch_namespaced_service("svc", namespace, {"spec": {"selector": {"app": "api"}}},
                                           _content_type="application/merge-patch+json")
    assert merged.spec.selector == {"app": "api"}
    jp = core.patch_namespaced_service("svc", namespace, [{"op": "replace", "path": "/spec/ports/0/port",
                                                           "value": 81}])
    assert jp.spec.ports[0].port == 81 and jp.spec.cluster_ip == ip
    jp.spec.type = "NodePort"
    replaced = core.replace_namespaced_service("svc", namespace, jp)
    assert replaced.spec.cluster_ip == ip
    assert 30000 <= replaced.spec.ports[0].node_port <= 32767
    assert [s.metadata.name for s in core.list_namespaced_service(namespace).items] == ["svc"]
    core.delete_namespaced_service("svc", namespace)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_service("svc", namespace)
    assert exc.value.status == 404


# ---------------------------------------------------------------- watch
def test_watch_sees_added_modified_deleted_in_order(core: Any, namespace: str) -> None:
    rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            core.create_namespaced_config_map(namespace, {"metadata": {"name": "w"}, "data": {"k": "1"}})
            core.patch_namespaced_config_map("w", namespace, {"data": {"k": "2"}})
            core.delete_namespaced_config_map("w", namespace)
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    seen: list[tuple[str, str, dict[str, str] | None]] = []
    w = watch.Watch()
    try:
        for ev in w.stream(core.list_namespaced_config_map, namespace, resource_version=rv, timeout_seconds=10):
            obj = ev["object"]
            assert isinstance(obj, client.V1ConfigMap) and obj.metadata is not None
            seen.append((ev["type"], str(obj.metadata.name), obj.data))
            if ev["type"] == "DELETED":
                w.stop()
    finally:
        w.stop()
        t.join(10)
    assert not errors, errors
    assert [s[0] for s in seen] == ["ADDED", "MODIFIED", "DELETED"]
    assert [s[2] for s in seen] == [{"k": "1"}, {"k": "2"}, {"k": "2"}]
    assert {s[1] for s in seen} == {"w"}


def _watch_round_trip(list_fn: Any, list_args: tuple[Any, ...], name: str, write: Any) -> list[str]:
    """Start a watch from the current list RV (field selector on the name), run `write`, collect event types."""
    rv = list_fn(*list_args).metadata.resource_version
    failures: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as e:
            failures.append(e)

    t = threading.Thread(target=run)
    t.start()
    types: list[str] = []
    w = watch.Watch()
    try:
        for ev in w.stream(list_fn, *list_args, resource_version=rv, field_selector=f"metadata.name={name}",
                           timeout_seconds=10):
            assert ev["object"].metadata.name == name
            types.append(ev["type"])
            if ev["type"] == "DELETED":
                w.stop()
    finally:
        w.stop()
        t.join(10)
    assert not failures, failures
    return types


def test_watch_each_kind(core: Any, apps: Any, namespace: str) -> None:
    pod = {"metadata": {"name": "wp"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    svc = {"metadata": {"name": "ws"}, "spec": {"ports": [{"port": 80}]}}

    def pods() -> None:
        core.create_namespaced_pod(namespace, pod)
        core.patch_namespaced_pod("wp", namespace, {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_pod("wp", namespace)

    def services() -> None:
        core.create_namespaced_service(namespace, svc)
        core.patch_namespaced_service("ws", namespace, {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespaced_service("ws", namespace)

    def deployments() -> None:
        apps.create_namespaced_deployment(namespace, deployment_body("wd"))
        apps.patch_namespaced_deployment_scale("wd", namespace, {"spec": {"replicas": 5}})
        apps.delete_namespaced_deployment("wd", namespace)

    ns_name = f"py-w-{uuid.uuid4().hex[:8]}"

    def namespaces() -> None:
        core.create_namespace({"metadata": {"name": ns_name}})
        core.patch_namespace(ns_name, {"metadata": {"labels": {"x": "1"}}})
        core.delete_namespace(ns_name)
        core.replace_namespace_finalize(ns_name, {"metadata": {"name": ns_name}, "spec": {"finalizers": []}})

    want = ["ADDED", "MODIFIED", "DELETED"]
    assert _watch_round_trip(core.list_namespaced_pod, (namespace,), "wp", pods) == want
    assert _watch_round_trip(core.list_namespaced_service, (namespace,), "ws", services) == want
    assert _watch_round_trip(apps.list_namespaced_deployment, (namespace,), "wd", deployments) == want
    # Namespace deletion: MODIFIED when it turns Terminating, DELETED once finalized.
    assert _watch_round_trip(core.list_namespace, (), ns_name, namespaces) == ["ADDED", "MODIFIED", "MODIFIED",
                                                                               "DELETED"]


def test_watch_ends_at_timeout_seconds(core: Any, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "pre"}})
    started = time.monotonic()
    events = list(watch.Watch().stream(core.list_namespaced_config_map, namespace, timeout_seconds=2))
    elapsed = time.monotonic() - started
    # No resourceVersion: synthetic ADDED for what exists, then nothing until the server closes the stream.
    names = [(e["type"], e["object"].metadata.name) for e in events]
    assert ("ADDED", "pre") in names
    assert {t for t, _ in names} == {"ADDED"}
    assert 1.5 <= elapsed < 8, elapsed


# ---------------------------------------------------------------- dynamic client (discovery)
def test_dynamic_client_get_and_list(api_client: Any, core: Any, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "dyn", "labels": {"d": "1"}},
                                                  "data": {"x": "y"}})
    dyn = DynamicClient(api_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert cms.namespaced and cms.name == "configmaps"
    one = cms.get(name="dyn", namespace=namespace)
    assert one.kind == "ConfigMap" and one.data.x == "y"
    listed = cms.get(namespace=namespace, label_selector="d=1")
    assert listed.kind == "ConfigMapList"
    assert [i.metadata.name for i in listed.items] == ["dyn"]

    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(body=deployment_body("dyn-web", 1), namespace=namespace)
    got = deployments.get(name="dyn-web", namespace=namespace)
    assert got.spec.replicas == 1
    assert [d.metadata.name for d in deployments.get(namespace=namespace).items] == ["dyn-web"]
    scale = dyn.resources.get(api_version="apps/v1", kind="Deployment").subresources["scale"]
    assert scale.get(name="dyn-web", namespace=namespace).spec.replicas == 1

    namespaces = dyn.resources.get(api_version="v1", kind="Namespace")
    assert not namespaces.namespaced
    assert namespace in [n.metadata.name for n in namespaces.get().items]
    with pytest.raises(Exception) as exc:
        cms.get(name="missing", namespace=namespace)
    assert getattr(exc.value, "status", None) == 404
