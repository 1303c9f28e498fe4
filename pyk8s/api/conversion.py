"""Conversion between API versions that share one storage location.

HorizontalPodAutoscalers are stored as autoscaling/v2 and served as v1 too; events.k8s.io/v1 Events
are stored as core/v1 Events. Each converter takes an object and the target apiVersion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

Obj = dict[str, Any]


def _copy(obj: Obj) -> Obj:
    result: Obj = orjson.loads(orjson.dumps(obj))
    return result


# ---------------------------------------------------------------- HPA
def hpa(obj: Obj, target: str) -> Obj:
    src = obj.get("apiVersion")
    if src == target:
        return obj
    out = _copy(obj)
    out["apiVersion"] = target
    spec = out.get("spec") or {}
    status = out.get("status")
    if target == "autoscaling/v1":
        metrics = spec.pop("metrics", None) or []
        spec.pop("behavior", None)
        for m in metrics:
            res = m.get("resource") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu" and \
                    (res.get("target") or {}).get("type") == "Utilization":
                spec["targetCPUUtilizationPercentage"] = res["target"].get("averageUtilization")
        if isinstance(status, dict):
            current = status.pop("currentMetrics", None) or []
            status.pop("conditions", None)
            for m in current:
                res = m.get("resource") or {}
                if m.get("type") == "Resource" and res.get("name") == "cpu":
                    util = (res.get("current") or {}).get("averageUtilization")
                    if util is not None:
                        status["currentCPUUtilizationPercentage"] = util
            status.setdefault("currentReplicas", 0)
            status.setdefault("desiredReplicas", 0)
    else:
        pct = spec.pop("targetCPUUtilizationPercentage", None)
        if pct is not None:
            spec["metrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": pct}}}]
        if isinstance(status, dict):
            cur = status.pop("currentCPUUtilizationPercentage", None)
            if cur is not None:
                status["currentMetrics"] = [{"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": cur}}}]
    out["spec"] = spec
    return out


# ---------------------------------------------------------------- Events
_CORE_TO_NEW = (
    ("involvedObject", "regarding"), ("message", "note"), ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"), ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount"),
)
_SHARED = ("eventTime", "series", "action", "related", "reportingInstance", "reason", "type")


def event(obj: Obj, target: str) -> Obj:
    if obj.get("apiVersion") == target:
        return obj
    out: Obj = {"kind": "Event", "apiVersion": target, "metadata": _copy(obj.get("metadata") or {})}
    if target == "events.k8s.io/v1":
        for core, new in _CORE_TO_NEW:
            if obj.get(core) not in (None, "", {}):
                out[new] = obj[core]
        for k in _SHARED:
            if obj.get(k) not in (None, ""):
                out[k] = obj[k]
        series = out.get("series")
        if isinstance(series, dict):
            out["series"] = {"count": series.get("count", 0), "lastObservedTime": series.get("lastObservedTime")}
        out.setdefault("eventTime", None)
    else:
        for core, new in _CORE_TO_NEW:
            if obj.get(new) not in (None, "", {}):
                out[core] = obj[new]
        for k in _SHARED:
            if obj.get(k) not in (None, ""):
                out[k] = obj[k]
        out.setdefault("involvedObject", {})
        out.setdefault("source", {})
        out.setdefault("firstTimestamp", None)
        out.setdefault("lastTimestamp", None)
        out.setdefault("eventTime", None)
        out.setdefault("reportingComponent", "")
        out.setdefault("reportingInstance", "")
    return out


CONVERTERS: dict[tuple[str, str], Callable[[Obj, str], Obj]] = {
    ("autoscaling", "horizontalpodautoscalers"): hpa,
    ("events.k8s.io", "events"): event,
    ("", "events"): event,
}
