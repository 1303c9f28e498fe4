"""PodDisruptionBudget arithmetic (upstream pkg/controller/disruption and component-helpers), pure.

How many Pods must stay healthy (minAvailable as a number or a share of the controllers' scale, or the
scale minus maxUnavailable), how many are healthy now (Ready, not being deleted, not just evicted), which
recent evictions still count (`disruptedPods`, forgotten after DELETION_TIMEOUT), the resulting status and
its DisruptionAllowed condition.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from pyk8s.api import errors, labels, meta
from pyk8s.controllers.framework.podstate import is_pod_ready, is_terminal, is_terminating, pod_condition

Obj = dict[str, Any]

# A Pod named in disruptedPods is expected to be marked for deletion within this time; after it, the
# entry is dropped and the Pod counts again (upstream DeletionTimeout).
DELETION_TIMEOUT = datetime.timedelta(minutes=2)
# A DisruptionTarget=True condition on a Pod that is not being deleted is reset after this long.
STALE_POD_DISRUPTION_TIMEOUT = datetime.timedelta(minutes=2)

CONDITION_DISRUPTION_ALLOWED = "DisruptionAllowed"
REASON_SUFFICIENT_PODS = "SufficientPods"
REASON_INSUFFICIENT_PODS = "InsufficientPods"
REASON_SYNC_FAILED = "SyncFailed"
CONDITION_DISRUPTION_TARGET = "DisruptionTarget"
REASON_TERMINATION_BY_KUBELET = "TerminationByKubelet"


class BudgetError(Exception):
    """Why a budget's status cannot be computed; the text is upstream's and ends up in the SyncFailed condition."""


# ---- pods ----
def pdb_selector(pdb: Obj) -> labels.Selector:
    """The PDB's pod selector (policy/v1: empty selects every Pod, absent selects none); BadRequest if invalid."""
    return labels.from_label_selector((pdb.get("spec") or {}).get("selector"))


def pdbs_for_pod(pdbs: list[Obj], pod: Obj) -> list[Obj]:
    """The budgets of the Pod's namespace whose selector matches it (invalid selectors match nothing)."""
    out = []
    pod_labels = meta.labels_of(pod)
    for pdb in pdbs:
        if meta.namespace_of(pdb) != meta.namespace_of(pod):
            continue
        try:
            sel = pdb_selector(pdb)
        except errors.BadRequest:
            continue
        if sel.matches(pod_labels):
            out.append(pdb)
    return sorted(out, key=meta.name_of)


# ---- desired and current health ----
def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        raise BudgetError("nil value for IntOrString")
    if isinstance(value, bool):
        raise BudgetError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise BudgetError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if not value.endswith("%"):
        raise BudgetError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise BudgetError(f'invalid value for IntOrString: invalid value "{value}": strconv.Atoi: parsing '
                          f'"{value[:-1]}": invalid syntax') from None
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def needs_scale(pdb: Obj) -> bool:
    """Whether the expected count comes from the Pods' controllers (maxUnavailable, or minAvailable as a %)."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        return True
    return isinstance(spec.get("minAvailable"), str)


def expected_and_desired(pdb: Obj, pod_count: int, scale: int | None) -> tuple[int, int]:
    """(expectedPods, desiredHealthy). `scale` is the sum of the controllers' replicas (when needs_scale)."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected = scale or 0
        desired = expected - scaled_value(spec["maxUnavailable"], expected, True)
        return expected, max(desired, 0)
    min_available = spec.get("minAvailable")
    if min_available is None:
        return 0, 0
    if isinstance(min_available, int) and not isinstance(min_available, bool):
        return pod_count, min_available
    expected = scale or 0
    return expected, scaled_value(min_available, expected, True)


def _parse(value: Any) -> datetime.datetime | None:
    return meta.parse_time(value) if isinstance(value, str) else None


def build_disrupted_pods(pods: list[Obj], pdb: Obj, now: datetime.datetime,
                         ) -> tuple[dict[str, str], datetime.datetime | None, list[Obj]]:
    """The disruptedPods entries still due (Pod present, not yet being deleted, within DELETION_TIMEOUT), the
    earliest time one of them expires (to recheck then), and the Pods whose entry expired undeleted."""
    recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
    kept: dict[str, str] = {}
    recheck: datetime.datetime | None = None
    expired: list[Obj] = []
    if not recorded:
        return kept, recheck, expired
    for pod in pods:
        if is_terminating(pod):
            continue
        name = meta.name_of(pod)
        if name not in recorded:
            continue
        when = _parse(recorded[name])
        due = when + DELETION_TIMEOUT if when is not None else None
        if due is None or due < now:
            expired.append(pod)
        else:
            if recheck is None or due < recheck:
                recheck = due
            kept[name] = recorded[name]
    return kept, recheck, expired


def count_healthy(pods: list[Obj], disrupted: dict[str, str], now: datetime.datetime) -> int:
    healthy = 0
    for pod in pods:
        if is_terminating(pod):
            continue
        when = _parse(disrupted.get(meta.name_of(pod)))
        if when is not None and when + DELETION_TIMEOUT > now:
            continue  # evicted moments ago: about to go
        if is_pod_ready(pod):
            healthy += 1
    return healthy


