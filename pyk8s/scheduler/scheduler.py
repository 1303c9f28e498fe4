"""The scheduler component: informers feed the queue and the cache; PodScheduler places pods; `main()` runs it.

Wiring as upstream's scheduler.New and eventhandlers.go:
- pods (terminal ones excluded by field selector): an unassigned pod whose spec.schedulerName has a profile
  goes to the queue; an assigned pod goes to the cache (confirming an assumed pod) and may requeue pods
  waiting for such a change; a pod turning from unassigned to assigned leaves the queue and enters the cache;
- nodes: the cache, plus a cluster event per changed scheduling property (allocatable, labels, taints,
  spec.unschedulable, conditions, annotations) so rejected pods are retried only when something relevant
  changed;
- PersistentVolumeClaims, PersistentVolumes, StorageClasses: cluster events for VolumeBinding;
- PriorityClasses, Services, ReplicaSets, ... : caches the plugins read (the apiserver does not resolve
  priorityClassName yet, so a pod's priority comes from the PriorityClass cache when spec.priority is unset).

`main()` builds the REST client, informer factory, event recorder and (optionally) the leader elector on the
kube-system/kube-scheduler Lease; the CLI wraps it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import Callable, Sequence

from pyk8s.api.resources import Resource
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.base.gctune import tune_gc
from pyk8s.client.interface import Client, InformerFactory, Lister, Obj
from pyk8s.client.kinds import (
    NAMESPACES,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    PRIORITY_CLASSES,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    SERVICES,
    STATEFUL_SETS,
)
from pyk8s.scheduler.cache import Cache
from pyk8s.scheduler.framework.helpers import STORAGE_CLASSES
from pyk8s.scheduler.framework.interface import (
    EVENT_ASSIGNED_POD_ADD,
    EVENT_ASSIGNED_POD_DELETE,
    EVENT_NODE_ADD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    Status,
)
from pyk8s.scheduler.framework.runtime import (
    DEFAULT_SCHEDULER_NAME,
    EventSink,
    Framework,
    Profile,
    Registry,
)
from pyk8s.scheduler.framework.types import PodInfo, resolve_priority
from pyk8s.scheduler.plugins.registry import in_tree_registry
from pyk8s.scheduler.queue import (
    DEFAULT_POD_INITIAL_BACKOFF,
    DEFAULT_POD_MAX_BACKOFF,
    DEFAULT_POD_MAX_IN_UNSCHEDULABLE,
    SchedulingQueue,
)
from pyk8s.scheduler.schedule_one import COMPONENT, PodScheduler, SchedulingAlgorithm

log = logging.getLogger("pyk8s.scheduler")

# Upstream's scheduler pod informer leaves out finished pods.
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-scheduler"
DEFAULT_KUBE_API_QPS = 50.0
DEFAULT_KUBE_API_BURST = 100

_TERMINAL_PHASES = ("Succeeded", "Failed")


def assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in _TERMINAL_PHASES


def node_update_events(old: Obj, new: Obj) -> list[ClusterEvent]:
    """The scheduling-relevant changes between two versions of a node (upstream nodeSchedulingPropertiesChange)."""
    events: list[ClusterEvent] = []
    os_, ns_ = old.get("spec") or {}, new.get("spec") or {}
    ost, nst = old.get("status") or {}, new.get("status") or {}
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    if bool(os_.get("unschedulable")) != bool(ns_.get("unschedulable")):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_TAINT, "NodeSpecUnschedulableChange"))
    if ost.get("allocatable") != nst.get("allocatable"):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_ALLOCATABLE, "NodeAllocatableChange"))
    if om.get("labels") != nm.get("labels"):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_LABEL, "NodeLabelChange"))
    if os_.get("taints") != ns_.get("taints"):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_TAINT, "NodeTaintChange"))
    if _conditions(ost) != _conditions(nst):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_CONDITION, "NodeConditionChange"))
    if om.get("annotations") != nm.get("annotations"):
        events.append(ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_ANNOTATION, "NodeAnnotationChange"))
    return events


def _conditions(status: Obj) -> dict[str, str]:
    return {str(c.get("type")): str(c.get("status")) for c in status.get("conditions") or ()}


class Scheduler:
    """kube-scheduler: see the module docstring. `run()` schedules until cancelled."""

    def __init__(self, client: Client, informers: InformerFactory, *, clock: Clock = REAL_CLOCK,
                 recorder: EventSink | None = None, profile: Profile | None = None,
                 profiles: Sequence[Profile] | None = None, percentage_of_nodes_to_score: int | None = None,
                 registry: Registry | None = None, pod_initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
                 pod_max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
                 pod_max_in_unschedulable: float = DEFAULT_POD_MAX_IN_UNSCHEDULABLE,
                 rng: random.Random | None = None) -> None:
        self.client = client
        self.informers = informers
        self.clock = clock
        self.pod_informer = informers.informer(PODS, field_selector=POD_FIELD_SELECTOR)
        self.node_informer = informers.informer(NODES)
        self.priority_class_informer = informers.informer(PRIORITY_CLASSES)
        self._listers: dict[Resource, Lister] = {
            PODS: self.pod_informer.lister, NODES: self.node_informer.lister,
            PRIORITY_CLASSES: self.priority_class_informer.lister,
        }
        for r in (PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, SERVICES, REPLICATION_CONTROLLERS, REPLICA_SETS,
                  STATEFUL_SETS, POD_DISRUPTION_BUDGETS, NAMESPACES, STORAGE_CLASSES):
            if r is not None:
                self._listers[r] = informers.informer(r).lister
        self._owns_recorder = recorder is None
        if recorder is None:
            from pyk8s.client.events import EventRecorder

            recorder = EventRecorder(client, COMPONENT, clock=clock)
        self.recorder: EventSink = recorder
        self.cache = Cache(clock=clock)
        registry = registry if registry is not None else in_tree_registry()
        chosen = list(profiles) if profiles else [profile or Profile()]
        self.frameworks: dict[str, Framework] = {}
        for p in chosen:
            self.frameworks[p.scheduler_name] = Framework(
                p, registry, client=client, snapshot=self.cache.snapshot, listers=self.lister, recorder=recorder,
                clock=clock, pod_info_factory=self.pod_info, priority_resolver=self.priority_of)
        events: list[tuple[str, ClusterEventWithHint]] = []
        for fwk in self.frameworks.values():
            events.extend(fwk.events_to_register())
        self.queue = SchedulingQueue(clock=clock, initial_backoff=pod_initial_backoff, max_backoff=pod_max_backoff,
                                     max_in_unschedulable=pod_max_in_unschedulable, pre_enqueue=self._pre_enqueue,
                                     events=events)
        for fwk in self.frameworks.values():
            fwk.nominator = self.queue
        self.pod_scheduler = PodScheduler(
            client=client, cache=self.cache, queue=self.queue, frameworks=self.frameworks, recorder=recorder,
            clock=clock, algorithm=SchedulingAlgorithm(percentage_of_nodes_to_score or 0, rng),
            pod_lookup=self.pod_informer.lister.get)
        self._handlers_added = False

    # ---- helpers ----

    def lister(self, resource: Resource) -> Lister:
        found = self._listers.get(resource)
        if found is None:
            found = self.informers.informer(resource).lister
            self._listers[resource] = found
        return found

    def pod_info(self, pod: Obj) -> PodInfo:
        return PodInfo(pod, self.priority_of(pod))

    def priority_of(self, pod: Obj) -> int:
        return resolve_priority(pod, self.priority_class_informer.lister)

    def responsible_for(self, pod: Obj) -> bool:
        return str((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) in self.frameworks

    def _pre_enqueue(self, pod: PodInfo) -> Status | None:
        name = str((pod.pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME)
        fwk = self.frameworks.get(name)
        return fwk.run_pre_enqueue_plugins(pod) if fwk is not None else None

    # ---- event handlers (they only update the cache and the queue) ----

    def _add_handlers(self) -> None:
        """Register the handlers; informers replay their caches as adds. Done once the caches synced, so a
        pod's priority is resolved against a complete PriorityClass cache."""
        if self._handlers_added:
            return
        self._handlers_added = True
        self.pod_informer.add_handler(self._on_pod_add, self._on_pod_update, self._on_pod_delete)
        self.node_informer.add_handler(self._on_node_add, self._on_node_update, self._on_node_delete)
        for resource, kind in ((PERSISTENT_VOLUME_CLAIMS, EventResource.PERSISTENT_VOLUME_CLAIM),
                               (PERSISTENT_VOLUMES, EventResource.PERSISTENT_VOLUME),
                               (STORAGE_CLASSES, EventResource.STORAGE_CLASS)):
            if resource is None:
                continue
            self.informers.informer(resource).add_handler(self._mover(kind, ActionType.ADD),
                                                          self._update_mover(kind), None)

    def _mover(self, kind: str, action: ActionType) -> Callable[[Obj], None]:
        def on_add(obj: Obj) -> None:
            self.queue.move_all_to_active_or_backoff(ClusterEvent(kind, action), None, obj)
        return on_add

    def _update_mover(self, kind: str) -> Callable[[Obj, Obj], None]:
        def on_update(old: Obj, new: Obj) -> None:
            self.queue.move_all_to_active_or_backoff(ClusterEvent(kind, ActionType.UPDATE_OTHER), old, new)
        return on_update

    def _on_pod_add(self, pod: Obj) -> None:
        if assigned(pod):
            if not terminal(pod):
                self._add_assigned(pod)
        elif self.responsible_for(pod) and not terminal(pod):
            self.queue.add(self.pod_info(pod))

    def _assigned_pod_info(self, pod: Obj) -> PodInfo:
        """The PodInfo for an assigned pod: the cached one carried over when the spec is unchanged (the binding's
        echo, or a status update from the kubelet), so requests and affinity terms are not parsed again."""
        md = pod.get("metadata") or {}
        known = self.cache.get_pod(md.get("uid") or f"{md.get('namespace', '')}/{md.get('name', '')}")
        if known is not None and known.pod.get("spec") == pod.get("spec"):
            return known.with_pod(pod)
        return self.pod_info(pod)

    def _add_assigned(self, pod: Obj) -> None:
        self.cache.add_pod(self._assigned_pod_info(pod))
        self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_ADD, None, pod)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if assigned(new):
            if not assigned(old):
                # Bound: it leaves the scheduling queue and enters the cache (confirming the assumed pod).
                md = old.get("metadata") or {}
                key = f"{md.get('namespace', '')}/{md.get('name', '')}"
                self.queue.delete_key(key, md.get("uid") or key)
                if not terminal(new):
                    self._add_assigned(new)
                return
            if terminal(new):
                self._on_pod_delete(new)
                return
            old_uid = (old.get("metadata") or {}).get("uid")
            if old_uid != (new.get("metadata") or {}).get("uid"):
                self._on_pod_delete(old)
                self._add_assigned(new)
                return
            self.cache.update_pod(None, self._assigned_pod_info(new))
            if (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
                self.queue.move_all_to_active_or_backoff(
                    ClusterEvent(EventResource.ASSIGNED_POD, ActionType.UPDATE_POD_LABEL, "AssignedPodUpdate"), old, new)
            return
        if not self.responsible_for(new) or terminal(new):
            self.queue.delete(self.pod_info(new))
            return
        if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
            return
        pi = self.pod_info(new)
        if self.cache.is_assumed(pi.uid_key):
            return
        self.queue.update(self.pod_info(old), pi)

    def _on_pod_delete(self, pod: Obj) -> None:
        pi = self.pod_info(pod)
        if assigned(pod):
            if self.cache.get_pod(pi.uid_key) is not None:
                self.cache.remove_pod(pi)
                self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, pod, None)
            return
        self.queue.delete(pi)
        if self.cache.is_assumed(pi.uid_key):
            # bound and deleted while our watch was down: the relist reports the old, unassigned copy
            self.cache.forget_pod(self.cache.get_pod(pi.uid_key) or pi)
            self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, pod, None)
        for fwk in self.frameworks.values():
            wp = fwk.get_waiting_pod(pi.uid_key)
            if wp is not None:
                wp.reject("", "removed")

    def _on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(EVENT_NODE_ADD, None, node)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        self.cache.update_node(old, new)
        for event in node_update_events(old, new):
            self.queue.move_all_to_active_or_backoff(event, old, new)

    def _on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node(node)

    # ---- running ----

    async def run(self) -> None:
        """Start the informers (if not yet), wait for their caches, then schedule until cancelled."""
        async with asyncio.TaskGroup() as tg:
            if self._owns_recorder:
                run_recorder = getattr(self.recorder, "run", None)
                if run_recorder is not None:
                    tg.create_task(run_recorder())
            self.informers.start()
            await self.informers.wait_for_sync()
            self._add_handlers()
            log.info("scheduler caches synced: %d nodes, %d pods in the queue", len(self.cache.nodes),
                     len(self.queue))
            tg.create_task(self.queue.run())
            if self.cache.ttl > 0:
                tg.create_task(self.cache.run_cleanup())
            tg.create_task(self.pod_scheduler.run())


