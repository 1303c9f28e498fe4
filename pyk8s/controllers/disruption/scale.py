"""How many replicas the controllers of a budget's Pods want (upstream getExpectedScale and its finders).

Each Pod's controlling owner is looked up in the informer caches (ReplicationController; ReplicaSet, or the
Deployment owning it; StatefulSet); any other kind is asked for its scale subresource. Pods without a
controller are reported back (the budget then warns "UnmanagedPods"); a controller that cannot be found
is an error.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.client.interface import Client, Lister
from pyk8s.client.kinds import resource_for_kind
from pyk8s.controllers.disruption.budget import BudgetError
from pyk8s.controllers.framework import controller_ref

Obj = dict[str, Any]


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


class ScaleFinder:
    """Resolves controller references against listers of RCs, ReplicaSets, Deployments and StatefulSets."""

    def __init__(self, client: Client, rcs: Lister, replica_sets: Lister, deployments: Lister,
                 stateful_sets: Lister) -> None:
        self.client = client
        self.rcs = rcs
        self.replica_sets = replica_sets
        self.deployments = deployments
        self.stateful_sets = stateful_sets

    async def expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        """(sum of the replicas of the Pods' controllers, names of Pods without a controller)."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                unmanaged.append(str(pod["metadata"].get("name", "")))
                continue
            if ref.get("uid") in scales:
                continue
            found = await self.find(ref, str(pod["metadata"].get("namespace", "")))
            if found is None:
                raise BudgetError(f'found no controllers for pod "{pod["metadata"].get("name", "")}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def find(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """(uid, replicas) of the controller `ref` names, or None when it is not there (or not that one)."""
        for finder in (self._replication_controller, self._deployment, self._replica_set, self._stateful_set):
            found = finder(ref, namespace)
            if found is not None:
                return found
        return await self._by_scale_subresource(ref, namespace)

    @staticmethod
    def _is(ref: Obj, kind: str, groups: tuple[str, ...]) -> bool:
        return ref.get("kind") == kind and _group(str(ref.get("apiVersion") or "")) in groups

    def _owned(self, lister: Lister, ref: Obj, namespace: str) -> Obj | None:
        obj = lister.get(f"{namespace}/{ref.get('name', '')}")
        if obj is None or (obj.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return obj

    def _replication_controller(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        if not self._is(ref, "ReplicationController", ("",)):
            return None
        rc = self._owned(self.rcs, ref, namespace)
        return (rc["metadata"]["uid"], _replicas(rc)) if rc is not None else None

    def _replica_set(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        if not self._is(ref, "ReplicaSet", ("apps", "extensions")):
            return None
        rs = self._owned(self.replica_sets, ref, namespace)
        if rs is None:
            return None
        owner = controller_ref(rs)
        if owner is not None and owner.get("kind") == "Deployment":
            return None  # counted through its Deployment
        return rs["metadata"]["uid"], _replicas(rs)

    def _deployment(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        if not self._is(ref, "ReplicaSet", ("apps", "extensions")):
            return None
        rs = self._owned(self.replica_sets, ref, namespace)
        if rs is None:
            return None
        owner = controller_ref(rs)
        if owner is None or not self._is(owner, "Deployment", ("apps", "extensions")):
            return None
        deployment = self._owned(self.deployments, owner, namespace)
        return (deployment["metadata"]["uid"], _replicas(deployment)) if deployment is not None else None

    def _stateful_set(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        if not self._is(ref, "StatefulSet", ("apps",)):
            return None
        ss = self._owned(self.stateful_sets, ref, namespace)
        return (ss["metadata"]["uid"], _replicas(ss)) if ss is not None else None

    async def _by_scale_subresource(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        try:
            resource = resource_for_kind(api_version, kind)
        except KeyError:
            raise BudgetError(f'no matches for kind "{kind}" in version "{api_version}"') from None
        try:
            scale = await self.client.get(resource, str(ref.get("name") or ""), namespace, subresource="scale")
        except errors.NotFound:
            if not resource.has_scale:
                gr = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
                raise BudgetError(f"{gr} does not implement the scale subresource") from None
            return None
        if (scale.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return str(ref.get("uid")), int((scale.get("spec") or {}).get("replicas") or 0)
