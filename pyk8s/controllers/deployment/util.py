"""Pure Deployment arithmetic (upstream pkg/controller/deployment/util/deployment_util.go and friends).

Everything here works on plain dicts and returns values; nothing talks to the API. Timestamps are passed
in (`now`) so tests control time.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Iterable
from typing import Any

from pyk8s.api.meta import copy, now_rfc3339, parse_time
from pyk8s.controllers.deployment.hash import normalize

Obj = dict[str, Any]

UNIQUE_LABEL_KEY = "pod-template-hash"  # apps.DefaultDeploymentUniqueLabelKey
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Condition types and reasons.
PROGRESSING = "Progressing"
AVAILABLE = "Available"
REPLICA_FAILURE = "ReplicaFailure"
REPLICA_SET_UPDATED_REASON = "ReplicaSetUpdated"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
NEW_REPLICA_SET_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_DEPLOY_REASON = "DeploymentPaused"
RESUMED_DEPLOY_REASON = "DeploymentResumed"
MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
# Rollback event reasons (the deprecated rollbackTo annotation).
ROLLBACK_REVISION_NOT_FOUND = "DeploymentRollbackRevisionNotFound"
ROLLBACK_TEMPLATE_UNCHANGED = "DeploymentRollbackTemplateUnchanged"
ROLLBACK_DONE = "DeploymentRollback"

_ANNOTATIONS_TO_SKIP = frozenset({
    LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION, DEPRECATED_ROLLBACK_TO,
})
_GO_ATOI = re.compile(r"[+-]?[0-9]+")
_DEPLOYMENT_STATUS_COUNTERS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                               "availableReplicas", "unavailableReplicas")


class IntOrStringError(ValueError):
    """An IntOrString that is neither an int nor a "N%" string (validation normally prevents it)."""


# ---------------------------------------------------------------------------------------------------------------
# field access with the API defaults (the apiserver fills them in; we tolerate objects that lack them)

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj | None) -> Obj:
    return (obj or {}).get("status") or {}


def replicas(obj: Obj) -> int:
    """spec.replicas of a Deployment or ReplicaSet (API default 1)."""
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


def status_count(obj: Obj | None, field: str) -> int:
    return int(_status(obj).get(field) or 0)


def annotations_of(obj: Obj) -> dict[str, str]:
    return dict(_meta(obj).get("annotations") or {})


def uid(obj: Obj) -> str:
    return str(_meta(obj).get("uid") or "")


def strategy_type(d: Obj) -> str:
    return str((_spec(d).get("strategy") or {}).get("type") or "RollingUpdate")


def is_rolling_update(d: Obj) -> bool:
    return strategy_type(d) == "RollingUpdate"


def _rolling_params(d: Obj) -> tuple[Any, Any]:
    rolling = (_spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    return rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")


def has_progress_deadline(d: Obj) -> bool:
    value = _spec(d).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def has_revision_history_limit(d: Obj) -> bool:
    value = _spec(d).get("revisionHistoryLimit")
    return value is not None and int(value) != MAX_INT32


def is_paused(d: Obj) -> bool:
    return bool(_spec(d).get("paused"))


# ---------------------------------------------------------------------------------------------------------------
# maxSurge / maxUnavailable

def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of `total` rounded up or down."""
    if value is None:
        raise IntOrStringError("nil value for IntOrString")
    if isinstance(value, bool):
        raise IntOrStringError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        raise IntOrStringError("invalid value for IntOrString: invalid type: neither int nor percentage")
    if not value.endswith("%"):
        raise IntOrStringError("invalid value for IntOrString: invalid type: string is not a percentage")
    digits = value[:-1]
    if not _GO_ATOI.fullmatch(digits):
        raise IntOrStringError(f'invalid value for IntOrString: invalid value "{value}"')
    scaled = float(int(digits)) * float(total) / 100
    return int(math.ceil(scaled) if round_up else math.floor(scaled))


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable rounds down; both zero means unavailable 1."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # both resolved to zero by rounding: let one pod go rather than never progress
    return surge, unavailable


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    try:
        surge, _ = resolve_fenceposts(*_rolling_params(d), replicas(d))
    except IntOrStringError:
        return 0
    return surge


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    try:
        _, unavailable = resolve_fenceposts(*_rolling_params(d), replicas(d))
    except IntOrStringError:
        return 0
    return min(unavailable, replicas(d))


def min_available(d: Obj) -> int:
    return replicas(d) - max_unavailable(d) if is_rolling_update(d) else 0


