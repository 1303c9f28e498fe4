"""core/v1 LimitRange and ResourceQuota validation (resource names, min/max/default relations, scopes)."""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import resources as rs
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")
# Upstream's standardQuotaResources: the standard resources except the bare "storage".
_QUOTA_RESOURCES: Final = rs.STANDARD_RESOURCES - {"storage"}
_QUOTA_SCOPES: Final = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)

# (lesser, greater, section, value shown, message): a LimitRange item's values must not exceed the ones they
# bound, checked in upstream's order; the error sits on ``section`` and shows the ``value shown`` quantity.
_LIMIT_ORDER: Final = (
    ("min", "max", "min", "min", "min value {min} is greater than max value {max}"),
    ("min", "defaultRequest", "defaultRequest", "defaultRequest",
     "min value {min} is greater than default request value {defaultRequest}"),
    ("defaultRequest", "max", "defaultRequest", "defaultRequest",
     "default request value {defaultRequest} is greater than max value {max}"),
    ("defaultRequest", "default", "defaultRequest", "defaultRequest",
     "default request value {defaultRequest} is greater than default limit value {default}"),
    ("min", "default", "default", "min", "min value {min} is greater than default value {default}"),
    ("default", "max", "default", "max", "default value {default} is greater than max value {max}"),
)


def validate_limit_range(lr: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta_rechecked(lr, old)
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
            for lesser, greater, section, shown, message in _LIMIT_ORDER:
                ql, qg = q.get(lesser), q.get(greater)
                if ql is not None and qg is not None and ql > qg:
                    errs.append(fe.invalid(ip.child(section).key(name), t[shown], message.format(**t)))
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
    errs = vm.object_meta(rq, old)
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
