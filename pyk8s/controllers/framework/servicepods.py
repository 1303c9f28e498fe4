"""The Pods behind a Service, as both the Endpoints and the EndpointSlice controller see them (upstream
pkg/controller/util/endpoint, and FindPort of pkg/api/v1/pod).

Which Pods a Service selects and which Services select a Pod; which Services a Pod update concerns
(GetServicesToUpdateOnPodChange: an update that changes neither the Pod's endpoint (IPs, readiness, deletion)
nor its labels/hostname concerns no Service; a label-only change concerns the Services it joins or leaves; an
endpoint change concerns every Service it belongs to); whether a Pod is published at all, its IPs, its
hostname, and the container port a Service port targets on it. Pure functions over plain dicts, plus
`watch_service_pods`, which registers the pod handlers both controllers share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyk8s.api import labels, meta
from pyk8s.client.interface import Informer, Obj, object_key
from pyk8s.controllers.framework.podstate import is_pod_ready, is_terminal, is_terminating


# ---- selection ----
def service_selector(service: Obj) -> dict[str, str] | None:
    """The Service's selector, or None when it has none (an empty map reads back from the API as none)."""
    sel = (service.get("spec") or {}).get("selector")
    return dict(sel) if sel else None


def service_pods(service: Obj, pods: Iterable[Obj]) -> list[Obj] | None:
    """The `pods` the Service selects; None for a Service whose endpoints are not the controllers' to write
    (no selector, or type ExternalName)."""
    if (service.get("spec") or {}).get("type") == "ExternalName":
        return None
    selector = service_selector(service)
    if selector is None:
        return None
    match = labels.selector_from_set(selector)
    return [p for p in pods if match.matches(meta.labels_of(p))]


def pod_services(services: list[Obj], pod: Obj) -> set[str]:
    """Keys of the Services (of the Pod's namespace) selecting `pod` (GetPodServiceMemberships)."""
    pod_labels = (pod.get("metadata") or {}).get("labels") or {}
    out: set[str] = set()
    for svc in services:
        sel = service_selector(svc)
        if sel is not None and labels.selector_from_set(sel).matches(pod_labels):
            out.add(object_key(svc))
    return out


def pod_changes(old: Obj, new: Obj) -> tuple[bool, bool]:
    """(endpoint changed, labels or hostname changed) between two versions of a Pod."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    labels_changed = (om.get("labels") or {}) != (nm.get("labels") or {}) \
        or os_.get("hostname") != ns_.get("hostname") or os_.get("subdomain") != ns_.get("subdomain")
    # Upstream compares deletionTimestamp pointers: two decoded objects that both carry one always differ.
    if om.get("deletionTimestamp") is not None or nm.get("deletionTimestamp") is not None:
        return True, labels_changed
    if is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    old_ips = [p.get("ip") for p in (old.get("status") or {}).get("podIPs") or ()]
    new_ips = [p.get("ip") for p in (new.get("status") or {}).get("podIPs") or ()]
    if old_ips != new_ips:
        return True, labels_changed
    return False, labels_changed


def services_to_update(services: list[Obj], old: Obj, new: Obj) -> set[str]:
    """Keys of the Services a Pod update from `old` to `new` concerns."""
    if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
        return set()
    changed, labels_changed = pod_changes(old, new)
    if not changed and not labels_changed:
        return set()
    now = pod_services(services, new)
    if not labels_changed:
        return now
    before = pod_services(services, old)
    if changed:
        return now | before
    return now ^ before


def watch_service_pods(pods: Informer, services: Informer, enqueue: Callable[[str], None]) -> None:
    """Make every Pod event enqueue the keys of the Services it concerns: on add and delete those selecting
    the Pod, on update those `services_to_update` names."""

    def selecting(namespace: str) -> list[Obj]:
        # Only Services with a selector can concern a Pod: most namespaces have none, and then no Pod event
        # needs looking at.
        return [s for s in services.lister.list(namespace) if (s.get("spec") or {}).get("selector")]

    def added_or_deleted(pod: Obj) -> None:
        svcs = selecting(meta.namespace_of(pod))
        if svcs:
            for key in pod_services(svcs, pod):
                enqueue(key)

    def updated(old: Obj, new: Obj) -> None:
        svcs = selecting(meta.namespace_of(new))
        if svcs:
            for key in services_to_update(svcs, old, new):
                enqueue(key)

    pods.add_handler(on_add=added_or_deleted, on_update=updated, on_delete=added_or_deleted)


# ---- one Pod as an endpoint ----
def pod_ips(pod: Obj) -> list[str]:
    """status.podIPs, or status.podIP when the list is missing."""
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or () if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """Not terminal, has an IP, and (unless `include_terminating`) not being deleted."""
    if is_terminal(pod):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not is_terminating(pod)


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    """The Pod names a hostname and this Service (same namespace) as its subdomain."""
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] \
        and (pod.get("metadata") or {}).get("namespace") == service["metadata"].get("namespace")


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The container port a Service port targets on this Pod: a number as is, a name looked up among the
    containers' (and restartable init containers') named ports with the same protocol; None if absent."""
    target = service_port.get("targetPort")
    if target is None or target == 0 or target == "":
        target = service_port.get("port")
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return target
    if not isinstance(target, str):
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for c in containers:
        for p in c.get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == protocol:
                return int(p.get("containerPort") or 0)
    return None