# ---------------------------------------------------------------------------------------------------------------
# conditions

def new_condition(cond_type: str, status: str, reason: str, message: str, now: datetime.datetime) -> Obj:
    t = now_rfc3339(now)
    return {"type": cond_type, "status": status, "lastUpdateTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def get_condition(status: Obj, cond_type: str) -> Obj | None:
    for c in status.get("conditions") or ():
        if c.get("type") == cond_type:
            return dict(c)
    return None


def set_condition(status: Obj, condition: Obj) -> None:
    """Add or replace; a condition with the same status and reason is left alone, and a status that does not
    change keeps its lastTransitionTime."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return
    condition = dict(condition)
    if current is not None and current.get("status") == condition["status"]:
        condition["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != condition["type"]]
    status["conditions"].append(condition)


def remove_condition(status: Obj, cond_type: str) -> None:
    status["conditions"] = [c for c in status.get("conditions") or () if c.get("type") != cond_type]


def rs_to_deployment_condition(cond: Obj) -> Obj:
    return {"type": cond.get("type"), "status": cond.get("status"),
            "lastUpdateTime": cond.get("lastTransitionTime"), "lastTransitionTime": cond.get("lastTransitionTime"),
            "reason": cond.get("reason", ""), "message": cond.get("message", "")}


# ---------------------------------------------------------------------------------------------------------------
# revisions and annotations

def _go_atoi(text: str | None) -> int | None:
    if text is None or not _GO_ATOI.fullmatch(text):
        return None
    return int(text)


def revision(obj: Obj) -> int:
    """The revision annotation as a number; 0 when absent. ValueError when it is not a number."""
    value = annotations_of(obj).get(REVISION_ANNOTATION)
    if value is None:
        return 0
    parsed = _go_atoi(value)
    if parsed is None:
        raise ValueError(f"invalid revision {value!r}")
    return parsed


def max_revision(rss: Iterable[Obj | None]) -> int:
    best = 0
    for rs in rss:
        if rs is None:
            continue
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def last_revision(rss: Iterable[Obj | None]) -> int:
    """The second highest revision (the one before the current)."""
    top = second = 0
    for rs in rss:
        if rs is None:
            continue
        try:
            v = revision(rs)
        except ValueError:
            continue
        if v >= top:
            second, top = top, v
        elif v > second:
            second = v
    return second


def _own_annotations(obj: Obj) -> dict[str, str]:
    """The object's own annotations map (created if missing), for in-place edits."""
    m = obj.setdefault("metadata", {})
    if m.get("annotations") is None:
        m["annotations"] = {}
    ann: dict[str, str] = m["annotations"]
    return ann


def set_deployment_revision(d: Obj, rev: str) -> bool:
    ann = _own_annotations(d)
    if ann.get(REVISION_ANNOTATION) != rev:
        ann[REVISION_ANNOTATION] = rev
        return True
    return False


def copy_deployment_annotations_to_rs(d: Obj, rs: Obj) -> bool:
    changed = False
    ann = _own_annotations(rs)
    for k, v in annotations_of(d).items():
        if k in _ANNOTATIONS_TO_SKIP or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_deployment_annotations_to(d: Obj, rollback_to: Obj) -> None:
    """On rollback: the Deployment takes the old ReplicaSet's annotations (bookkeeping ones excepted)."""
    kept = {k: v for k, v in annotations_of(d).items() if k in _ANNOTATIONS_TO_SKIP}
    for k, v in annotations_of(rollback_to).items():
        if k not in _ANNOTATIONS_TO_SKIP:
            kept[k] = v
    d.setdefault("metadata", {})["annotations"] = kept


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = _own_annotations(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, str(desired)), (MAX_REPLICAS_ANNOTATION, str(max_replicas))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS_ANNOTATION) != str(desired) or ann.get(MAX_REPLICAS_ANNOTATION) != str(max_replicas)


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _go_atoi(annotations_of(rs).get(DESIRED_REPLICAS_ANNOTATION))


