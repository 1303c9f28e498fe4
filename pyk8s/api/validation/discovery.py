"""discovery.k8s.io/v1 EndpointSlice validation."""

from __future__ import annotations

from typing import Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

_ADDRESS_TYPES: Final = ["FQDN", "IPv4", "IPv6"]


def _address(addr_type: str, address: str, path: Path) -> Errs:
    if addr_type in ("IPv4", "IPv6"):
        ip = c.parse_ip(address)
        want = 4 if addr_type == "IPv4" else 6
        if ip is None or ip.version != want:
            return [fe.invalid(path, address, f"must be a valid {addr_type} address")]
        return c.non_special_ip(address, path)
    if addr_type == "FQDN":
        if not address:
            return [fe.required(path)]
        name = address.removesuffix(".")
        msgs = c.name_is_dns_subdomain(name, False)
        if msgs:
            return [fe.invalid(path, name, ",".join(msgs))]
        if len(name.split(".")) < 2:
            return [fe.invalid(path, name, "should be a domain with at least two segments separated by dots")]
    return []


def validate_endpoint_slice(eps: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta_rechecked(eps, old)
    addr_type = c.s(eps.get("addressType"))
    valid_types = _ADDRESS_TYPES + (["IP"] if old is not None else [])
    errs += c.required_enum(addr_type, sorted(valid_types), Path.of("addressType"))
    endpoints = c.lst(eps.get("endpoints"))
    if len(endpoints) > 1000:
        errs.append(fe.too_many(Path.of("endpoints"), len(endpoints), 1000))
    else:
        for n, ep in c.each(endpoints):
            ip = Path.of("endpoints").index(n)
            addrs = c.lst(ep.get("addresses"))
            if not addrs:
                errs.append(fe.required(ip.child("addresses"), "must contain at least 1 address"))
            elif len(addrs) > 100:
                errs.append(fe.too_many(ip.child("addresses"), len(addrs), 100))
            for j, a in enumerate(addrs):
                errs += _address(addr_type, c.s(a), ip.child("addresses").index(j))
            errs += c.label_map(ep.get("topology"), ip.child("topology"))
            if ep.get("hostname") is not None:
                errs += c.dns1123_label(c.s(ep.get("hostname")), ip.child("hostname"))
    ports = c.lst(eps.get("ports"))
    if len(ports) > 100:
        errs.append(fe.too_many(Path.of("ports"), len(ports), 100))
        return errs
    names: set[str] = set()
    for n, port in c.each(ports):
        pp = Path.of("ports").index(n)
        name = c.s(port.get("name"))
        if name:
            errs += c.dns1123_label(name, pp.child("name"))
        if name in names:
            errs.append(fe.duplicate(pp.child("name"), name))
        names.add(name)
        proto = port.get("protocol")
        if proto is None:
            errs.append(fe.required(pp.child("protocol")))
        elif proto not in c.PROTOCOLS:
            errs.append(fe.not_supported(pp.child("protocol"), proto, c.PROTOCOLS))
        if port.get("appProtocol") is not None:
            errs += c.qualified_name(c.s(port.get("appProtocol")), pp.child("appProtocol"))
    if old is not None:
        errs += c.immutable(eps.get("addressType"), old.get("addressType"), Path.of("addressType"))
    return errs
