"""Pod predicates every workload controller judges pods by (upstream pkg/api/v1/pod and controller_utils).

IsPodActive, IsPodTerminating, IsPodReady, IsPodAvailable and the phase/deletion checks around them, as pure
functions over plain-dict Pods, plus UpdatePodCondition, the one way controllers set a pod condition. `now`
is passed in so callers read it from their injected Clock.
"""

from __future__ import annotations

import datetime

from pyk8s.api.meta import now_rfc3339, parse_time
from pyk8s.client.interface import Obj

TERMINAL_PHASES = ("Succeeded", "Failed")


def phase_of(pod: Obj) -> str:
    """status.phase, or "" when the pod has none yet."""
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminal(pod: Obj) -> bool:
    """The pod's containers finished for good (phase Succeeded or Failed)."""
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_terminating(pod: Obj) -> bool:
    """Deletion has started (metadata.deletionTimestamp is set)."""
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_pod_terminating(pod: Obj) -> bool:
    """upstream controller.IsPodTerminating (FilterTerminatingPods): being deleted but not terminal yet."""
    return is_terminating(pod) and not is_terminal(pod)


def is_pod_active(pod: Obj) -> bool:
    """upstream IsPodActive: neither terminal nor being deleted."""
    # Called for every pod of every owner on every sync: one function, no helpers.
    if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return False
    return not (pod.get("metadata") or {}).get("deletionTimestamp")


def _condition(pod: Obj, type_: str) -> Obj | None:
    """The pod's condition of type `type_` as cached (not a copy: read only), or None."""
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return cond  # type: ignore[no-any-return]
    return None


def pod_condition(pod: Obj, type_: str) -> Obj | None:
    """A copy of the pod's condition of type `type_`, or None (upstream GetPodCondition)."""
    cond = _condition(pod, type_)
    return None if cond is None else dict(cond)


def ready_condition(pod: Obj) -> Obj | None:
    """A copy of the pod's Ready condition, or None."""
    return pod_condition(pod, "Ready")


def is_pod_ready(pod: Obj) -> bool:
    """The Ready condition is True."""
    cond = _condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Ready, and ready for longer than `min_ready_seconds` (strictly, as upstream compares with Before);
    always available once ready when that is 0."""
    cond = _condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and since + datetime.timedelta(seconds=min_ready_seconds) < now


def update_pod_condition(status: Obj, condition: Obj, now: datetime.datetime) -> bool:
    """upstream UpdatePodCondition on a status dict (changed in place); True when something changed.

    lastTransitionTime is `now` unless the condition's status (True/False/Unknown) stays the same.
    """
    cond = dict(condition)
    cond["lastTransitionTime"] = now_rfc3339(now)
    conditions = status.setdefault("conditions", [])
    for i, old in enumerate(conditions):
        if old.get("type") != cond.get("type"):
            continue
        if cond.get("status") == old.get("status"):
            if old.get("lastTransitionTime"):
                cond["lastTransitionTime"] = old["lastTransitionTime"]
            else:
                cond.pop("lastTransitionTime", None)
        same = all(cond.get(k) == old.get(k) for k in
                   ("status", "reason", "message", "lastProbeTime", "lastTransitionTime"))
        conditions[i] = cond
        return not same
    conditions.append(cond)
    return True
