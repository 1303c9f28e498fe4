"""The node lifecycle controller: notices dead kubelets, marks their nodes Unknown and taints them.

Upstream's node-lifecycle-controller (pkg/controller/nodelifecycle/node_lifecycle_controller.go), events
from "node-controller":

- every --node-monitor-period, `monitor_node_health`: a node whose Ready heartbeat and Lease
  (kube-node-lease/<node>) have both been still for the grace period gets Ready, MemoryPressure,
  DiskPressure and PIDPressure set to Unknown ("Kubelet stopped posting node status.") through nodes/status.
  On the Ready -> not Ready transition the node gets the event NodeNotReady and its pods' Ready condition
  is set False (MarkPodsNotReady; pods bound later are handled by the pod queue). A node observed not Ready
  / Unknown is queued for the NoExecute taint node.kubernetes.io/not-ready / unreachable (timeAdded set),
  paced per zone (`do_no_execute_tainting_pass`, every 100 ms); a Ready node loses both at once.
- zone disruption: when every zone has no Ready node, taints are removed and tainting stops (a control
  plane problem, not a node one); a partially disrupted zone is tainted at the secondary rate (0 in
  clusters of at most --large-cluster-size-threshold nodes).
- on every node event, `reconcile` (TaintNodesByCondition): the NoSchedule taints matching the node's
  conditions (not-ready, unreachable, memory-/disk-/pid-pressure, network-unavailable) and
  spec.unschedulable are added or removed; the beta os/arch labels follow the stable ones.

Evicting pods from NoExecute-tainted nodes is the taint eviction controller's job (tainteviction.py).
Flags not in ControllerOptions are read from ControllerOptions.extra with upstream defaults:
node_eviction_rate 0.1, secondary_node_eviction_rate 0.01, large_cluster_size_threshold 50,
unhealthy_zone_threshold 0.55.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from pyk8s.api import errors, meta
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import LEASES, NODES, PODS
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.podstate import update_pod_condition
from pyk8s.controllers.nodelifecycle.health import NodeHealth, assess, lease_renew_time
from pyk8s.controllers.nodelifecycle.podutil import (
    NODE_NAME_INDEX,
    node_name_index,
    node_name_of,
    node_ref,
    pod_ref,
    pods_on_node,
)
from pyk8s.controllers.nodelifecycle.taints import (
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    condition_taints,
    controller_no_schedule_taints,
    excluded_from_disruption_checks,
    get_condition,
    node_taints,
    stamped,
    taint_exists,
    taint_set_diff,
    with_taints,
    without_taints,
    zone_key,
)
from pyk8s.controllers.nodelifecycle.zones import (
    STATE_FULL_DISRUPTION,
    STATE_INITIAL,
    STATE_NORMAL,
    STATE_PARTIAL_DISRUPTION,
    TaintQueue,
    compute_zone_state,
)

log = logging.getLogger("pyk8s.controllers.nodelifecycle")

COMPONENT = "node-controller"
NODE_LEASE_NAMESPACE = "kube-node-lease"
NODE_EVICTION_PERIOD = 0.1  # scheduler.NodeEvictionPeriod
NODE_HEALTH_UPDATE_RETRY = 5  # scheduler.NodeHealthUpdateRetry
UPDATE_TAINT_RETRIES = 5  # UpdateTaintBackoff steps
NODE_UPDATE_WORKERS = 8  # nodeUpdateWorkerSize
POD_UPDATE_WORKERS = 4  # podUpdateWorkerSize

# beta label kept equal to the stable one (labelReconcileInfo)
LABEL_RECONCILE = (("kubernetes.io/os", "beta.kubernetes.io/os"), ("kubernetes.io/arch", "beta.kubernetes.io/arch"))


class NodeLifecycleController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        opts = ctx.options
        self.monitor_period = opts.node_monitor_period
        self.monitor_grace = opts.node_monitor_grace_period
        self.startup_grace = opts.node_startup_grace_period
        self.eviction_qps = float(opts.extra.get("node_eviction_rate", 0.1))
        self.secondary_eviction_qps = float(opts.extra.get("secondary_node_eviction_rate", 0.01))
        self.large_cluster_threshold = int(opts.extra.get("large_cluster_size_threshold", 50))
        self.unhealthy_zone_threshold = float(opts.extra.get("unhealthy_zone_threshold", 0.55))
        self.recorder = ctx.recorder(COMPONENT)

        self.nodes = ctx.informers.informer(NODES)
        self.pods = ctx.informers.informer(PODS)
        # All namespaces, as upstream's shared lease informer: the garbage collector watches every lease
        # anyway, so this shares its watch instead of decoding every node heartbeat twice.
        self.leases = ctx.informers.informer(LEASES)
        self.pods.add_indexers({NODE_NAME_INDEX: node_name_index})
        informers = [self.nodes, self.pods, self.leases]
        self.controller = Controller("node_lifecycle_controller", self, workers=NODE_UPDATE_WORKERS,
                                     clock=ctx.clock, informers=informers)
        self.pod_controller = Controller("node_lifecycle_controller_pods", _PodProcessor(self),
                                         workers=POD_UPDATE_WORKERS, clock=ctx.clock, informers=informers)
        self.nodes.add_handler(on_add=self.controller.enqueue,
                               on_update=lambda old, new: self.controller.enqueue(new),
                               on_delete=lambda node: self.nodes_to_retry.discard(meta.name_of(node)))
        self.pods.add_handler(on_add=lambda pod: self._pod_updated(None, pod),
                              on_update=self._pod_updated)

        self.known_nodes: dict[str, Obj] = {}
        self.health: dict[str, NodeHealth] = {}
        self.nodes_to_retry: set[str] = set()
        self.zone_states: dict[str, str] = {}
        self.zone_tainters: dict[str, TaintQueue] = {}

    def _pod_updated(self, old: Obj | None, new: Obj) -> None:
        name = node_name_of(new)
        if name and (old is None or node_name_of(old) != name):
            self.pod_controller.enqueue(new)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())
            tg.create_task(self.pod_controller.run())
            tg.create_task(self._every(self.monitor_period, self.monitor_node_health))
            tg.create_task(self._every(NODE_EVICTION_PERIOD, self.do_no_execute_tainting_pass))

    async def _every(self, period: float, fn: Callable[[], Awaitable[None]]) -> None:
        while not (self.nodes.has_synced() and self.pods.has_synced() and self.leases.has_synced()):
            await asyncio.sleep(0.05)
        while True:
            try:
                await fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node lifecycle pass failed")
            await self.clock.sleep(period)

    # ---- node health ----
    async def monitor_node_health(self) -> None:
        nodes = self.nodes.lister.list()
        names = {meta.name_of(n) for n in nodes}
        for node in nodes:
            name = meta.name_of(node)
            if name not in self.known_nodes:
                log.info("controller observed a new node %s", name)
                self._node_event(node, "Normal", "RegisteredNode",
                                 f"Node {name} event: Registered Node {name} in Controller")
                self.known_nodes[name] = node
                self._tainter_for(node)
                await self._quietly(self.mark_node_as_reachable(node))
            else:
                self._tainter_for(node)
        for name in [n for n in self.known_nodes if n not in names]:
            log.info("controller observed a node deletion %s", name)
            self._node_event(self.known_nodes[name], "Normal", "RemovingNode",
                             f"Node {name} event: Removing Node {name} from Controller")
            del self.known_nodes[name]
            self.health.pop(name, None)

        zone_conditions: dict[str, list[Obj | None]] = {}
        # Healthy nodes (nearly all, nearly always) need no API call: settled here without a task each.
        busy = [n for n in nodes if not self._update_quiet_node(n, zone_conditions)]
        sem = asyncio.Semaphore(NODE_UPDATE_WORKERS)

        async def one(node: Obj) -> None:
            async with sem:
                await self._update_node(node, zone_conditions)

        await asyncio.gather(*(one(n) for n in busy))
        await self.handle_disruption(zone_conditions, nodes)

    def _update_quiet_node(self, node: Obj, zone_conditions: dict[str, list[Obj | None]]) -> bool:
        """`_update_node` for a node it would not write anything for: no status to mark Unknown, and either no
        Ready condition yet or Ready with neither NoExecute taint to remove. Does what `_update_node` does for
        it, synchronously, and returns True; returns False, changing nothing, for any other node."""
        name = meta.name_of(node)
        try:
            a = assess(node, self.health.get(name), lease_renew_time(self.leases.lister.get(
                f"{NODE_LEASE_NAMESPACE}/{name}")), self.clock.now(), self.monitor_grace, self.startup_grace)
        except Exception:
            return False  # _update_node reports it
        current = a.current_ready
        if a.status_update is not None:
            return False
        if current is not None:
            if current.get("status") != "True" or a.observed_ready.get("status") != "True":
                return False
            taints = node_taints(node)
            if taint_exists(taints, UNREACHABLE_TAINT) or taint_exists(taints, NOT_READY_TAINT):
                return False
        self.health[name] = a.health
        if not excluded_from_disruption_checks(node):
            zone_conditions.setdefault(zone_key(node), []).append(current)
        if current is not None:
            self._tainter_for(node).remove(name)  # mark_node_as_reachable with no taint to remove
        self.nodes_to_retry.discard(name)
        return True

    async def _update_node(self, node: Obj, zone_conditions: dict[str, list[Obj | None]]) -> None:
        name = meta.name_of(node)
        result: tuple[Obj, Obj | None] | None = None
        for _ in range(NODE_HEALTH_UPDATE_RETRY):
            try:
                result = await self.try_update_node_health(node)
                break
            except Exception as e:
                log.info("updating health of node %s failed, retrying on a fresh copy: %s", name, e)
                try:
                    node = await self.client.get(NODES, name)
                except Exception:
                    log.info("failed while getting node %s to retry updating its health; probably deleted", name)
                    return
        if result is None:
            log.warning("update health of node %s from controller failed, skipping: no pods will be evicted", name)
            return
        observed, current = result
        if not excluded_from_disruption_checks(node):
            zone_conditions.setdefault(zone_key(node), []).append(current)
        if current is None:
            self.nodes_to_retry.discard(name)
            return
        await self.process_taint_based_eviction(node, observed)
        became_not_ready = current.get("status") != "True" and observed.get("status") == "True"
        if became_not_ready:
            self._node_event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        if became_not_ready or (name in self.nodes_to_retry and observed.get("status") != "True"):
            try:
                # Looked up only when needed: every node, every pass, would cost O(all pods) per pass.
                await self.mark_pods_not_ready(pods_on_node(self.pods, name), name)
            except Exception as e:
                log.warning("unable to mark all pods NotReady on node %s: %s; queuing for retry", name, e)
                self.nodes_to_retry.add(name)
                return
        self.nodes_to_retry.discard(name)

    async def try_update_node_health(self, node: Obj) -> tuple[Obj, Obj | None]:
        """Assess one node and write Unknown conditions when its kubelet went quiet.

        Returns (Ready condition observed, Ready condition now); raises when the status write fails.
        """
        name = meta.name_of(node)
        lease = self.leases.lister.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        now = self.clock.now()
        a = assess(node, self.health.get(name), lease_renew_time(lease), now, self.monitor_grace, self.startup_grace)
        if a.status_update is not None:
            try:
                await self.client.update(NODES, a.status_update, subresource="status")
            except Exception:
                self.health[name] = a.health
                raise
            a.health = NodeHealth(a.health.probe_timestamp, now, a.current_ready, a.health.lease_renew)
        self.health[name] = a.health
        return a.observed_ready, a.current_ready

    async def mark_pods_not_ready(self, pods: Iterable[Obj], node_name: str) -> None:
        """Set each pod's Ready condition False (upstream MarkPodsNotReady), with a NodeNotReady pod event."""
        failures: list[str] = []
        for cached in pods:
            if node_name_of(cached) != node_name:
                continue
            ready = next((c for c in (cached.get("status") or {}).get("conditions") or ()
                          if c.get("type") == "Ready"), None)
            if ready is None:
                continue
            pod = meta.copy(cached)
            if not update_pod_condition(pod.setdefault("status", {}), {**ready, "status": "False"}, self.clock.now()):
                continue
            try:
                await self.client.update(PODS, pod, subresource="status")
            except errors.NotFound:
                continue
            except Exception as e:
                failures.append(f"{meta.namespace_of(pod)}/{meta.name_of(pod)}: {e}")
            self.recorder.event(pod_ref(pod), "Warning", "NodeNotReady", "Node is not ready")
        if failures:
            raise RuntimeError("; ".join(failures))

    async def process_taint_based_eviction(self, node: Obj, observed: Obj) -> None:
        status = observed.get("status")
        taints = node_taints(node)
        if status == "False":
            if taint_exists(taints, UNREACHABLE_TAINT):
                if not await self.swap_taints(node, [NOT_READY_TAINT], [UNREACHABLE_TAINT]):
                    log.error("failed to instantly swap UnreachableTaint to NotReadyTaint; will try again")
            elif self._mark_for_tainting(node, "False"):
                log.info("node %s is NotReady; adding it to the taint queue", meta.name_of(node))
        elif status == "Unknown":
            if taint_exists(taints, NOT_READY_TAINT):
                if not await self.swap_taints(node, [UNREACHABLE_TAINT], [NOT_READY_TAINT]):
                    log.error("failed to instantly swap NotReadyTaint to UnreachableTaint; will try again")
            elif self._mark_for_tainting(node, "Unknown"):
                log.info("node %s is unresponsive; adding it to the taint queue", meta.name_of(node))
        elif status == "True":
            await self._quietly(self.mark_node_as_reachable(node))

    def _mark_for_tainting(self, node: Obj, status: str) -> bool:
        q = self._tainter_for(node)
        name = meta.name_of(node)
        taints = node_taints(node)
        if (status == "False" and not taint_exists(taints, NOT_READY_TAINT)) or (
                status == "Unknown" and not taint_exists(taints, UNREACHABLE_TAINT)):
            q.remove(name)
        return q.add(name)

    async def mark_node_as_reachable(self, node: Obj) -> bool:
        await self.remove_taints(meta.name_of(node), node, [UNREACHABLE_TAINT, NOT_READY_TAINT])
        return self._tainter_for(node).remove(meta.name_of(node))

    # ---- NoExecute tainting, paced per zone ----
    async def do_no_execute_tainting_pass(self) -> None:
        for q in list(self.zone_tainters.values()):
            await q.try_each(self._taint_action)

    async def _taint_action(self, name: str) -> tuple[bool, float]:
        node = self.nodes.lister.get(name)
        if node is None:
            return True, 0.0
        ready = get_condition(node, "Ready")
        if ready is None:
            return False, 0.05
        if ready.get("status") == "False":
            add, opposite = NOT_READY_TAINT, UNREACHABLE_TAINT
        elif ready.get("status") == "Unknown":
            add, opposite = UNREACHABLE_TAINT, NOT_READY_TAINT
        else:
            return True, 0.0  # ready again: nothing to do
        return await self.swap_taints(node, [add], [opposite]), 0.0

    def _tainter_for(self, node: Obj) -> TaintQueue:
        zone = zone_key(node)
        q = self.zone_tainters.get(zone)
        if q is None:
            q = TaintQueue(self.eviction_qps, self.clock)
            self.zone_tainters[zone] = q
            self.zone_states[zone] = STATE_INITIAL
        return q

    async def handle_disruption(self, zone_conditions: dict[str, list[Obj | None]], nodes: list[Obj]) -> None:
        new_states: dict[str, str] = {}
        all_are_fully_disrupted = True
        for zone, conditions in zone_conditions.items():
            _, state = compute_zone_state(conditions, self.unhealthy_zone_threshold)
            if state != STATE_FULL_DISRUPTION:
                all_are_fully_disrupted = False
            new_states[zone] = state
            if zone not in self.zone_states:
                self.zone_states[zone] = STATE_INITIAL
        all_were_fully_disrupted = True
        for zone, state in list(self.zone_states.items()):
            if zone not in zone_conditions:
                del self.zone_states[zone]
                continue
            if state != STATE_FULL_DISRUPTION:
                all_were_fully_disrupted = False
                break
        if all_are_fully_disrupted and all_were_fully_disrupted:
            return
        if all_are_fully_disrupted:
            log.info("controller detected that all nodes are not-Ready: entering master disruption mode")
            for node in nodes:
                await self._quietly(self.mark_node_as_reachable(node))
            for zone in self.zone_states:
                self._tainter(zone).swap_limiter(0)
                self.zone_states[zone] = STATE_FULL_DISRUPTION
            return
        if all_were_fully_disrupted:
            log.info("controller detected that some nodes are Ready: exiting master disruption mode")
            now = self.clock.now()
            for node in nodes:
                h = self.health.get(meta.name_of(node))
                if h is not None:
                    h.probe_timestamp = now
                    h.ready_transition_timestamp = now
            for zone in self.zone_states:
                self._set_limiter(zone, len(zone_conditions.get(zone, ())), new_states.get(zone, STATE_NORMAL))
                self.zone_states[zone] = new_states.get(zone, STATE_NORMAL)
            return
        for zone, state in list(self.zone_states.items()):
            new = new_states.get(zone, state)
            if new == state:
                continue
            log.info("controller detected that zone %r is now in state %s", zone, new)
            self._set_limiter(zone, len(zone_conditions.get(zone, ())), new)
            self.zone_states[zone] = new

    def _tainter(self, zone: str) -> TaintQueue:
        q = self.zone_tainters.get(zone)
        if q is None:
            q = self.zone_tainters[zone] = TaintQueue(self.eviction_qps, self.clock)
        return q

    def _set_limiter(self, zone: str, size: int, state: str) -> None:
        if state == STATE_NORMAL:
            self._tainter(zone).swap_limiter(self.eviction_qps)
        elif state == STATE_PARTIAL_DISRUPTION:
            reduced = self.secondary_eviction_qps if size > self.large_cluster_threshold else 0.0
            self._tainter(zone).swap_limiter(reduced)
        elif state == STATE_FULL_DISRUPTION:
            self._tainter(zone).swap_limiter(self.eviction_qps)

    # ---- NoSchedule tainting by condition, and labels (node queue) ----
    async def reconcile(self, key: str) -> Result | None:
        node = self.nodes.lister.get(key)
        if node is None:
            return None
        add, remove = taint_set_diff(condition_taints(node), controller_no_schedule_taints(node))
        if add or remove:
            if not await self.swap_taints(node, add, remove):
                raise RuntimeError(f"failed to swap NoSchedule taints of node {key}")
        await self._reconcile_labels(node)
        return None

    async def _reconcile_labels(self, node: Obj) -> None:
        labels = (node.get("metadata") or {}).get("labels") or {}
        wanted = {beta: labels[stable] for stable, beta in LABEL_RECONCILE
                  if stable in labels and labels.get(beta) != labels[stable]}
        if wanted:
            await self.client.patch(NODES, meta.name_of(node), {"metadata": {"labels": wanted}}, patch_type="strategic")

    # ---- taint writes ----
    async def swap_taints(self, node: Obj, add: list[Obj], remove: list[Obj]) -> bool:
        """Add `add` (timeAdded now) and remove `remove` in one write (SwapNodeControllerTaint); False on failure."""
        now = self.clock.now()
        try:
            await self._write_taints(meta.name_of(node), node, [stamped(t, now) for t in add], remove)
        except Exception as e:
            log.warning("unable to change taints of node %s (+%s -%s): %s", meta.name_of(node),
                        [t["key"] for t in add], [t["key"] for t in remove], e)
            return False
        return True

    async def remove_taints(self, name: str, cached: Obj | None, remove: list[Obj]) -> None:
        if cached is not None and not any(taint_exists(node_taints(cached), t) for t in remove):
            return  # nothing to remove: no API call
        await self._write_taints(name, cached, [], remove)

    async def _write_taints(self, name: str, cached: Obj | None, add: list[Obj], remove: list[Obj]) -> None:
        node = cached
        for _ in range(UPDATE_TAINT_RETRIES):
            if node is None:
                node = await self.client.get(NODES, name)
            taints, removed = without_taints(node_taints(node), [t for t in remove if not taint_exists(add, t)])
            taints, added = with_taints(taints, add)
            if not removed and not added:
                return
            rv = str((node.get("metadata") or {}).get("resourceVersion") or "")
            body = {"metadata": {"resourceVersion": rv}, "spec": {"taints": taints or None}}
            try:
                await self.client.patch(NODES, name, body, patch_type="merge")
                return
            except errors.Conflict:
                node = None
        raise errors.Conflict(f"updating taints of node {name}: too many conflicts")

    # ---- helpers ----
    def _node_event(self, node: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.event(node_ref(node), type_, reason, message)

    @staticmethod
    async def _quietly(aw: Awaitable[object]) -> None:
        try:
            await aw
        except Exception as e:
            log.warning("node lifecycle: %s", e)


class _PodProcessor:
    """The pod queue: a pod bound to a node already known not Ready gets its Ready condition set False."""

    def __init__(self, nlc: NodeLifecycleController) -> None:
        self.nlc = nlc

    async def reconcile(self, key: str) -> Result | None:
        nlc = self.nlc
        pod = nlc.pods.lister.get(key)
        if pod is None:
            return None
        name = node_name_of(pod)
        health = nlc.health.get(name)
        if health is None:
            return None  # node not assessed yet, or gone: the node pass handles it
        if nlc.nodes.lister.get(name) is None:
            raise RuntimeError(f"failed to read node {name}")
        if health.ready is None:
            return None
        if health.ready.get("status") != "True":
            await nlc.mark_pods_not_ready([pod], name)
        return None

