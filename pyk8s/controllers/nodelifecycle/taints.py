"""Taints, tolerations and node conditions as the node lifecycle and taint eviction controllers read them.

Pure functions over plain dicts, following k8s.io/api core/v1 (Taint.MatchTaint, Toleration.ToleratesTaint),
pkg/util/taints and the condition-to-taint maps of node_lifecycle_controller.go.
"""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api import meta
from pyk8s.api.taints import tolerates

Obj = dict[str, Any]

NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"

UNREACHABLE_TAINT: Obj = {"key": TAINT_UNREACHABLE, "effect": NO_EXECUTE}
NOT_READY_TAINT: Obj = {"key": TAINT_NOT_READY, "effect": NO_EXECUTE}

# {condition type: {condition status: taint key}} (nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": TAINT_MEMORY_PRESSURE},
    "DiskPressure": {"True": TAINT_DISK_PRESSURE},
    "NetworkUnavailable": {"True": TAINT_NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": TAINT_PID_PRESSURE},
}
CONDITION_TAINT_KEYS = frozenset(k for by_status in CONDITION_TAINTS.values() for k in by_status.values())


def node_taints(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or () if isinstance(t, dict)]


def match_taint(a: Obj, b: Obj) -> bool:
    """Same key and effect (Taint.MatchTaint): the identity of a taint on a node."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


def taint_exists(taints: list[Obj], taint: Obj) -> bool:
    return any(match_taint(t, taint) for t in taints)


def no_execute_taints(taints: list[Obj]) -> list[Obj]:
    return [t for t in taints if t.get("effect") == NO_EXECUTE]


def with_taints(taints: list[Obj], add: list[Obj]) -> tuple[list[Obj], bool]:
    """`taints` with each of `add` added, or replacing the taint with its key and effect when different
    (upstream AddOrUpdateTaint); and whether anything changed."""
    out = list(taints)
    changed = False
    for new in add:
        for i, old in enumerate(out):
            if match_taint(old, new):
                if old != new:
                    out[i] = new
                    changed = True
                break
        else:
            out.append(new)
            changed = True
    return out, changed


def without_taints(taints: list[Obj], remove: list[Obj]) -> tuple[list[Obj], bool]:
    out = [t for t in taints if not taint_exists(remove, t)]
    return out, len(out) != len(taints)


def taint_set_diff(wanted: list[Obj], current: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(to add, to remove) by key and effect (upstream TaintSetDiff)."""
    return ([t for t in wanted if not taint_exists(current, t)], [t for t in current if not taint_exists(wanted, t)])


def stamped(taint: Obj, now: datetime.datetime) -> Obj:
    """A copy of `taint` with timeAdded = now (what SwapNodeControllerTaint writes)."""
    return {**taint, "timeAdded": meta.now_rfc3339(now)}


def get_condition(node: Obj, ctype: str) -> Obj | None:
    for c in (node.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def condition_taints(node: Obj) -> list[Obj]:
    """The NoSchedule taints a node's conditions and spec.unschedulable call for (TaintNodesByCondition)."""
    out = []
    for c in (node.get("status") or {}).get("conditions") or ():
        key = CONDITION_TAINTS.get(str(c.get("type")), {}).get(str(c.get("status")))
        if key is not None:
            out.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        out.append({"key": TAINT_UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return out


def controller_no_schedule_taints(node: Obj) -> list[Obj]:
    """The NoSchedule taints on the node that condition tainting owns."""
    return [t for t in node_taints(node) if t.get("effect") == NO_SCHEDULE
            and (t.get("key") == TAINT_UNSCHEDULABLE or t.get("key") in CONDITION_TAINT_KEYS)]


# ---- tolerations ----
def matching_tolerations(taints: list[Obj], tolerations: list[Obj]) -> tuple[bool, list[Obj]]:
    """(all taints tolerated, the first toleration used for each) (v1helper.GetMatchingTolerations)."""
    if not taints:
        return True, []
    used = []
    for taint in taints:
        for tol in tolerations:
            if tolerates(tol, taint):
                used.append(tol)
                break
        else:
            return False, []
    return True, used


def min_toleration_seconds(tolerations: list[Obj]) -> float:
    """Seconds until eviction for the tolerations used: 0 for none or any <= 0, -1 when all are forever."""
    if not tolerations:
        return 0.0
    least: float | None = None
    for tol in tolerations:
        seconds = tol.get("tolerationSeconds")
        if seconds is None:
            continue
        if seconds <= 0:
            return 0.0
        least = seconds if least is None else min(least, seconds)
    return -1.0 if least is None else float(least)


def pod_tolerations(pod: Obj) -> list[Obj]:
    return [t for t in (pod.get("spec") or {}).get("tolerations") or () if isinstance(t, dict)]


# ---- topology ----
ZONE_LABELS = ("failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone")
REGION_LABELS = ("failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/region")
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"


def zone_key(node: Obj) -> str:
    """Upstream nodetopology.GetZoneKey: "region:\\x00:zone", or "" when neither label is set."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = labels[ZONE_LABELS[0]] if ZONE_LABELS[0] in labels else labels.get(ZONE_LABELS[1], "")
    region = labels[REGION_LABELS[0]] if REGION_LABELS[0] in labels else labels.get(REGION_LABELS[1], "")
    if not zone and not region:
        return ""
    return f"{region}:\x00:{zone}"


def excluded_from_disruption_checks(node: Obj) -> bool:
    return EXCLUDE_DISRUPTION_LABEL in ((node.get("metadata") or {}).get("labels") or {})
