"""core/v1 LimitRange and ResourceQuota validation (resource names, min/max/default relations, scopes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import resources as rs
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")
_QUOTA_RESOURCES: Final = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "persistentvolumeclaims",
        "configmaps",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_QUOTA_SCOPES: Final = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)


def validate_limit_range(lr: Obj, old: Obj | None = None) -> Errs:
    errs = vm.validate_object_meta_update(lr, old) if old is not None else []
    errs += vm.validate_object_meta(lr, True, c.name_is_dns_subdomain)
    seen: set[str] = set()
    for n, item in c.each(c.lst(c.get(lr, "spec", "limits"))):
        ip = SPEC.child("limits").index(n)
        typ = c.s(item.get("type"))
        tp = ip.child("type")
        type_errs = c.qualified_name(typ, tp)
        if not type_errs and "/" not in typ and typ not in ("Pod", "Container", "PersistentVolumeClaim"):
            type_errs = [fe.invalid(tp, typ, "must be a standard limit type or fully qualified")]
        errs += type_errs
        if typ in seen:
            errs.append(fe.duplicate(tp, typ))
        seen.add(typ)
        name_fn = rs.container_resource_name if typ in ("Pod", "Container") else rs.resource_name
        values: dict[str, dict[str, Any]] = {}
        for section in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            sect = c.dct(item.get(section))
            if typ == "Pod" and section in ("default", "defaultRequest"):
                if sect:
                    errs.append(fe.forbidden(ip.child(section), "may not be specified when `type` is 'Pod'"))
                continue
            for name, q in sect.items():
                errs += name_fn(name, ip.child(section).key(name))
                values.setdefault(name, {})[section] = q
        if (
            typ == "PersistentVolumeClaim"
            and "storage" not in c.dct(item.get("min"))
            and "storage" not in c.dct(item.get("max"))
        ):
            errs.append(
                fe.required(
                    ip.child("limits"), "either minimum or maximum storage value is required, but neither was provided"
                )
            )
        for name, found in values.items():
            q = {k: c.parse_quantity(v) for k, v in found.items()}
            t = {k: c.quantity_text(v) for k, v in found.items()}

            def cmp(a: str, b: str, q: dict[str, Decimal | None] = q) -> bool:
                qa, qb = q.get(a), q.get(b)
                return qa is not None and qb is not None and qa > qb

            if cmp("min", "max"):
                errs.append(
                    fe.invalid(
                        ip.child("min").key(name),
                        t["min"],
                        f"min value {t['min']} is greater than max value {t['max']}",
                    )
                )
            if cmp("min", "defaultRequest"):
                errs.append(
                    fe.invalid(
                        ip.child("defaultRequest").key(name),
                        t["defaultRequest"],
                        f"min value {t['min']} is greater than default request value {t['defaultRequest']}",
                    )
                )
            if cmp("defaultRequest", "max"):
                errs.append(
                    fe.invalid(
                        ip.child("defaultRequest").key(name),
                        t["defaultRequest"],
                        f"default request value {t['defaultRequest']} is greater than max value {t['max']}",
                    )
                )
            if cmp("defaultRequest", "default"):
                errs.append(
                    fe.invalid(
                        ip.child("defaultRequest").key(name),
                        t["defaultRequest"],
                        f"default request value {t['defaultRequest']} is greater than default limit value "
                        f"{t['default']}",
                    )
                )
            if cmp("min", "default"):
                errs.append(
                    fe.invalid(
                        ip.child("default").key(name),
                        t["min"],
                        f"min value {t['min']} is greater than default value {t['default']}",
                    )
                )
            if cmp("default", "max"):
                errs.append(
                    fe.invalid(
                        ip.child("default").key(name),
                        t["max"],
                        f"default value {t['default']} is greater than max value {t['max']}",
                    )
                )
            ratio = q.get("maxLimitRequestRatio")
            if ratio is not None and ratio < 1:
                errs.append(
                    fe.invalid(
                        ip.child("maxLimitRequestRatio").key(name),
                        t["maxLimitRequestRatio"],
                        f"ratio {t['maxLimitRequestRatio']} is less than 1",
                    )
                )
    return errs


def _quota_resource_name(name: str, path: Path) -> Errs:
    errs = rs.resource_name(name, path)
    if "/" not in name and name not in _QUOTA_RESOURCES and not name.startswith("requests.hugepages-"):
        errs.append(fe.invalid(path, name, "must be a standard resource for quota"))
    return errs


def validate_resource_quota(rq: Obj, old: Obj | None = None) -> Errs:
    errs = (
        vm.validate_object_meta_update(rq, old)
        if old is not None
        else vm.validate_object_meta(rq, True, c.name_is_dns_subdomain)
    )
    spec = c.dct(rq.get("spec"))
    sections = [("spec", "hard")] + ([("status", "hard"), ("status", "used")] if old is None else [])
    for top, sect in sections:
        for name, q in c.dct(c.get(rq, top, sect)).items():
            rp = Path.of(top, sect).key(name)
            errs += _quota_resource_name(name, rp) + rs.quantity_value(name, q, rp)
    scopes = [c.s(x) for x in c.lst(spec.get("scopes"))]
    for scope in scopes:
        if scope not in _QUOTA_SCOPES:
            errs.append(fe.invalid(SPEC.child("scopes"), scopes, "unsupported scope"))
    if {"BestEffort", "NotBestEffort"} <= set(scopes) or {"Terminating", "NotTerminating"} <= set(scopes):
        errs.append(fe.invalid(SPEC.child("scopes"), scopes, "conflicting scopes"))
    if old is not None and set(scopes) != {c.s(x) for x in c.lst(c.get(old, "spec", "scopes"))}:
        errs.append(fe.invalid(SPEC.child("scopes"), scopes, c.IMMUTABLE_MSG))
    return errs
