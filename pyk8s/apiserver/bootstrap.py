"""What a fresh apiserver makes sure exists before it reports ready (upstream's post-start hooks).

The four system namespaces, the two system PriorityClasses, the `kubernetes` Service at the first
service-CIDR address with its Endpoints/EndpointSlice pointing at this apiserver, and allocator state
repaired from stored Services.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.api.validation.scheduling import SYSTEM_PRIORITY_CLASSES
from pyk8s.apiserver.admission import SYSTEM_NAMESPACES
from pyk8s.apiserver.app import APIServer
from pyk8s.apiserver.registry.strategy import RequestContext, UserInfo

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SYSTEM_USER = UserInfo(name="system:apiserver", groups=["system:masters"])
# Upstream's scheduling/bootstrap-system-priority-classes post-start hook creates these when missing.
SYSTEM_PRIORITY_CLASS_DESCRIPTIONS = {
    "system-node-critical": "Used for system critical pods that must not be moved from their current node.",
    "system-cluster-critical": "Used for system critical pods that must run in the cluster, but can be moved to "
                               "another node if necessary.",
}


def _ctx(manager: str = "kube-apiserver") -> RequestContext:
    return RequestContext(user=SYSTEM_USER, now=datetime.datetime.now(datetime.UTC), field_manager=manager)


async def _ensure(server: APIServer, group: str, version: str, plural: str, obj: Obj, *, validate: bool = True) -> Obj:
    r = server.table.lookup(group, version, plural)
    assert r is not None
    ns = obj["metadata"].get("namespace", "")
    try:
        return await server.registry.objects(r).get(ns, obj["metadata"]["name"])
    except errors.NotFound:
        pass
    try:
        return await server.writes.create_object(r, obj, _ctx(), validate=validate)
    except errors.AlreadyExists:
        return await server.registry.objects(r).get(ns, obj["metadata"]["name"])


async def repair_allocators(server: APIServer) -> None:
    svc = server.table.lookup("", "v1", "services")
    assert svc is not None
    server.services.repair((await server.registry.objects(svc).list("")).items)


async def bootstrap(server: APIServer) -> None:
    await repair_allocators(server)
    for name in SYSTEM_NAMESPACES:
        await _ensure(server, "", "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for name, description in SYSTEM_PRIORITY_CLASS_DESCRIPTIONS.items():
        await _ensure(server, "scheduling.k8s.io", "v1", "priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": SYSTEM_PRIORITY_CLASSES[name], "description": description,
        })
    port = server.secure_port
    service = await _ensure(server, "", "v1", "services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": server.ips.first, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    })
    want_ports = [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]
    if (service.get("spec") or {}).get("ports") != want_ports:
        # The apiserver moved to another port since the Service was made: follow it, as upstream reconciles.
        svc = server.table.lookup("", "v1", "services")
        assert svc is not None

        async def fix_ports(obj: Obj) -> Obj:
            obj.setdefault("spec", {})["ports"] = want_ports
            return obj
        await server.registry.objects(svc).guaranteed_update("default", "kubernetes", fix_ports)
    await reconcile_endpoints(server)


async def reconcile_endpoints(server: APIServer) -> None:
    """Point default/kubernetes Endpoints and EndpointSlice at this apiserver (upstream's endpoint reconciler)."""
    ip, port = server.advertise_address, server.secure_port
    ep_res = server.table.lookup("", "v1", "endpoints")
    slice_res = server.table.lookup("discovery.k8s.io", "v1", "endpointslices")
    assert ep_res is not None and slice_res is not None
    endpoints = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    }
    eps = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }
    for r, desired in ((ep_res, endpoints), (slice_res, eps)):
        current = await _ensure(server, r.group, r.version, r.plural, meta.copy(desired), validate=False)
        body_keys = [k for k in desired if k not in ("apiVersion", "kind", "metadata")]
        if any(current.get(k) != desired[k] for k in body_keys):
            async def fix(obj: Obj, want: Obj = desired, keys: list[str] = body_keys) -> Obj:
                for k in keys:
                    obj[k] = want[k]
                return obj
            await server.registry.objects(r).guaranteed_update("default", "kubernetes", fix)
