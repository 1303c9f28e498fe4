"""The StatefulSet controller: stable, ordered members with stable storage (upstream stateful_set.go).

Handlers turn StatefulSet and Pod events into "namespace/name" keys; a sync adopts orphaned revisions and
member pods, then runs one pass of StatefulSetControl (control.py) and asks to be requeued after
minReadySeconds while pods are ready but not yet available.
"""

from __future__ import annotations

import asyncio
import logging

from pyk8s.api.labels import Selector
from pyk8s.api.meta import labels_of
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import CONTROLLER_REVISIONS, PERSISTENT_VOLUME_CLAIMS, PODS, STATEFUL_SETS
from pyk8s.controllers.framework import Controller, ControllerContext, Result, controller_ref
from pyk8s.controllers.framework.ownership import (
    AdoptionRefused,
    ControllerRefManager,
    owners_selecting,
    resolve_controller_ref,
    spec_selector,
)
from pyk8s.controllers.framework.podindex import add_pod_controller_uid_index, claim_candidates
from pyk8s.controllers.framework.podstate import is_pod_ready, is_terminating
from pyk8s.controllers.statefulset import pods as sp
from pyk8s.controllers.statefulset.control import StatefulSetControl
from pyk8s.controllers.statefulset.podcontrol import StatefulPodControl

log = logging.getLogger("pyk8s.controllers.statefulset")

COMPONENT = "statefulset-controller"
KIND = "StatefulSet"


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}




class StatefulSetController:
    """Reconciles StatefulSets: keys are "namespace/name"."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.set_informer = ctx.informers.informer(STATEFUL_SETS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.claim_informer = ctx.informers.informer(PERSISTENT_VOLUME_CLAIMS)
        self.revision_informer = ctx.informers.informer(CONTROLLER_REVISIONS)
        self.pod_control = StatefulPodControl(ctx.client, self.pod_informer.lister, self.claim_informer.lister,
                                              self.recorder)
        self.control = StatefulSetControl(ctx.client, self.pod_control, self.revision_informer.lister,
                                          self.set_informer.lister, ctx.clock)
        self.controller = Controller("statefulset", self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.set_informer, self.pod_informer, self.claim_informer,
                                                self.revision_informer])
        self.set_informer.add_handler(on_add=self.controller.enqueue,
                                      on_update=lambda old, cur: self.controller.enqueue(cur),
                                      on_delete=self.controller.enqueue)
        add_pod_controller_uid_index(self.pod_informer)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())

    # ---- informer handlers ----

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller_ref(self.set_informer.lister, namespace, ref, KIND)

    def _sets_for_pod(self, pod: Obj) -> list[Obj]:
        """getPodStatefulSets: sets whose selector matches the pod and whose name prefixes it."""
        return [sts for sts in owners_selecting(self.set_informer.lister, pod) if sp.is_member_of(sts, pod)]

    def _add_pod(self, pod: Obj) -> None:
        if is_terminating(pod):
            self._delete_pod(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            sts = self._resolve(_meta(pod).get("namespace") or "", ref)
            if sts is not None:
                self.controller.enqueue(sts)
            return
        for sts in self._sets_for_pod(pod):
            self.controller.enqueue(sts)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if _meta(old).get("resourceVersion") == _meta(cur).get("resourceVersion"):
            return
        ns = _meta(cur).get("namespace") or ""
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            sts = self._resolve(ns, old_ref)
            if sts is not None:
                self.controller.enqueue(sts)
        if cur_ref is not None:
            sts = self._resolve(ns, cur_ref)
            if sts is None:
                return
            self.controller.enqueue(sts)
            min_ready = sp.min_ready_seconds(sts)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                self.controller.enqueue_after(sts, min_ready + 1)
            return
        if labels_of(cur) != labels_of(old) or cur_ref != old_ref:
            for sts in self._sets_for_pod(cur):
                self.controller.enqueue(sts)

    def _delete_pod(self, pod: Obj) -> None:
        sts = self._resolve(_meta(pod).get("namespace") or "", controller_ref(pod))
        if sts is not None:
            self.controller.enqueue(sts)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Result | None:
        sts = self.set_informer.lister.get(key)
        if sts is None:
            return None
        selector = spec_selector(sts)
        if selector is None:
            log.info("statefulset %s: invalid selector, not syncing", key)
            return None  # not transient: retrying cannot help
        await self._adopt_orphan_revisions(sts, selector)
        pods = await self._pods_for(sts, selector)
        status = await self.control.update_stateful_set(sts, pods, selector)
        min_ready = sp.min_ready_seconds(sts)
        if min_ready > 0 and int(status.get("availableReplicas") or 0) != sp.replicas_of(sts):
            return Result(requeue_after=min_ready)
        return None

    async def _adopt_orphan_revisions(self, sts: Obj, selector: Selector) -> None:
        orphans = [r for r in self.control.list_revisions(sts, selector) if controller_ref(r) is None]
        if not orphans:
            return
        manager = ControllerRefManager(self.client, sts, STATEFUL_SETS, selector)
        try:
            await manager.can_adopt()
        except AdoptionRefused as e:
            raise AdoptionRefused(f"can't adopt ControllerRevisions: {e}") from None
        for rev in orphans:
            await manager.adopt(CONTROLLER_REVISIONS, rev)

    async def _pods_for(self, sts: Obj, selector: Selector) -> list[Obj]:
        """getPodsForStatefulSet: member pods (by name) matching the selector, adopting and releasing."""
        manager = ControllerRefManager(self.client, sts, STATEFUL_SETS, selector)
        return await manager.claim(PODS, claim_candidates(self.pod_informer.lister, sts),
                                   lambda p: sp.is_member_of(sts, p))