async def main(kubeconfig: str, *, leader_elect: bool = True, kube_api_qps: float = DEFAULT_KUBE_API_QPS,
               kube_api_burst: int = DEFAULT_KUBE_API_BURST, percentage_of_nodes_to_score: int | None = None,
               leader_elect_resource_namespace: str = LEASE_NAMESPACE, leader_elect_resource_name: str = LEASE_NAME,
               leader_elect_lease_duration: float = 15.0, leader_elect_renew_deadline: float = 10.0,
               leader_elect_retry_period: float = 2.0, identity: str | None = None,
               clock: Clock = REAL_CLOCK) -> None:
    """Run kube-scheduler against the cluster of `kubeconfig` until cancelled (or leadership is lost, which
    raises LeadershipLost). Flag names follow upstream (--kube-api-qps, --leader-elect, ...)."""
    from pyk8s.client.events import EventRecorder
    from pyk8s.client.informer import SharedInformerFactory, strip_managed_fields
    from pyk8s.client.kubeconfig import load_client_config
    from pyk8s.client.leaderelection import LeaderElector, leader_election_client
    from pyk8s.client.rest import RESTClient

    config = load_client_config(kubeconfig, user_agent="kube-scheduler/pyk8s")
    config.qps = kube_api_qps
    config.burst = kube_api_burst
    client = RESTClient(config)
    factory = SharedInformerFactory(client, clock=clock, transform=strip_managed_fields)
    host = socket.gethostname()
    recorder = EventRecorder(client, COMPONENT, host=host, clock=clock)
    scheduler = Scheduler(client, factory, clock=clock, recorder=recorder,
                          percentage_of_nodes_to_score=percentage_of_nodes_to_score)

    async def lead() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(recorder.run())
            tg.create_task(scheduler.run())

    tune_gc()  # see pyk8s/base/gctune.py: 12% of the scheduler's CPU went to collections while pods started
    try:
        factory.start()
        if leader_elect:
            # upstream gives the lease its own client: renewals never queue behind bindings
            async with leader_election_client(config, leader_elect_renew_deadline) as lease_client:
                elector = LeaderElector(lease_client, leader_elect_resource_namespace, leader_elect_resource_name,
                                        identity or f"{host}_{uuid.uuid4()}",
                                        lease_duration=leader_elect_lease_duration,
                                        renew_deadline=leader_elect_renew_deadline,
                                        retry_period=leader_elect_retry_period, clock=clock)
                await elector.run(lead)
        else:
            await lead()
    finally:
        await factory.stop()
        close = getattr(client, "close", None)
        if close is not None:
            await close()