def max_replicas_annotation(rs: Obj) -> int | None:
    return _go_atoi(annotations_of(rs).get(MAX_REPLICAS_ANNOTATION))


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool,
                           history_limit_chars: int = MAX_REV_HISTORY_LENGTH_IN_CHARS) -> bool:
    """Copy the Deployment's annotations onto its new ReplicaSet, raise its revision to `new_revision` (keeping
    the revisions it served before in revision-history), and for a ReplicaSet about to be created set the
    desired/max replica annotations. True when anything changed."""
    changed = copy_deployment_annotations_to_rs(d, rs)
    ann = _own_annotations(rs)
    had_revision = REVISION_ANNOTATION in ann
    old_revision = ann.get(REVISION_ANNOTATION, "")
    old_int = _go_atoi(old_revision)
    if old_int is None:
        if old_revision != "":
            return False
        old_int = 0
    new_int = _go_atoi(new_revision)
    if new_int is None:
        return False
    if old_int < new_int:
        ann[REVISION_ANNOTATION] = new_revision
        changed = True
    if had_revision and old_int < new_int:
        # Rolling back to this ReplicaSet: remember the revisions it had.
        history = ann.get(REVISION_HISTORY_ANNOTATION, "")
        old_revisions = history.split(",")
        if not old_revisions[0]:
            ann[REVISION_HISTORY_ANNOTATION] = old_revision
        else:
            total = len(history) + len(old_revision) + 1
            start = 0
            while total > history_limit_chars and start < len(old_revisions):
                total -= len(old_revisions[start]) + 1
                start += 1
            if total <= history_limit_chars:
                ann[REVISION_HISTORY_ANNOTATION] = ",".join([*old_revisions[start:], old_revision])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


# ---------------------------------------------------------------------------------------------------------------
# finding and ordering ReplicaSets

_ZERO_TIME = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def _created(obj: Obj) -> datetime.datetime:
    return parse_time(_meta(obj).get("creationTimestamp")) or _ZERO_TIME


def _by_creation_less(a: Obj, b: Obj) -> bool:
    ta, tb = _created(a), _created(b)
    if ta == tb:
        return str(_meta(a).get("name", "")) < str(_meta(b).get("name", ""))
    return ta < tb


def _sorted(rss: Iterable[Obj], less: Any) -> list[Obj]:
    def compare(a: Obj, b: Obj) -> int:
        return -1 if less(a, b) else 1 if less(b, a) else 0
    return sorted(rss, key=functools.cmp_to_key(compare))


def sort_by_creation(rss: Iterable[Obj]) -> list[Obj]:
    """Oldest first; equal timestamps by name (controller.ReplicaSetsByCreationTimestamp)."""
    return _sorted(rss, _by_creation_less)


