"""API semantics on the wire, one behaviour per test, each as upstream kube-apiserver shows it.

generation, status and scale subresources, dryRun, generateName, finalizers, graceful pod deletion and
binding, Service allocation, namespace lifecycle, Event and HPA version conversion, access reviews,
server-side apply, protobuf bodies, and bearer-token authentication.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.api.protobuf import encode_object
from tests.apiserver_process import APIServerProcess
from tests.integration.http import AdminHTTP, Reply

IMMORTAL = ("default", "kube-system", "kube-public")  # kube-node-lease may be deleted, as upstream
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def ok(reply: Reply, code: int = 200) -> dict[str, Any]:
    assert reply.status == code, (reply.status, reply.body[:800])
    body: dict[str, Any] = reply.json()
    return body


def failure(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    assert reply.status == code, (reply.status, reply.body[:800])
    status: dict[str, Any] = reply.json()
    assert status["kind"] == "Status" and status["status"] == "Failure", status
    assert status["code"] == code and status["reason"] == reason, status
    return status


def patch(api: AdminHTTP, path: str, body: Any, headers: dict[str, str] = MERGE) -> Reply:
    return api.request("PATCH", path, json.dumps(body).encode(), headers=headers)


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}], **spec}}


def configmap(name: str, **extra_meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **extra_meta}, "data": {"k": "v"}}


# ---------------------------------------------------------------- generation
def test_generation_bumps_on_spec_change_only(api: AdminHTTP, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    assert ok(api.request("POST", base, deployment("gen")), 201)["metadata"]["generation"] == 1
    labelled = ok(patch(api, f"{base}/gen", {"metadata": {"labels": {"x": "1"}}}))
    assert labelled["metadata"]["generation"] == 1
    scaled = ok(patch(api, f"{base}/gen", {"spec": {"replicas": 3}}))
    assert scaled["metadata"]["generation"] == 2
    same = ok(patch(api, f"{base}/gen", {"spec": {"replicas": 3}}))
    assert same["metadata"]["generation"] == 2
    assert same["metadata"]["resourceVersion"] == scaled["metadata"]["resourceVersion"]  # no-op write
    status = ok(api.request("GET", f"{base}/gen/status"))
    status["status"] = {"replicas": 3, "observedGeneration": 2}
    assert ok(api.request("PUT", f"{base}/gen/status", status))["metadata"]["generation"] == 2
    # ConfigMaps do not track generation at all.
    cm = ok(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("nogen")), 201)
    assert "generation" not in cm["metadata"]


def test_deployment_annotation_change_bumps_generation(api: AdminHTTP, ns: str) -> None:
    """Upstream's deployment strategy bumps generation on annotation changes too (they are copied to RSs)."""
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    ok(api.request("POST", base, deployment("ann")), 201)
    annotated = ok(patch(api, f"{base}/ann", {"metadata": {"annotations": {"a": "1"}}}))
    assert annotated["metadata"]["generation"] == 2
    relabelled = ok(patch(api, f"{base}/ann", {"metadata": {"labels": {"b": "1"}}}))
    assert relabelled["metadata"]["generation"] == 2


