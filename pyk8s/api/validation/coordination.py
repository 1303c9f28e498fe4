"""coordination.k8s.io/v1 Lease validation."""

from __future__ import annotations

from typing import Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")


def validate_lease(lease: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(lease, old, kube_finalizers=False)
    spec = c.dct(lease.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        errs.append(fe.invalid(SPEC.child("leaseDurationSeconds"), duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        errs.append(fe.invalid(SPEC.child("leaseTransitions"), transitions, "must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None:
        sp = SPEC.child("strategy").child("strategy")
        if "/" not in c.s(strategy):
            if strategy != "OldestEmulationVersion":
                errs.append(fe.not_supported(sp, strategy, ["OldestEmulationVersion"]))
        else:
            errs += c.qualified_name(c.s(strategy), sp)
    if c.s(spec.get("preferredHolder")) and not c.s(strategy):
        errs.append(fe.forbidden(SPEC.child("preferredHolder"), "may only be specified if `strategy` is defined"))
    return errs
