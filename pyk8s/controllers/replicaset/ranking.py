"""Which pods a ReplicaSet deletes first when it has too many, and when a ready pod becomes available.

The deletion order of upstream's controller.ActivePodsWithRanks with PodDeletionCost and LogarithmicScaleDown
(both on by default), over the shared pod predicates of framework.podstate. A pod earlier in the order is
preferred for deletion:

1. unassigned before assigned;  2. Pending < Unknown < Running;  3. not ready before ready;
4. lower ``controller.kubernetes.io/pod-deletion-cost`` first;  5. more active related pods on the same node first;
6. ready for a shorter time first;  7. more container restarts first;  8. newer first.
Times in 6 and 8 are compared on a log2 scale of their age; equal buckets fall back to UID order.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Iterable

from pyk8s.api.meta import parse_time
from pyk8s.client.interface import Obj
from pyk8s.controllers.framework.podstate import is_pod_active, is_pod_ready, ready_condition

POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")


def _spec(pod: Obj) -> Obj:
    return pod.get("spec") or {}


def _status(pod: Obj) -> Obj:
    return pod.get("status") or {}


def ready_since(pod: Obj) -> datetime.datetime | None:
    """When a ready pod became ready (its Ready condition's lastTransitionTime); None if not ready or unknown."""
    if not is_pod_ready(pod):
        return None
    c = ready_condition(pod) or {}
    return parse_time(c.get("lastTransitionTime"))


def seconds_until_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> float | None:
    """For a ready pod not yet available: seconds until it is. None when not ready or already available."""
    if min_ready_seconds == 0 or not is_pod_ready(pod):
        return None
    since = ready_since(pod)
    if since is None:
        return None
    left = (since + datetime.timedelta(seconds=min_ready_seconds) - now).total_seconds()
    return left if left >= 0 else None


def deletion_cost(pod: Obj) -> int:
    """The pod-deletion-cost annotation as an int32; 0 when absent or invalid."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST_ANNOTATION)
    if raw is None:
        return 0
    text = str(raw)
    if not _DECIMAL.fullmatch(text):
        return 0
    value = int(text)
    return value if _INT32_MIN <= value <= _INT32_MAX else 0


def max_container_restarts(pod: Obj) -> int:
    return max((int(c.get("restartCount") or 0) for c in _status(pod).get("containerStatuses") or ()), default=0)


def _creation(pod: Obj) -> datetime.datetime | None:
    return parse_time((pod.get("metadata") or {}).get("creationTimestamp"))


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def _log_bucket(t: datetime.datetime, now: datetime.datetime) -> int:
    nanos = (now - t).total_seconds() * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _newer_first(t1: datetime.datetime | None, t2: datetime.datetime | None) -> bool:
    """upstream afterOrZero: a missing time sorts first, otherwise the later one does."""
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _time_less(t1: datetime.datetime | None, t2: datetime.datetime | None, uid1: str, uid2: str,
               now: datetime.datetime | None) -> bool:
    if now is None or t1 is None or t2 is None:
        return _newer_first(t1, t2)
    diff = _log_bucket(t1, now) - _log_bucket(t2, now)
    if diff == 0:
        return uid1 < uid2
    return diff < 0


def deletion_less(a: Obj, b: Obj, rank_a: int, rank_b: int, now: datetime.datetime | None) -> bool:
    """True when pod `a` should be deleted before pod `b` (ActivePodsWithRanks.Less)."""
    node_a, node_b = _spec(a).get("nodeName") or "", _spec(b).get("nodeName") or ""
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    phase_a = _PHASE_ORDINAL.get(_status(a).get("phase") or "", 0)
    phase_b = _PHASE_ORDINAL.get(_status(b).get("phase") or "", 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    ready_a, ready_b = is_pod_ready(a), is_pod_ready(b)
    if ready_a != ready_b:
        return not ready_a
    cost_a, cost_b = deletion_cost(a), deletion_cost(b)
    if cost_a != cost_b:
        return cost_a < cost_b
    if rank_a != rank_b:
        return rank_a > rank_b
    if ready_a and ready_b:
        since_a, since_b = ready_since(a), ready_since(b)
        if since_a != since_b:
            return _time_less(since_a, since_b, _uid(a), _uid(b), now)
    restarts_a, restarts_b = max_container_restarts(a), max_container_restarts(b)
    if restarts_a != restarts_b:
        return restarts_a > restarts_b
    created_a, created_b = _creation(a), _creation(b)
    if created_a != created_b:
        return _time_less(created_a, created_b, _uid(a), _uid(b), now)
    return False


def rank_pods_for_deletion(pods: list[Obj], related: Iterable[Obj], now: datetime.datetime | None) -> list[Obj]:
    """`pods` sorted so the best candidates for deletion come first.

    A pod's rank is the number of active `related` pods (those of every ReplicaSet with the same owner) on its
    node, so pods doubled up on a node go first.
    """
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = _spec(p).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(p, on_node.get(_spec(p).get("nodeName") or "", 0)) for p in pods]

    def compare(x: tuple[Obj, int], y: tuple[Obj, int]) -> int:
        if deletion_less(x[0], y[0], x[1], y[1], now):
            return -1
        if deletion_less(y[0], x[0], y[1], x[1], now):
            return 1
        return 0

    ranked.sort(key=functools.cmp_to_key(compare))
    return [p for p, _ in ranked]


def pods_to_delete(pods: list[Obj], related: Iterable[Obj], count: int, now: datetime.datetime | None) -> list[Obj]:
    """The `count` pods to delete from `pods` (all of them, unsorted, when count covers them all)."""
    if count >= len(pods):
        return list(pods)
    return rank_pods_for_deletion(pods, related, now)[:count]