def sort_by_size_older(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; equal sizes oldest first (the order for scaling down)."""
    def less(a: Obj, b: Obj) -> bool:
        if replicas(a) == replicas(b):
            return _by_creation_less(a, b)
        return replicas(a) > replicas(b)
    return _sorted(rss, less)


def sort_by_size_newer(rss: Iterable[Obj]) -> list[Obj]:
    """Largest first; equal sizes newest first (the order for scaling up)."""
    def less(a: Obj, b: Obj) -> bool:
        if replicas(a) == replicas(b):
            return _by_creation_less(b, a)
        return replicas(a) > replicas(b)
    return _sorted(rss, less)


def sort_by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """Lowest revision first; unparsable or equal revisions by creation time."""
    def less(a: Obj, b: Obj) -> bool:
        try:
            ra, rb = revision(a), revision(b)
        except ValueError:
            return _by_creation_less(a, b)
        if ra == rb:
            return _by_creation_less(a, b)
        return ra < rb
    return _sorted(rss, less)


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    """ReplicaSets that want pods (spec.replicas > 0)."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def template_without_hash(template: Obj | None) -> Obj:
    t = copy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(UNIQUE_LABEL_KEY, None)
    return t


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """Semantic equality of two pod templates, ignoring the pod-template-hash label."""
    return bool(normalize(template_without_hash(t1)) == normalize(template_without_hash(t2)))


def find_new_replica_set(d: Obj, rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's (ignoring the hash label)."""
    template = _spec(d).get("template")
    for rs in sort_by_creation(rss):
        if equal_ignore_hash(_spec(rs).get("template"), template):
            return rs
    return None


def find_old_replica_sets(d: Obj, rss: list[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets that still want pods, all old ReplicaSets)."""
    new_rs = find_new_replica_set(d, rss)
    all_old = [rs for rs in rss if new_rs is None or uid(rs) != uid(new_rs)]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest when none is active; None when several are active."""
    if new_rs is None and not old_rss:
        return None
    newest_first = list(reversed(sort_by_creation(old_rss)))
    active = filter_active([*newest_first, new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    if len(active) == 1:
        return active[0]
    return None


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_count(rs, field) for rs in rss if rs is not None)


# ---------------------------------------------------------------------------------------------------------------
# sizes

def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    """How many replicas `rs` gains (or loses, negative) when the Deployment is resized mid-rollout."""
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        annotated = status_count(d, "replicas")
    if annotated <= 0:
        return 0
    return _round_half_away(replicas(rs) * deployment_replicas / annotated) - replicas(rs)


def proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    """GetProportion: this ReplicaSet's share of `to_add`, never overshooting what is left to add or remove."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now: rolling = up to replicas + maxSurge pods in total, never above
    spec.replicas; Recreate = spec.replicas. Raises IntOrStringError for a bad maxSurge."""
    kind = strategy_type(d)
    if kind == "RollingUpdate":
        surge_value, _ = _rolling_params(d)
        surge = scaled_value(surge_value, replicas(d), True)
        current = total_replicas(all_rss)
        max_total = replicas(d) + surge
        if current >= max_total:
            return replicas(new_rs)
        scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
        return replicas(new_rs) + scale_up
    if kind == "Recreate":
        return replicas(d)
    raise ValueError(f"deployment type {kind} isn't supported")


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet holds every desired replica, believes so (annotation), and all are available."""
    if rs is None:
        return False
    desired = _go_atoi(annotations_of(rs).get(DESIRED_REPLICAS_ANNOTATION))
    if desired is None:
        return False
    return replicas(rs) == replicas(d) and desired == replicas(d) and status_count(rs, "availableReplicas") == replicas(d)


# ---------------------------------------------------------------------------------------------------------------
# status and progress

def normalize_status(status: Obj) -> Obj:
    """Drop what Go's omitempty drops (zero counters, empty conditions, a nil collisionCount)."""
    out = dict(status)
    for key in _DEPLOYMENT_STATUS_COUNTERS:
        if not out.get(key):
            out.pop(key, None)
    if not out.get("conditions"):
        out.pop("conditions", None)
    if out.get("collisionCount") is None:
        out.pop("collisionCount", None)
    return out


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj, now: datetime.datetime) -> Obj:
    """The Deployment's status from its ReplicaSets, with the Available condition refreshed."""
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(0, total_replicas(all_rss) - available)
    old = _status(d)
    status: Obj = {
        "observedGeneration": int(_meta(d).get("generation") or 0),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": [dict(c) for c in old.get("conditions") or ()],
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        cond = new_condition(AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, "Deployment has minimum availability.", now)
    else:
        cond = new_condition(AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE,
                             "Deployment does not have minimum availability.", now)
    set_condition(status, cond)
    return normalize_status(status)


def status_equal(a: Obj, b: Obj) -> bool:
    return normalize_status(a) == normalize_status(b)


def deployment_complete(d: Obj, status: Obj) -> bool:
    """Every desired replica updated and available, no old pods, and this generation observed."""
    want = replicas(d)
    return (int(status.get("updatedReplicas") or 0) == want and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0) >= int(_meta(d).get("generation") or 0))


def deployment_progressing(d: Obj, new_status: Obj) -> bool:
    """More updated/ready/available pods, or fewer old ones, than the status the Deployment has now."""
    old = _status(d)

    def n(s: Obj, key: str) -> int:
        return int(s.get(key) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(new_status, "replicas") - n(new_status, "updatedReplicas")
    return (n(new_status, "updatedReplicas") > n(old, "updatedReplicas") or new_old < old_old
            or n(new_status, "readyReplicas") > n(old, "readyReplicas")
            or n(new_status, "availableReplicas") > n(old, "availableReplicas"))


def deployment_timed_out(d: Obj, new_status: Obj, now: datetime.datetime) -> bool:
    """No progress reported within progressDeadlineSeconds of the Progressing condition's lastUpdateTime."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(new_status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    return since + datetime.timedelta(seconds=int(_spec(d)["progressDeadlineSeconds"])) < now


def seconds_until_progress_check(d: Obj, new_status: Obj, now: datetime.datetime) -> float | None:
    """requeueStuckDeployment: when to look again for a timeout; None when no check is needed."""
    cond = get_condition(_status(d), PROGRESSING)
    if not has_progress_deadline(d) or cond is None:
        return None
    if deployment_complete(d, new_status) or cond.get("reason") == TIMED_OUT_REASON:
        return None
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = since + datetime.timedelta(seconds=int(_spec(d)["progressDeadlineSeconds"]))
    return (deadline - now).total_seconds()


def clone_selector_and_add_label(selector: Obj | None, key: str, value: str) -> Obj:
    out = copy(selector or {})
    if not key:
        return out
    match_labels = dict(out.get("matchLabels") or {})
    match_labels[key] = value
    out["matchLabels"] = match_labels
    return out
