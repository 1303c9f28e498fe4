"""Server-side Table printers: columns and cells must match what a real apiserver sends for `kubectl get`."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pyk8s.api import printers
from pyk8s.api.printers.duration import (
    human_duration,
    parse_timestamp,
    short_human_duration,
    translate_timestamp_since,
)
from pyk8s.api.resources import RESOURCES

NOW = datetime.datetime(2024, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)
MIN = 60
HOUR = 3600
DAY = 86400


def ago(seconds: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float = 3600, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(age), **extra}


def cells(group: str, plural: str, obj: dict[str, Any]) -> list[Any]:
    return printers.row_cells(group, plural, obj, NOW)


def names(group: str, plural: str) -> list[str]:
    return [c["name"] for c in printers.columns_for(group, plural)]


def wide(group: str, plural: str) -> list[str]:
    return [c["name"] for c in printers.columns_for(group, plural) if c["priority"] == 1]


# ------------------------------------------------------------------------------------- human_duration

@pytest.mark.parametrize(("seconds", "expected"), [
    (-5, "<invalid>"), (-2, "<invalid>"), (-1.5, "0s"), (-0.5, "0s"), (0, "0s"), (45, "45s"), (119.9, "119s"),
    (120, "2m"), (125, "2m5s"), (599, "9m59s"), (600, "10m"), (33 * MIN, "33m"), (3 * HOUR - 1, "179m"),
    (3 * HOUR, "3h"), (5 * HOUR + 12 * MIN, "5h12m"), (8 * HOUR - 1, "7h59m"), (8 * HOUR, "8h"), (22 * HOUR, "22h"),
    (48 * HOUR - 1, "47h"), (2 * DAY, "2d"), (3 * DAY + 4 * HOUR, "3d4h"), (8 * DAY - 1, "7d23h"), (8 * DAY, "8d"),
    (45 * DAY, "45d"), (729 * DAY, "729d"), (730 * DAY, "2y"), (2 * 365 * DAY + 30 * DAY, "2y30d"),
    (8 * 365 * DAY - DAY, "7y364d"), (8 * 365 * DAY, "8y"), (20 * 365 * DAY + 100 * DAY, "20y"),
])
def test_human_duration_boundaries(seconds: float, expected: str) -> None:
    assert human_duration(seconds) == expected


@pytest.mark.parametrize(("seconds", "expected"), [
    (-3, "<invalid>"), (-1, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (3600, "1h"), (DAY - 1, "23h"),
    (DAY, "1d"), (364 * DAY, "364d"), (365 * DAY, "1y"), (800 * DAY, "2y"),
])
def test_short_human_duration(seconds: float, expected: str) -> None:
    assert short_human_duration(seconds) == expected


def test_translate_timestamp_since() -> None:
    assert translate_timestamp_since(ago(45), NOW) == "45s"
    assert translate_timestamp_since("2024-06-01T11:59:15.123456Z", NOW) == "44s"  # MicroTime
    assert translate_timestamp_since("2024-06-01T13:59:00+02:00", NOW) == "60s"
    assert translate_timestamp_since(None, NOW) == "<unknown>"
    assert translate_timestamp_since("", NOW) == "<unknown>"
    assert translate_timestamp_since("0001-01-01T00:00:00Z", NOW) == "<unknown>"
    assert translate_timestamp_since("not a time", NOW) == "<unknown>"
    naive_now = NOW.replace(tzinfo=None)
    assert translate_timestamp_since(ago(3 * DAY + 4 * HOUR), naive_now) == "3d4h"
    assert parse_timestamp("0001-01-01T00:00:00Z") is None


# ----------------------------------------------------------------------------------------------- pods

def container_status(name: str, state: dict[str, Any], *, ready: bool = False, restarts: int = 0,
                     last: dict[str, Any] | None = None, started: bool | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {"name": name, "state": state, "ready": ready, "restartCount": restarts,
                          "image": "nginx", "imageID": "", "lastState": last or {}}
    if started is not None:
        cs["started"] = started
    return cs


def pod(name: str = "web", *, phase: str = "Running", containers: int = 1, statuses: list[Any] | None = None,
        init: list[dict[str, Any]] | None = None, init_statuses: list[Any] | None = None,
        conditions: list[Any] | None = None, node: str = "node-1", ip: str = "10.244.0.7",
        status_reason: str = "", nominated: str = "", spec_extra: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]}
    if node:
        spec["nodeName"] = node
    if init is not None:
        spec["initContainers"] = init
    status: dict[str, Any] = {"phase": phase}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if conditions is not None:
        status["conditions"] = conditions
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    if status_reason:
        status["reason"] = status_reason
    if nominated:
        status["nominatedNodeName"] = nominated
    spec.update(spec_extra or {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta(name, 300), **(metadata or {})}, "spec": spec,
            "status": status}


RUNNING = {"running": {"startedAt": ago(200)}}
READY_CONDS = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
               {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}]
NOT_READY_CONDS = [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "False"}]
TERMINATED_OK = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ago(100)}}


POD_CASES: list[tuple[str, dict[str, Any], list[Any]]] = [
    ("pending-unscheduled",
     pod(phase="Pending", node="", ip="",
         conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]),
     ["web", "0/1", "Pending", "0", "5m", "<none>", "<none>", "<none>", "<none>"]),
    ("scheduling-gated",
     pod(phase="Pending", node="", ip="",
         conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]),
     ["web", "0/1", "SchedulingGated", "0", "5m", "<none>", "<none>", "<none>", "<none>"]),
    ("container-creating",
     pod(phase="Pending", ip="", statuses=[container_status("c0", {"waiting": {"reason": "ContainerCreating"}})]),
     ["web", "0/1", "ContainerCreating", "0", "5m", "<none>", "node-1", "<none>", "<none>"]),
    ("running",
     pod(statuses=[container_status("c0", RUNNING, ready=True)], conditions=READY_CONDS),
     ["web", "1/1", "Running", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("running-not-ready-two-containers",
     pod(containers=2, statuses=[container_status("c0", RUNNING, ready=True), container_status("c1", RUNNING)]),
     ["web", "1/2", "Running", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("crash-loop-backoff",
     pod(statuses=[container_status(
         "c0", {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}, restarts=5,
         last={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(5 * MIN)}})]),
     ["web", "0/1", "CrashLoopBackOff", "5 (5m ago)", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("restart-time-is-latest-of-all-containers",
     pod(containers=2, statuses=[
         container_status("c0", RUNNING, ready=True, restarts=1,
                          last={"terminated": {"exitCode": 1, "finishedAt": ago(2 * HOUR)}}),
         container_status("c1", RUNNING, ready=True, restarts=2,
                          last={"terminated": {"exitCode": 1, "finishedAt": ago(45)}})], conditions=READY_CONDS),
     ["web", "2/2", "Running", "3 (45s ago)", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("image-pull-backoff",
     pod(phase="Pending", statuses=[container_status("c0", {"waiting": {"reason": "ImagePullBackOff"}})]),
     ["web", "0/1", "ImagePullBackOff", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("completed",
     pod(phase="Succeeded", statuses=[container_status("c0", TERMINATED_OK)]),
     ["web", "0/1", "Completed", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("error",
     pod(phase="Failed", statuses=[container_status("c0", {"terminated": {"exitCode": 1, "reason": "Error"}})]),
     ["web", "0/1", "Error", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("exit-code-without-reason",
     pod(phase="Failed", statuses=[container_status("c0", {"terminated": {"exitCode": 137}})]),
     ["web", "0/1", "ExitCode:137", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("signal-without-reason",
     pod(phase="Failed", statuses=[container_status("c0", {"terminated": {"exitCode": 0, "signal": 9}})]),
     ["web", "0/1", "Signal:9", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("completed-but-one-container-running-and-ready",
     pod(containers=2, statuses=[container_status("c0", RUNNING, ready=True), container_status("c1", TERMINATED_OK)],
         conditions=READY_CONDS),
     ["web", "1/2", "Running", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("completed-but-one-container-running-pod-not-ready",
     pod(containers=2, statuses=[container_status("c0", RUNNING, ready=True), container_status("c1", TERMINATED_OK)],
         conditions=NOT_READY_CONDS),
     ["web", "1/2", "NotReady", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("init-running-second-of-two",
     pod(phase="Pending", init=[{"name": "i0", "image": "busybox"}, {"name": "i1", "image": "busybox"}],
         init_statuses=[container_status("i0", TERMINATED_OK), container_status("i1", RUNNING)],
         statuses=[container_status("c0", {"waiting": {"reason": "PodInitializing"}})],
         conditions=[{"type": "Initialized", "status": "False"}]),
     ["web", "0/1", "Init:1/2", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("init-pod-initializing-waiting-reason-ignored",
     pod(phase="Pending", init=[{"name": "i0", "image": "busybox"}],
         init_statuses=[container_status("i0", {"waiting": {"reason": "PodInitializing"}})],
         conditions=[{"type": "Initialized", "status": "False"}]),
     ["web", "0/1", "Init:0/1", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("init-crash-loop-counts-init-restarts",
     pod(phase="Pending", init=[{"name": "i0", "image": "busybox"}],
         init_statuses=[container_status("i0", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=3,
                                         last={"terminated": {"exitCode": 1, "finishedAt": ago(2 * MIN)}})],
         statuses=[container_status("c0", {"waiting": {"reason": "PodInitializing"}})],
         conditions=[{"type": "Initialized", "status": "False"}]),
     ["web", "0/1", "Init:CrashLoopBackOff", "3 (2m ago)", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("init-failed-with-reason",
     pod(phase="Failed", init=[{"name": "i0", "image": "busybox"}],
         init_statuses=[container_status("i0", {"terminated": {"exitCode": 2, "reason": "Error"}})]),
     ["web", "0/1", "Init:Error", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("init-failed-exit-code",
     pod(phase="Pending", init=[{"name": "i0", "image": "busybox"}],
         init_statuses=[container_status("i0", {"terminated": {"exitCode": 2}})]),
     ["web", "0/1", "Init:ExitCode:2", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("init-killed-by-signal",
     pod(phase="Pending", init=[{"name": "i0", "image": "busybox"}],
         init_statuses=[container_status("i0", {"terminated": {"exitCode": 143, "signal": 15}})]),
     ["web", "0/1", "Init:Signal:15", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("sidecar-counts-in-ready-and-restarts",
     pod(init=[{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
         init_statuses=[container_status("proxy", RUNNING, ready=True, started=True, restarts=1,
                                         last={"terminated": {"exitCode": 1, "finishedAt": ago(10 * MIN)}})],
         statuses=[container_status("c0", RUNNING, ready=True)], conditions=READY_CONDS),
     ["web", "2/2", "Running", "1 (10m ago)", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("sidecar-not-started-blocks-initialization",
     pod(phase="Pending", init=[{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
         init_statuses=[container_status("proxy", RUNNING, started=False)],
         statuses=[container_status("c0", {"waiting": {"reason": "PodInitializing"}})],
         conditions=[{"type": "Initialized", "status": "False"}]),
     ["web", "0/2", "Init:0/1", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("terminating",
     pod(statuses=[container_status("c0", RUNNING, ready=True)], conditions=READY_CONDS,
         metadata={"deletionTimestamp": ago(10), "deletionGracePeriodSeconds": 30}),
     ["web", "1/1", "Terminating", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("terminating-on-lost-node-is-unknown",
     pod(statuses=[container_status("c0", RUNNING, ready=True)],
         metadata={"deletionTimestamp": ago(10)}, status_reason="NodeLost"),
     ["web", "1/1", "Unknown", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("deleting-a-succeeded-pod-stays-completed",
     pod(phase="Succeeded", statuses=[container_status("c0", TERMINATED_OK)], metadata={"deletionTimestamp": ago(1)}),
     ["web", "0/1", "Completed", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("evicted",
     pod(phase="Failed", statuses=[], status_reason="Evicted"),
     ["web", "0/1", "Evicted", "0", "5m", "10.244.0.7", "node-1", "<none>", "<none>"]),
    ("readiness-gates-and-nominated-node",
     pod(statuses=[container_status("c0", RUNNING, ready=True)],
         conditions=[*READY_CONDS, {"type": "example.com/lb", "status": "True"},
                     {"type": "example.com/dns", "status": "False"}],
         spec_extra={"readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"},
                                        {"conditionType": "example.com/missing"}]},
         nominated="node-2"),
     ["web", "1/1", "Running", "0", "5m", "10.244.0.7", "node-1", "node-2", "1/3"]),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in POD_CASES])
def test_pod_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("", "pods", obj) == expected


def test_pod_columns() -> None:
    assert names("", "pods") == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
                                 "Readiness Gates"]
    assert wide("", "pods") == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    cols = printers.columns_for("", "pods")
    assert cols[0]["format"] == "name" and all(c["format"] == "" for c in cols[1:])
    assert cols[5]["description"].startswith("podIP address allocated to the pod")


def test_pod_row_conditions() -> None:
    succeeded = printers.row_conditions("", "pods", pod(phase="Succeeded"))
    assert succeeded == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                          "message": "The pod has completed successfully."}]
    failed = printers.row_conditions("", "pods", pod(phase="Failed"))
    assert failed is not None and failed[0]["reason"] == "Failed" and failed[0]["message"] == "The pod failed."
    assert printers.row_conditions("", "pods", pod(phase="Running")) is None
    assert printers.row_conditions("apps", "deployments", {"metadata": {"name": "d"}}) is None
    assert printers.row_conditions("rbac.authorization.k8s.io", "roles", {"metadata": {"name": "r"}}) is None


def test_pod_ip_falls_back_to_pod_ip_field() -> None:
    obj = pod(statuses=[container_status("c0", RUNNING, ready=True)])
    del obj["status"]["podIPs"]
    assert cells("", "pods", obj)[5] == "10.244.0.7"


# ------------------------------------------------------------------------------------------- services

def service(svc_type: str, *, ports: list[Any] | None = None, cluster_ip: str = "10.96.12.34",
            status: dict[str, Any] | None = None, **spec_extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": svc_type, "ports": ports if ports is not None else
                            [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                            "selector": {"app": "web", "tier": "front"}, **spec_extra}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
        spec["clusterIPs"] = [cluster_ip]
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta("web", 33 * MIN), "spec": spec,
            "status": status or {"loadBalancer": {}}}


SERVICE_CASES = [
    ("cluster-ip", service("ClusterIP", ports=[{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]),
     ["web", "ClusterIP", "10.96.12.34", "<none>", "80/TCP,53/UDP", "33m", "app=web,tier=front"]),
    ("cluster-ip-with-external-ips", service("ClusterIP", externalIPs=["1.2.3.4", "5.6.7.8"]),
     ["web", "ClusterIP", "10.96.12.34", "1.2.3.4,5.6.7.8", "80/TCP", "33m", "app=web,tier=front"]),
    ("node-port", service("NodePort", ports=[{"port": 80, "nodePort": 31234, "protocol": "TCP"},
                                             {"port": 443, "nodePort": 31443, "protocol": "TCP"}]),
     ["web", "NodePort", "10.96.12.34", "<none>", "80:31234/TCP,443:31443/TCP", "33m", "app=web,tier=front"]),
    ("load-balancer-pending", service("LoadBalancer", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}]),
     ["web", "LoadBalancer", "10.96.12.34", "<pending>", "80:30080/TCP", "33m", "app=web,tier=front"]),
    ("load-balancer-ingress",
     service("LoadBalancer", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
             status={"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example.com"},
                                                  {"ip": "203.0.113.10"}, {"ip": "203.0.113.9"}]}}),
     ["web", "LoadBalancer", "10.96.12.34", "203.0.113.10,203.0.113.9,lb.example.com", "80:30080/TCP", "33m",
      "app=web,tier=front"]),
    ("load-balancer-ingress-plus-external-ips",
     service("LoadBalancer", externalIPs=["1.2.3.4"], status={"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}}),
     ["web", "LoadBalancer", "10.96.12.34", "203.0.113.9,1.2.3.4", "80/TCP", "33m", "app=web,tier=front"]),
    ("external-name", service("ExternalName", ports=[], cluster_ip="", externalName="db.example.com", selector={}),
     ["web", "ExternalName", "<none>", "db.example.com", "<none>", "33m", "<none>"]),
    ("headless", service("ClusterIP", cluster_ip="None"),
     ["web", "ClusterIP", "None", "<none>", "80/TCP", "33m", "app=web,tier=front"]),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in SERVICE_CASES])
def test_service_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("", "services", obj) == expected


def test_service_columns() -> None:
    assert names("", "services") == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert wide("", "services") == ["Selector"]


# ---------------------------------------------------------------------------------------------- nodes

def node(name: str, *, ready: str | None = "True", unschedulable: bool = False, labels: dict[str, str] | None = None,
         addresses: list[Any] | None = None, info: dict[str, str] | None = None) -> dict[str, Any]:
    conditions = [{"type": "MemoryPressure", "status": "False"}, {"type": "DiskPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady"})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": ago(45 * DAY), "labels": labels or {}},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": conditions, "addresses": addresses or [], "nodeInfo": info or {}},
    }


NODE_INFO = {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
             "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "pyk8s://0.1.0"}

NODE_CASES = [
    ("ready-cordoned-control-plane",
     node("cp-1", unschedulable=True,
          labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master",
                  "node-role.kubernetes.io/": "", "kubernetes.io/hostname": "cp-1"},
          addresses=[{"type": "Hostname", "address": "cp-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
          info=NODE_INFO),
     ["cp-1", "Ready,SchedulingDisabled", "control-plane,master", "45d", "v1.33.1", "192.168.1.10", "<none>",
      "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "pyk8s://0.1.0"]),
    ("not-ready-worker",
     node("w-1", ready="False", addresses=[{"type": "InternalIP", "address": "10.0.0.2"},
                                           {"type": "ExternalIP", "address": "198.51.100.2"}]),
     ["w-1", "NotReady", "<none>", "45d", "", "10.0.0.2", "198.51.100.2", "<unknown>", "<unknown>", "<unknown>"]),
    ("ready-unknown", node("w-2", ready="Unknown"),
     ["w-2", "NotReady", "<none>", "45d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]),
    ("no-ready-condition", node("w-3", ready=None, labels={"node-role.kubernetes.io/worker": "true"}),
     ["w-3", "Unknown", "worker", "45d", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in NODE_CASES])
def test_node_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("", "nodes", obj) == expected


def test_node_columns() -> None:
    assert names("", "nodes") == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                                  "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert wide("", "nodes") == ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]


# ----------------------------------------------------------------------------------------------- jobs

def job(*, conditions: list[Any] | None = None, start: float | None = None, completion: float | None = None,
        completions: int | None = 1, parallelism: int | None = 1, succeeded: int = 0,
        deleting: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
        "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}], "restartPolicy": "Never"}},
    }
    if completions is not None:
        spec["completions"] = completions
    if parallelism is not None:
        spec["parallelism"] = parallelism
    status: dict[str, Any] = {"succeeded": succeeded} if succeeded else {}
    if conditions is not None:
        status["conditions"] = conditions
    if start is not None:
        status["startTime"] = ago(start)
    if completion is not None:
        status["completionTime"] = ago(completion)
    md = meta("pi", 10 * MIN)
    if deleting:
        md["deletionTimestamp"] = ago(1)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md, "spec": spec, "status": status}


def cond(ctype: str, status: str = "True") -> dict[str, Any]:
    return {"type": ctype, "status": status}


SELECTOR = "batch.kubernetes.io/controller-uid=abc"
JOB_CASES = [
    ("complete", job(conditions=[cond("SuccessCriteriaMet"), cond("Complete")], start=9 * MIN, completion=9 * MIN - 45,
                     succeeded=1),
     ["pi", "Complete", "1/1", "45s", "10m", "pi", "perl:5.34", SELECTOR]),
    ("running", job(start=3 * MIN, completions=None, parallelism=3),
     ["pi", "Running", "0/1 of 3", "3m", "10m", "pi", "perl:5.34", SELECTOR]),
    ("running-with-completions", job(start=125, completions=5, parallelism=2, succeeded=2),
     ["pi", "Running", "2/5", "2m5s", "10m", "pi", "perl:5.34", SELECTOR]),
    ("not-started", job(completions=None, parallelism=None),
     ["pi", "Running", "0/1", "", "10m", "pi", "perl:5.34", SELECTOR]),
    ("failed", job(conditions=[cond("FailureTarget"), cond("Failed")], start=5 * MIN, completion=4 * MIN),
     ["pi", "Failed", "0/1", "60s", "10m", "pi", "perl:5.34", SELECTOR]),
    ("failure-target", job(conditions=[cond("FailureTarget")], start=5 * MIN),
     ["pi", "FailureTarget", "0/1", "5m", "10m", "pi", "perl:5.34", SELECTOR]),
    ("suspended", job(conditions=[cond("Suspended")]),
     ["pi", "Suspended", "0/1", "", "10m", "pi", "perl:5.34", SELECTOR]),
    ("terminating-beats-suspended", job(conditions=[cond("Suspended")], deleting=True),
     ["pi", "Terminating", "0/1", "", "10m", "pi", "perl:5.34", SELECTOR]),
    ("complete-false-is-running", job(conditions=[cond("Complete", "False")], start=30),
     ["pi", "Running", "0/1", "30s", "10m", "pi", "perl:5.34", SELECTOR]),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in JOB_CASES])
def test_job_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("batch", "jobs", obj) == expected


def test_job_columns() -> None:
    assert names("batch", "jobs") == ["Name", "Status", "Completions", "Duration", "Age", "Containers", "Images",
                                      "Selector"]


def cronjob(**spec_extra: Any) -> dict[str, Any]:
    status = spec_extra.pop("status", {})
    spec = {"schedule": "*/5 * * * *", "concurrencyPolicy": "Allow",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [
                {"name": "hello", "image": "busybox:1.36"}, {"name": "log", "image": "fluentd"}]}}}},
            **spec_extra}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("hello", 2 * DAY), "spec": spec,
            "status": status}


CRONJOB_CASES = [
    ("active", cronjob(suspend=False, status={"active": [{"name": "hello-1"}], "lastScheduleTime": ago(2 * MIN)}),
     ["hello", "*/5 * * * *", "<none>", "False", 1, "2m", "2d", "hello,log", "busybox:1.36,fluentd", "<none>"]),
    ("never-scheduled-suspended-with-timezone", cronjob(suspend=True, timeZone="Europe/Paris"),
     ["hello", "*/5 * * * *", "Europe/Paris", "True", 0, "<none>", "2d", "hello,log", "busybox:1.36,fluentd",
      "<none>"]),
    ("suspend-unset", cronjob(),
     ["hello", "*/5 * * * *", "<none>", "<unset>", 0, "<none>", "2d", "hello,log", "busybox:1.36,fluentd", "<none>"]),
]


@pytest.mark.parametrize(("obj", "expected"), [pytest.param(o, e, id=i) for i, o, e in CRONJOB_CASES])
def test_cronjob_cells(obj: dict[str, Any], expected: list[Any]) -> None:
    assert cells("batch", "cronjobs", obj) == expected


def test_cronjob_columns() -> None:
    cols = printers.columns_for("batch", "cronjobs")
    assert [c["name"] for c in cols] == ["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age",
                                         "Containers", "Images", "Selector"]
    assert [c["type"] for c in cols][3:5] == ["boolean", "integer"]


# ----------------------------------------------------------------------------------------------- apps

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "side", "image": "envoy"}]}}


def test_deployment_cells() -> None:
    obj = {"metadata": meta("web", 5 * HOUR + 12 * MIN),
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                                                "matchExpressions": [{"key": "env", "operator": "In",
                                                                      "values": ["prod", "dev"]},
                                                                     {"key": "canary", "operator": "DoesNotExist"}]},
                    "template": TEMPLATE},
           "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert cells("apps", "deployments", obj) == [
        "web", "2/3", 3, 2, "5h12m", "nginx,side", "nginx:1.27,envoy", "app=web,!canary,env in (dev,prod)"]
    fresh = {"metadata": meta("web", 10), "spec": {"replicas": 0, "template": TEMPLATE}, "status": {}}
    assert cells("apps", "deployments", fresh)[:4] == ["web", "0/0", 0, 0]
    assert cells("apps", "deployments", fresh)[-1] == ""
    bad = {"metadata": meta("web"), "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}}
    assert cells("apps", "deployments", bad)[-1] == "<invalid>"
    assert names("apps", "deployments") == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images",
                                            "Selector"]


def test_replicaset_daemonset_statefulset_cells() -> None:
    rs = {"metadata": meta("web-6d4b", 22 * HOUR),
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "6d4b"}},
                   "template": TEMPLATE},
          "status": {"replicas": 3, "readyReplicas": 1}}
    assert cells("apps", "replicasets", rs) == [
        "web-6d4b", 3, 3, 1, "22h", "nginx,side", "nginx:1.27,envoy", "app=web,pod-template-hash=6d4b"]
    ds = {"metadata": meta("agent", 3 * DAY + 4 * HOUR),
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                         "containers": [{"name": "agent", "image": "agent:1"}]}}},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert cells("apps", "daemonsets", ds) == [
        "agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "3d4h", "agent", "agent:1", "app=agent"]
    ds["spec"]["template"]["spec"].pop("nodeSelector")
    assert cells("apps", "daemonsets", ds)[6] == "<none>"
    sts = {"metadata": meta("db", 45), "spec": {"replicas": 3, "template": TEMPLATE}, "status": {"readyReplicas": 1}}
    assert cells("apps", "statefulsets", sts) == ["db", "1/3", "45s", "nginx,side", "nginx:1.27,envoy"]


def test_controller_revision_cells() -> None:
    owned = {"metadata": {**meta("web-7c9f", 60), "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "other", "controller": False},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "controller": True}]}, "revision": 4}
    assert cells("apps", "controllerrevisions", owned) == ["web-7c9f", "daemonset.apps/agent", 4, "60s"]
    core_owner = {"metadata": {**meta("x", 60), "ownerReferences": [
        {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": True}]}, "revision": 1}
    assert cells("apps", "controllerrevisions", core_owner)[1] == "pod/p"
    assert cells("apps", "controllerrevisions", {"metadata": meta("y", 60), "revision": 2})[1] == "<none>"


# ---------------------------------------------------------------------------------------------- events

def test_core_event_cells() -> None:
    event = {"metadata": meta("web.17d2", 10 * MIN), "type": "Warning", "reason": "BackOff",
             "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default",
                                "fieldPath": "spec.containers{nginx}"},
             "source": {"component": "kubelet", "host": "node-1"}, "message": "Back-off restarting failed container\n",
             "firstTimestamp": ago(10 * MIN), "lastTimestamp": ago(45), "count": 7}
    assert cells("", "events", event) == [
        "45s", "Warning", "BackOff", "pod/web", "spec.containers{nginx}", "kubelet, node-1",
        "Back-off restarting failed container", "10m", 7, "web.17d2"]
    assert names("", "events") == ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                   "First Seen", "Count", "Name"]
    assert wide("", "events") == ["Subobject", "Source", "First Seen", "Count", "Name"]


def test_core_event_new_style_fields() -> None:
    # Only eventTime set (events.k8s.io writers): first and last seen come from it, count defaults to 1.
    event = {"metadata": meta("e1"), "type": "Normal", "reason": "Scheduled",
             "involvedObject": {"kind": "Pod", "name": "web"}, "message": "ok",
             "eventTime": "2024-06-01T11:58:00.000000Z", "reportingComponent": "default-scheduler",
             "reportingInstance": "default-scheduler-cp-1", "source": {}}
    assert cells("", "events", event) == ["2m", "Normal", "Scheduled", "pod/web", "", "default-scheduler, "
                                          "default-scheduler-cp-1", "ok", "2m", 1, "e1"]
    series = {**event, "series": {"count": 12, "lastObservedTime": "2024-06-01T11:59:30.000000Z"}}
    got = cells("", "events", series)
    assert got[0] == "30s" and got[8] == 12
    no_name = {**event, "involvedObject": {"kind": "Node"}, "reportingComponent": "", "reportingInstance": ""}
    assert cells("", "events", no_name)[3:6] == ["node", "", ""]
    nothing = {"metadata": meta("e2")}
    assert cells("", "events", nothing)[0] == "<unknown>"


def test_events_k8s_io_event_uses_core_columns_and_conversion() -> None:
    event = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("web.1"),
             "eventTime": "2024-06-01T11:55:00.000000Z", "reportingController": "kubelet",
             "reportingInstance": "node-1", "action": "Pulling", "reason": "Pulling", "type": "Normal",
             "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{c}"},
             "note": "Pulling image \"nginx\"", "deprecatedCount": 2,
             "deprecatedFirstTimestamp": ago(20 * MIN), "deprecatedLastTimestamp": ago(3 * MIN)}
    assert printers.columns_for("events.k8s.io", "events") == printers.columns_for("", "events")
    assert cells("events.k8s.io", "events", event) == [
        "3m", "Normal", "Pulling", "pod/web", "spec.containers{c}", "kubelet, node-1", "Pulling image \"nginx\"",
        "20m", 2, "web.1"]


# ------------------------------------------------------------------------------ the other core kinds

def test_small_core_kinds() -> None:
    assert cells("", "namespaces", {"metadata": meta("dev", 45), "status": {"phase": "Terminating"}}) == \
        ["dev", "Terminating", "45s"]
    assert cells("", "configmaps", {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"},
                                    "binaryData": {"c": "AA=="}}) == ["cfg", 3, "60m"]
    assert cells("", "secrets", {"metadata": meta("tls"), "type": "kubernetes.io/tls",
                                 "data": {"tls.crt": "x", "tls.key": "y"}}) == ["tls", "kubernetes.io/tls", 2, "60m"]
    assert cells("", "serviceaccounts", {"metadata": meta("default")}) == ["default", 0, "60m"]
    assert cells("", "componentstatuses", {"metadata": {"name": "etcd-0"}, "conditions": [
        {"type": "Healthy", "status": "True", "message": "ok"}]}) == ["etcd-0", "Healthy", "ok", ""]
    assert cells("", "componentstatuses", {"metadata": {"name": "scheduler"}, "conditions": [
        {"type": "Healthy", "status": "False", "error": "connection refused"}]}) == \
        ["scheduler", "Unhealthy", "", "connection refused"]
    assert cells("", "componentstatuses", {"metadata": {"name": "x"}}) == ["x", "Unknown", "", ""]
    assert cells("", "podtemplates", {"metadata": meta("tpl"), "template": TEMPLATE}) == \
        ["tpl", "nginx,side", "nginx:1.27,envoy", "app=web"]
    rc = {"metadata": meta("rc"), "spec": {"replicas": 2, "selector": {"app": "web"}, "template": TEMPLATE},
          "status": {"replicas": 2, "readyReplicas": 2}}
    assert cells("", "replicationcontrollers", rc) == ["rc", 2, 2, 2, "60m", "nginx,side", "nginx:1.27,envoy",
                                                       "app=web"]


@pytest.mark.parametrize(("subsets", "expected"), [
    ([], "<none>"),
    ([{"addresses": [{"ip": "10.244.0.7"}, {"ip": "10.244.1.3"}], "ports": [{"port": 8080, "protocol": "TCP"}]}],
     "10.244.0.7:8080,10.244.1.3:8080"),
    ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
       "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]}],
     "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."),
    ([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"},
                     {"ip": "10.0.0.5"}]}], "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more..."),
    ([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 53}]}], "[fd00::1]:53"),
    ([{"notReadyAddresses": [{"ip": "10.0.0.9"}], "ports": [{"port": 80}]}], ""),
])
def test_endpoints_cells(subsets: list[Any], expected: str) -> None:
    assert cells("", "endpoints", {"metadata": meta("web"), "subsets": subsets}) == ["web", expected, "60m"]


def test_resource_quota_cells() -> None:
    quota = {"metadata": meta("compute"), "status": {
        "hard": {"requests.cpu": "2", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "4",
                 "requests.memory": "1Gi"},
        "used": {"requests.cpu": "500m", "limits.cpu": "1", "pods": "3", "requests.memory": "256Mi"}}}
    assert cells("", "resourcequotas", quota) == [
        "compute", "pods: 3/10, requests.cpu: 500m/2, requests.memory: 256Mi/1Gi",
        "limits.cpu: 1/4, limits.memory: 0/2Gi", "60m"]
    assert cells("", "resourcequotas", {"metadata": meta("empty")}) == ["empty", "", "", "60m"]


def test_persistent_volume_and_claim_cells() -> None:
    pv = {"metadata": meta("pv-1"), "spec": {
        "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
        "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}}
    assert cells("", "persistentvolumes", pv) == [
        "pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "standard", "<unset>", "", "60m", "Filesystem"]
    pv["metadata"]["deletionTimestamp"] = ago(1)
    pv["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": "legacy"}
    got = cells("", "persistentvolumes", pv)
    assert got[4] == "Terminating" and got[6] == "legacy"
    bound = {"metadata": meta("data"), "spec": {"volumeName": "pv-1", "storageClassName": "standard",
                                                "resources": {"requests": {"storage": "5Gi"}},
                                                "volumeAttributesClassName": "gold"},
             "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"]}}
    assert cells("", "persistentvolumeclaims", bound) == [
        "data", "Bound", "pv-1", "10Gi", "RWOP", "standard", "gold", "60m", "<unset>"]
    pending = {"metadata": meta("new"), "spec": {"resources": {"requests": {"storage": "5Gi"}}},
               "status": {"phase": "Pending"}}
    assert cells("", "persistentvolumeclaims", pending) == [
        "new", "Pending", "", "", "", "", "<unset>", "60m", "<unset>"]


# --------------------------------------------------------------------------------------- other groups

def test_lease_and_endpoint_slice_cells() -> None:
    lease = {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "cp-1_0a1b"}}
    assert cells("coordination.k8s.io", "leases", lease) == ["kube-scheduler", "cp-1_0a1b", "60m"]
    assert cells("coordination.k8s.io", "leases", {"metadata": meta("x"), "spec": {}})[1] == ""
    eps = {"metadata": meta("web-abc"), "addressType": "IPv4",
           "ports": [{"name": "http", "port": 80}, {"name": "named"}, {}, {"port": 9090}],
           "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]},
                         {"addresses": ["10.0.0.4"]}]}
    assert cells("discovery.k8s.io", "endpointslices", eps) == [
        "web-abc", "IPv4", "80,named,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60m"]
    empty = {"metadata": meta("web-x"), "addressType": "IPv6"}
    assert cells("discovery.k8s.io", "endpointslices", empty) == ["web-x", "IPv6", "<unset>", "<unset>", "60m"]


HPA_V2: dict[str, Any] = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("web"),
    "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
             "minReplicas": 2, "maxReplicas": 10,
             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                    "averageUtilization": 80}}},
                         {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                                       "averageValue": "100Mi"}}},
                         {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                   "target": {"type": "AverageValue", "averageValue": "1k"}}}]},
    "status": {"currentReplicas": 3, "desiredReplicas": 3,
               "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                   "averageUtilization": 42, "averageValue": "210m"}}}]},
}


def test_hpa_cells() -> None:
    assert cells("autoscaling", "horizontalpodautoscalers", HPA_V2) == [
        "web", "Deployment/web", "cpu: 42%/80%, memory: <unknown>/100Mi + 1 more...", "2", 10, 3, "60m"]
    two = {**HPA_V2, "spec": {**HPA_V2["spec"], "metrics": HPA_V2["spec"]["metrics"][1:], "minReplicas": None},
           "status": {}}
    assert cells("autoscaling", "horizontalpodautoscalers", two)[2:6] == [
        "memory: <unknown>/100Mi, <unknown>/1k", "<unset>", 10, 0]
    none = {**HPA_V2, "spec": {**HPA_V2["spec"], "metrics": []}}
    assert cells("autoscaling", "horizontalpodautoscalers", none)[2] == "<none>"
    external = {**HPA_V2, "spec": {**HPA_V2["spec"], "metrics": [
        {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": "30"}}},
        {"type": "Object", "object": {"metric": {"name": "rps"}, "target": {"type": "AverageValue",
                                                                            "averageValue": "5"}}}]},
        "status": {"currentMetrics": [{"type": "External", "external": {"current": {"value": "12"}}}]}}
    assert cells("autoscaling", "horizontalpodautoscalers", external)[2] == "12/30, <unknown>/5 (avg)"


def test_hpa_v1_shape() -> None:
    v1: dict[str, Any] = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": meta("web"),
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
                   "targetCPUUtilizationPercentage": 50},
          "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 12}}
    assert cells("autoscaling", "horizontalpodautoscalers", v1) == [
        "web", "Deployment/web", "cpu: 12%/50%", "1", 5, 1, "60m"]
    v1["spec"].pop("targetCPUUtilizationPercentage")
    v1["status"].pop("currentCPUUtilizationPercentage")
    assert cells("autoscaling", "horizontalpodautoscalers", v1)[2] == "cpu: <unknown>/80%"


def test_pdb_priority_class_binding_csr_cells() -> None:
    pdb = {"metadata": meta("web"), "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}
    assert cells("policy", "poddisruptionbudgets", pdb) == ["web", "50%", "N/A", 1, "60m"]
    pdb2 = {"metadata": meta("db"), "spec": {"maxUnavailable": 1}, "status": {}}
    assert cells("policy", "poddisruptionbudgets", pdb2) == ["db", "N/A", "1", 0, "60m"]
    pc = {"metadata": meta("high"), "value": 1000000, "globalDefault": True, "preemptionPolicy": "Never"}
    assert cells("scheduling.k8s.io", "priorityclasses", pc) == ["high", 1000000, True, "60m", "Never"]
    assert cells("scheduling.k8s.io", "priorityclasses", {"metadata": meta("low"), "value": -5}) == \
        ["low", -5, False, "60m", ""]
    rb = {"metadata": meta("read"), "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": "view"},
          "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                       {"kind": "ServiceAccount", "name": "ci", "namespace": "tools"}, {"kind": "User", "name": "bob"}]}
    assert cells("rbac.authorization.k8s.io", "rolebindings", rb) == [
        "read", "ClusterRole/view", "60m", "alice, bob", "devs", "tools/ci"]
    assert cells("rbac.authorization.k8s.io", "clusterrolebindings", {**rb, "subjects": None}) == [
        "read", "ClusterRole/view", "60m", "", "", ""]
    csr = {"metadata": meta("node-csr"), "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                                                  "username": "system:node:w-1", "expirationSeconds": 86400,
                                                  "request": "LS0t"},
           "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}}
    assert cells("certificates.k8s.io", "certificatesigningrequests", csr) == [
        "node-csr", "60m", "kubernetes.io/kube-apiserver-client-kubelet", "system:node:w-1", "24h", "Approved,Issued"]
    pending = {"metadata": meta("c2"), "spec": {"username": "u"}, "status": {}}
    assert cells("certificates.k8s.io", "certificatesigningrequests", pending)[2:] == ["<none>", "u", "<none>",
                                                                                        "Pending"]
    denied = {"metadata": meta("c3"), "spec": {}, "status": {"conditions": [{"type": "Denied"}, {"type": "Failed"}]}}
    assert cells("certificates.k8s.io", "certificatesigningrequests", denied)[-1] == "Denied,Failed"
    assert names("certificates.k8s.io", "certificatesigningrequests") == [
        "Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"]


# -------------------------------------------------------------------------------------- default table

@pytest.mark.parametrize(("group", "plural"), [
    ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"), ("", "limitranges"),
    ("example.com", "widgets"),
])
def test_default_table(group: str, plural: str) -> None:
    cols = printers.columns_for(group, plural)
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in cols] == [
        ("Name", "string", "name", 0), ("Created At", "date", "", 0)]
    assert cols[1]["description"].startswith("CreationTimestamp is a timestamp")
    assert not printers.has_printer(group, plural)
    obj = {"metadata": {"name": "admin", "creationTimestamp": "2024-05-01T10:00:00Z"}}
    assert cells(group, plural, obj) == ["admin", "2024-05-01T10:00:00Z"]
    assert cells(group, plural, {"metadata": {"name": "x", "creationTimestamp": "2024-05-01T12:00:00+02:00"}}) == \
        ["x", "2024-05-01T10:00:00Z"]
    assert cells(group, plural, {"metadata": {"name": "new"}}) == ["new", "0001-01-01T00:00:00Z"]


# ------------------------------------------------------------------------------ all printers, generally

# Upstream's printers put these cells in with a JSON type other than their column's declared type; a real
# apiserver sends them that way (and kubectl prints e.g. "False", not "false", for a cron job's Suspend).
UPSTREAM_TYPE_MISMATCHES = {
    (("", "events"), "Count"), (("events.k8s.io", "events"), "Count"), (("", "secrets"), "Data"), (("", "configmaps"), "Data"),
    (("", "serviceaccounts"), "Secrets"), (("apps", "deployments"), "Up-to-date"),
    (("apps", "deployments"), "Available"), (("apps", "controllerrevisions"), "Revision"),
    (("autoscaling", "horizontalpodautoscalers"), "MaxPods"), (("autoscaling", "horizontalpodautoscalers"), "Replicas"),
    (("batch", "cronjobs"), "Suspend"),
}

SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("", "pods"): POD_CASES[-1][1],
    ("", "services"): SERVICE_CASES[0][1],
    ("", "nodes"): NODE_CASES[0][1],
    ("batch", "jobs"): JOB_CASES[0][1],
    ("batch", "cronjobs"): CRONJOB_CASES[0][1],
    ("autoscaling", "horizontalpodautoscalers"): HPA_V2,
}

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "integer": int, "boolean": bool, "date": str, "number": (int, float)}


def _printed_resources() -> list[tuple[str, str]]:
    return sorted({(r.group, r.plural) for r in RESOURCES})


@pytest.mark.parametrize(("group", "plural"), _printed_resources())
def test_every_resource_row_matches_its_columns(group: str, plural: str) -> None:
    cols = printers.columns_for(group, plural)
    assert cols and cols == printers.columns_for(group, plural)
    for c in cols:
        assert set(c) == {"name", "type", "format", "description", "priority"}
        assert c["description"], f"{group}/{plural} column {c['name']} has no description"
        assert c["priority"] in (0, 1) and c["type"] in _JSON_TYPES
    for obj in (SAMPLES.get((group, plural)), {"metadata": meta("bare")}, {}):
        if obj is None:
            continue
        row = printers.row_cells(group, plural, obj, NOW)
        assert len(row) == len(cols)
        for col, cell in zip(cols, row, strict=True):
            if ((group, plural), col["name"]) in UPSTREAM_TYPE_MISMATCHES:
                continue
            expected = _JSON_TYPES[col["type"]]
            assert isinstance(cell, expected) and not (col["type"] == "integer" and isinstance(cell, bool)), \
                f"{group}/{plural} {col['name']}: {cell!r} is not {col['type']}"


def test_upstream_type_mismatches_are_real() -> None:
    """The exceptions above are upstream's choice, not our drift: each really differs from its column type."""
    assert isinstance(cells("batch", "cronjobs", CRONJOB_CASES[0][1])[3], str)
    assert isinstance(cells("apps", "deployments", {"metadata": meta("d")})[2], int)
    for (key, column) in UPSTREAM_TYPE_MISMATCHES:
        assert column in names(*key)
