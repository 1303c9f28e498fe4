"""Which EndpointSlices to create, update and delete so a Service's slices hold exactly its Pods' endpoints.

Upstream's reconciler (k8s.io/endpointslice), as a pure function: endpoints are grouped by the ports they
serve; within a group, existing slices keep the endpoints still wanted (changed ones updated in place), slices
already being updated are filled up first, leftovers go into the unchanged slice that they fill best, and only
then into new slices of at most `max_endpoints_per_slice`. A Service with no endpoints keeps one empty
placeholder slice. A create paired with a delete becomes an update of the slice that would be deleted, so
churn stays minimal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import meta
from pyk8s.controllers.endpointslice.slices import (
    EndpointKey,
    address_types_for_service,
    endpoint_key,
    endpoint_ports,
    endpoints_equal_beyond_key,
    new_endpoint_slice,
    owned_by,
    pod_to_endpoint,
    port_map_key,
    slice_labels,
)
from pyk8s.controllers.framework.servicepods import should_pod_be_in_endpoints

Obj = dict[str, Any]
PortKey = tuple[tuple[str, str, int, str], ...]
DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100  # --max-endpoints-per-slice


@dataclass
class SlicePlan:
    """The writes one sync makes. `errors` are upstream's per-Pod complaints (a Pod's Node is unknown):
    the writes still happen, then the sync reports them and is retried."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)
    # Slices of an address type the Service no longer has; deleted last, after the per-type writes.
    delete_unsupported: list[Obj] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete or self.delete_unsupported)


class EndpointSet:
    """Endpoints by identity, in insertion order (upstream's EndpointSet; pops are deterministic here)."""

    def __init__(self) -> None:
        self._items: dict[EndpointKey, Obj] = {}

    def insert(self, ep: Obj) -> None:
        self._items[endpoint_key(ep)] = ep

    def get(self, ep: Obj) -> Obj | None:
        return self._items.get(endpoint_key(ep))

    def discard(self, ep: Obj) -> None:
        self._items.pop(endpoint_key(ep), None)

    def pop(self) -> Obj:
        key = next(iter(self._items))
        return self._items.pop(key)

    def __len__(self) -> int:
        return len(self._items)


def plan_endpoint_slices(service: Obj, pods: list[Obj], node_for: Callable[[str], Obj | None],
                         existing: list[Obj], max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
                         ) -> SlicePlan:
    """The writes that make `existing` (this Service's slices, not being deleted) match `pods`.

    `node_for(name)` returns the cached Node or None. Existing slices are not modified: updated ones are copies.
    """
    supported = address_types_for_service(service)
    plan = SlicePlan()
    by_type: dict[str, list[Obj]] = {}
    for s in existing:
        if s.get("addressType") not in supported:
            plan.delete_unsupported.append(s)
        else:
            by_type.setdefault(str(s.get("addressType")), []).append(s)
    ordered_pods = sorted(pods, key=lambda p: (meta.namespace_of(p), meta.name_of(p)))
    for address_type in supported:
        one = _plan_address_type(service, ordered_pods, node_for, by_type.get(address_type, []), address_type,
                                 max_endpoints_per_slice)
        plan.create += one.create
        plan.update += one.update
        plan.delete += one.delete
        plan.errors += one.errors
    return plan


def _plan_address_type(service: Obj, pods: list[Obj], node_for: Callable[[str], Obj | None],
                       existing: list[Obj], address_type: str, max_per_slice: int) -> SlicePlan:
    plan = SlicePlan()
    existing_by_ports: dict[PortKey, list[Obj]] = {}
    for s in existing:
        if owned_by(s, service):
            existing_by_ports.setdefault(port_map_key(s.get("ports")), []).append(s)
        else:
            plan.delete.append(s)

    publish_not_ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    svc_ref = f"{service['metadata'].get('namespace', '')}/{service['metadata']['name']}"
    desired_ports: dict[PortKey, list[Obj]] = {}
    desired: dict[PortKey, EndpointSet] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, True):
            continue
        ports = endpoint_ports(service, pod)
        key = port_map_key(ports)
        desired.setdefault(key, EndpointSet())
        desired_ports.setdefault(key, ports)
        node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        node = node_for(node_name) if node_name else None
        if node is None and not publish_not_ready:
            # The Pod names a Node we do not know: leave it out now, and retry the Service later.
            plan.errors.append(f"skipping Pod {meta.name_of(pod)} for Service {svc_ref}: Node {node_name} Not Found")
            continue
        ep = pod_to_endpoint(pod, node, service, address_type)
        if ep["addresses"]:
            desired[key].insert(ep)

    for key, wanted in desired.items():
        create, update, delete = _plan_port_group(service, existing_by_ports.get(key, []), wanted,
                                                  desired_ports[key], address_type, max_per_slice)
        plan.create += create
        plan.update += update
        plan.delete += delete
    for key, slices in existing_by_ports.items():
        if key not in desired:
            plan.delete += slices

    # With no endpoints at all, a Service still has one empty slice (kept if it is already there).
    if len(existing) == len(plan.delete) and not plan.create:
        placeholder = new_endpoint_slice(service, [], address_type)
        if len(plan.delete) == 1 and _same_placeholder(plan.delete[0], placeholder):
            plan.delete = []
        else:
            plan.create.append(placeholder)

    _turn_creates_into_updates(service, plan)
    return plan


