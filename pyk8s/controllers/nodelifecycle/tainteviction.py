"""Taint-based eviction: deletes pods from nodes with NoExecute taints they do not tolerate.

Upstream's taint-eviction-controller (pkg/controller/tainteviction/taint_eviction.go), events from
"taint-eviction-controller". For each pod on a node with NoExecute taints:

- a taint the pod does not tolerate: delete now;
- all tolerated, some with tolerationSeconds: delete after the smallest of them, counted from when this
  controller first saw the pod under the taints (the DefaultTolerationSeconds admission gives every pod 300 s
  for not-ready and unreachable);
- all tolerated forever: nothing (a scheduled deletion is cancelled, with the event "Cancelling deletion of
  Pod <ns>/<name>").

Deleting means: the event TaintManagerEviction "Marking for deletion Pod <ns>/<name>", a DisruptionTarget
condition (reason DeletionByTaintManager) patched into pods/status, then DELETE with default options.

Node and pod events are turned into schedules at once in the informer handlers (dictionary work); each
scheduled deletion is a key on `self.controller`'s queue, delayed until it is due (on the injected clock).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pyk8s.api import errors, meta
from pyk8s.client.interface import Obj, split_key
from pyk8s.client.kinds import NODES, PODS
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.podstate import update_pod_condition
from pyk8s.controllers.nodelifecycle.podutil import (
    NODE_NAME_INDEX,
    node_name_index,
    node_name_of,
    pods_on_node,
)
from pyk8s.controllers.nodelifecycle.taints import (
    matching_tolerations,
    min_toleration_seconds,
    no_execute_taints,
    node_taints,
    pod_tolerations,
)

log = logging.getLogger("pyk8s.controllers.tainteviction")

COMPONENT = "taint-eviction-controller"
WORKERS = 8  # UpdateWorkerSize
RETRIES = 5

EVICTION_CONDITION: Obj = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                           "message": "Taint manager: deleting due to NoExecute taint"}


@dataclass
class ScheduledEviction:
    created_at: float  # monotonic seconds
    fire_at: float
    done: bool = False  # deleted; kept so re-adds are skipped until the pod's delete event clears it


def _pod_ref(ns: str, name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}}


class TaintEvictionController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.nodes = ctx.informers.informer(NODES)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexers({NODE_NAME_INDEX: node_name_index})
        self.controller = Controller("taint_eviction", self, workers=WORKERS, clock=ctx.clock,
                                     informers=[self.nodes, self.pods])
        self.tainted_nodes: dict[str, list[Obj]] = {}  # node name -> its NoExecute taints
        self.scheduled: dict[str, ScheduledEviction] = {}  # pod key -> scheduled deletion
        self.pods.add_handler(on_add=lambda pod: self.pod_updated(None, pod), on_update=self.pod_updated,
                              on_delete=lambda pod: self.pod_updated(pod, None))
        self.nodes.add_handler(on_add=lambda node: self.node_updated(None, node), on_update=self.node_updated,
                               on_delete=lambda node: self.node_updated(node, None))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())

    # ---- informer handlers ----
    def pod_updated(self, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and pod_tolerations(old) == pod_tolerations(new) \
                and node_name_of(old) == node_name_of(new):
            return
        pod = new if new is not None else old
        assert pod is not None
        key = f"{meta.namespace_of(pod)}/{meta.name_of(pod)}"
        self.handle_pod_update(key, node_name_of(pod))

    def node_updated(self, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None and \
                no_execute_taints(node_taints(old)) == no_execute_taints(node_taints(new)):
            return
        node = new if new is not None else old
        assert node is not None
        self.handle_node_update(meta.name_of(node))

    # ---- scheduling (upstream handlePodUpdate / handleNodeUpdate / processPodOnNode) ----
    def handle_pod_update(self, key: str, node_name: str) -> None:
        pod = self.pods.lister.get(key)
        if pod is None:
            self.cancel(key)
            return
        if node_name_of(pod) != node_name or not node_name:
            return
        taints = self.tainted_nodes.get(node_name)
        if taints is None:
            return
        self.process_pod_on_node(key, pod_tolerations(pod), taints, self.clock.monotonic())

    def handle_node_update(self, name: str) -> None:
        node = self.nodes.lister.get(name)
        if node is None:
            self.tainted_nodes.pop(name, None)
            return
        taints = no_execute_taints(node_taints(node))
        if taints:
            self.tainted_nodes[name] = taints
        else:
            self.tainted_nodes.pop(name, None)
        pods = pods_on_node(self.pods, name)
        if not pods:
            return
        if not taints:
            for pod in pods:
                self.cancel(f"{meta.namespace_of(pod)}/{meta.name_of(pod)}")
            return
        now = self.clock.monotonic()
        for pod in pods:
            self.process_pod_on_node(f"{meta.namespace_of(pod)}/{meta.name_of(pod)}", pod_tolerations(pod),
                                     taints, now)

    def process_pod_on_node(self, key: str, tolerations: list[Obj], taints: list[Obj], now: float) -> None:
        if not taints:
            self.cancel(key)
        all_tolerated, used = matching_tolerations(taints, tolerations)
        if not all_tolerated:
            log.info("not all taints are tolerated by pod %s: deleting it", key)
            self.cancel(key)
            self._add_work(key, now, now)
            return
        seconds = min_toleration_seconds(used)
        if seconds < 0:
            self.cancel(key)  # tolerated forever
            return
        start, trigger = now, now + seconds
        existing = self.scheduled.get(key)
        if existing is not None:
            start = existing.created_at
            if start + seconds < trigger:
                return  # the existing schedule fires sooner
            self.cancel(key)
        self._add_work(key, start, trigger)

    def _add_work(self, key: str, created_at: float, fire_at: float) -> None:
        if key in self.scheduled:
            return
        self.scheduled[key] = ScheduledEviction(created_at, fire_at)
        delay = fire_at - self.clock.monotonic()
        if delay > 0:
            self.controller.enqueue_after(key, delay)
        else:
            self.controller.enqueue(key)

    def cancel(self, key: str) -> bool:
        """Drop a scheduled deletion; True (and the event) when one was still pending."""
        work = self.scheduled.pop(key, None)
        if work is None or work.done:
            return False
        ns, name = split_key(key)
        self.recorder.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")
        return True

    # ---- the deletion worker ----
    async def reconcile(self, key: str) -> Result | None:
        work = self.scheduled.get(key)
        if work is None or work.done:
            return None
        remaining = work.fire_at - self.clock.monotonic()
        if remaining > 0:
            return Result(requeue_after=remaining)
        ns, name = split_key(key)
        log.info("deleting pod %s", key)
        self.recorder.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction", f"Marking for deletion Pod {key}")
        for attempt in range(RETRIES):
            try:
                await self._add_condition_and_delete(ns, name)
                break
            except errors.NotFound:
                break  # already gone
            except Exception:
                if attempt == RETRIES - 1:
                    raise  # kept scheduled: retried with backoff
        if self.scheduled.get(key) is work:
            work.done = True
        return None

    async def _add_condition_and_delete(self, ns: str, name: str) -> None:
        pod = await self.client.get(PODS, name, ns)
        status = meta.copy(pod.get("status") or {})
        if update_pod_condition(status, EVICTION_CONDITION, self.clock.now()):
            cond = [c for c in status["conditions"] if c.get("type") == EVICTION_CONDITION["type"]]
            body = {"metadata": {"uid": (pod.get("metadata") or {}).get("uid")}, "status": {"conditions": cond}}
            await self.client.patch(PODS, name, body, ns, patch_type="strategic", subresource="status")
        await self.client.delete(PODS, name, ns)
