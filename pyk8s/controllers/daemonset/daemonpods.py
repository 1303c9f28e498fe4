"""What a DaemonSet's pods look like and where they belong (upstream pkg/controller/daemon/util and NodeShouldRunDaemonPod).

Daemon pods get upstream's default tolerations, the `controller-revision-hash` label of the current
ControllerRevision, and a required node affinity `metadata.name In [<node>]` so the scheduler binds each one
to its node. Pure functions only.
"""

from __future__ import annotations

import math
from typing import Any

from pyk8s.api.meta import copy
from pyk8s.controllers.daemonset.predicates import (
    NODE_FIELD_SELECTOR_KEY_NODE_NAME,
    find_untolerated_taint,
    required_affinity_matches,
)

Obj = dict[str, Any]

UNIQUE_LABEL_KEY = "controller-revision-hash"  # apps.DefaultDaemonSetUniqueLabelKey
TEMPLATE_GENERATION_LABEL = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey
DEPRECATED_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"

# Tolerations every daemon pod carries (util.AddOrUpdateDaemonPodTolerations), in upstream's order.
_DEFAULT_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def _same_toleration(a: Obj, b: Obj) -> bool:
    """Toleration.MatchToleration: same key, operator, value and effect (tolerationSeconds aside)."""
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "operator", "value", "effect"))


def add_or_update_toleration(spec: Obj, toleration: Obj) -> None:
    tolerations: list[Obj] = list(spec.get("tolerations") or [])
    for i, existing in enumerate(tolerations):
        if _same_toleration(existing, toleration):
            tolerations[i] = dict(toleration)
            break
    else:
        tolerations.append(dict(toleration))
    spec["tolerations"] = tolerations


def add_daemon_tolerations(spec: Obj) -> None:
    """Add (or normalise) the default daemon tolerations in place; network-unavailable only for hostNetwork."""
    wanted = list(_DEFAULT_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(_NETWORK_UNAVAILABLE)
    for key, effect in wanted:
        add_or_update_toleration(spec, {"key": key, "operator": "Exists", "effect": effect})


def template_generation(ds: Obj) -> int | None:
    raw = ((ds.get("metadata") or {}).get("annotations") or {}).get(DEPRECATED_TEMPLATE_GENERATION)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def create_pod_template(template: Obj, generation: int | None, hash_: str) -> Obj:
    """util.CreatePodTemplate: a copy with the default tolerations, the generation label and the hash label."""
    out: Obj = copy(template or {})
    spec = out.setdefault("spec", {})
    add_daemon_tolerations(spec)
    meta = out.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    if generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = str(generation)
    if hash_:
        labels[UNIQUE_LABEL_KEY] = hash_
    meta["labels"] = labels
    return out


def replace_node_name_affinity(affinity: Obj | None, node_name: str) -> Obj:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity selects exactly `node_name`."""
    term = {"matchFields": [{"key": NODE_FIELD_SELECTOR_KEY_NODE_NAME, "operator": "In", "values": [node_name]}]}
    out: Obj = copy(affinity) if affinity else {}
    node_affinity = out.setdefault("nodeAffinity", {})
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    else:
        required["nodeSelectorTerms"] = [term]
    return out


def target_node_name(pod: Obj) -> str | None:
    """util.GetTargetNodeName: spec.nodeName, else the single metadata.name In value of the required affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for req in term.get("matchFields") or ():
            if req.get("key") == NODE_FIELD_SELECTOR_KEY_NODE_NAME and req.get("operator") == "In":
                values = req.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def daemon_tolerations(pod_spec: Obj) -> list[Obj]:
    """The tolerations a daemon pod built from `pod_spec` ends up with (the spec itself is not changed)."""
    spec: Obj = {"tolerations": list(pod_spec.get("tolerations") or []), "hostNetwork": pod_spec.get("hostNetwork")}
    add_daemon_tolerations(spec)
    return list(spec["tolerations"])


def node_should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (should run a new pod here, should keep an existing pod running here)."""
    node_name = str((node.get("metadata") or {}).get("name") or "")
    spec: Obj = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if spec.get("nodeName") and spec["nodeName"] != node_name:
        return False, False
    if not required_affinity_matches(spec, node):
        return False, False
    taints = list((node.get("spec") or {}).get("taints") or [])
    tolerations = daemon_tolerations(spec)
    blocking = find_untolerated_taint(taints, tolerations,
                                      lambda t: t.get("effect") in ("NoExecute", "NoSchedule"))
    if blocking is None:
        return True, True
    evicting = find_untolerated_taint(taints, tolerations, lambda t: t.get("effect") == "NoExecute")
    return False, evicting is None


def is_pod_updated(pod: Obj, hash_: str, generation: int | None) -> bool:
    """util.IsPodUpdated: the pod carries the current hash (or the current template generation)."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    generation_matches = generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == str(generation)
    return (bool(hash_) and labels.get(UNIQUE_LABEL_KEY) == hash_) or generation_matches


class InvalidIntOrPercent(ValueError):
    pass


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        raise InvalidIntOrPercent("nil value for IntOrString")
    if isinstance(value, bool):
        raise InvalidIntOrPercent(f"invalid value for IntOrString: invalid type: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise InvalidIntOrPercent("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        pct = int(text[:-1])
    except ValueError as e:
        raise InvalidIntOrPercent(f"invalid value {text!r}: {e}") from None
    scaled = pct * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def _rolling(ds: Obj) -> Obj | None:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {}


def surge_count(ds: Obj, number_to_schedule: int) -> int:
    """util.SurgeCount: maxSurge scaled (rounding up); 0 when not rolling or unset."""
    rolling = _rolling(ds)
    if rolling is None or rolling.get("maxSurge") is None:
        return 0
    return scaled_value(rolling["maxSurge"], number_to_schedule, True)


def unavailable_count(ds: Obj, number_to_schedule: int) -> int:
    """util.UnavailableCount: maxUnavailable scaled (rounding up); 0 when not rolling; 1 when unset (the default)."""
    rolling = _rolling(ds)
    if rolling is None:
        return 0
    raw = rolling.get("maxUnavailable")
    return scaled_value(1 if raw is None else raw, number_to_schedule, True)


def allows_surge(ds: Obj) -> bool:
    try:
        return surge_count(ds, 1) != 0
    except InvalidIntOrPercent:
        return False


def creation_order_key(pod: Obj) -> tuple[int, str, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest, then by name."""
    meta = pod.get("metadata") or {}
    scheduled = 0 if (pod.get("spec") or {}).get("nodeName") else 1
    return scheduled, str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")