def _plan_port_group(service: Obj, existing: list[Obj], wanted: EndpointSet, ports: list[Obj], address_type: str,
                     max_per_slice: int) -> tuple[list[Obj], list[Obj], list[Obj]]:
    by_name: dict[str, Obj] = {}
    unchanged: dict[str, None] = {}
    to_update: dict[str, None] = {}
    to_delete: dict[str, None] = {}

    # 1. Keep the wanted endpoints of each existing slice (refreshed where they changed); drop the rest.
    for s in existing:
        name = meta.name_of(s)
        by_name[name] = s
        kept: list[Obj] = []
        changed = False
        old_endpoints = list(s.get("endpoints") or [])
        for ep in old_endpoints:
            got = wanted.get(ep)
            if got is not None:
                kept.append(got)
                if not endpoints_equal_beyond_key(got, ep):
                    changed = True
                wanted.discard(ep)
        labels, labels_changed = slice_labels(s, service)
        if changed or len(kept) != len(old_endpoints):
            if not kept:
                to_delete[name] = None
            else:
                new = meta.copy(s)
                new["endpoints"] = kept
                new["metadata"]["labels"] = labels
                by_name[name] = new
                to_update[name] = None
        elif labels_changed:
            new = meta.copy(s)
            new["endpoints"] = list(new.get("endpoints") or [])
            new["metadata"]["labels"] = labels
            by_name[name] = new
            to_update[name] = None
        else:
            unchanged[name] = None

    # 2. Fill the slices that are being written anyway, fullest first.
    if wanted and to_update:
        for s in sorted((by_name[n] for n in to_update), key=lambda x: -len(x["endpoints"])):
            while wanted and len(s["endpoints"]) < max_per_slice:
                s["endpoints"].append(wanted.pop())

    # 3. What is left goes into the unchanged slice it fills best, else into new slices.
    to_create: list[Obj] = []
    while wanted:
        target: Obj | None = None
        if len(wanted) < max_per_slice and unchanged:
            best = _slice_to_fill([by_name[n] for n in unchanged], len(wanted), max_per_slice)
            if best is not None:
                target = meta.copy(best)
                target["endpoints"] = list(target.get("endpoints") or [])
                by_name[meta.name_of(target)] = target
        if target is None:
            target = new_endpoint_slice(service, ports, address_type)
        while wanted and len(target["endpoints"]) < max_per_slice:
            target["endpoints"].append(wanted.pop())
        name = meta.name_of(target)
        if name:
            to_update[name] = None
            unchanged.pop(name, None)
        else:
            to_create.append(target)
    return to_create, [by_name[n] for n in to_update], [by_name[n] for n in to_delete]


def _slice_to_fill(slices: list[Obj], count: int, max_per_slice: int) -> Obj | None:
    """The slice that `count` more endpoints would bring closest to full without overflowing it."""
    best: Obj | None = None
    best_room = max_per_slice
    for s in slices:
        room = max_per_slice - (count + len(s.get("endpoints") or []))
        if 0 <= room < best_room:
            best, best_room = s, room
            if room == 0:
                break
    return best


def _same_placeholder(existing: Obj, placeholder: Obj) -> bool:
    md, pmd = existing.get("metadata") or {}, placeholder["metadata"]
    return (md.get("namespace", "") == pmd.get("namespace", "")
            and (md.get("labels") or {}) == (pmd.get("labels") or {})
            and existing.get("addressType") == placeholder.get("addressType")
            and not existing.get("endpoints") and not existing.get("ports"))


def _turn_creates_into_updates(service: Obj, plan: SlicePlan) -> None:
    """Reuse a slice about to be deleted for a slice about to be created (same owner and address type)."""
    i = 0
    while i < len(plan.delete) and plan.create:
        doomed = plan.delete[i]
        fresh = plan.create[-1]
        if doomed.get("addressType") == fresh.get("addressType") and owned_by(doomed, service):
            fresh["metadata"]["name"] = meta.name_of(doomed)
            plan.create.pop()
            plan.update.append(fresh)
            del plan.delete[i]
        else:
            i += 1
