"""What one Pod contributes to its Service's EndpointSlices, and what a slice of ours looks like.

Pure functions over plain dicts, following upstream's k8s.io/endpointslice utils: a Pod becomes one endpoint
(addresses of one family, ready/serving/terminating conditions, node, zone, hostname, targetRef); the
Service's ports resolve against the Pod's container ports, so Pods whose named ports differ land in
different slices; labels mirror the Service's plus the reserved service-name / managed-by / headless ones.
"""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.framework import new_controller_ref
from pyk8s.controllers.framework.podstate import is_pod_ready
from pyk8s.controllers.framework.servicepods import find_port, pod_ips, should_set_hostname

Obj = dict[str, Any]

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})
IPV4 = "IPv4"
IPV6 = "IPv6"


# ---- pods ----
def is_ipv6(ip: str) -> bool:
    return ":" in ip


# ---- services ----
def is_service_ip_set(service: Obj) -> bool:
    ip = (service.get("spec") or {}).get("clusterIP")
    return bool(ip) and ip != "None"


def address_types_for_service(service: Obj) -> list[str]:
    """The slice address types a Service gets: from spec.ipFamilies, else from its cluster IP, else both."""
    spec = service.get("spec") or {}
    out: list[str] = []
    for family in spec.get("ipFamilies") or ():
        t = IPV4 if family == "IPv4" else IPV6 if family == "IPv6" else None
        if t and t not in out:
            out.append(t)
    if out:
        return out
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        return [IPV6 if is_ipv6(ip) else IPV4]
    return [IPV4, IPV6]


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    """The EndpointPorts of the Pod for this Service, in the canonical order slices carry them."""
    spec = service.get("spec") or {}
    ports = spec.get("ports") or []
    out: list[Obj] = []
    if not ports and spec.get("clusterIP") == "None":
        return out
    for sp in ports:
        num = find_port(pod, sp)
        if num is None:
            continue
        port: Obj = {"name": sp.get("name") or "", "protocol": sp.get("protocol") or "TCP", "port": num}
        if sp.get("appProtocol") is not None:
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return sort_ports(out)


def sort_ports(ports: list[Obj]) -> list[Obj]:
    return sorted(ports, key=lambda p: (str(p.get("name") or ""), str(p.get("protocol") or ""),
                                        int(p.get("port") or 0), str(p.get("appProtocol") or "")))


def port_map_key(ports: list[Obj] | None) -> tuple[tuple[str, str, int, str], ...]:
    """Identifies a group of ports: slices are grouped by the exact set of ports their endpoints serve."""
    return tuple((str(p.get("name") or ""), str(p.get("protocol") or ""), int(p.get("port") or 0),
                  str(p.get("appProtocol") or "")) for p in sort_ports(list(ports or [])))


def pod_to_endpoint(pod: Obj, node: Obj | None, service: Obj, address_type: str) -> Obj:
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    serving = is_pod_ready(pod)
    terminating = md.get("deletionTimestamp") is not None
    # A terminating endpoint is never "ready" unless the Service publishes not-ready addresses.
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    addresses = [ip for ip in pod_ips(pod) if is_ipv6(ip) == (address_type == IPV6)]
    ep: Obj = {"addresses": addresses,
               "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
               "targetRef": {"kind": "Pod", "namespace": md.get("namespace", ""), "name": md.get("name", ""),
                             "uid": md.get("uid", "")}}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    zone = (((node or {}).get("metadata") or {}).get("labels") or {}).get(LABEL_ZONE)
    if zone:
        ep["zone"] = zone
    if should_set_hostname(pod, service):
        ep["hostname"] = spec["hostname"]
    return ep


EndpointKey = tuple[tuple[str, ...], str, str, str]


def endpoint_key(ep: Obj) -> EndpointKey:
    """An endpoint's identity (addresses, hostname, target): anything else may change in place."""
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep.get("addresses") or ())), str(ep.get("hostname") or ""),
            str(ref.get("namespace") or ""), str(ref.get("name") or ""))


def endpoints_equal_beyond_key(a: Obj, b: Obj) -> bool:
    """Same node, zone, conditions and target (ignoring the target's resourceVersion)."""
    if a.get("nodeName") != b.get("nodeName") or a.get("zone") != b.get("zone"):
        return False
    ca, cb = a.get("conditions") or {}, b.get("conditions") or {}
    if any(ca.get(k) != cb.get(k) for k in ("ready", "serving", "terminating")):
        return False
    ra = {k: v for k, v in (a.get("targetRef") or {}).items() if k != "resourceVersion" and v not in ("", None)}
    rb = {k: v for k, v in (b.get("targetRef") or {}).items() if k != "resourceVersion" and v not in ("", None)}
    return ra == rb


# ---- slices ----
def slice_labels(slice_: Obj | None, service: Obj) -> tuple[dict[str, str], bool]:
    """The labels a slice of `service` must carry, and whether its current ones (reserved aside) differ."""
    current = {k: v for k, v in ((slice_ or {}).get("metadata") or {}).get("labels", {}).items()
               if k not in RESERVED_LABELS} if slice_ else {}
    wanted = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in RESERVED_LABELS}
    changed = current != wanted
    if not is_service_ip_set(service):
        wanted[LABEL_HEADLESS] = ""
    wanted[LABEL_SERVICE_NAME] = service["metadata"]["name"]
    wanted[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return wanted, changed


def new_endpoint_slice(service: Obj, ports: list[Obj], address_type: str) -> Obj:
    md = service["metadata"]
    labels, _ = slice_labels(None, service)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{md['name']}-", "namespace": md.get("namespace", ""), "labels": labels,
                         "ownerReferences": [new_controller_ref(service, "v1", "Service")]},
            "addressType": address_type, "endpoints": [], "ports": [dict(p) for p in ports]}


def owned_by(slice_: Obj, service: Obj) -> bool:
    uid = service["metadata"].get("uid")
    return any(r.get("uid") == uid and r.get("kind") == "Service" and r.get("apiVersion") == "v1"
               for r in (slice_.get("metadata") or {}).get("ownerReferences") or ())


def managed_by_controller(slice_: Obj) -> bool:
    return ((slice_.get("metadata") or {}).get("labels") or {}).get(LABEL_MANAGED_BY) == CONTROLLER_NAME


def service_key_for_slice(slice_: Obj) -> str | None:
    """The "ns/name" of the Service a slice says it belongs to (its service-name label), or None."""
    md = slice_.get("metadata") or {}
    name = (md.get("labels") or {}).get(LABEL_SERVICE_NAME)
    return f"{md.get('namespace', '')}/{name}" if name else None
