"""A ReplicaSet's status computed from the pods it owns (upstream replica_set_utils.go calculateStatus).

Field presence follows the Go JSON tags: `replicas` is always written, the other counters and
`observedGeneration` only when non-zero, `conditions` only when non-empty.
"""

from __future__ import annotations

import datetime
from typing import Any, NamedTuple

from pyk8s.api.labels import selector_from_set
from pyk8s.api.meta import copy, now_rfc3339
from pyk8s.controllers.framework.labelmatch import label_matcher
from pyk8s.controllers.framework.podstate import is_pod_available, is_pod_ready

Obj = dict[str, Any]

REPLICA_FAILURE = "ReplicaFailure"
_COUNTERS = ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration")


def spec_replicas(rs: Obj) -> int:
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def get_condition(status: Obj, cond_type: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == cond_type:
            return dict(c)
    return None


def _without_condition(status: Obj, cond_type: str) -> list[Obj]:
    return [c for c in status.get("conditions") or () if c.get("type") != cond_type]


class PodCounts(NamedTuple):
    """The counts a ReplicaSet's status reports about the active pods it owns."""

    replicas: int
    fully_labeled: int  # labels match the template's labels
    ready: int
    available: int  # ready for at least minReadySeconds


def count_pods(rs: Obj, pods: list[Obj], now: datetime.datetime) -> PodCounts:
    """The counts for `rs` owning the active `pods`."""
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    matches = label_matcher(selector_from_set(template_labels))
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = ready = available = 0
    for pod in pods:
        if matches((pod.get("metadata") or {}).get("labels") or {}):
            fully_labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if min_ready <= 0 or is_pod_available(pod, min_ready, now):  # ready is available without a minimum
                available += 1
    return PodCounts(len(pods), fully_labeled, ready, available)


def calculate_status(rs: Obj, pods: list[Obj], manage_error: BaseException | None,
                     now: datetime.datetime) -> Obj:
    """The new status for `rs` owning the active `pods`; `manage_error` is what creating/deleting pods raised."""
    return status_from_counts(rs, count_pods(rs, pods, now), manage_error, now)


def status_from_counts(rs: Obj, counts: PodCounts, manage_error: BaseException | None,
                       now: datetime.datetime) -> Obj:
    """The new status for `rs` given the counts of its active pods (calculate_status without the pods)."""
    status: Obj = copy(rs.get("status") or {})
    failure = get_condition(status, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = counts.replicas - spec_replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        conditions = _without_condition(status, REPLICA_FAILURE)
        conditions.append({"type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": now_rfc3339(now),
                           "reason": reason, "message": str(manage_error)})
        status["conditions"] = conditions
    elif manage_error is None and failure is not None:
        status["conditions"] = _without_condition(status, REPLICA_FAILURE)

    status["replicas"] = counts.replicas
    status["fullyLabeledReplicas"] = counts.fully_labeled
    status["readyReplicas"] = counts.ready
    status["availableReplicas"] = counts.available
    return normalize_status(status)


def normalize_status(status: Obj) -> Obj:
    """Drop what Go's omitempty drops, so two statuses compare equal exactly when they serialise equal."""
    out = dict(status)
    out["replicas"] = int(out.get("replicas") or 0)
    for key in _COUNTERS:
        if not out.get(key):
            out.pop(key, None)
    if not out.get("conditions"):
        out.pop("conditions", None)
    return out


def status_unchanged(rs: Obj, new_status: Obj) -> bool:
    """upstream's early return in updateReplicaSetStatus: same counters and conditions, generation observed."""
    old = normalize_status(rs.get("status") or {})
    generation = int((rs.get("metadata") or {}).get("generation") or 0)
    keys = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return (all(old.get(k, 0) == new_status.get(k, 0) for k in keys)
            and generation == int(old.get("observedGeneration") or 0)
            and (old.get("conditions") or []) == (new_status.get("conditions") or []))
