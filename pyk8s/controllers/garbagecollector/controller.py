"""The garbage collector: deletes objects whose owners are gone, and runs foreground and orphan deletion.

Upstream's GarbageCollector (pkg/controller/garbagecollector/garbagecollector.go). Informers on every
watched resource feed the dependency graph (graph.py) directly from their handlers; the graph queues uids.
Two queues with their workers do the API work:

- attempt to delete (`self.controller`): for an object, classify its owners as solid (exists), dangling
  (confirmed absent by the absent-owner cache or a live GET: NotFound or another uid) or waiting (being
  deleted in the foreground). No solid owner: delete it (Background, or Foreground when a waiting owner
  needs its dependents gone first), with uid and resourceVersion preconditions. Some solid owners: drop the
  dangling and waiting references with a patch. For an owner deleting in the foreground: when no
  dependent with blockOwnerDeletion is left, remove the foregroundDeletion finalizer. For a virtual node
  (an owner only known from a reference): look it up and turn "not found" into a virtual delete event.
- attempt to orphan (`self.orphan_controller`): remove the owner's reference from every dependent, then the
  orphan finalizer from the owner.

Nothing polls: work arrives only from events. Owners the graph has observed are judged from the graph
instead of a GET (upstream always GETs); owners it has not seen are looked up once and, when absent, cached.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.client.interface import Obj
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.garbagecollector.graph import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    DependencyGraph,
    Identity,
    Node,
    has_finalizer,
    owner_refs,
    ref_matches,
)
from pyk8s.controllers.garbagecollector.patches import (
    delete_owner_refs_patch,
    finalizers_patch,
    unblock_owner_refs_patch,
    without,
)
from pyk8s.controllers.garbagecollector.resources import is_namespaced, monitored_resources, resource_for

log = logging.getLogger("pyk8s.controllers.garbagecollector")

COMPONENT = "garbage-collector-controller"
DEFAULT_WORKERS = 20  # --concurrent-gc-syncs
FINALIZER_RETRIES = 5  # retry.DefaultBackoff steps for removeFinalizer


class RESTMappingError(Exception):
    """An ownerReference names a kind pyk8s does not serve; retried (it may be a type not yet known)."""


class _NamespacedOwnerOfClusterScopedObject(Exception):
    """A cluster-scoped object names a namespaced owner: invalid, and retrying will not fix it."""


class GarbageCollector:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.options = ctx.options
        self.recorder = ctx.recorder(COMPONENT)
        workers = int(ctx.options.extra.get("concurrent_gc_syncs", DEFAULT_WORKERS))
        self.resources = monitored_resources()
        informers = [ctx.informers.informer(r) for r in self.resources]
        self.controller = Controller("garbage_collector_attempt_to_delete", self, workers=workers, clock=ctx.clock,
                                     informers=informers)
        self.orphan_controller = Controller("garbage_collector_attempt_to_orphan", _Orphaner(self), workers=workers,
                                            clock=ctx.clock, informers=informers)
        self.graph = DependencyGraph(self.controller.queue.add, self.orphan_controller.queue.add,
                                     is_namespaced=is_namespaced,
                                     report_invalid_namespace=self._report_invalid_namespace)
        for r, inf in zip(self.resources, informers, strict=True):
            self._watch(r, inf)

    def _watch(self, r: Resource, inf: Any) -> None:
        api_version, kind = r.group_version, r.kind

        def identity(obj: Obj) -> Identity:
            md = obj.get("metadata") or {}
            return Identity(api_version, kind, str(md.get("name") or ""), str(md.get("uid") or ""),
                            str(md.get("namespace") or ""))

        inf.add_handler(on_add=lambda obj: self.graph.observe(identity(obj), obj),
                        on_update=lambda old, new: self.graph.observe(identity(new), new, old),
                        on_delete=lambda obj: self.graph.observe_delete(identity(obj)))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())
            tg.create_task(self.orphan_controller.run())

    # ---- attempt to delete ----
    async def reconcile(self, key: str) -> Result | None:
        """`key` is a uid on the attempt-to-delete queue."""
        node = self.graph.nodes.get(key)
        if node is None:
            return None
        try:
            await self.attempt_to_delete_item(node)
        except _NamespacedOwnerOfClusterScopedObject:
            return None
        if not node.observed and self.graph.nodes.get(key) is node:
            # The lookup found it, but no informer has delivered it yet: check again until one does.
            return Result(requeue_after=self.options.gc_poll_interval)
        return None

    async def attempt_to_delete_item(self, node: Node) -> None:
        ident = node.identity
        if node.being_deleted and not node.deleting_dependents:
            return  # on its way out; its dependents are handled when it is gone
        if node.observed and not node.owners and not node.deleting_dependents:
            return  # nothing owns it (the live object is what the informer last said)
        r = self._resource(ident.api_version, ident.kind)
        try:
            latest = await self.client.get(r, ident.name, ident.namespace if r.namespaced else "")
        except errors.NotFound:
            self.graph.virtual_delete(ident)
            return
        md = latest.get("metadata") or {}
        if md.get("uid") != ident.uid:
            self.graph.virtual_delete(ident)
            return
        if node.deleting_dependents:
            await self._process_deleting_dependents(node)
            return
        refs = owner_refs(latest)
        if not refs:
            return
        solid, dangling, waiting = await self._classify(node, refs)
        if solid:
            if not dangling and not waiting:
                return
            uids = [str(x.get("uid")) for x in dangling + waiting]
            log.info("removing dangling/waiting owner references %s from %s", uids, ident)
            await self._patch(node, delete_owner_refs_patch(ident.uid, uids))
            return
        if waiting and node.dependents:
            if any(dep.deleting_dependents for dep in node.dependents):
                # owner and dependent both wait on each other's dependents: unblock to avoid a cycle
                await self._patch(node, unblock_owner_refs_patch(ident.uid, refs))
            log.info("deleting %s in the foreground: an owner waits for its dependents", ident)
            await self._delete(node, r, latest, "Foreground")
            return
        if has_finalizer(latest, ORPHAN_FINALIZER):
            policy = "Orphan"
        elif has_finalizer(latest, FOREGROUND_FINALIZER):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("deleting %s (propagation %s): no owner left", ident, policy)
        await self._delete(node, r, latest, policy)

    async def _classify(self, node: Node, refs: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for ref in refs:
            state = await self._owner_state(node, ref)
            if state is None:
                dangling.append(ref)
            elif state:
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _owner_state(self, node: Node, ref: Obj) -> bool | None:
        """None when the owner named by `ref` is absent (upstream isDangling); else whether it is waiting for
        its dependents (being deleted with the foregroundDeletion finalizer)."""
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        r = self._resource(api_version, kind)
        if r.namespaced and not node.identity.namespace:
            raise _NamespacedOwnerOfClusterScopedObject(
                f"{node.identity} names namespaced owner {kind} {ref.get('name')}")
        owner_ident = Identity.of_ref(ref, node.identity.namespace if r.namespaced else "")
        if owner_ident in self.graph.absent_owners:
            return None
        known = self.graph.nodes.get(owner_ident.uid)
        if (known is not None and known.observed and ref_matches(ref, known.identity)
                and known.identity.namespace == owner_ident.namespace):
            return known.foreground_pending
        try:
            owner = await self.client.get(r, owner_ident.name, owner_ident.namespace)
        except errors.NotFound:
            self.graph.absent_owners.add(owner_ident)
            return None
        if (owner.get("metadata") or {}).get("uid") != owner_ident.uid:
            self.graph.absent_owners.add(owner_ident)
            return None
        deleting = bool((owner.get("metadata") or {}).get("deletionTimestamp"))
        return deleting and has_finalizer(owner, FOREGROUND_FINALIZER)

    async def _process_deleting_dependents(self, node: Node) -> None:
        blocking = node.blocking_dependents()
        if not blocking:
            log.info("removing the %s finalizer from %s: no blocking dependents left", FOREGROUND_FINALIZER,
                     node.identity)
            await self.remove_finalizer(node, FOREGROUND_FINALIZER)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.controller.queue.add(dep.uid)

    async def _delete(self, node: Node, r: Resource, latest: Obj, policy: str) -> None:
        ident = node.identity
        ns = ident.namespace if r.namespaced else ""
        rv = str((latest.get("metadata") or {}).get("resourceVersion") or "")
        pre: Obj = {"uid": ident.uid}
        if rv:
            pre["resourceVersion"] = rv
        try:
            await self.client.delete(r, ident.name, ns, propagation_policy=policy, preconditions=pre)
        except errors.NotFound:
            self.graph.virtual_delete(ident)
        except errors.Conflict:
            if not rv:
                raise
            # Written since we looked. Unless its owners changed, delete anyway (frequent unrelated updates
            # must not starve the collector).
            try:
                live = await self.client.get(r, ident.name, ns)
            except errors.NotFound:
                return
            lmd = live.get("metadata") or {}
            if lmd.get("uid") != ident.uid or owner_refs(live) != owner_refs(latest):
                raise
            try:
                await self.client.delete(r, ident.name, ns, propagation_policy=policy, preconditions={"uid": ident.uid})
            except errors.NotFound:
                self.graph.virtual_delete(ident)

    async def _patch(self, node: Node, body: Obj) -> None:
        ident = node.identity
        r = self._resource(ident.api_version, ident.kind)
        try:
            await self.client.patch(r, ident.name, body, ident.namespace if r.namespaced else "",
                                    patch_type="strategic")
        except errors.NotFound:
            self.graph.virtual_delete(ident)

    async def remove_finalizer(self, node: Node, finalizer: str) -> None:
        """Remove `finalizer` from the live object (GET, then a resourceVersion-guarded merge patch)."""
        ident = node.identity
        r = self._resource(ident.api_version, ident.kind)
        ns = ident.namespace if r.namespaced else ""
        for _ in range(FINALIZER_RETRIES):
            try:
                obj = await self.client.get(r, ident.name, ns)
            except errors.NotFound:
                return
            md = obj.get("metadata") or {}
            if md.get("uid") != ident.uid:
                return
            kept, found = without(list(md.get("finalizers") or []), finalizer)
            if not found:
                return
            try:
                await self.client.patch(r, ident.name, finalizers_patch(kept, str(md.get("resourceVersion") or "")),
                                        ns, patch_type="merge")
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                continue
        raise errors.Conflict(f"updateMaxRetries({FINALIZER_RETRIES}) has reached. The garbage collector will retry "
                              f"later for owner {ident}.")

    # ---- attempt to orphan ----
    async def attempt_to_orphan(self, key: str) -> None:
        owner = self.graph.nodes.get(key)
        if owner is None:
            return
        dependents = list(owner.dependents)
        results = await asyncio.gather(*(self._orphan_one(dep, owner.uid) for dep in dependents),
                                       return_exceptions=True)
        failures = [f"orphaning {dep.identity} failed, {res}" for dep, res in zip(dependents, results, strict=True)
                    if isinstance(res, BaseException)]
        if failures:
            raise RuntimeError(f"failed to orphan dependents of owner {owner.identity}, got errors: "
                               + "; ".join(failures))
        await self.remove_finalizer(owner, ORPHAN_FINALIZER)

    async def _orphan_one(self, dep: Node, owner_uid: str) -> None:
        ident = dep.identity
        r = self._resource(ident.api_version, ident.kind)
        try:
            await self.client.patch(r, ident.name, delete_owner_refs_patch(ident.uid, [owner_uid]),
                                    ident.namespace if r.namespaced else "", patch_type="strategic")
        except errors.NotFound:
            pass

    # ---- helpers ----
    @staticmethod
    def _resource(api_version: str, kind: str) -> Resource:
        r = resource_for(api_version, kind)
        if r is None:
            raise RESTMappingError(f"unable to get REST mapping for {kind}.{api_version}")
        return r

    def _report_invalid_namespace(self, dependent: Node, ref: Obj) -> None:
        d = dependent.identity
        invalid = Identity.of_ref(ref, d.namespace)
        involved = {"apiVersion": d.api_version, "kind": d.kind,
                    "metadata": {"name": d.name, "namespace": d.namespace, "uid": d.uid}}
        self.recorder.event(involved, "Warning", "OwnerRefInvalidNamespace",
                            f'ownerRef {invalid} does not exist in namespace "{d.namespace}"')


class _Orphaner:
    """The attempt-to-orphan queue's reconciler."""

    def __init__(self, gc: GarbageCollector) -> None:
        self.gc = gc

    async def reconcile(self, key: str) -> Result | None:
        await self.gc.attempt_to_orphan(key)
        return None