# ---- conditions and status ----
def set_condition(conditions: list[Obj], new: Obj, now: datetime.datetime) -> bool:
    """apimeta.SetStatusCondition: the transition time moves only when the status changes."""
    for c in conditions:
        if c.get("type") != new["type"]:
            continue
        changed = False
        if c.get("status") != new["status"]:
            c["status"] = new["status"]
            c["lastTransitionTime"] = new.get("lastTransitionTime") or meta.now_rfc3339(now)
            changed = True
        for field in ("reason", "message", "observedGeneration"):
            if c.get(field) != new.get(field):
                c[field] = new.get(field)
                changed = True
        return changed
    added = dict(new)
    added.setdefault("lastTransitionTime", meta.now_rfc3339(now))
    conditions.append(added)
    return True


def update_disruption_allowed_condition(status: Obj, now: datetime.datetime) -> None:
    """pdbhelper.UpdateDisruptionAllowedCondition: SufficientPods when disruptions are allowed."""
    conditions = status.setdefault("conditions", [])
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    set_condition(conditions, {"type": CONDITION_DISRUPTION_ALLOWED, "status": "True" if allowed else "False",
                               "reason": REASON_SUFFICIENT_PODS if allowed else REASON_INSUFFICIENT_PODS,
                               "message": "", "observedGeneration": int(status.get("observedGeneration") or 0)},
                  now)


def conditions_up_to_date(pdb: Obj) -> bool:
    status = pdb.get("status") or {}
    cond = next((c for c in status.get("conditions") or () if c.get("type") == CONDITION_DISRUPTION_ALLOWED), None)
    if cond is None:
        return False
    if int(status.get("observedGeneration") or 0) != int((pdb.get("metadata") or {}).get("generation") or 0):
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == REASON_SUFFICIENT_PODS
    return cond.get("status") == "False" and cond.get("reason") == REASON_INSUFFICIENT_PODS


def new_status(pdb: Obj, current_healthy: int, desired_healthy: int, expected: int, disrupted: dict[str, str],
               now: datetime.datetime) -> Obj | None:
    """The status to write, or None when the stored one already says all of this."""
    allowed = current_healthy - desired_healthy
    if expected <= 0 or allowed <= 0:
        allowed = 0  # a budget matching no Pods yet must not allow anything when its first Pods appear
    status = pdb.get("status") or {}
    generation = int((pdb.get("metadata") or {}).get("generation") or 0)
    if (int(status.get("currentHealthy") or 0) == current_healthy
            and int(status.get("desiredHealthy") or 0) == desired_healthy
            and int(status.get("expectedPods") or 0) == expected
            and int(status.get("disruptionsAllowed") or 0) == allowed
            and (status.get("disruptedPods") or {}) == disrupted
            and int(status.get("observedGeneration") or 0) == generation
            and conditions_up_to_date(pdb)):
        return None
    out: Obj = {"disruptionsAllowed": allowed, "currentHealthy": current_healthy,
                "desiredHealthy": desired_healthy, "expectedPods": expected}
    if generation:
        out["observedGeneration"] = generation
    if disrupted:
        out["disruptedPods"] = dict(disrupted)
    out["conditions"] = meta.copy(status.get("conditions") or [])
    update_disruption_allowed_condition(out, now)
    return out


def fail_safe_status(pdb: Obj, message: str, now: datetime.datetime) -> Obj:
    """The status after a failed computation: nothing allowed, condition SyncFailed with the error."""
    status = meta.copy(pdb.get("status") or {})
    status["disruptionsAllowed"] = 0
    conditions = status.setdefault("conditions", [])
    set_condition(conditions, {"type": CONDITION_DISRUPTION_ALLOWED, "status": "False", "reason": REASON_SYNC_FAILED,
                               "message": message,
                               "observedGeneration": int(status.get("observedGeneration") or 0)}, now)
    return status


# ---- stale DisruptionTarget conditions ----
def stale_disruption_wait(pod: Obj, now: datetime.datetime) -> float | None:
    """Seconds until the Pod's DisruptionTarget=True condition counts as stale (0: now), or None if it has
    none that can be (being deleted, terminal, or set by the kubelet)."""
    if is_terminating(pod):
        return None
    cond = pod_condition(pod, CONDITION_DISRUPTION_TARGET)
    if cond is None or cond.get("status") != "True" or cond.get("reason") == REASON_TERMINATION_BY_KUBELET:
        return None
    if is_terminal(pod):
        return None
    since = _parse(cond.get("lastTransitionTime"))
    waited = (now - since).total_seconds() if since is not None else math.inf
    return max(0.0, STALE_POD_DISRUPTION_TIMEOUT.total_seconds() - waited)


def reset_disruption_condition(pod: Obj, now: datetime.datetime) -> Obj:
    """A copy of the Pod whose DisruptionTarget condition says False (reason and message dropped, as upstream)."""
    new = meta.copy(pod)
    conditions = new.setdefault("status", {}).setdefault("conditions", [])
    for i, c in enumerate(conditions):
        if c.get("type") == CONDITION_DISRUPTION_TARGET:
            conditions[i] = {"type": CONDITION_DISRUPTION_TARGET, "status": "False", "lastProbeTime": None,
                             "lastTransitionTime": meta.now_rfc3339(now)}
    return new


# ---- messages ----
def go_label_selector(selector: Obj | None) -> str:
    """%v of a *metav1.LabelSelector, as upstream's events print it."""
    if selector is None:
        return "nil"
    match = selector.get("matchLabels") or {}
    labels_text = "".join(f"{k}: {match[k]}," for k in sorted(match))
    exprs = "".join(f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
                    f"Values:[{' '.join(e.get('values') or [])}],}},"
                    for e in selector.get("matchExpressions") or ())
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels_text}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")
