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
# What autoscaling/v1 cannot express travels in these annotations, as upstream's conversion keeps it, so an
# object read and written back through v1 loses nothing.
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"


def _is_cpu_utilization(metric: Obj, key: str) -> bool:
    res = metric.get("resource") or {}
    value = res.get(key) or {}
    return metric.get("type") == "Resource" and res.get("name") == "cpu" and (
        value.get("type") == "Utilization" if key == "target" else value.get("averageUtilization") is not None)


def _annotations(obj: Obj) -> Obj:
    md = obj.setdefault("metadata", {})
    ann: Obj = md.get("annotations") or {}
    md["annotations"] = ann
    return ann


def _pop_json(ann: Obj, key: str) -> Any:
    raw = ann.pop(key, None)
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


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
        behavior = spec.pop("behavior", None)
        other = [m for m in metrics if not _is_cpu_utilization(m, "target")]
        for m in metrics:
            if _is_cpu_utilization(m, "target"):
                spec["targetCPUUtilizationPercentage"] = m["resource"]["target"].get("averageUtilization")
        if other:
            _annotations(out)[METRICS_ANNOTATION] = orjson.dumps(other).decode()
        if behavior:
            _annotations(out)[BEHAVIOR_ANNOTATION] = orjson.dumps(behavior).decode()
        if isinstance(status, dict):
            current = status.pop("currentMetrics", None) or []
            conditions = status.pop("conditions", None)
            rest = [m for m in current if not _is_cpu_utilization(m, "current")]
            for m in current:
                if _is_cpu_utilization(m, "current"):
                    status["currentCPUUtilizationPercentage"] = m["resource"]["current"]["averageUtilization"]
            if rest:
                _annotations(out)[CURRENT_METRICS_ANNOTATION] = orjson.dumps(rest).decode()
            if conditions:
                _annotations(out)[CONDITIONS_ANNOTATION] = orjson.dumps(conditions).decode()
            status.setdefault("currentReplicas", 0)
            status.setdefault("desiredReplicas", 0)
    else:
        ann = (out.get("metadata") or {}).get("annotations") or {}
        other = _pop_json(ann, METRICS_ANNOTATION) or []
        behavior = _pop_json(ann, BEHAVIOR_ANNOTATION)
        conditions = _pop_json(ann, CONDITIONS_ANNOTATION)
        current_other = _pop_json(ann, CURRENT_METRICS_ANNOTATION) or []
        if "annotations" in out.get("metadata", {}) and not ann:
            del out["metadata"]["annotations"]
        pct = spec.pop("targetCPUUtilizationPercentage", None)
        metrics = []
        if pct is not None:
            metrics.append({"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": pct}}})
        metrics.extend(m for m in other if isinstance(m, dict))
        if metrics:
            spec["metrics"] = metrics
        if isinstance(behavior, dict):
            spec["behavior"] = behavior
        if isinstance(status, dict):
            cur = status.pop("currentCPUUtilizationPercentage", None)
            current = []
            if cur is not None:
                current.append({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cur}}})
            current.extend(m for m in current_other if isinstance(m, dict))
            if current:
                status["currentMetrics"] = current
            if isinstance(conditions, list):
                status["conditions"] = conditions
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
