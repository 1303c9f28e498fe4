"""How many pods each controller has, by kind of pod, kept current from pod events (O(1) per event).

A ReplicaSet's status is a handful of counts over its active pods (replicas, fully labeled, ready,
available), and deciding that nothing needs adopting, releasing or deleting needs only to know that all of
them still match its selector and how many there are. With thousands of pods per ReplicaSet and a sync for
every pod event (as upstream), recounting them each sync costs O(pods) per event. The tally groups the pods
of each controller (by the uid of their controller reference, per namespace) by a `Signature`: their labels
and whether they are active and ready. A sync then looks at a few groups (normally one or two, since pods
made from one template share their labels) instead of every pod.

The informer's handler keeps it current, right after the cache changes and before any worker runs, so the
tally always describes exactly the pods the cache holds. Read it only through `groups`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from pyk8s.client.interface import object_key
from pyk8s.controllers.framework.podindex import controlled_key
from pyk8s.controllers.framework.podstate import is_pod_active, is_pod_ready

Obj = dict[str, Any]


class Signature(NamedTuple):
    """What a controller's sync needs to know about one of its pods."""

    labels: tuple[tuple[str, str], ...]  # metadata.labels items, in the object's order
    active: bool  # neither terminal nor being deleted (IsPodActive)
    ready: bool  # the Ready condition is True


def signature(pod: Obj) -> Signature:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return Signature(tuple(labels.items()), is_pod_active(pod), is_pod_ready(pod))


def _owner_key(pod: Obj) -> str | None:
    """controlled_key(namespace, controller uid), or None for a pod without a controller reference."""
    md = pod.get("metadata") or {}
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller"):
            return controlled_key(str(md.get("namespace") or ""), str(ref.get("uid") or ""))
    return None


class PodTally:
    """Counts of pods per (namespace, controller uid) and Signature. Feed it every add, update and delete."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[Signature, int]] = {}
        self._pods: dict[str, tuple[str, Signature]] = {}  # pod key -> (owner key, signature) counted

    def __len__(self) -> int:
        """How many pods are counted (those with a controller reference)."""
        return len(self._pods)

    def observe(self, pod: Obj) -> None:
        """A pod was added or changed."""
        key = object_key(pod)
        owner = _owner_key(pod)
        before = self._pods.get(key)
        if owner is None:
            if before is not None:
                del self._pods[key]
                self._uncount(*before)
            return
        now = (owner, signature(pod))
        if before == now:
            return
        if before is not None:
            self._uncount(*before)
        self._pods[key] = now
        groups = self._groups.setdefault(owner, {})
        groups[now[1]] = groups.get(now[1], 0) + 1

    def forget(self, pod: Obj) -> None:
        """A pod was deleted."""
        before = self._pods.pop(object_key(pod), None)
        if before is not None:
            self._uncount(*before)

    def groups(self, namespace: str, owner_uid: str) -> dict[Signature, int]:
        """Signature -> number of pods, for the pods of `namespace` controlled by `owner_uid` (a copy)."""
        return dict(self._groups.get(controlled_key(namespace, owner_uid)) or {})

    def _uncount(self, owner: str, sig: Signature) -> None:
        groups = self._groups[owner]
        left = groups[sig] - 1
        if left:
            groups[sig] = left
            return
        del groups[sig]
        if not groups:
            del self._groups[owner]
