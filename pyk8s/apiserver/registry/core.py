"""Strategies for core/v1 resources whose behaviour differs from the generic one."""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors, meta
from pyk8s.api.quantity import parse_quantity
from pyk8s.api.resources import Resource
from pyk8s.apiserver.allocators import ClusterIPAllocator, NodePortAllocator
from pyk8s.apiserver.registry.strategy import RequestContext, Strategy

Obj = dict[str, Any]


def pod_qos_class(pod: Obj) -> str:
    """Guaranteed / Burstable / BestEffort from cpu and memory requests and limits, as upstream's GetPodQOS."""
    spec = pod.get("spec") or {}
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        res = c.get("resources") or {}
        req = {k: _qty(v) for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: _qty(v) for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        req = {k: v for k, v in req.items() if v}
        lim = {k: v for k, v in lim.items() if v}
        for k, v in req.items():
            requests[k] = requests.get(k, 0) + v
        for k, v in lim.items():
            limits[k] = limits.get(k, 0) + v
        if set(lim) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(requests.get(k, limits[k]) == limits[k] for k in ("cpu", "memory")):
        return "Guaranteed"
    return "Burstable"


def _qty(value: Any) -> Any:
    try:
        return parse_quantity(str(value))
    except Exception:
        return 0


class PodStrategy(Strategy):
    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Pending", "qosClass": pod_qos_class(obj)}

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        super().prepare_for_update(new, old, ctx)

    def default_grace_period(self, obj: Obj) -> int:
        grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds")
        return int(grace) if grace is not None else 30

    def effective_grace_period(self, obj: Obj, requested: int) -> int:
        # Unscheduled or finished pods have nothing to stop: they go at once (upstream CheckGracefulDelete).
        if not (obj.get("spec") or {}).get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        return 1 if requested < 0 else requested  # upstream turns a negative period into 1 s


class NodeStrategy(Strategy):
    """Nodes may set their status on create (upstream: "Nodes allow *all* fields, including status")."""

    def initial_status(self, obj: Obj) -> Any:
        status = obj.get("status")
        return status if isinstance(status, dict) else {}


class NamespaceStrategy(Strategy):
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        super().prepare_for_create(obj, ctx)
        spec = obj.get("spec") or {}
        finalizers = list(spec.get("finalizers") or [])
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        obj["spec"] = {**spec, "finalizers": finalizers}

    def initial_status(self, obj: Obj) -> Any:
        return {"phase": "Active"}

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        # Only the finalize subresource may change spec.finalizers.
        super().prepare_for_update(new, old, ctx)
        new["spec"] = meta.copy(old.get("spec") or {})

    def prepare_for_finalize(self, new: Obj, old: Obj) -> None:
        finalizers = (new.get("spec") or {}).get("finalizers") or []
        result = meta.copy(old)
        result.setdefault("spec", {})["finalizers"] = list(finalizers)
        if not finalizers:
            result["spec"].pop("finalizers")
        new.clear()
        new.update(result)

    def pending_deletion(self, obj: Obj) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    def mark_deleting(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class ServiceStrategy(Strategy):
    """Services get a ClusterIP from the service CIDR and NodePorts from 30000-32767."""

    def __init__(self, resource: Resource, ips: ClusterIPAllocator, ports: NodePortAllocator) -> None:
        super().__init__(resource)
        self.ips = ips
        self.ports = ports

    def initial_status(self, obj: Obj) -> Any:
        return {"loadBalancer": {}}

    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        super().prepare_for_update(new, old, ctx)
        spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
        drop_type_dependent_fields(spec, old_spec)
        # Allocated values the client left out (kubectl replace of a manifest) carry over before validation,
        # as upstream's BeginUpdate does, while the Service keeps needing a cluster IP.
        if spec.get("type", "ClusterIP") != "ExternalName" and old_spec.get("clusterIP"):
            if not spec.get("clusterIP") and not spec.get("clusterIPs"):
                spec["clusterIP"] = old_spec["clusterIP"]
                spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
            for key in ("ipFamilies", "ipFamilyPolicy"):
                if key not in spec and key in old_spec:
                    spec[key] = old_spec[key]

    def _invalid_ip(self, obj: Obj, ip: str, why: str) -> errors.Invalid:
        return errors.invalid("Service", "", meta.name_of(obj), [{
            "reason": "FieldValueInvalid", "field": "spec.clusterIPs",
            "message": f'Invalid value: ["{ip}"]: failed to allocate IP {ip}: {why}'}])

    def _reserve_node_port(self, obj: Obj, index: int, port: int) -> None:
        """Reserve an explicitly requested node port, or raise the 422 upstream gives for it."""
        if port in self.ports.used or not self.ports.contains(port):
            why = ("provided port is already allocated" if port in self.ports.used else
                   f"provided port is not in the valid range. The range of valid ports is "
                   f"{self.ports.low}-{self.ports.high}")
            raise errors.invalid("Service", "", meta.name_of(obj), [{
                "reason": "FieldValueInvalid", "field": f"spec.ports[{index}].nodePort",
                "message": f"Invalid value: {port}: {why}"}])
        self.ports.reserve(port)

    async def before_create(self, obj: Obj, ctx: RequestContext) -> None:
        spec = obj.setdefault("spec", {})
        svc_type = spec.get("type", "ClusterIP")
        reserved_ips: list[str] = []
        reserved_ports: list[int] = []
        async with self.ips.lock, self.ports.lock:
            try:
                if svc_type != "ExternalName":
                    wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
                    if wanted == "None":
                        spec["clusterIP"] = "None"
                        spec["clusterIPs"] = ["None"]
                    else:
                        if wanted:
                            if not self.ips.contains(wanted):
                                raise self._invalid_ip(obj, wanted, "provided IP is not in the valid range. "
                                                       f"The range of valid IPs is {self.ips.network}")
                            if wanted in self.ips.used:
                                raise self._invalid_ip(obj, wanted, "provided IP is already allocated")
                            self.ips.reserve(wanted)
                            ip = wanted
                        else:
                            ip = self.ips.allocate_next()
                        reserved_ips.append(ip)
                        spec["clusterIP"] = ip
                        spec["clusterIPs"] = [ip]
                    spec.setdefault("ipFamilies", ["IPv4"])
                    spec.setdefault("ipFamilyPolicy", "SingleStack")
                if svc_type in ("NodePort", "LoadBalancer"):
                    for i, port in enumerate(spec.get("ports") or []):
                        wanted_port = port.get("nodePort")
                        if wanted_port:
                            self._reserve_node_port(obj, i, wanted_port)
                        else:
                            port["nodePort"] = self.ports.allocate_next()
                        reserved_ports.append(port["nodePort"])
            except BaseException:
                for ip in reserved_ips:
                    self.ips.release(ip)
                for p in reserved_ports:
                    self.ports.release(p)
                raise
            if ctx.dry_run:
                for ip in reserved_ips:
                    self.ips.release(ip)
                for p in reserved_ports:
                    self.ports.release(p)

    async def after_failed_create(self, obj: Obj) -> None:
        self.release(obj)

    async def before_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        """Reserve the node ports the update adds (recorded in ctx.reserved); old ones are freed only after the
        write commits (after_update), and abort_update gives back what an attempt reserved."""
        spec = new.setdefault("spec", {})
        old_spec = old.get("spec") or {}
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                     for p in old_spec.get("ports") or [] if p.get("nodePort")}
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        async with self.ports.lock:
            for i, port in enumerate(spec.get("ports") or []):
                wanted = port.get("nodePort")
                if wanted:
                    if wanted in old_ports.values() or ctx.dry_run:
                        continue
                    self._reserve_node_port(new, i, wanted)
                    ctx.reserved.append(wanted)
                    continue
                kept = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if kept:
                    port["nodePort"] = kept
                elif not ctx.dry_run:
                    port["nodePort"] = self.ports.allocate_next()
                    ctx.reserved.append(port["nodePort"])

    async def abort_update(self, ctx: RequestContext) -> None:
        for port in ctx.reserved:
            self.ports.release(port)
        ctx.reserved.clear()

    async def after_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        ctx.reserved.clear()
        new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        kept = {p.get("nodePort") for p in new_spec.get("ports") or [] if p.get("nodePort")}
        for p in old_spec.get("ports") or []:
            if p.get("nodePort") and p["nodePort"] not in kept:
                self.ports.release(p["nodePort"])
        if not new_spec.get("clusterIP") and old_spec.get("clusterIP") not in (None, "", "None"):
            for ip in old_spec.get("clusterIPs") or [old_spec["clusterIP"]]:
                self.ips.release(ip)

    async def after_delete(self, obj: Obj) -> None:
        self.release(obj)

    def release(self, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
            if ip and ip != "None":
                self.ips.release(ip)
        for p in spec.get("ports") or []:
            if p.get("nodePort"):
                self.ports.release(p["nodePort"])

    def repair(self, services: list[Obj]) -> None:
        """Rebuild allocations from stored Services (upstream's repair loops, run at start)."""
        for svc in services:
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []):
                if ip and ip != "None" and self.ips.contains(ip):
                    self.ips.used.add(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort") and self.ports.contains(p["nodePort"]):
                    self.ports.used.add(p["nodePort"])


def _node_ports(spec: Obj) -> set[int]:
    return {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}


def _externally_accessible(spec: Obj) -> bool:
    kind = spec.get("type", "ClusterIP")
    return kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and bool(spec.get("externalIPs")))


def drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """Wipe what the old type needed and the new one does not, unless the client changed it too (upstream).

    This is what lets a NodePort Service become ClusterIP: its node ports (then released) and its
    externalTrafficPolicy go away instead of failing validation.
    """
    old_type, new_type = old.get("type", "ClusterIP"), new.get("type", "ClusterIP")
    needs_ports = ("NodePort", "LoadBalancer")
    if old_type in needs_ports and new_type not in needs_ports and _node_ports(old) == _node_ports(new):
        for port in new.get("ports") or []:
            port.pop("nodePort", None)
    old_hc = old_type == "LoadBalancer" and old.get("externalTrafficPolicy") == "Local"
    new_hc = new_type == "LoadBalancer" and new.get("externalTrafficPolicy") == "Local"
    if old_hc and not new_hc and old.get("healthCheckNodePort") == new.get("healthCheckNodePort"):
        new.pop("healthCheckNodePort", None)
    if old_type == "LoadBalancer" and new_type != "LoadBalancer":
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if old.get(key) == new.get(key):
                new.pop(key, None)
    if _externally_accessible(old) and not _externally_accessible(new) and \
            old.get("externalTrafficPolicy") == new.get("externalTrafficPolicy"):
        new.pop("externalTrafficPolicy", None)
