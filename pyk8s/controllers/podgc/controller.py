"""The pod garbage collector: force-deletes pods nothing else will clean up.

Upstream's PodGCController (pkg/controller/podgc/gc_controller.go). Every 20 s (gcCheckPeriod) it reads
the pod and node caches and deletes, with grace period 0:

- terminated pods (phase not Pending/Running/Unknown) beyond --terminated-pod-gc-threshold, evicted ones
  first, then oldest first;
- terminating pods on a node that is not Ready and carries the node.kubernetes.io/out-of-service taint;
- pods bound to a node that no longer exists: a missing node is quarantined for 40 s, then confirmed gone
  with a live GET, then its pods get a DisruptionTarget condition (reason DeletionByPodGC) and are deleted;
- terminating pods that were never scheduled.

Before deleting a pod that is not yet Succeeded/Failed it patches the pod's phase to Failed, as upstream does,
so that a pod whose kubelet is gone does not stay Running forever.

The periodic pass is one key on a Controller queue that requeues itself: `reconcile` runs one pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable

from pyk8s.api import errors, meta
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import NODES, PODS
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.podstate import update_pod_condition
from pyk8s.controllers.podgc.policy import eviction_then_age_order, node_name, out_of_service, terminated_to_delete

log = logging.getLogger("pyk8s.controllers.podgc")

COMPONENT = "pod-garbage-collector"
GC_CHECK_PERIOD = 20.0  # gcCheckPeriod
QUARANTINE_TIME = 40.0  # quarantineTime: how long a missing node may take to show up in the informer
DELETE_CONCURRENCY = 16
GC_KEY = "gc"

ORPHANED_CONDITION: Obj = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                           "message": "PodGC: node no longer exists"}


class PodGCController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.threshold = ctx.options.terminated_pod_gc_threshold
        self.period = float(ctx.options.extra.get("pod_gc_check_period", GC_CHECK_PERIOD))
        self.quarantine_time = float(ctx.options.extra.get("pod_gc_quarantine_time", QUARANTINE_TIME))
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self.controller = Controller("podgc", self, workers=1, clock=ctx.clock, informers=[self.pods, self.nodes])
        self.controller.queue.add(GC_KEY)
        # missing node name -> monotonic time from which a live GET decides whether it is really gone
        self.quarantine: dict[str, float] = {}

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result | None:
        await self.gc()
        return Result(requeue_after=self.period)

    async def gc(self) -> None:
        """One pass over the caches (upstream gc())."""
        pods = self.pods.lister.list()
        nodes = self.nodes.lister.list()
        if self.threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_terminating(pods)
        await self.gc_orphaned(pods, nodes)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[Obj]) -> None:
        doomed = terminated_to_delete(pods, self.threshold)
        if doomed:
            log.info("garbage collecting %d terminated pods", len(doomed))
            await _bounded(self.mark_failed_and_delete(p) for p in doomed)

    async def gc_terminating(self, pods: list[Obj]) -> None:
        doomed = []
        # (These scans visit every pod every pass, as upstream's: kept to plain dict lookups.)
        for pod in pods:
            if not (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            node = self.nodes.lister.get(node_name(pod)) if node_name(pod) else None
            if node is not None and out_of_service(node):
                doomed.append(pod)
        if doomed:
            log.info("garbage collecting %d terminating pods on out-of-service nodes", len(doomed))
            await _bounded(self.mark_failed_and_delete(p) for p in eviction_then_age_order(doomed))

    async def gc_orphaned(self, pods: list[Obj], nodes: list[Obj]) -> None:
        existing = {meta.name_of(n) for n in nodes}
        now = self.clock.monotonic()
        for pod in pods:
            name = (pod.get("spec") or {}).get("nodeName")
            if name and name not in existing:
                self.quarantine.setdefault(str(name), now + self.quarantine_time)
        deleted = await self._discover_deleted_nodes(existing, now)
        if not deleted:
            return
        doomed = [p for p in pods if node_name(p) in deleted]
        for pod in doomed:
            log.info("found orphaned pod %s/%s assigned to deleted node %s, deleting", meta.namespace_of(pod),
                     meta.name_of(pod), node_name(pod))
        await _bounded(self.mark_failed_and_delete(p, ORPHANED_CONDITION) for p in doomed)

    async def _discover_deleted_nodes(self, existing: set[str], now: float) -> set[str]:
        deleted: set[str] = set()
        for name, ready_at in list(self.quarantine.items()):
            if ready_at > now:
                continue
            del self.quarantine[name]
            if name in existing:
                continue
            try:
                await self.client.get(NODES, name)
            except errors.NotFound:
                deleted.add(name)
            except Exception as e:  # checked again on a later pass if pods still name it
                log.warning("error while getting node %s: %s", name, e)
        return deleted

    async def gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        doomed = [p for p in pods if (p.get("metadata") or {}).get("deletionTimestamp") and not node_name(p)]
        for pod in doomed:
            log.info("found unscheduled terminating pod %s/%s, deleting", meta.namespace_of(pod), meta.name_of(pod))
        await _bounded(self.mark_failed_and_delete(p) for p in doomed)

    async def mark_failed_and_delete(self, pod: Obj, condition: Obj | None = None) -> None:
        """Patch the phase to Failed (plus `condition`) unless terminal, then delete with grace period 0."""
        ns, name = meta.namespace_of(pod), meta.name_of(pod)
        status = pod.get("status") or {}
        try:
            if status.get("phase") not in ("Succeeded", "Failed"):
                patch_status: Obj = {"phase": "Failed"}
                if condition is not None:
                    new_status = meta.copy(status)
                    if update_pod_condition(new_status, condition, self.clock.now()):
                        patch_status["conditions"] = [c for c in new_status["conditions"]
                                                      if c.get("type") == condition["type"]]
                body = {"metadata": {"uid": (pod.get("metadata") or {}).get("uid")}, "status": patch_status}
                await self.client.patch(PODS, name, body, ns, patch_type="strategic", subresource="status")
            await self.client.delete(PODS, name, ns, grace_period_seconds=0)
            log.info("forced deletion of pod %s/%s succeeded", ns, name)
        except errors.NotFound:
            pass
        except Exception as e:
            log.warning("failed to delete pod %s/%s: %s", ns, name, e)


async def _bounded(coros: Iterable[Awaitable[None]], limit: int = DELETE_CONCURRENCY) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(c: Awaitable[None]) -> None:
        async with sem:
            await c

    await asyncio.gather(*(one(c) for c in coros))
