"""policy/v1 PodDisruptionBudget validation."""

from __future__ import annotations

from typing import Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")


def validate_pdb(pdb: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(pdb, old)
    spec = c.dct(pdb.get("spec"))
    min_a, max_u = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_a is not None and max_u is not None:
        errs.append(fe.invalid(SPEC, spec, "minAvailable and maxUnavailable cannot be both set"))
    for fld, value in (("minAvailable", min_a), ("maxUnavailable", max_u)):
        if value is not None:
            errs += c.positive_int_or_percent(value, SPEC.child(fld))
            errs += c.not_more_than_100_percent(value, SPEC.child(fld))
    errs += c.label_selector(spec.get("selector"), SPEC.child("selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        errs.append(
            fe.not_supported(SPEC.child("unhealthyPodEvictionPolicy"), policy, ["AlwaysAllow", "IfHealthyBudget"])
        )
    return errs
