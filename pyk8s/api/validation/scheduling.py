"""scheduling.k8s.io/v1 PriorityClass validation."""

from __future__ import annotations

from typing import Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import pod as vp
from pyk8s.api.validation.common import Errs, Obj

HIGHEST_USER_DEFINABLE_PRIORITY: Final = 1_000_000_000
SYSTEM_PRIORITY_CLASSES: Final = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def validate_priority_class(pc: Obj, old: Obj | None = None) -> Errs:
    if old is not None:
        errs = vm.validate_object_meta_update(pc, old)
        if pc.get("value") != old.get("value"):
            errs.append(fe.forbidden(Path.of("value"), "may not be changed in an update."))
        return errs + c.immutable(pc.get("preemptionPolicy"), old.get("preemptionPolicy"), Path.of("preemptionPolicy"))
    errs = vm.validate_object_meta(pc, False, c.name_is_dns_subdomain)
    name, value = c.s(c.get(pc, "metadata", "name")), c.i(pc.get("value"))
    if name.startswith("system-"):
        expected = SYSTEM_PRIORITY_CLASSES.get(name)
        if expected is None:
            reason = f"{name} is not a known system priority class"
        elif value != expected:
            reason = f"value of {name} PriorityClass must be {expected}"
        elif pc.get("globalDefault") is True:
            reason = f"globalDefault of {name} PriorityClass must be false"
        else:
            reason = ""
        if reason:
            errs.append(
                fe.forbidden(
                    Path.of("metadata", "name"),
                    f"priority class names with 'system-' prefix are reserved for system use only. error: {reason}",
                )
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            fe.forbidden(
                Path.of("value"),
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    if pc.get("preemptionPolicy") is not None:
        errs += vp.preemption_policy(pc["preemptionPolicy"], Path.of("preemptionPolicy"))
    return errs
