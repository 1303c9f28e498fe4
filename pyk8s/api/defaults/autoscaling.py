"""autoscaling/v1 and autoscaling/v2 HorizontalPodAutoscaler defaulting."""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api.defaults.core import Obj, default, obj_at

DEFAULT_CPU_UTILIZATION: Final = 80


def _scale_up_rules() -> Obj:
    return {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def _scale_down_rules() -> Obj:
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _merge_rules(given: Any, defaults: Obj) -> Obj:
    """Fill the unset parts of a scaling rule from the defaults (GenerateHPAScale*Rules)."""
    if not isinstance(given, dict):
        return defaults
    merged = {**defaults, **{k: v for k, v in given.items() if v is not None}}
    order = ("stabilizationWindowSeconds", "selectPolicy", "policies", "tolerance")  # HPAScalingRules field order
    return {k: merged[k] for k in sorted(merged, key=lambda k: order.index(k) if k in order else len(order))}


def hpa(obj: Obj, version: str) -> None:
    spec = obj_at(obj, "spec")
    default(spec, "minReplicas", 1)
    if version == "v1":
        return
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION},
                },
            }
        ]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _merge_rules(behavior.get("scaleUp"), _scale_up_rules())
        behavior["scaleDown"] = _merge_rules(behavior.get("scaleDown"), _scale_down_rules())
