"""Event validation for core/v1 (lenient, legacy rules) and events.k8s.io/v1 (strict rules).

Both API versions store the same object; upstream reports errors with the core field names
(``involvedObject``, ``message``, ...), so the events.k8s.io fields are mapped before checking.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

_LIMITS: Final = {"reportingInstance": 128, "action": 128, "reason": 128, "message": 1024}
# events.k8s.io/v1 field -> core/v1 field.
_RENAMES: Final = {
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "reportingController": "reportingComponent",
}


def as_core(event: Obj, group: str) -> Obj:
    """The event in core/v1 field names (events.k8s.io/v1 objects are renamed)."""
    if group != "events.k8s.io":
        return event
    out = {_RENAMES.get(k, k): v for k, v in event.items()}
    out["reportingController"] = event.get("reportingController")
    out["reportingInstance"] = event.get("reportingInstance")
    return out


def _legacy(ev: Obj) -> Errs:
    errs: Errs = []
    ns = c.s(c.get(ev, "metadata", "namespace"))
    inv_ns = c.s(c.get(ev, "involvedObject", "namespace"))
    path = Path.of("involvedObject", "namespace")
    if not ev.get("eventTime"):
        if (not inv_ns and ns not in ("", "default")) or (inv_ns and ns != inv_ns):
            errs.append(fe.invalid(path, inv_ns, "does not match event.namespace"))
    else:
        if not inv_ns and ns not in ("default", "kube-system"):
            errs.append(fe.invalid(path, inv_ns, "does not match event.namespace"))
        controller = c.s(ev.get("reportingController") or ev.get("reportingComponent"))
        if not controller:
            errs.append(fe.required(Path.of("reportingController")))
        errs += c.qualified_name(controller, Path.of("reportingController"))
        for fld in ("reportingInstance", "action", "reason", "message"):
            value = c.s(ev.get(fld))
            if not value and fld != "message":
                errs.append(fe.required(Path.of(fld)))
            if len(value) > _LIMITS[fld]:
                errs.append(fe.invalid(Path.of(fld), "", f"can have at most {_LIMITS[fld]} characters"))
    errs += c.dns1123_subdomain(ns, Path.of("namespace"))
    return errs


def _series(ev: Obj) -> Errs:
    series = ev.get("series")
    if series is None:
        return []
    errs: Errs = []
    if c.i(c.get(series, "count")) < 2:
        errs.append(fe.invalid(Path.of("series.count"), "", "should be at least 2"))
    if not c.get(series, "lastObservedTime"):
        errs.append(fe.required(Path.of("series.lastObservedTime")))
    return errs


def validate_event(event: Obj, group: str, old: Obj | None = None) -> Errs:
    ev = as_core(event, group)
    errs = _legacy(ev)
    if group != "events.k8s.io":
        return errs
    if old is not None:
        prev = as_core(old, group)
        errs += vm.validate_object_meta_update(event, old)
        if ev.get("series") != prev.get("series"):
            errs += _series(ev)
        for fld in (
            "involvedObject",
            "reason",
            "message",
            "source",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "type",
            "eventTime",
            "action",
            "related",
            "reportingController",
            "reportingInstance",
        ):
            errs += c.immutable(ev.get(fld), prev.get(fld), Path.of(fld))
        return errs
    errs += vm.validate_object_meta(event, True, c.name_is_dns_subdomain)
    errs += _series(ev)
    if not ev.get("eventTime"):
        errs.append(fe.required(Path.of("eventTime")))
    typ: Any = ev.get("type")
    if typ not in ("Normal", "Warning"):
        errs.append(fe.invalid(Path.of("type"), "", f"has invalid value: {c.s(typ)}"))
    for fld in ("firstTimestamp", "lastTimestamp"):
        if ev.get(fld):
            errs.append(fe.invalid(Path.of(fld), "", "needs to be unset"))
    if c.i(ev.get("count")):
        errs.append(fe.invalid(Path.of("count"), "", "needs to be unset"))
    if c.get(ev, "source", "component") or c.get(ev, "source", "host"):
        errs.append(fe.invalid(Path.of("source"), "", "needs to be unset"))
    return errs
