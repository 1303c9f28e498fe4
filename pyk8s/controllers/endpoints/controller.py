"""The Endpoints controller: core/v1 Endpoints named after each Service with a selector, listing the
addresses of the Pods it selects (upstream pkg/controller/endpoint, --controllers name "endpoint").

Handlers only enqueue Service keys (Service events, Pod events for the Services concerned, deletions of
Endpoints). A sync computes the subsets (subsets.py) and writes the object only when subsets, labels or the
over-capacity annotation differ. When the Service is gone its Endpoints are deleted; Services without a
selector (their Endpoints are written by users) and ExternalName Services are left alone, as is the
"kubernetes" Service, whose Endpoints the apiserver keeps.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.client.interface import object_key, split_key
from pyk8s.client.kinds import ENDPOINTS, PODS, SERVICES
from pyk8s.controllers.endpoints.subsets import (
    ANNOTATION_OVER_CAPACITY,
    LABEL_HEADLESS,
    OVER_CAPACITY_TRUNCATED,
    capacity_annotation_set_correctly,
    desired_subsets,
    subsets_equal,
    truncate,
)
from pyk8s.controllers.endpoints.tracker import StaleEndpointsCache, StaleEndpointsTracker
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.servicepods import service_pods, watch_service_pods
from pyk8s.controllers.framework.triggertime import TriggerTimeTracker, set_trigger_time

log = logging.getLogger("pyk8s.controllers.endpoints")
Obj = dict[str, Any]

COMPONENT = "endpoint-controller"
LABEL_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpoint-controller"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
APISERVER_MANAGED = frozenset({"default/kubernetes"})


class EndpointsController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder(COMPONENT)
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.endpoints = ctx.informers.informer(ENDPOINTS)
        self.trigger_times = TriggerTimeTracker()
        self.stale = StaleEndpointsTracker()
        self.controller = Controller("endpoint", self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.services, self.pods, self.endpoints])
        self.services.add_handler(on_add=self.controller.enqueue,
                                  on_update=lambda _old, new: self.controller.enqueue(new),
                                  on_delete=self.controller.enqueue)
        watch_service_pods(self.pods, self.services, self.controller.enqueue)
        self.endpoints.add_handler(on_delete=self.controller.enqueue)

    def enqueue_leftovers(self) -> None:
        """Queue every Endpoints object this controller manages, so those whose Service went away while
        the controller was down get deleted (upstream checkLeftoverEndpoints, run once at start)."""
        for ep in self.endpoints.lister.list():
            md = ep.get("metadata") or {}
            if LEADER_ANNOTATION in (md.get("annotations") or {}):
                continue
            if (md.get("labels") or {}).get(LABEL_MANAGED_BY) != CONTROLLER_NAME:
                continue
            self.controller.enqueue(object_key(ep))

    async def reconcile(self, key: str) -> Result | None:
        namespace, name = split_key(key)
        service = self.services.lister.get(key)
        if service is None:
            try:
                await self.client.delete(ENDPOINTS, name, namespace)
            except errors.NotFound:
                pass
            self.trigger_times.delete_service(namespace, name)
            self.stale.delete(namespace, name)
            return None
        if key in APISERVER_MANAGED:
            return None
        pods = service_pods(service, self.pods.lister.list(namespace))
        if pods is None:
            return None
        spec = service.get("spec") or {}
        trigger = self.trigger_times.compute(namespace, service, pods)
        subsets = desired_subsets(service, pods)

        current = self.endpoints.lister.get(key)
        creating = current is None
        if current is None:
            current = {"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": name, "namespace": namespace,
                                    "labels": dict(service["metadata"].get("labels") or {})}}
        elif self.stale.is_stale(current):
            raise StaleEndpointsCache("endpoints informer cache is outdated")

        service_labels = dict(service["metadata"].get("labels") or {})
        compare_labels = {k: v for k, v in (current["metadata"].get("labels") or {}).items()
                          if k not in (LABEL_HEADLESS, LABEL_MANAGED_BY)}
        if not creating and subsets_equal(current.get("subsets"), subsets) and compare_labels == service_labels \
                and capacity_annotation_set_correctly(current["metadata"].get("annotations"),
                                                      list(current.get("subsets") or [])):
            return None

        new = meta.copy(current)
        set_trigger_time(new, trigger)
        md = new["metadata"]
        annotations = dict(md.get("annotations") or {})
        if truncate(subsets):
            annotations[ANNOTATION_OVER_CAPACITY] = OVER_CAPACITY_TRUNCATED
        else:
            annotations.pop(ANNOTATION_OVER_CAPACITY, None)
        if subsets:
            new["subsets"] = subsets
        else:
            new.pop("subsets", None)
        new_labels = dict(service_labels)
        new_labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            new_labels[LABEL_HEADLESS] = ""
        md["labels"] = new_labels
        if annotations:
            md["annotations"] = annotations
        else:
            md.pop("annotations", None)

        try:
            if creating:
                written = await self.client.create(ENDPOINTS, new, namespace)
            else:
                written = await self.client.update(ENDPOINTS, new)
        except errors.StatusError as e:
            if creating and isinstance(e, errors.Forbidden) and is_namespace_terminating(e):
                return None  # the namespace is going away: creates will keep failing
            if creating:
                self.recorder.event(new, "Warning", "FailedToCreateEndpoint",
                                    f"Failed to create endpoint for service {key}: {e.message}",
                                    kind="Endpoints", api_version="v1")
            else:
                self.recorder.event(new, "Warning", "FailedToUpdateEndpoint",
                                    f"Failed to update endpoint {key}: {e.message}", kind="Endpoints",
                                    api_version="v1")
            raise
        if not creating and written["metadata"].get("resourceVersion") != current["metadata"].get("resourceVersion"):
            self.stale.mark_stale(current)
        return None

    async def _run_controller(self) -> None:
        while not all(i.has_synced() for i in (self.services, self.pods, self.endpoints)):
            await asyncio.sleep(0.05)
        self.enqueue_leftovers()
        await self.controller.run()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self._run_controller())
