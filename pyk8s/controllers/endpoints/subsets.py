"""The core/v1 Endpoints subsets a Service's Pods add up to (upstream pkg/controller/endpoint + pkg/api/v1/endpoints).

Pure functions over plain dicts: each (Pod, Service port) pair becomes an address, ready or not ready, behind
one port; `repack_subsets` then merges them into the fewest subsets (addresses sharing the same ports), with
not-ready winning over ready for an address seen both ways. More than 1000 addresses are truncated,
proportionally per subset, ready ones kept first.
"""

from __future__ import annotations

import math
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers.framework.podstate import is_pod_ready
from pyk8s.controllers.framework.servicepods import find_port, pod_ips, should_pod_be_in_endpoints, should_set_hostname

Obj = dict[str, Any]

MAX_CAPACITY = 1000
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
OVER_CAPACITY_TRUNCATED = "truncated"
LABEL_HEADLESS = "service.kubernetes.io/headless"

_AddrKey = tuple[str, str]
_PortKey = tuple[str, int, str, str]
_SENTINEL: _PortKey = ("", -1, "", "")


# ---- pods ----
def endpoint_address(service: Obj, pod: Obj) -> Obj | None:
    """The Pod's address of the Service's (first) IP family, or None when it has none of that family."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        want_v6 = families[0] == "IPv6"
    else:
        ip = spec.get("clusterIP") or ""
        want_v6 = ":" in ip if ip and ip != "None" else ":" in str((pod.get("status") or {}).get("podIP") or "")
    chosen = next((ip for ip in pod_ips(pod) if (":" in ip) == want_v6), None)
    if chosen is None:
        return None
    md = pod.get("metadata") or {}
    addr: Obj = {"ip": chosen}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace", ""), "name": md.get("name", ""),
                         "uid": md.get("uid", "")}
    if should_set_hostname(pod, service):
        addr["hostname"] = (pod.get("spec") or {})["hostname"]
    return addr


def endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol") is not None:
        port["appProtocol"] = service_port["appProtocol"]
    return port


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The repacked, sorted subsets the Endpoints of `service` must hold for `pods` (those it selects)."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    ports = spec.get("ports") or []
    raw: list[Obj] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        addr = endpoint_address(service, pod)
        if addr is None:
            continue
        field = "addresses" if tolerate_unready or is_pod_ready(pod) else "notReadyAddresses"
        if not ports:
            if spec.get("clusterIP") == "None":  # a headless Service may have no ports
                raw.append({field: [addr]})
            continue
        for sp in ports:
            number = find_port(pod, sp)
            if number is None:
                continue
            raw.append({field: [addr], "ports": [endpoint_port(sp, number)]})
    return repack_subsets(raw)


# ---- repacking and ordering ----
def _addr_key(addr: Obj) -> _AddrKey:
    return str(addr.get("ip") or ""), str((addr.get("targetRef") or {}).get("uid") or "")


def _port_key(port: Obj) -> _PortKey:
    return (str(port.get("name") or ""), int(port.get("port") or 0), str(port.get("protocol") or ""),
            str(port.get("appProtocol") or ""))


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """Group addresses by the exact set of ports they serve (upstream RepackSubsets), then sort."""
    all_addrs: dict[_AddrKey, Obj] = {}
    ports: dict[_PortKey, Obj] = {}
    ready_by_port: dict[_PortKey, dict[_AddrKey, bool]] = {}
    for given in subsets:
        keys = [(_port_key(p), p) for p in given.get("ports") or ()] or [(_SENTINEL, {})]
        for pk, port in keys:
            ports.setdefault(pk, port)
            seen = ready_by_port.setdefault(pk, {})
            for field, is_ready in (("addresses", True), ("notReadyAddresses", False)):
                for addr in given.get(field) or ():
                    ak = _addr_key(addr)
                    all_addrs.setdefault(ak, addr)
                    if seen.get(ak, True):  # not ready always wins over ready
                        seen[ak] = is_ready
    groups: dict[tuple[tuple[_AddrKey, bool], ...], list[_PortKey]] = {}
    for pk, seen in ready_by_port.items():
        members = groups.setdefault(tuple(sorted(seen.items())), [])
        if pk != _SENTINEL:
            members.append(pk)
    final: list[Obj] = []
    for addresses, port_keys in groups.items():
        subset: Obj = {}
        ready = [meta.copy(all_addrs[ak]) for ak, r in addresses if r]
        not_ready = [meta.copy(all_addrs[ak]) for ak, r in addresses if not r]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if port_keys:
            subset["ports"] = [meta.copy(ports[pk]) for pk in port_keys]
        final.append(subset)
    return sort_subsets(final)


def sort_subsets(subsets: list[Obj]) -> list[Obj]:
    """Addresses by (IP, target UID), ports and subsets in one fixed order (upstream sorts by hash)."""
    for s in subsets:
        for field in ("addresses", "notReadyAddresses"):
            if s.get(field):
                s[field].sort(key=_addr_key)
        if s.get("ports"):
            s["ports"].sort(key=_port_key)
    subsets.sort(key=lambda s: ([_port_key(p) for p in s.get("ports") or ()],
                                [_addr_key(a) for a in s.get("addresses") or ()],
                                [_addr_key(a) for a in s.get("notReadyAddresses") or ()]))
    return subsets


# ---- capacity ----
def count_addresses(subsets: list[Obj]) -> int:
    return sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets)


def truncate(subsets: list[Obj]) -> bool:
    """Cut `subsets` (in place) to MAX_CAPACITY addresses, ready ones first (not-ready ones all go when the
    ready alone are too many), each subset keeping its share rounded up. True when something was cut."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    room = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    can_add = room
    for s in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        in_subset = len(s.get(field) or ())
        share = min(math.ceil(in_subset / total * room), can_add) if total else 0
        kept = list(s.get(field) or ())[:share]
        if truncate_ready:
            s.pop("notReadyAddresses", None)
        if kept:
            s[field] = kept
        else:
            s.pop(field, None)
        can_add -= len(kept)
    # A subset left without addresses would be invalid (upstream could write one); drop it.
    subsets[:] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return True


def capacity_annotation_set_correctly(annotations: dict[str, str] | None, subsets: list[Obj]) -> bool:
    """False when `subsets` need truncating, or the over-capacity annotation is there although they do not."""
    if count_addresses(subsets) > MAX_CAPACITY:
        return False
    return ANNOTATION_OVER_CAPACITY not in (annotations or {})


def _normalized(subsets: list[Obj] | None) -> list[Obj]:
    out = []
    for s in subsets or ():
        n: Obj = {}
        for field in ("addresses", "notReadyAddresses"):
            addrs = []
            for a in s.get(field) or ():
                a = dict(a)
                if a.get("targetRef"):
                    a["targetRef"] = {k: v for k, v in a["targetRef"].items() if k != "resourceVersion" and v != ""}
                addrs.append({k: v for k, v in a.items() if v not in ("", None)})
            if addrs:
                n[field] = addrs
        if s.get("ports"):
            n["ports"] = [{k: v for k, v in p.items() if v not in ("", None)} for p in s["ports"]]
        out.append(n)
    return out


def subsets_equal(a: list[Obj] | None, b: list[Obj] | None) -> bool:
    """Semantic equality, ignoring the targets' resourceVersion (Pod updates that change nothing here)."""
    return _normalized(a) == _normalized(b)
