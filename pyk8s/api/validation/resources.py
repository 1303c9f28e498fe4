"""Resource names and quantities: requests and limits, quota and limit-range resource names.

Mirrors core validation's resource-name rules (standard names, ``kubernetes.io/`` native names,
extended resources, hugepages) and ValidateResourceQuantityValue / validateResourceRequirements.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation.common import Errs

_STANDARD_CONTAINER_RESOURCES: Final = frozenset({"cpu", "memory", "ephemeral-storage"})
INTEGER_RESOURCES: Final = frozenset(
    {
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
STANDARD_RESOURCES: Final = INTEGER_RESOURCES | {
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "storage",
    "requests.storage",
}


def is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def is_extended(name: str) -> bool:
    if is_native(name) or name.startswith("requests."):
        return False
    from pyk8s.api.validation_names import is_qualified_name

    return not is_qualified_name("requests." + name)


def overcommit_allowed(name: str) -> bool:
    return is_native(name) and not is_hugepages(name)


def resource_name(name: str, path: Path) -> Errs:
    errs = c.qualified_name(name, path)
    if errs:
        return errs
    if (
        "/" not in name
        and name not in STANDARD_RESOURCES
        and not is_hugepages(name)
        and not (name.startswith("requests.hugepages-"))
    ):
        return [fe.invalid(path, name, "must be a standard resource type or fully qualified")]
    return []


def container_resource_name(name: str, path: Path) -> Errs:
    errs = resource_name(name, path)
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not is_hugepages(name):
            return [*errs, fe.invalid(path, name, "must be a standard resource for containers")]
    elif not is_native(name) and not is_extended(name):
        return [*errs, fe.invalid(path, name, "doesn't follow extended resource name standard")]
    return errs


def quantity_value(name: str, value: Any, path: Path) -> Errs:
    """ValidateResourceQuantityValue: non-negative, and whole numbers for integer resources."""
    q = c.parse_quantity(value)
    if q is None:
        return []
    errs: Errs = []
    if q < 0:
        errs.append(fe.invalid(path, c.quantity_text(value), c.IS_NEGATIVE_MSG))
    if (name in INTEGER_RESOURCES or is_extended(name)) and (q * 1000) % 1000 != 0:
        errs.append(fe.invalid(path, c.quantity_text(value), "must be an integer"))
    return errs


def _requirement_entry(name: str, value: Any, path: Path, section: str) -> Errs:
    """The name and quantity checks of one ``limits``/``requests`` entry."""
    if name in _STANDARD_CONTAINER_RESOURCES:
        # cpu, memory, ephemeral-storage: the name is fine and the amount only fails when negative.
        q = c.parse_quantity(value)
        if q is None or q >= 0:
            return []
    fp = path.child(section).key(name)
    return container_resource_name(name, fp) + quantity_value(name, value, fp)


def resource_requirements(res: Any, path: Path) -> Errs:
    r = c.dct(res)
    limits, requests = c.dct(r.get("limits")), c.dct(r.get("requests"))
    errs: Errs = []
    lim_cpu_mem = req_cpu_mem = lim_huge = req_huge = False
    for name, q in limits.items():
        errs += _requirement_entry(name, q, path, "limits")
        lim_huge = lim_huge or is_hugepages(name)
        lim_cpu_mem = lim_cpu_mem or name in ("cpu", "memory")
    for name, q in requests.items():
        errs += _requirement_entry(name, q, path, "requests")
        if name in limits:
            rq, lq = c.parse_quantity(q), c.parse_quantity(limits[name])
            if rq is not None and lq is not None:
                if rq != lq and not overcommit_allowed(name):
                    errs.append(
                        fe.invalid(
                            path.child("requests"),
                            c.quantity_text(q),
                            f"must be equal to {name} limit of {c.quantity_text(limits[name])}",
                        )
                    )
                elif rq > lq:
                    errs.append(
                        fe.invalid(
                            path.child("requests"),
                            c.quantity_text(q),
                            f"must be less than or equal to {name} limit of {c.quantity_text(limits[name])}",
                        )
                    )
        elif not overcommit_allowed(name):
            errs.append(fe.required(path.child("limits"), "Limit must be set for non overcommitable resources"))
        req_huge = req_huge or is_hugepages(name)
        req_cpu_mem = req_cpu_mem or name in ("cpu", "memory")
    if not lim_cpu_mem and not req_cpu_mem and (req_huge or lim_huge):
        errs.append(fe.forbidden(path, "HugePages require cpu or memory"))
    return errs
