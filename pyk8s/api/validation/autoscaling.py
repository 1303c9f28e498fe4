"""autoscaling/v1 and autoscaling/v2 HorizontalPodAutoscaler validation.

Upstream validates the internal (v2-shaped) object; for autoscaling/v1 the single
``targetCPUUtilizationPercentage`` is checked the way its converted metric would be.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import resources as rs
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")
MAX_PERIOD_SECONDS: Final = 1800
MAX_STABILIZATION_WINDOW_SECONDS: Final = 3600
_METRIC_TYPES: Final = ["ContainerResource", "External", "Object", "Pods", "Resource"]
_SOURCE_FIELD: Final = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}


def _cross_version_ref(ref: Any, path: Path) -> Errs:
    errs: Errs = []
    for fld in ("kind", "name"):
        v = c.s(c.get(ref, fld))
        if not v:
            errs.append(fe.required(path.child(fld)))
        else:
            errs += [fe.invalid(path.child(fld), v, m) for m in c.is_path_segment_name(v)]
    return errs


def _target(t: Obj, path: Path) -> Errs:
    errs: Errs = []
    typ = c.s(t.get("type"))
    if typ not in ("Utilization", "Value", "AverageValue"):
        errs.append(fe.not_supported(path.child("type"), typ, ["AverageValue", "Utilization", "Value"]))
    for fld in ("value", "averageValue"):
        q = c.parse_quantity(t.get(fld))
        if q is not None and q <= 0:
            errs.append(fe.invalid(path.child(fld), c.quantity_text(t[fld]), "must be positive"))
    util = t.get("averageUtilization")
    if isinstance(util, int) and util < 1:
        errs.append(fe.invalid(path.child("averageUtilization"), util, "must be greater than 0"))
    return errs


def _metric(m: Obj, path: Path) -> Errs:
    errs: Errs = []
    typ = c.s(m.get("type"))
    if not typ:
        errs.append(fe.required(path.child("type"), "must specify a metric source type"))
    if typ not in _METRIC_TYPES:
        errs.append(fe.not_supported(path.child("type"), typ, _METRIC_TYPES))
    present = [f for f in ("object", "external", "pods", "resource", "containerResource") if m.get(f) is not None]
    if present:
        first = present[0]
        src, sp = c.dct(m[first]), path.child(first)
        target = c.dct(src.get("target"))
        if first in ("resource", "containerResource"):
            if not c.s(src.get("name")):
                errs.append(fe.required(sp.child("name"), "must specify a resource name"))
            if target.get("averageUtilization") is None and target.get("averageValue") is None:
                errs.append(
                    fe.required(
                        sp.child("target", "averageUtilization"),
                        "must set either a target raw value or a target utilization",
                    )
                )
        if first == "containerResource" and not c.s(src.get("container")):
            errs.append(fe.required(sp.child("container"), "must specify a container"))
        if first == "object":
            errs += _cross_version_ref(src.get("describedObject"), sp.child("describedObject"))
        if first in ("object", "pods", "external") and not c.s(c.get(src, "metric", "name")):
            errs.append(fe.required(sp.child("metric", "name"), "must specify a metric name"))
        errs += _target(target, sp.child("target"))
    expected = _SOURCE_FIELD.get(typ)
    if expected and m.get(expected) is None:
        errs.append(fe.required(path.child(expected), "must populate information for the given metric source"))
    if len(present) != 1:
        for f in present:
            if f != expected:
                errs.append(fe.forbidden(path.child(f), "must populate the given metric source only"))
    return errs


def _scaling_rules(rules: Any, path: Path) -> Errs:
    if rules is None:
        return []
    r = c.dct(rules)
    errs: Errs = []
    sws = r.get("stabilizationWindowSeconds")
    if isinstance(sws, int) and sws < 0:
        errs.append(fe.invalid(path.child("stabilizationWindowSeconds"), sws, "must be greater than or equal to zero"))
    if isinstance(sws, int) and sws > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(
            fe.invalid(
                path.child("stabilizationWindowSeconds"),
                sws,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
            )
        )
    sel = r.get("selectPolicy")
    if sel is not None and sel not in ("Disabled", "Max", "Min"):
        errs.append(fe.not_supported(path.child("selectPolicy"), sel, ["Disabled", "Max", "Min"]))
    policies = c.lst(r.get("policies"))
    if not policies:
        errs.append(fe.required(path.child("policies"), "must specify at least one Policy"))
    for n, p in c.each(policies):
        pp = path.child("policies").index(n)
        if p.get("type") not in ("Percent", "Pods"):
            errs.append(fe.not_supported(pp.child("type"), c.s(p.get("type")), ["Percent", "Pods"]))
        if c.i(p.get("value")) <= 0:
            errs.append(fe.invalid(pp.child("value"), c.i(p.get("value")), c.NOT_POSITIVE_MSG))
        period = c.i(p.get("periodSeconds"))
        if period <= 0:
            errs.append(fe.invalid(pp.child("periodSeconds"), period, c.NOT_POSITIVE_MSG))
        if period > MAX_PERIOD_SECONDS:
            errs.append(
                fe.invalid(pp.child("periodSeconds"), period, f"must be less than or equal to {MAX_PERIOD_SECONDS}")
            )
    return errs


def validate_hpa(hpa: Obj, version: str, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(hpa, old)
    spec = c.dct(hpa.get("spec"))
    lower = 0 if old is not None and c.get(old, "spec", "minReplicas") == 0 else 1
    min_r, max_r = spec.get("minReplicas"), c.i(spec.get("maxReplicas"))
    if isinstance(min_r, int) and min_r < lower:
        errs.append(fe.invalid(SPEC.child("minReplicas"), min_r, f"must be greater than or equal to {lower}"))
    if max_r < 1:
        errs.append(fe.invalid(SPEC.child("maxReplicas"), max_r, "must be greater than 0"))
    if isinstance(min_r, int) and max_r < min_r:
        errs.append(fe.invalid(SPEC.child("maxReplicas"), max_r, "must be greater than or equal to `minReplicas`"))
    errs += _cross_version_ref(spec.get("scaleTargetRef"), SPEC.child("scaleTargetRef"))
    if version == "v1":
        cpu = spec.get("targetCPUUtilizationPercentage")
        if isinstance(cpu, int) and cpu < 1:
            errs.append(
                fe.invalid(
                    SPEC.child("metrics").index(0).child("resource", "target", "averageUtilization"),
                    cpu,
                    "must be greater than 0",
                )
            )
        return errs
    for n, m in c.each(c.lst(spec.get("metrics"))):
        errs += _metric(m, SPEC.child("metrics").index(n))
    behavior = spec.get("behavior")
    if behavior is not None:
        errs += _scaling_rules(c.get(behavior, "scaleUp"), SPEC.child("behavior", "scaleUp"))
        errs += _scaling_rules(c.get(behavior, "scaleDown"), SPEC.child("behavior", "scaleDown"))
    for n, m in c.each(c.lst(spec.get("metrics"))):
        rname = c.s(c.get(m, "containerResource", "name"))
        if rname:
            errs += rs.container_resource_name(rname, SPEC.child("metrics").index(n).child("containerResource", "name"))
    return errs
