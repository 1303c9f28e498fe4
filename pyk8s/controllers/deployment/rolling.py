"""RollingUpdate arithmetic (upstream rolling.go): how far the new ReplicaSet may grow and the old ones shrink.

The plans are pure: they take the ReplicaSets as the controller currently sees them and return
(ReplicaSet, new spec.replicas) steps. The controller applies them in order.
Invariants: the sum of spec.replicas never exceeds replicas + maxSurge, and old pods are only removed
while the available pods stay at or above replicas - maxUnavailable.
"""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.deployment.util import (
    max_unavailable,
    new_rs_new_replicas,
    replicas,
    sort_by_creation,
    status_count,
    total_replicas,
)

Obj = dict[str, Any]
Step = tuple[Obj, int]


def new_replica_set_target(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """reconcileNewReplicaSet: the size the new ReplicaSet should have now (its current size: nothing to do)."""
    current, want = replicas(new_rs), replicas(d)
    if current == want:
        return current
    if current > want:
        return want
    return new_rs_new_replicas(d, all_rss, new_rs)


def max_scaled_down(d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> int:
    """How many old replicas may go: all pods - minAvailable - the new ReplicaSet's unavailable pods.

    Counting the new ReplicaSet's unavailable pods keeps a crash-looping new version from eating into the
    old version's availability."""
    min_avail = replicas(d) - max_unavailable(d)
    new_unavailable = (replicas(new_rs) - status_count(new_rs, "availableReplicas")) if new_rs is not None else 0
    return total_replicas(all_rss) - min_avail - new_unavailable


def unhealthy_cleanup_plan(old_rss: list[Obj], max_cleanup: int) -> list[Step]:
    """cleanupUnhealthyReplicas: scale old ReplicaSets down by their unavailable pods first (oldest first),
    at most `max_cleanup` in total: removing pods that are not available costs no availability."""
    plan: list[Step] = []
    total = 0
    for rs in sort_by_creation(old_rss):
        if total >= max_cleanup:
            break
        size = replicas(rs)
        unhealthy = size - status_count(rs, "availableReplicas")
        if size == 0 or unhealthy <= 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        plan.append((rs, size - count))
        total += count
    return plan


def old_scale_down_plan(d: Obj, all_rss: list[Obj | None], old_rss: list[Obj]) -> list[Step]:
    """scaleDownOldReplicaSetsForRollingUpdate: remove old replicas (oldest ReplicaSet first) while the
    available pods stay at or above replicas - maxUnavailable.

    A ReplicaSet counts at most spec.replicas available pods (upstream sums status.availableReplicas as is): one
    just scaled down still reports the pod it is deleting as available until its controller recounts, and it
    keeps at most spec.replicas of its available pods (unavailable ones go first). Summing the stale figure let
    a second sync in that window remove one old pod too many while a new pod had just become ready."""
    min_avail = replicas(d) - max_unavailable(d)
    available = sum(min(status_count(rs, "availableReplicas"), replicas(rs)) for rs in all_rss if rs is not None)
    if available <= min_avail:
        return []
    budget = available - min_avail
    plan: list[Step] = []
    done = 0
    for rs in sort_by_creation(old_rss):
        if done >= budget:
            break
        size = replicas(rs)
        if size == 0:
            continue
        count = min(size, budget - done)
        plan.append((rs, size - count))
        done += count
    return plan
