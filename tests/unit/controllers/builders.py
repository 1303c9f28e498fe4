"""Object builders for the Service-endpoint and disruption controller tests: a Service selecting app=web,
Ready Pods with an IP on a node, Nodes with an optional zone."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def service(name: str = "web", *, ns: str = "default", selector: dict[str, str] | None = None,
            ports: list[Obj] | None = None, cluster_ip: str = "10.96.0.10", labels: dict[str, str] | None = None,
            **spec: Any) -> Obj:
    body: Obj = {"selector": {"app": "web"} if selector is None else selector, "clusterIP": cluster_ip,
                 "ipFamilies": ["IPv4"],
                 "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080,
                                                            "protocol": "TCP"}], **spec}
    if not body["selector"]:
        body.pop("selector")
    md: Obj = {"name": name, "namespace": ns}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": md, "spec": body}


def pod(name: str, *, ns: str = "default", ip: str | None = "10.244.0.1", node: str = "node-1", ready: bool = True,
        labels: dict[str, str] | None = None, ports: list[Obj] | None = None, phase: str = "Running",
        ready_since: str = "2026-01-01T00:00:00Z", owner: Obj | None = None, **spec: Any) -> Obj:
    status: Obj = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                   "lastTransitionTime": ready_since}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    md: Obj = {"name": name, "namespace": ns, "labels": labels if labels is not None else {"app": "web"}}
    if owner is not None:
        md["ownerReferences"] = [owner]
    body: Obj = {"containers": [{"name": "c", "image": "busybox", "ports": ports or []}], **spec}
    if node:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": body, "status": status}


def node(name: str = "node-1", zone: str | None = None) -> Obj:
    md: Obj = {"name": name}
    if zone:
        md["labels"] = {"topology.kubernetes.io/zone": zone}
    return {"apiVersion": "v1", "kind": "Node", "metadata": md}
