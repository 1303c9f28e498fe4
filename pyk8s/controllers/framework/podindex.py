"""Pods by controller: the pod-cache index workload controllers read their pods through.

Upstream's PodControllerUIDIndex (pkg/controller/controller_utils.go, AddPodControllerUIDIndexer and
OrphanPodIndexKeyForNamespace): every cached pod is filed under "<namespace>/<uid of its controller
reference>", or, when it has no controller, under its namespace's orphan key. A sync then reads the pods its
owner controls plus the orphans it might adopt in O(those pods) instead of scanning every pod of the
namespace, which with tens of thousands of pods made each ReplicaSet and Deployment sync cost O(all pods).

The pods of other controllers are exactly the ones a claim ignores (ControllerRefManager), so claiming over
`claim_candidates` gives the same result as claiming over the whole namespace. Every function falls back to
a namespace scan when the informer has no such index (a test double without indexers).
"""

from __future__ import annotations

from typing import Any

from pyk8s.client.interface import Lister, Obj
from pyk8s.controllers.framework import controller_ref

POD_CONTROLLER_UID_INDEX = "podControllerUID"
ORPHAN_POD_INDEX_KEY = "_ORPHAN_POD"  # upstream's OrphanPodIndexKey (never a UID: UIDs have no "_")


def _namespace(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def controlled_key(namespace: str, owner_uid: str) -> str:
    """The index value of the pods in `namespace` whose controller reference carries `owner_uid`."""
    return f"{namespace}/{owner_uid}"


def orphan_key(namespace: str) -> str:
    """The index value of the pods in `namespace` that have no controller reference."""
    return f"{namespace}/{ORPHAN_POD_INDEX_KEY}"


def pod_controller_uid_index(pod: Obj) -> list[str]:
    """The index function: the pod's controller's key, or its namespace's orphan key."""
    md = pod.get("metadata") or {}
    namespace = str(md.get("namespace") or "")
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller"):
            return [controlled_key(namespace, str(ref.get("uid") or ""))]
    return [orphan_key(namespace)]


def add_pod_controller_uid_index(pod_informer: Any) -> bool:
    """Register the index on the (shared) pod informer; registering it again is harmless. False when the
    informer cannot take indexers (callers then scan)."""
    try:
        pod_informer.add_indexers({POD_CONTROLLER_UID_INDEX: pod_controller_uid_index})
    except (AttributeError, KeyError, ValueError, RuntimeError):
        return False
    return True


def controlled_pods(pods: Lister, namespace: str, owner_uid: str) -> list[Obj]:
    """The cached pods of `namespace` whose controller reference names `owner_uid`."""
    try:
        return pods.by_index(POD_CONTROLLER_UID_INDEX, controlled_key(namespace, owner_uid))
    except KeyError:
        return [p for p in pods.list(namespace) if (controller_ref(p) or {}).get("uid") == owner_uid]


def orphan_pods(pods: Lister, namespace: str) -> list[Obj]:
    """The cached pods of `namespace` without a controller reference."""
    try:
        return pods.by_index(POD_CONTROLLER_UID_INDEX, orphan_key(namespace))
    except KeyError:
        return [p for p in pods.list(namespace) if controller_ref(p) is None]


def claim_candidates(pods: Lister, owner: Obj) -> list[Obj]:
    """Every cached pod a claim by `owner` can keep, release or adopt: those it controls, then the orphans of
    its namespace. (Pods controlled by anyone else are ignored by a claim, so they are left out.)"""
    md = owner.get("metadata") or {}
    namespace = str(md.get("namespace") or "")
    owner_uid = str(md.get("uid") or "")
    try:
        owned = pods.by_index(POD_CONTROLLER_UID_INDEX, controlled_key(namespace, owner_uid))
        return owned + pods.by_index(POD_CONTROLLER_UID_INDEX, orphan_key(namespace))
    except KeyError:
        return [p for p in pods.list(namespace)
                if (ref := controller_ref(p)) is None or ref.get("uid") == owner_uid]
