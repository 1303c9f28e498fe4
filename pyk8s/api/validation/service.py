"""Service and Endpoints validation (core/v1), with upstream's paths and messages.

Cluster IP and node port *allocation* is the apiserver's registry job; this module only checks the
shape of what the user sent and, on update, that allocated IPs and families do not change.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")
_TYPES: Final = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def cluster_ips(spec: Obj) -> list[str]:
    """spec.clusterIPs as the registry normalises it (clusterIP alone implies clusterIPs=[clusterIP])."""
    ips = [c.s(x) for x in c.lst(spec.get("clusterIPs"))]
    if not ips and c.s(spec.get("clusterIP")):
        ips = [c.s(spec.get("clusterIP"))]
    return ips


def is_headless(spec: Obj) -> bool:
    ips = cluster_ips(spec)
    return len(ips) == 1 and ips[0] == "None"


def externally_accessible(spec: Obj) -> bool:
    typ = spec.get("type")
    return typ in ("LoadBalancer", "NodePort") or (typ == "ClusterIP" and bool(c.lst(spec.get("externalIPs"))))


def _port(port: Obj, require_name: bool, names: set[str], path: Path) -> Errs:
    errs: Errs = []
    name = c.s(port.get("name"))
    if require_name and not name:
        errs.append(fe.required(path.child("name")))
    elif name:
        errs += c.dns1123_label(name, path.child("name"))
        if name in names:
            errs.append(fe.duplicate(path.child("name"), name))
        names.add(name)
    errs += c.port_number(c.i(port.get("port")), path.child("port"))
    errs += c.required_enum(c.s(port.get("protocol")), c.PROTOCOLS, path.child("protocol"))
    errs += c.port_num_or_name(port.get("targetPort", 0), path.child("targetPort"))
    if port.get("appProtocol") is not None:
        errs += c.qualified_name(c.s(port.get("appProtocol")), path.child("appProtocol"))
    return errs


def _cluster_ip_fields(spec: Obj) -> Errs:
    if spec.get("type") == "ExternalName":
        return []
    errs: Errs = []
    ips_path = SPEC.child("clusterIPs")
    ip, ips = c.s(spec.get("clusterIP")), cluster_ips(spec)
    if ip and ips[0] != ip:
        errs.append(fe.invalid(ips_path, ips, "first value must match `clusterIP`"))
    elif not ip and c.lst(spec.get("clusterIPs")):
        errs.append(fe.invalid(ips_path, ips, "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for n, fam in enumerate(c.lst(spec.get("ipFamilies"))):
        if fam not in ("IPv4", "IPv6"):
            errs.append(fe.not_supported(SPEC.child("ipFamilies").index(n), fam, ["IPv4", "IPv6"]))
        if fam in seen:
            errs.append(fe.duplicate(SPEC.child("ipFamilies").index(n), fam))
        seen.add(c.s(fam))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in ("PreferDualStack", "RequireDualStack", "SingleStack"):
        errs.append(
            fe.not_supported(
                SPEC.child("ipFamilyPolicy"), policy, ["PreferDualStack", "RequireDualStack", "SingleStack"]
            )
        )
    bad = False
    for n, value in enumerate(ips):
        if n == 0 and value == "None":
            if len(ips) > 1:
                bad = True
                errs.append(fe.invalid(ips_path, ips, "'None' must be the first and only value"))
            continue
        ip_errs = c.is_valid_ip(ips_path.index(n), value)
        bad = bad or bool(ip_errs)
        errs += ip_errs
    if len(ips) > 2:
        errs.append(fe.invalid(ips_path, ips, "may only hold up to 2 values"))
    if bad:
        return errs
    if len(ips) > 1:
        versions = {c.parse_ip(x).version for x in ips[:2] if c.parse_ip(x) is not None}  # type: ignore[union-attr]
        if len(versions) != 2:
            errs.append(fe.invalid(ips_path, ips, "may specify no more than one IP for each IP family"))
    families = c.lst(spec.get("ipFamilies"))
    if not is_headless(spec) and ips and families:
        for n, value in enumerate(ips[: len(families)]):
            parsed = c.parse_ip(value)
            v6 = parsed is not None and parsed.version == 6
            if families[n] == "IPv4" and v6:
                errs.append(
                    fe.invalid(ips_path.index(n), value, f"expected an IPv4 value as indicated by `ipFamilies[{n}]`")
                )
            if families[n] == "IPv6" and not v6:
                errs.append(
                    fe.invalid(ips_path.index(n), value, f"expected an IPv6 value as indicated by `ipFamilies[{n}]`")
                )
    return errs


def validate_service(svc: Obj) -> Errs:
    """ValidateService."""
    spec = c.dct(svc.get("spec"))
    errs = vm.validate_object_meta(svc, True, c.name_is_dns1035_label)
    typ, ports = c.s(spec.get("type")), c.lst(spec.get("ports"))
    headless = is_headless(spec)
    if not ports and not headless and typ != "ExternalName":
        errs.append(fe.required(SPEC.child("ports")))
    if typ in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            fe.invalid(SPEC.child("clusterIPs").index(0), "None", f"may not be set to 'None' for {typ} services")
        )
    elif typ == "ExternalName":
        if c.lst(spec.get("clusterIPs")) or c.s(spec.get("clusterIP")):
            errs.append(fe.forbidden(SPEC.child("clusterIPs"), "may not be set for ExternalName services"))
        if c.lst(spec.get("ipFamilies")):
            errs.append(fe.forbidden(SPEC.child("ipFamilies"), "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(fe.forbidden(SPEC.child("ipFamilyPolicy"), "may not be set for ExternalName services"))
        cname = c.s(spec.get("externalName")).removesuffix(".")
        if cname:
            errs += c.dns1123_subdomain(cname, SPEC.child("externalName"))
        else:
            errs.append(fe.required(SPEC.child("externalName")))
    names: set[str] = set()
    for n, port in c.each(ports):
        errs += _port(port, len(ports) > 1, names, SPEC.child("ports").index(n))
    if spec.get("selector") is not None:
        errs += c.label_map(spec.get("selector"), SPEC.child("selector"))
    affinity = c.s(spec.get("sessionAffinity"))
    errs += c.required_enum(affinity, ["ClientIP", "None"], SPEC.child("sessionAffinity"))
    cfg_path = SPEC.child("sessionAffinityConfig")
    if affinity == "ClientIP":
        timeout = c.get(spec, "sessionAffinityConfig", "clientIP", "timeoutSeconds")
        if spec.get("sessionAffinityConfig") is None:
            errs.append(fe.required(cfg_path, "when session affinity type is ClientIP"))
        elif c.get(spec, "sessionAffinityConfig", "clientIP") is None:
            errs.append(fe.required(cfg_path.child("clientIP"), "when session affinity type is ClientIP"))
        elif timeout is None:
            errs.append(
                fe.required(cfg_path.child("clientIP", "timeoutSeconds"), "when session affinity type is ClientIP")
            )
        elif not 0 < c.i(timeout) <= 86400:
            errs.append(
                fe.invalid(
                    cfg_path.child("clientIP", "timeoutSeconds"), timeout, "must be greater than 0 and less than 86400"
                )
            )
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(fe.forbidden(cfg_path, "must not be set when session affinity is None"))
    errs += _cluster_ip_fields(spec)
    for n, ip in enumerate(c.lst(spec.get("externalIPs"))):
        ip_errs = c.is_valid_ip(SPEC.child("externalIPs").index(n), c.s(ip))
        errs += ip_errs or c.non_special_ip(c.s(ip), SPEC.child("externalIPs").index(n))
    errs += c.required_enum(typ, _TYPES, SPEC.child("type"))
    seen_node_ports: set[tuple[str, int]] = set()
    seen_ports: set[tuple[str, int]] = set()
    for n, port in c.each(ports):
        pp = SPEC.child("ports").index(n)
        node_port, proto = c.i(port.get("nodePort")), c.s(port.get("protocol"))
        if typ == "ClusterIP" and node_port:
            errs.append(fe.forbidden(pp.child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
    for n, port in c.each(ports):
        node_port, proto = c.i(port.get("nodePort")), c.s(port.get("protocol"))
        if node_port:
            if (proto, node_port) in seen_node_ports:
                errs.append(fe.duplicate(SPEC.child("ports").index(n).child("nodePort"), node_port))
            seen_node_ports.add((proto, node_port))
    for n, port in c.each(ports):
        key = (c.s(port.get("protocol")), c.i(port.get("port")))
        if key in seen_ports:
            errs.append(
                fe.duplicate(
                    SPEC.child("ports").index(n),
                    fe.GoValue(
                        f'core.ServicePort{{Name:"", Protocol:"{key[0]}", AppProtocol:(*string)(nil), Port:{key[1]}, '
                        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
                    ),
                )
            )
        seen_ports.add(key)
    ranges = c.lst(spec.get("loadBalancerSourceRanges"))
    if ranges:
        rp = SPEC.child("LoadBalancerSourceRanges")
        if typ != "LoadBalancer":
            errs.append(fe.forbidden(rp, "may only be used when `type` is 'LoadBalancer'"))
        for n, value in enumerate(ranges):
            errs += c.is_valid_cidr(rp.index(n), c.s(value).strip())
    if spec.get("allocateLoadBalancerNodePorts") is not None and typ != "LoadBalancer":
        errs.append(
            fe.forbidden(SPEC.child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'")
        )
    if typ == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(fe.required(Path.of("allocateLoadBalancerNodePorts")))
    lbc = spec.get("loadBalancerClass")
    if lbc is not None:
        if typ == "LoadBalancer":
            errs += c.qualified_name(c.s(lbc), SPEC.child("loadBalancerClass"))
        else:
            errs.append(fe.forbidden(SPEC.child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
    errs += _traffic_policies(spec)
    return errs


def _traffic_policies(spec: Obj) -> Errs:
    errs: Errs = []
    etp = c.s(spec.get("externalTrafficPolicy"))
    if not externally_accessible(spec):
        if etp:
            errs.append(
                fe.invalid(
                    SPEC.child("externalTrafficPolicy"), etp, "may only be set for externally-accessible services"
                )
            )
    elif not etp:
        errs.append(fe.required(SPEC.child("externalTrafficPolicy")))
    elif etp not in ("Cluster", "Local"):
        errs.append(fe.not_supported(SPEC.child("externalTrafficPolicy"), etp, ["Cluster", "Local"]))
    hc = c.i(spec.get("healthCheckNodePort"))
    needs_hc = spec.get("type") == "LoadBalancer" and etp == "Local"
    if not needs_hc and hc:
        errs.append(
            fe.invalid(
                SPEC.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            )
        )
    elif needs_hc and hc:
        errs += c.port_number(hc, SPEC.child("healthCheckNodePort"))
    itp = spec.get("internalTrafficPolicy")
    if itp is None and spec.get("type") in ("NodePort", "LoadBalancer", "ClusterIP"):
        errs.append(fe.required(SPEC.child("internalTrafficPolicy")))
    elif itp is not None and itp not in ("Cluster", "Local"):
        errs.append(fe.not_supported(SPEC.child("internalTrafficPolicy"), itp, ["Cluster", "Local"]))
    td = spec.get("trafficDistribution")
    if td is not None and td != "PreferClose":
        errs.append(fe.not_supported(SPEC.child("trafficDistribution"), td, ["PreferClose"]))
    return errs


def validate_service_update(new: Obj, old: Obj) -> Errs:
    """ValidateServiceUpdate: cluster IPs and families may be added or released, never changed."""
    errs = vm.validate_object_meta_update(new, old)
    ns, os_ = c.dct(new.get("spec")), c.dct(old.get("spec"))
    errs += _ips_update(ns, os_)
    old_lb, new_lb = os_.get("type") == "LoadBalancer", ns.get("type") == "LoadBalancer"
    if old_lb and new_lb and ns.get("loadBalancerClass") != os_.get("loadBalancerClass"):
        errs.append(fe.invalid(SPEC.child("loadBalancerClass"), ns.get("loadBalancerClass"), "may not change once set"))
    if (
        old_lb
        and os_.get("externalTrafficPolicy") == "Local"
        and new_lb
        and ns.get("externalTrafficPolicy") == "Local"
        and ns.get("healthCheckNodePort") != os_.get("healthCheckNodePort")
    ):
        errs.append(fe.forbidden(SPEC.child("healthCheckNodePort"), c.IMMUTABLE_MSG))
    return errs + validate_service(new)


def _ips_update(new: Obj, old: Obj) -> Errs:
    if "ExternalName" in (new.get("type"), old.get("type")):
        return []
    errs: Errs = []
    p = SPEC.child("clusterIPs")
    nips, oips = cluster_ips(new), cluster_ips(old)
    if not (is_headless(new) and is_headless(old)):
        if len(nips) == len(oips):
            for n, ip in enumerate(oips):
                if ip != nips[n]:
                    errs.append(fe.invalid(p.index(n), nips, "may not change once set"))
        elif len(oips) > len(nips):
            if not nips:
                errs.append(fe.invalid(p.index(0), nips, "primary clusterIP can not be unset"))
            elif nips[0] != oips[0]:
                errs.append(fe.invalid(p.index(0), nips, "may not change once set"))
            if len(nips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
                errs.append(
                    fe.invalid(
                        SPEC.child("ipFamilyPolicy"),
                        new.get("ipFamilyPolicy"),
                        "must be set to 'SingleStack' when releasing the secondary clusterIP",
                    )
                )
        elif oips and nips[0] != oips[0]:
            errs.append(fe.invalid(p.index(0), nips, "may not change once set"))
    if is_headless(new) != is_headless(old) or is_headless(new):
        return errs
    nf, of = c.lst(new.get("ipFamilies")), c.lst(old.get("ipFamilies"))
    fp = SPEC.child("ipFamilies")
    if len(nf) == len(of):
        for n, fam in enumerate(of):
            if fam != nf[n]:
                errs.append(fe.invalid(fp.index(0), nf, "may not change once set"))
    elif len(of) > len(nf):
        if not nips:
            errs.append(fe.invalid(fp.index(0), nf, "primary ipFamily can not be unset"))
        if nf and nf[0] != of[0]:
            errs.append(fe.invalid(fp.index(0), nips, "may not change once set"))
        if len(nf) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            errs.append(
                fe.invalid(
                    SPEC.child("ipFamilyPolicy"),
                    new.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
    elif of and nf and nf[0] != of[0]:
        errs.append(fe.invalid(fp.index(0), nips, "may not change once set"))
    return errs


# ---------------------------------------------------------------- Endpoints


def _endpoint_address(addr: Obj, path: Path) -> Errs:
    ip = c.s(addr.get("ip"))
    errs = c.is_valid_ip(path.child("ip"), ip)
    if c.s(addr.get("hostname")):
        errs += c.dns1123_label(c.s(addr.get("hostname")), path.child("hostname"))
    node = addr.get("nodeName")
    if node is not None:
        errs += [fe.invalid(path.child("nodeName"), c.s(node), m) for m in c.name_is_dns_subdomain(c.s(node), False)]
    return errs + c.non_special_ip(ip, path.child("ip"))


def validate_endpoints(ep: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta_rechecked(ep, old)
    for n, ss in c.each(c.lst(ep.get("subsets"))):
        sp = Path.of("subsets").index(n)
        if not c.lst(ss.get("addresses")) and not c.lst(ss.get("notReadyAddresses")):
            errs.append(fe.required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in c.each(c.lst(ss.get(key))):
                errs += _endpoint_address(addr, sp.child(key).index(j))
        ports: list[Any] = c.lst(ss.get("ports"))
        for j, port in c.each(ports):
            pp = sp.child("ports").index(j)
            name = c.s(port.get("name"))
            if len(ports) > 1 and not name:
                errs.append(fe.required(pp.child("name")))
            elif name:
                errs += c.dns1123_label(name, pp.child("name"))
            errs += c.port_number(c.i(port.get("port")), pp.child("port"))
            errs += c.required_enum(c.s(port.get("protocol")), c.PROTOCOLS, pp.child("protocol"))
    return errs