# ---------------------------------------------------------------- status subresource
def test_status_subresource_splits_spec_and_status(api: AdminHTTP, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    created = ok(api.request("POST", base, deployment("st", 2)), 201)
    assert created.get("status", {}) == {}

    body = ok(api.request("GET", f"{base}/st/status"))
    body["status"] = {"replicas": 7, "readyReplicas": 1, "observedGeneration": 1}
    body["spec"]["replicas"] = 9
    body["metadata"].setdefault("labels", {})["sneaky"] = "yes"
    after_status = ok(api.request("PUT", f"{base}/st/status", body))
    assert after_status["status"]["replicas"] == 7 and after_status["status"]["readyReplicas"] == 1
    assert after_status["spec"]["replicas"] == 2
    assert "sneaky" not in (after_status["metadata"].get("labels") or {})

    main = ok(api.request("GET", f"{base}/st"))
    main["status"] = {"replicas": 99}
    main["spec"]["replicas"] = 4
    after_main = ok(api.request("PUT", f"{base}/st", main))
    assert after_main["spec"]["replicas"] == 4
    assert after_main["status"]["replicas"] == 7

    merged = ok(patch(api, f"{base}/st/status", {"status": {"availableReplicas": 1}, "spec": {"replicas": 1}}))
    assert merged["status"]["availableReplicas"] == 1 and merged["spec"]["replicas"] == 4
    assert ok(api.request("GET", f"{base}/st"))["status"]["replicas"] == 7


def test_workload_status_write_may_set_annotations_but_not_labels(api: AdminHTTP, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    ok(api.request("POST", base, deployment("ann")), 201)
    body = ok(api.request("GET", f"{base}/ann/status"))
    body["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    body["metadata"]["labels"] = {"sneaky": "yes"}
    body["status"] = {"observedGeneration": 1}
    after = ok(api.request("PUT", f"{base}/ann/status", body))
    assert after["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert "sneaky" not in (after["metadata"].get("labels") or {})


def test_node_keeps_status_given_on_create(api: AdminHTTP) -> None:
    name = f"n-{uuid.uuid4().hex[:8]}"
    status = {"capacity": {"cpu": "4", "pods": "110"}, "conditions": [{"type": "Ready", "status": "True"}]}
    created = ok(api.request("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                       "metadata": {"name": name}, "status": status}), 201)
    try:
        assert created["status"]["capacity"] == status["capacity"]
        assert created["status"]["conditions"][0]["type"] == "Ready"
    finally:
        api.request("DELETE", f"/api/v1/nodes/{name}")


# ---------------------------------------------------------------- scale subresource
def test_scale_subresource_get_put_patch(api: AdminHTTP, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    created = ok(api.request("POST", base, deployment("sc", 2)), 201)
    scale = ok(api.request("GET", f"{base}/sc/scale"))
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    md = scale["metadata"]
    assert md["name"] == "sc" and md["namespace"] == ns
    assert md["uid"] == created["metadata"]["uid"]
    assert md["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert md["creationTimestamp"] == created["metadata"]["creationTimestamp"]
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 0, "selector": "app=sc"}

    scale["spec"]["replicas"] = 4
    put = ok(api.request("PUT", f"{base}/sc/scale", scale))
    assert put["spec"]["replicas"] == 4 and put["kind"] == "Scale"
    dep = ok(api.request("GET", f"{base}/sc"))
    assert dep["spec"]["replicas"] == 4 and dep["metadata"]["generation"] == 2
    assert put["metadata"]["resourceVersion"] == dep["metadata"]["resourceVersion"]

    # A Scale carrying the old resourceVersion is a conflict.
    failure(api.request("PUT", f"{base}/sc/scale", scale), 409, "Conflict")

    merged = ok(patch(api, f"{base}/sc/scale", {"spec": {"replicas": 5}}))
    assert merged["spec"]["replicas"] == 5
    jp = ok(patch(api, f"{base}/sc/scale", [{"op": "replace", "path": "/spec/replicas", "value": 6}], JSON_PATCH))
    assert jp["spec"]["replicas"] == 6
    strategic = ok(patch(api, f"{base}/sc/scale", {"spec": {"replicas": 0}},
                         {"Content-Type": "application/strategic-merge-patch+json"}))
    assert strategic["spec"]["replicas"] == 0
    assert ok(api.request("GET", f"{base}/sc"))["spec"]["replicas"] == 0
    negative = failure(patch(api, f"{base}/sc/scale", {"spec": {"replicas": -1}}), 422, "Invalid")
    assert negative["details"]["causes"][0]["field"] == "spec.replicas"


def test_scale_selector_of_set_based_selector(api: AdminHTTP, ns: str) -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
          "spec": {"replicas": 1,
                   "selector": {"matchLabels": {"app": "rs"},
                                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
                   "template": {"metadata": {"labels": {"app": "rs", "tier": "a"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    ok(api.request("POST", f"/apis/apps/v1/namespaces/{ns}/replicasets", rs), 201)
    scale = ok(api.request("GET", f"/apis/apps/v1/namespaces/{ns}/replicasets/rs/scale"))
    assert scale["status"]["selector"] == "app=rs,tier in (a,b)"


# ---------------------------------------------------------------- dryRun
def test_dry_run_persists_nothing(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    dry = ok(api.request("POST", f"{base}?dryRun=All", configmap("dry")), 201)
    assert dry["metadata"]["name"] == "dry" and dry["metadata"].get("uid")
    failure(api.request("GET", f"{base}/dry"), 404, "NotFound")

    real = ok(api.request("POST", base, configmap("real")), 201)
    rv = real["metadata"]["resourceVersion"]
    body = dict(real, data={"k": "changed"})
    assert ok(api.request("PUT", f"{base}/real?dryRun=All", body))["data"] == {"k": "changed"}
    assert ok(patch(api, f"{base}/real?dryRun=All", {"data": {"k": "patched"}}))["data"] == {"k": "patched"}
    deleted = ok(api.request("DELETE", f"{base}/real?dryRun=All"))
    assert deleted["status"] == "Success" or deleted.get("kind") == "ConfigMap"
    now = ok(api.request("GET", f"{base}/real"))
    assert now["data"] == {"k": "v"} and now["metadata"]["resourceVersion"] == rv

    # A dry-run Service takes no cluster IP: the same address can be taken for real afterwards.
    ip = _free_service_ip(api)
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/services?dryRun=All", service("dsvc", clusterIP=ip)), 201)
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/services", service("rsvc", clusterIP=ip)), 201)

    failure(api.request("POST", f"{base}?dryRun=Some", configmap("bad")), 422, "Invalid")


# ---------------------------------------------------------------- generateName
def test_generate_name(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    names = {ok(api.request("POST", base, body), 201)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3
    assert all(re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", n) for n in names), names
    got = ok(api.request("GET", f"{base}/{sorted(names)[0]}"))
    assert got["metadata"]["generateName"] == "gen-"


# ---------------------------------------------------------------- finalizers
def test_finalizer_holds_deletion_until_removed(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    ok(api.request("POST", base, configmap("fin", finalizers=["example.com/hold"])), 201)
    marked = ok(api.request("DELETE", f"{base}/fin"))
    assert marked["kind"] == "ConfigMap"
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    still = ok(api.request("GET", f"{base}/fin"))
    assert still["metadata"]["finalizers"] == ["example.com/hold"]
    assert still["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    # Other changes are still allowed while it waits; a new finalizer is not.
    ok(patch(api, f"{base}/fin", {"data": {"k": "still-writable"}}))
    failure(patch(api, f"{base}/fin", {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}),
            422, "Invalid")
    ok(patch(api, f"{base}/fin", [{"op": "remove", "path": "/metadata/finalizers"}], JSON_PATCH))
    failure(api.request("GET", f"{base}/fin"), 404, "NotFound")


@pytest.mark.parametrize(("policy", "finalizer"), [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")])
def test_delete_propagation_policy_adds_gc_finalizer(api: AdminHTTP, ns: str, policy: str, finalizer: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    ok(api.request("POST", base, deployment("prop")), 201)
    marked = ok(api.request("DELETE", f"{base}/prop?propagationPolicy={policy}"))
    assert marked["kind"] == "Deployment"
    assert marked["metadata"]["finalizers"] == [finalizer]
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["generation"] == 2
    assert ok(api.request("GET", f"{base}/prop"))["metadata"]["finalizers"] == [finalizer]
    ok(patch(api, f"{base}/prop", {"metadata": {"finalizers": None}}))
    failure(api.request("GET", f"{base}/prop"), 404, "NotFound")


# ---------------------------------------------------------------- pods: binding and graceful deletion
def bind(api: AdminHTTP, ns: str, name: str, node: str) -> Reply:
    return api.request("POST", f"/api/v1/namespaces/{ns}/pods/{name}/binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}})


def test_bound_pod_is_deleted_gracefully(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    ok(api.request("POST", base, pod("gp")), 201)
    bound = ok(bind(api, ns, "gp", "node-1"), 201)
    assert bound["kind"] == "Status" and bound["status"] == "Success"
    got = ok(api.request("GET", f"{base}/gp"))
    assert got["spec"]["nodeName"] == "node-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in got["status"]["conditions"])

    marked = ok(api.request("DELETE", f"{base}/gp"))
    assert marked["kind"] == "Pod"
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    held = ok(api.request("GET", f"{base}/gp"))
    assert held["metadata"]["deletionGracePeriodSeconds"] == 30
    # Deleting again without a shorter grace period changes nothing; a shorter one is taken.
    again = ok(api.request("DELETE", f"{base}/gp"))
    assert again["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    assert again["metadata"]["deletionGracePeriodSeconds"] == 30
    shorter = ok(api.request("DELETE", f"{base}/gp?gracePeriodSeconds=10"))
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 10
    # Binding a terminating pod is refused.
    refused = failure(bind(api, ns, "gp", "node-2"), 409, "Conflict")
    assert refused["message"] == ('Operation cannot be fulfilled on pods/binding "gp": '
                                  "pod gp is being deleted, cannot be assigned to a host")

    gone = ok(api.request("DELETE", f"{base}/gp?gracePeriodSeconds=0"))
    assert gone["kind"] == "Pod" and gone["metadata"]["name"] == "gp"
    failure(api.request("GET", f"{base}/gp"), 404, "NotFound")


def test_unbound_pod_is_deleted_at_once(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    ok(api.request("POST", base, pod("up")), 201)
    deleted = ok(api.request("DELETE", f"{base}/up"))
    assert deleted["kind"] == "Pod" and deleted["metadata"]["name"] == "up"
    failure(api.request("GET", f"{base}/up"), 404, "NotFound")


def test_binding_twice_is_409(api: AdminHTTP, ns: str) -> None:
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("bp")), 201)
    ok(bind(api, ns, "bp", "node-1"), 201)
    status = failure(bind(api, ns, "bp", "node-2"), 409, "Conflict")
    assert status["message"] == ('Operation cannot be fulfilled on pods/binding "bp": '
                                 'pod bp is already assigned to node "node-1"')
    assert status["details"] == {"name": "bp", "kind": "pods/binding"}
    assert ok(api.request("GET", f"/api/v1/namespaces/{ns}/pods/bp"))["spec"]["nodeName"] == "node-1"


def test_legacy_bindings_collection(api: AdminHTTP, ns: str) -> None:
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("lp")), 201)
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/bindings", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "lp"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-3"}}), 201)
    assert ok(api.request("GET", f"/api/v1/namespaces/{ns}/pods/lp"))["spec"]["nodeName"] == "node-3"


# ---------------------------------------------------------------- services
def _free_service_ip(api: AdminHTTP) -> str:
    used = {s["spec"].get("clusterIP") for s in ok(api.request("GET", "/api/v1/services"))["items"]}
    net = ipaddress.ip_network("10.96.0.0/12")
    while True:
        ip = str(net.network_address + random.randrange(1 << 16, net.num_addresses - 2))
        if ip not in used:
            return ip


def test_node_port_allocation(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    svc = ok(api.request("POST", base, service("np", type="NodePort",
                                                 ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81}])), 201)
    ports = [p["nodePort"] for p in svc["spec"]["ports"]]
    assert all(30000 <= p <= 32767 for p in ports) and len(set(ports)) == 2
    taken = ports[0]
    status = failure(api.request("POST", base, service("np2", type="NodePort",
                                                       ports=[{"port": 80, "nodePort": taken}])), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "spec.ports[0].nodePort"
    assert "provided port is already allocated" in status["message"]
    ok(api.request("DELETE", f"{base}/np"))
    again = ok(api.request("POST", base, service("np3", type="NodePort", ports=[{"port": 80, "nodePort": taken}])),
               201)
    assert again["spec"]["ports"][0]["nodePort"] == taken


def test_cluster_ip_conflict_and_reuse(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    ip = _free_service_ip(api)
    ok(api.request("POST", base, service("ip1", clusterIP=ip)), 201)
    status = failure(api.request("POST", base, service("ip2", clusterIP=ip)), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "spec.clusterIPs"
    assert status["message"] == (f'Service "ip2" is invalid: spec.clusterIPs: Invalid value: ["{ip}"]: '
                                 f"failed to allocate IP {ip}: provided IP is already allocated")
    out_of_range = failure(api.request("POST", base, service("ip3", clusterIP="192.168.0.10")), 422, "Invalid")
    assert "spec.clusterIPs" in out_of_range["message"]
    ok(api.request("DELETE", f"{base}/ip1"))
    reused = ok(api.request("POST", base, service("ip4", clusterIP=ip)), 201)
    assert reused["spec"]["clusterIP"] == ip and reused["spec"]["clusterIPs"] == [ip]
    headless = ok(api.request("POST", base, service("headless", clusterIP="None")), 201)
    assert headless["spec"]["clusterIP"] == "None"


def test_service_type_change_releases_node_ports(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    svc = ok(api.request("POST", base, service("tc", type="NodePort")), 201)
    node_port = svc["spec"]["ports"][0]["nodePort"]
    # Upstream drops the type-dependent nodePort when the type no longer needs one, and frees it.
    back = ok(patch(api, f"{base}/tc", {"spec": {"type": "ClusterIP"}}))
    assert back["spec"]["type"] == "ClusterIP"
    assert "nodePort" not in back["spec"]["ports"][0]
    ok(api.request("POST", base, service("tc2", type="NodePort", ports=[{"port": 80, "nodePort": node_port}])), 201)


def test_cluster_ip_is_immutable(api: AdminHTTP, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/services"
    svc = ok(api.request("POST", base, service("imm")), 201)
    other = _free_service_ip(api)
    status = failure(patch(api, f"{base}/imm", {"spec": {"clusterIP": other, "clusterIPs": [other]}}), 422, "Invalid")
    assert status["message"] == (f'Service "imm" is invalid: spec.clusterIPs[0]: Invalid value: ["{other}"]: '
                                 "may not change once set")
    assert ok(api.request("GET", f"{base}/imm"))["spec"]["clusterIP"] == svc["spec"]["clusterIP"]


def test_kubernetes_service_and_endpoints(api: AdminHTTP, apiserver: APIServerProcess) -> None:
    svc = ok(api.request("GET", "/api/v1/namespaces/default/services/kubernetes"))
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443 and svc["spec"]["ports"][0]["name"] == "https"
    assert svc["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    eps = ok(api.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes"))
    subset = eps["subsets"][0]
    assert subset["addresses"][0]["ip"] == "127.0.0.1"
    assert subset["ports"][0] == {"name": "https", "port": apiserver.port, "protocol": "TCP"}
    slc = ok(api.request("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"))
    assert slc["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
    assert slc["addressType"] == "IPv4"
    assert slc["endpoints"][0]["addresses"] == ["127.0.0.1"]
    assert slc["ports"][0]["port"] == apiserver.port


# ---------------------------------------------------------------- namespaces
def test_kube_node_lease_exists(api: AdminHTTP) -> None:
    assert ok(api.request("GET", "/api/v1/namespaces/kube-node-lease"))["status"]["phase"] == "Active"


@pytest.mark.parametrize("name", IMMORTAL)
def test_system_namespaces_exist_and_cannot_be_deleted(api: AdminHTTP, name: str) -> None:
    got = ok(api.request("GET", f"/api/v1/namespaces/{name}"))
    assert got["status"]["phase"] == "Active"
    assert got["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
    status = failure(api.request("DELETE", f"/api/v1/namespaces/{name}"), 403, "Forbidden")
    assert status["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    assert ok(api.request("GET", f"/api/v1/namespaces/{name}"))["status"]["phase"] == "Active"


def test_namespace_lifecycle(api: AdminHTTP) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    created = ok(api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                            "metadata": {"name": name}}), 201)
    assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    assert created["spec"] == {"finalizers": ["kubernetes"]}
    assert created["status"] == {"phase": "Active"}
    # The name label cannot be changed or removed.
    relabelled = ok(patch(api, f"/api/v1/namespaces/{name}",
                          {"metadata": {"labels": {"kubernetes.io/metadata.name": "other", "x": "1"}}}))
    assert relabelled["metadata"]["labels"] == {"kubernetes.io/metadata.name": name, "x": "1"}

    ok(api.request("POST", f"/api/v1/namespaces/{name}/configmaps", configmap("inside")), 201)
    deleting = ok(api.request("DELETE", f"/api/v1/namespaces/{name}"))
    assert deleting["kind"] == "Namespace"
    assert deleting["status"]["phase"] == "Terminating"
    assert deleting["metadata"]["deletionTimestamp"]
    assert ok(api.request("GET", f"/api/v1/namespaces/{name}"))["spec"]["finalizers"] == ["kubernetes"]
    refused = failure(api.request("POST", f"/api/v1/namespaces/{name}/configmaps", configmap("late")),
                      403, "Forbidden")
    assert f"unable to create new content in namespace {name} because it is being terminated" in refused["message"]

    final = ok(api.request("PUT", f"/api/v1/namespaces/{name}/finalize",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
                            "spec": {"finalizers": []}}))
    assert final["kind"] == "Namespace"
    failure(api.request("GET", f"/api/v1/namespaces/{name}"), 404, "NotFound")


# ---------------------------------------------------------------- events
def test_core_event_is_readable_as_events_k8s_io(api: AdminHTTP, ns: str) -> None:
    involved = {"kind": "Pod", "namespace": ns, "name": "p", "uid": "u-1", "apiVersion": "v1"}
    ok(api.request("POST", f"/api/v1/namespaces/{ns}/events", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.1"},
        "involvedObject": involved, "reason": "Started", "message": "Started container c", "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"}, "count": 2,
        "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:01:00Z"}), 201)
    ev = ok(api.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events/p.1"))
    assert ev["apiVersion"] == "events.k8s.io/v1" and ev["kind"] == "Event"
    assert ev["regarding"] == involved
    assert ev["note"] == "Started container c"
    assert ev["reason"] == "Started" and ev["type"] == "Normal"
    assert ev["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert ev["deprecatedCount"] == 2
    listed = ok(api.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events"))
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["p.1"]


def test_events_k8s_io_event_is_readable_as_core(api: AdminHTTP, ns: str) -> None:
    regarding = {"kind": "Pod", "namespace": ns, "name": "q", "uid": "u-2", "apiVersion": "v1"}
    ok(api.request("POST", f"/apis/events.k8s.io/v1/namespaces/{ns}/events", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "q.1"},
        "eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "example.com/ctl",
        "reportingInstance": "ctl-1", "action": "Scheduling", "reason": "Scheduled", "type": "Normal",
        "regarding": regarding, "note": "assigned q to node-1"}), 201)
    ev = ok(api.request("GET", f"/api/v1/namespaces/{ns}/events/q.1"))
    assert ev["apiVersion"] == "v1"
    assert ev["involvedObject"] == regarding
    assert ev["message"] == "assigned q to node-1"
    assert ev["reportingComponent"] == "example.com/ctl" and ev["reportingInstance"] == "ctl-1"
    assert ev["action"] == "Scheduling" and ev["reason"] == "Scheduled"


# ---------------------------------------------------------------- HPA versions
def test_hpa_v1_is_readable_as_v2(api: AdminHTTP, ns: str) -> None:
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    created = ok(api.request("POST", f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers", {
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": target, "minReplicas": 1, "maxReplicas": 5,
                 "targetCPUUtilizationPercentage": 70}}), 201)
    assert created["apiVersion"] == "autoscaling/v1"
    assert created["spec"]["targetCPUUtilizationPercentage"] == 70
    v2 = ok(api.request("GET", f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/h"))
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["scaleTargetRef"] == target
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert "targetCPUUtilizationPercentage" not in v2["spec"]
    back = ok(api.request("GET", f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers/h"))
    assert back["spec"]["targetCPUUtilizationPercentage"] == 70 and "metrics" not in back["spec"]


# ---------------------------------------------------------------- access reviews
def test_self_subject_access_review_allows_admin(api: AdminHTTP, ns: str) -> None:
    review = ok(api.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": ns, "verb": "create", "resource": "pods"}}}), 201)
    assert review["kind"] == "SelfSubjectAccessReview" and review["apiVersion"] == "authorization.k8s.io/v1"
    assert review["status"]["allowed"] is True
    assert review["spec"]["resourceAttributes"]["verb"] == "create"


# ---------------------------------------------------------------- server-side apply
def test_server_side_apply_over_http(api: AdminHTTP, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/ssa"
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: from-a\n  own: a\n"
    created = ok(api.request("PATCH", f"{path}?fieldManager=mgr-a", doc.encode(), headers=APPLY), 201)
    assert created["data"] == {"k": "from-a", "own": "a"}
    entries = created["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e["apiVersion"], e["fieldsType"]) for e in entries] == [
        ("mgr-a", "Apply", "v1", "FieldsV1")]
    assert entries[0]["fieldsV1"]["f:data"] == {"f:k": {}, "f:own": {}}
    assert entries[0]["time"]

    # Re-applying the same config is a no-op.
    same = ok(api.request("PATCH", f"{path}?fieldManager=mgr-a", doc.encode(), headers=APPLY))
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]

    other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: from-b\n"
    status = failure(api.request("PATCH", f"{path}?fieldManager=mgr-b", other.encode(), headers=APPLY),
                     409, "Conflict")
    assert status["message"].startswith("Apply failed with 1 conflict: conflict with \"mgr-a\"")
    assert status["message"].endswith(".data.k")
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": "conflict with \"mgr-a\"", "field": ".data.k"}]
    assert ok(api.request("GET", path))["data"]["k"] == "from-a"

    forced = ok(api.request("PATCH", f"{path}?fieldManager=mgr-b&force=true", other.encode(), headers=APPLY))
    assert forced["data"] == {"k": "from-b", "own": "a"}
    owners = {(e["manager"], e["operation"]): e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners[("mgr-b", "Apply")]["f:data"] == {"f:k": {}}
    assert owners[("mgr-a", "Apply")]["f:data"] == {"f:own": {}}

    # A plain update takes ownership of what it changes, without conflicts.
    edited = ok(api.request("PATCH", f"{path}?fieldManager=editor", json.dumps({"data": {"own": "e"}}).encode(),
                            headers=MERGE))
    entries = {(e["manager"], e["operation"]): e["fieldsV1"] for e in edited["metadata"]["managedFields"]}
    assert entries[("editor", "Update")]["f:data"] == {"f:own": {}}
    assert ("mgr-a", "Apply") not in entries
    assert entries[("mgr-b", "Apply")]["f:data"] == {"f:k": {}}
    assert ("mgr-b", "Update") not in entries

    # A fieldManager is required for apply.
    failure(api.request("PATCH", path, other.encode(), headers=APPLY), 422, "Invalid")


def test_server_side_apply_owns_prunes_and_shares(api: AdminHTTP, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/ssa2"

    def apply(manager: str, data: dict[str, str]) -> dict[str, Any]:
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa2"}, "data": data}
        reply = api.request("PATCH", f"{path}?fieldManager={manager}", json.dumps(doc).encode(), headers=APPLY)
        assert reply.status in (200, 201), reply.body[:500]
        body: dict[str, Any] = reply.json()
        return body

    def owners(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(e["manager"], e["operation"]): e["fieldsV1"].get("f:data", {})
                for e in obj["metadata"]["managedFields"]}

    apply("one", {"a": "1", "b": "2"})
    # An apply to an existing object is recorded as an Apply, not as an Update.
    second = apply("one", {"a": "1", "b": "2", "c": "3"})
    assert owners(second) == {("one", "Apply"): {"f:a": {}, "f:b": {}, "f:c": {}}}
    # Dropping a field from the applied config removes it (the applier was its only owner).
    pruned = apply("one", {"a": "1", "c": "3"})
    assert pruned["data"] == {"a": "1", "c": "3"}
    assert owners(pruned) == {("one", "Apply"): {"f:a": {}, "f:c": {}}}
    # Applying the same value as another applier is no conflict: both own the field.
    shared = apply("two", {"a": "1"})
    assert owners(shared) == {("one", "Apply"): {"f:a": {}, "f:c": {}}, ("two", "Apply"): {"f:a": {}}}
    # Then "one" giving up the field leaves it in place, owned by "two" alone.
    released = apply("one", {"c": "3"})
    assert released["data"] == {"a": "1", "c": "3"}
    assert owners(released) == {("one", "Apply"): {"f:c": {}}, ("two", "Apply"): {"f:a": {}}}


# ---------------------------------------------------------------- protobuf
def test_protobuf_create_of_a_deployment(api: AdminHTTP, ns: str) -> None:
    body = encode_object(deployment("pb", 2))
    reply = api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body,
                        headers={"Content-Type": "application/vnd.kubernetes.protobuf",
                                 "Accept": "application/json"})
    created = ok(reply, 201)
    assert reply.headers.get("Content-Type", "").startswith("application/json")
    assert created["kind"] == "Deployment" and created["metadata"]["name"] == "pb"
    assert created["metadata"]["namespace"] == ns
    assert created["spec"]["replicas"] == 2
    assert created["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"  # defaults applied as for JSON
    got = ok(api.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/pb"))
    assert got["metadata"]["uid"] == created["metadata"]["uid"]


# ---------------------------------------------------------------- bearer tokens (own apiserver)
@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    root = Path(tmp_path_factory.mktemp("tokens"))
    token_file = root / "tokens.csv"
    token_file.write_text('good-token-123,alice,uid-alice,"devs,ops"\n')
    server = APIServerProcess(root / "data", extra_args=[f"--token-auth-file={token_file}"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def bearer(server: APIServerProcess, token: str | None, method: str = "GET", path: str = "/api/v1/namespaces",
           body: Any = None) -> Reply:
    api = AdminHTTP(server.kubeconfig)
    conn = http.client.HTTPSConnection(api.host, api.port, context=api.ctx, timeout=15)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return Reply(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def test_bearer_token_auth(token_server: APIServerProcess) -> None:
    # alice authenticates; with no RBAC bindings she may only discover and ask about herself (as upstream).
    denied = failure(bearer(token_server, "good-token-123"), 403, "Forbidden")
    assert denied["message"] == ('namespaces is forbidden: User "alice" cannot list resource "namespaces" '
                                 'in API group "" at the cluster scope')
    assert ok(bearer(token_server, "good-token-123", path="/api"))["kind"] in ("APIVersions", "APIGroupDiscoveryList")
    status = failure(bearer(token_server, "wrong-token"), 401, "Unauthorized")
    assert status["message"] == "Unauthorized"
    review = ok(bearer(token_server, "good-token-123", "POST",
                       "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                       {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                        "spec": {"resourceAttributes": {"verb": "list", "resource": "namespaces"}}}), 201)
    assert review["status"]["allowed"] is False
    whoami = ok(bearer(token_server, "good-token-123", "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}), 201)
    assert whoami["status"]["userInfo"]["username"] == "alice"
    assert whoami["status"]["userInfo"]["groups"] == ["devs", "ops", "system:authenticated"]
    # Health endpoints stay open without credentials.
    assert bearer(token_server, None, path="/readyz").status == 200


def test_replace_of_a_service_manifest_keeps_its_cluster_ip(api, ns) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/v1/namespaces/{ns}/services"
    manifest = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "replaced"},
                "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    created = api.request("POST", base, manifest)
    assert created.status == 201, created.body
    ip = created.json()["spec"]["clusterIP"]
    manifest["spec"]["ports"] = [{"port": 81}]
    replaced = api.request("PUT", f"{base}/replaced", manifest)
    assert replaced.status == 200, replaced.body
    assert replaced.json()["spec"]["clusterIP"] == ip and replaced.json()["spec"]["ports"][0]["port"] == 81


def test_node_port_changes_racing_other_writes_neither_fail_nor_leak(api, ns) -> None:  # type: ignore[no-untyped-def]
    import concurrent.futures

    base = f"/api/v1/namespaces/{ns}/services"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "racy"},
           "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80, "nodePort": 31500}]}}
    assert api.request("POST", base, svc).status == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    strategic = {"Content-Type": "application/strategic-merge-patch+json"}

    def label(i: int) -> int:
        return api.request("PATCH", f"{base}/racy", f'{{"metadata":{{"labels":{{"n":"{i}"}}}}}}'.encode(),
                           headers=merge).status

    def move(port: int) -> int:
        body = f'{{"spec":{{"ports":[{{"port":80,"nodePort":{port}}}]}}}}'.encode()
        return api.request("PATCH", f"{base}/racy", body, headers=strategic).status

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        labels = [pool.submit(label, i) for i in range(40)]
        moves = [move(31501 + i) for i in range(20)]
        statuses = [f.result() for f in labels]
        assert statuses == [200] * 40, statuses
    assert moves == [200] * 20
    final = api.request("GET", f"{base}/racy").json()["spec"]["ports"][0]["nodePort"]
    assert final == 31520
    # Every port the service moved away from is free again: another Service can take each of them.
    for port in range(31500, 31520):
        other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"taker-{port}"},
                 "spec": {"type": "NodePort", "selector": {"app": "y"}, "ports": [{"port": 80, "nodePort": port}]}}
        reply = api.request("POST", base, other)
        assert reply.status == 201, (port, reply.body)
