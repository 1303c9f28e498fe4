"""The disruption controller: keeps every PodDisruptionBudget's status (upstream pkg/controller/disruption).

A sync counts the budget's Pods: expected (the Pods, or the scale of their controllers), desired healthy
(minAvailable / maxUnavailable), currently healthy (Ready, not being deleted, not just evicted), and writes
disruptionsAllowed with the DisruptionAllowed condition through the status subresource. The eviction
subresource of the apiserver spends that budget and notes the evicted Pod in status.disruptedPods; entries
are dropped here once the Pod is being deleted or after two minutes, when the budget is re-checked. If the
status cannot be computed, nothing is allowed (SyncFailed). A second loop resets DisruptionTarget conditions
left on Pods that were never deleted.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client.kinds import (
    DEPLOYMENTS,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    STATEFUL_SETS,
)
from pyk8s.controllers.disruption.budget import (
    BudgetError,
    build_disrupted_pods,
    count_healthy,
    expected_and_desired,
    fail_safe_status,
    go_label_selector,
    needs_scale,
    new_status,
    pdb_selector,
    pdbs_for_pod,
    reset_disruption_condition,
    stale_disruption_wait,
)
from pyk8s.controllers.disruption.scale import ScaleFinder
from pyk8s.controllers.framework import Controller, ControllerContext, Result

log = logging.getLogger("pyk8s.controllers.disruption")
Obj = dict[str, Any]

COMPONENT = "controllermanager"  # upstream's event source for this controller


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _StaleConditionCleaner:
    """Reconciles Pod keys: a DisruptionTarget=True condition on a Pod still not being deleted two minutes
    later is set to False."""

    def __init__(self, owner: DisruptionController) -> None:
        self.owner = owner

    async def reconcile(self, key: str) -> Result | None:
        pod = self.owner.pods.lister.get(key)
        if pod is None:
            return None
        wait = stale_disruption_wait(pod, self.owner.clock.now())
        if wait is None:
            return None
        if wait > 0:
            return Result(requeue_after=wait)
        await self.owner.client.update(PODS, reset_disruption_condition(pod, self.owner.clock.now()),
                                       subresource="status")
        log.info("reset stale DisruptionTarget condition to False for pod %s", key)
        return None


class DisruptionController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.pods = ctx.informers.informer(PODS)
        self.pdbs = ctx.informers.informer(POD_DISRUPTION_BUDGETS)
        self.rcs = ctx.informers.informer(REPLICATION_CONTROLLERS)
        self.replica_sets = ctx.informers.informer(REPLICA_SETS)
        self.deployments = ctx.informers.informer(DEPLOYMENTS)
        self.stateful_sets = ctx.informers.informer(STATEFUL_SETS)
        informers = [self.pods, self.pdbs, self.rcs, self.replica_sets, self.deployments, self.stateful_sets]
        self.scales = ScaleFinder(ctx.client, self.rcs.lister, self.replica_sets.lister, self.deployments.lister,
                                  self.stateful_sets.lister)
        self.controller = Controller("disruption", self, workers=1, clock=ctx.clock, informers=informers)
        self.stale_pods = Controller("stale_pod_disruption", _StaleConditionCleaner(self), workers=1,
                                     clock=ctx.clock, informers=informers)
        self.pdbs.add_handler(on_add=self.controller.enqueue,
                              on_update=lambda _old, new: self.controller.enqueue(new),
                              on_delete=self.controller.enqueue)
        self.pods.add_handler(on_add=self._pod_changed, on_update=lambda _old, new: self._pod_changed(new),
                              on_delete=self._pod_deleted)

    # ---- handlers ----
    def _pdb_for_pod(self, pod: Obj) -> Obj | None:
        pdbs = pdbs_for_pod(self.pdbs.lister.list(meta.namespace_of(pod)), pod)
        if not pdbs:
            return None
        if len(pdbs) > 1:
            self.recorder.event(pod, "Warning", "MultiplePodDisruptionBudgets",
                                f"Pod {_go_quote(meta.namespace_of(pod))}/{_go_quote(meta.name_of(pod))} matches "
                                f"multiple PodDisruptionBudgets.  Chose {_go_quote(meta.name_of(pdbs[0]))} "
                                "arbitrarily.", kind="Pod", api_version="v1")
        return pdbs[0]

    def _pod_changed(self, pod: Obj) -> None:
        pdb = self._pdb_for_pod(pod)
        if pdb is not None:
            self.controller.enqueue(pdb)
        wait = stale_disruption_wait(pod, self.clock.now())
        if wait is not None:
            self.stale_pods.enqueue_after(pod, wait)

    def _pod_deleted(self, pod: Obj) -> None:
        pdb = self._pdb_for_pod(pod)
        if pdb is not None:
            self.controller.enqueue(pdb)

    # ---- sync ----
    async def reconcile(self, key: str) -> Result | None:
        pdb = self.pdbs.lister.get(key)
        if pdb is None:
            return None
        try:
            await self._try_sync(pdb)
        except errors.Conflict:
            raise  # someone else wrote first: retry without declaring the budget broken
        except (BudgetError, errors.StatusError) as e:
            message = e.message if isinstance(e, errors.StatusError) else str(e)
            log.info("failed to sync PDB %s: %s", key, message)
            new = meta.copy(pdb)
            new["status"] = fail_safe_status(pdb, message, self.clock.now())
            await self.client.update(POD_DISRUPTION_BUDGETS, new, subresource="status")
        return None

    async def _try_sync(self, pdb: Obj) -> None:
        namespace = meta.namespace_of(pdb)
        try:
            selector = pdb_selector(pdb)
        except errors.BadRequest as e:
            self.recorder.event(pdb, "Warning", "NoPods", f"Failed to get pods: {e.message}",
                                kind="PodDisruptionBudget", api_version="policy/v1")
            raise
        pods = [p for p in self.pods.lister.list(namespace) if selector.matches(meta.labels_of(p))]
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found", kind="PodDisruptionBudget",
                                api_version="policy/v1")
        try:
            scale, unmanaged = (await self.scales.expected_scale(pods)) if needs_scale(pdb) else (None, [])
            expected, desired = expected_and_desired(pdb, len(pods), scale)
        except (BudgetError, errors.StatusError) as e:
            message = e.message if isinstance(e, errors.StatusError) else str(e)
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {message}",
                                kind="PodDisruptionBudget", api_version="policy/v1")
            raise
        if unmanaged:
            selector_text = go_label_selector((pdb.get("spec") or {}).get("selector"))
            self.recorder.event(
                pdb, "Warning", "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {selector_text}) were found to be unmanaged. "
                "As a result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                'behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an '
                "integer value.", kind="PodDisruptionBudget", api_version="policy/v1")
        now = self.clock.now()
        disrupted, recheck, expired = build_disrupted_pods(pods, pdb, now)
        for pod in expired:
            # Upstream names the budget "<namespace>/<namespace>" here; kept for identical events.
            self.recorder.event(pod, "Warning", "NotDeleted",
                                f"Pod was expected by PDB {namespace}/{namespace} to be deleted but it wasn't",
                                kind="Pod", api_version="v1")
        healthy = count_healthy(pods, disrupted, now)
        status = new_status(pdb, healthy, desired, expected, disrupted, now)
        if status is not None:
            new = meta.copy(pdb)
            new["status"] = status
            await self.client.update(POD_DISRUPTION_BUDGETS, new, subresource="status")
        if recheck is not None:
            self.controller.enqueue_after(pdb, max(0.0, (recheck - now).total_seconds()))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())
            tg.create_task(self.stale_pods.run())
