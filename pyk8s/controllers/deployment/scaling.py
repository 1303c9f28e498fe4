"""Proportional scaling (upstream sync.go scale()): resizing a Deployment while more than one ReplicaSet
is active spreads the difference over them in proportion to their size, so a resize during a rollout does
not speed the rollout up or slow it down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyk8s.controllers.deployment.util import (
    filter_active,
    find_active_or_latest,
    is_rolling_update,
    is_saturated,
    max_surge,
    proportion,
    replicas,
    sort_by_size_newer,
    sort_by_size_older,
    total_replicas,
)

Obj = dict[str, Any]


@dataclass(frozen=True)
class ScaleStep:
    """Scale `rs` to `size`. `operation` None: "up"/"down" from the sizes, and nothing to do when the size is
    unchanged (scaleReplicaSetAndRecordEvent). A string: write even if only the replica annotations change,
    reporting that operation in the event (scaleReplicaSet)."""

    rs: Obj
    size: int
    operation: str | None = None


def scale_plan(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> list[ScaleStep]:
    active_or_latest = find_active_or_latest(new_rs, old_rss)
    if active_or_latest is not None:
        if replicas(active_or_latest) == replicas(d):
            return []
        return [ScaleStep(active_or_latest, replicas(d))]
    if is_saturated(d, new_rs):
        # The new ReplicaSet already runs everything: old ones (e.g. just adopted) go to zero.
        return [ScaleStep(old, 0) for old in filter_active(old_rss)]
    if not is_rolling_update(d):
        return []
    active = filter_active([*old_rss, new_rs])
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total_replicas(active)
    operation = ""
    if to_add > 0:
        active = sort_by_size_newer(active)
        operation = "up"
    elif to_add < 0:
        active = sort_by_size_older(active)
        operation = "down"
    sizes: list[int] = []
    added = 0
    for rs in active:
        if to_add != 0:
            share = proportion(rs, d, to_add, added)
            sizes.append(replicas(rs) + share)
            added += share
        else:
            sizes.append(replicas(rs))
    if active and to_add != 0:
        # Leftovers go to (or come from) the largest ReplicaSet.
        sizes[0] = max(0, sizes[0] + to_add - added)
    return [ScaleStep(rs, size, operation) for rs, size in zip(active, sizes, strict=True)]
