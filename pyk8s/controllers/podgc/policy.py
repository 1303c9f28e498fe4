"""Which pods the pod garbage collector removes, and in what order: pure functions over pod and node dicts."""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api import meta

Obj = dict[str, Any]

OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"  # v1.TaintNodeOutOfService
_LIVE_PHASES = frozenset({"Pending", "Running", "Unknown"})


def is_terminated(pod: Obj) -> bool:
    """Upstream podgc isPodTerminated: any phase but Pending, Running and Unknown. Wider than
    podstate.is_terminal: a pod without a phase counts as terminated here."""
    return (pod.get("status") or {}).get("phase") not in _LIVE_PHASES


def is_evicted(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _created(pod: Obj) -> datetime.datetime:
    return meta.parse_time((pod.get("metadata") or {}).get("creationTimestamp")) or datetime.datetime.min.replace(
        tzinfo=datetime.UTC)


def eviction_then_age_order(pods: list[Obj]) -> list[Obj]:
    """Upstream byEvictionAndCreationTimestamp: evicted pods first, then oldest first, then by name."""
    return sorted(pods, key=lambda p: (not is_evicted(p), _created(p), meta.name_of(p)))


def terminated_to_delete(pods: list[Obj], threshold: int) -> list[Obj]:
    """The terminated pods beyond `threshold`, in deletion order (none when threshold <= 0)."""
    if threshold <= 0:
        return []
    terminated = [p for p in pods if is_terminated(p)]
    excess = len(terminated) - threshold
    if excess <= 0:
        return []
    return eviction_then_age_order(terminated)[:excess]


def is_node_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def has_taint_key(node: Obj, key: str) -> bool:
    return any(t.get("key") == key for t in (node.get("spec") or {}).get("taints") or ())


def out_of_service(node: Obj) -> bool:
    """A node pods may be force-deleted from: not ready and tainted node.kubernetes.io/out-of-service."""
    return not is_node_ready(node) and has_taint_key(node, OUT_OF_SERVICE_TAINT)
