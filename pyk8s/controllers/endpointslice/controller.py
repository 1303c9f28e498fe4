"""The EndpointSlice controller: every Service with a selector gets discovery.k8s.io/v1 EndpointSlices
listing the addresses of the Pods it selects (upstream pkg/controller/endpointslice).

Handlers only enqueue Service keys: Service events; Pod events for the Services the Pod belongs (or
belonged) to; changes to our slices made by someone else (1 s later, as upstream batches them). A sync reads
the caches, plans the writes (reconciler.py), checks the cache is not older than our own writes
(tracker.py), and writes. Services without a selector, and ExternalName Services, are left alone; slices of
a deleted Service go with it through their owner reference (garbage collector).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client.interface import split_key
from pyk8s.client.kinds import ENDPOINT_SLICES, NODES, PODS, SERVICES
from pyk8s.controllers.endpointslice.reconciler import DEFAULT_MAX_ENDPOINTS_PER_SLICE, plan_endpoint_slices
from pyk8s.controllers.endpointslice.slices import LABEL_SERVICE_NAME, managed_by_controller, service_key_for_slice
from pyk8s.controllers.endpointslice.tracker import SliceTracker, StaleInformerCache
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.servicepods import service_pods, watch_service_pods
from pyk8s.controllers.framework.triggertime import TriggerTimeTracker, set_trigger_time

log = logging.getLogger("pyk8s.controllers.endpointslice")
Obj = dict[str, Any]

COMPONENT = "endpoint-slice-controller"
# Changes to slices are synced no sooner than this (upstream endpointSliceChangeMinSyncDelay).
SLICE_CHANGE_MIN_SYNC_DELAY = 1.0


class SyncError(Exception):
    """A sync that wrote what it could and must be retried; the message is upstream's aggregate."""


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message as is, several as "[a, b]" (duplicates once)."""
    seen: list[str] = []
    for m in messages:
        if m not in seen:
            seen.append(m)
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


class EndpointSliceController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.max_endpoints_per_slice = int(ctx.options.extra.get("max_endpoints_per_slice",
                                                                  DEFAULT_MAX_ENDPOINTS_PER_SLICE))
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self.slices = ctx.informers.informer(ENDPOINT_SLICES)
        self.tracker = SliceTracker()
        self.trigger_times = TriggerTimeTracker()
        self.controller = Controller("endpoint_slice", self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.services, self.pods, self.nodes, self.slices])
        self.services.add_handler(on_add=self.controller.enqueue,
                                  on_update=lambda _old, new: self.controller.enqueue(new),
                                  on_delete=self.controller.enqueue)
        watch_service_pods(self.pods, self.services, self.controller.enqueue)
        self.slices.add_handler(on_add=self._slice_added, on_update=self._slice_updated,
                                on_delete=self._slice_deleted)

    # ---- handlers: compute keys, enqueue, nothing else ----
    def _queue_service_of(self, slice_: Obj) -> None:
        key = service_key_for_slice(slice_)
        if key is not None:
            self.controller.enqueue_after(key, SLICE_CHANGE_MIN_SYNC_DELAY)

    def _slice_added(self, slice_: Obj) -> None:
        if managed_by_controller(slice_) and self.tracker.should_sync(slice_):
            self._queue_service_of(slice_)

    def _slice_updated(self, old: Obj, new: Obj) -> None:
        old_svc = (old["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        new_svc = (new["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        if old_svc != new_svc:
            self._queue_service_of(new)
            self._queue_service_of(old)
            return
        if managed_by_controller(old) != managed_by_controller(new) or \
                (managed_by_controller(new) and self.tracker.should_sync(new)):
            self._queue_service_of(new)

    def _slice_deleted(self, slice_: Obj) -> None:
        if managed_by_controller(slice_) and self.tracker.has(slice_) and not self.tracker.handle_deletion(slice_):
            self._queue_service_of(slice_)

    # ---- sync ----
    def _node(self, name: str) -> Obj | None:
        return self.nodes.lister.get(name)

    async def reconcile(self, key: str) -> Result | None:
        namespace, name = split_key(key)
        service = self.services.lister.get(key)
        if service is None:
            self.trigger_times.delete_service(namespace, name)
            self.tracker.delete_service(namespace, name)
            return None
        pods = service_pods(service, self.pods.lister.list(namespace))
        if pods is None:
            return None
        slices = [s for s in self.slices.lister.list(namespace)
                  if managed_by_controller(s) and meta.labels_of(s).get(LABEL_SERVICE_NAME) == name
                  and not s["metadata"].get("deletionTimestamp")]
        if self.tracker.stale_slices(service, slices):
            raise StaleInformerCache("EndpointSlice informer cache is out of date")
        trigger = self.trigger_times.compute(namespace, service, pods)
        plan = plan_endpoint_slices(service, pods, self._node, slices, self.max_endpoints_per_slice)
        problems = list(plan.errors)
        try:
            await self._write(service, plan.create, plan.update, plan.delete, trigger)
        except SyncError as e:
            problems.append(str(e))
        for s in plan.delete_unsupported:
            try:
                await self.client.delete(ENDPOINT_SLICES, meta.name_of(s), namespace)
            except errors.NotFound:
                pass
            except errors.StatusError as e:
                problems.append(f"error deleting {meta.name_of(s)} EndpointSlice for Service {key}: {e.message}")
                continue
            self.tracker.expect_deletion(s)
        if problems:
            message = aggregate(problems)
            self.recorder.event(service, "Warning", "FailedToUpdateEndpointSlices",
                                f"Error updating Endpoint Slices for Service {key}: {message}",
                                kind="Service", api_version="v1")
            raise SyncError(message)
        return None

    async def _write(self, service: Obj, create: list[Obj], update: list[Obj], delete: list[Obj],
                     trigger: Any) -> None:
        """Upstream's finalize: creates (unless the Service is going away), then updates, then deletes;
        the first failure stops the rest."""
        namespace = service["metadata"].get("namespace", "")
        ref = f"{namespace}/{service['metadata']['name']}"
        if not service["metadata"].get("deletionTimestamp"):
            for s in create:
                set_trigger_time(s, trigger)
                try:
                    created = await self.client.create(ENDPOINT_SLICES, s, namespace)
                except errors.StatusError as e:
                    if is_namespace_terminating(e):
                        return
                    raise SyncError(f"failed to create EndpointSlice for Service {ref}: {e.message}") from e
                self.tracker.update(created)
        for s in update:
            set_trigger_time(s, trigger)
            try:
                updated = await self.client.update(ENDPOINT_SLICES, s)
            except errors.StatusError as e:
                raise SyncError(f"failed to update {meta.name_of(s)} EndpointSlice for Service {ref}: "
                                f"{e.message}") from e
            self.tracker.update(updated)
        for s in delete:
            try:
                await self.client.delete(ENDPOINT_SLICES, meta.name_of(s), namespace)
            except errors.NotFound:
                pass  # already gone: what we wanted
            except errors.StatusError as e:
                raise SyncError(f"failed to delete {meta.name_of(s)} EndpointSlice for Service {ref}: "
                                f"{e.message}") from e
            self.tracker.expect_deletion(s)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())
