"""The scheduling queue: pods waiting for a scheduling attempt (upstream internal/queue PriorityQueue).

Three sub-queues, keyed by "namespace/name":
- activeQ: pods ready to be tried, highest priority first, then oldest (the PrioritySort order);
- backoffQ: pods that failed recently, released to activeQ when their backoff expires (1 s, doubled per
  consecutive failure, capped at 10 s);
- unschedulable: pods the plugins rejected; they stay until a cluster event that one of the rejecting plugins
  registered (EnqueueExtensions) happens, or until they have waited 5 minutes (the periodic flush).
A pod gated by a PreEnqueue plugin (scheduling gates) waits in the unschedulable pool, never popped.

Every informer-driven call is O(1) in the number of queued pods, except a cluster event's requeue, which visits
only the unschedulable pods rejected by a plugin that registered that event (the pool is indexed by rejecting
plugin); a wildcard event (timeout, force-activate) and the periodic flush visit the whole pool.

A popped pod is "in flight" until `done()`. A cluster event that arrives while pods are in flight bumps the
move-request cycle, so a pod that fails in that cycle goes to backoffQ rather than waiting for another event.
The queue also keeps the nominated pods (status.nominatedNodeName or preemption results) per node.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import Any

from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Obj
from pyk8s.scheduler.framework.interface import (
    EVENT_FORCE_ACTIVATE,
    EVENT_UNSCHEDULABLE_TIMEOUT,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    NominatingInfo,
    NominatingMode,
    QueueingHint,
    Status,
)
from pyk8s.scheduler.framework.types import PodInfo

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
DEFAULT_POD_MAX_IN_UNSCHEDULABLE = 5 * 60.0
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0

ACTIVE_Q = "activeQ"
BACKOFF_Q = "backoffQ"
UNSCHEDULABLE_PODS = "unschedulablePods"


class QueueClosed(Exception):
    """pop() after close()."""


class QueuedPodInfo:
    """A pod in the queue and its scheduling history."""

    __slots__ = (
        "attempts", "consecutive_errors_count", "gating_plugin", "initial_attempt_timestamp", "pending_plugins",
        "pod_info", "seq", "timestamp", "unschedulable_count", "unschedulable_plugins",
    )

    def __init__(self, pod_info: PodInfo, timestamp: float) -> None:
        self.pod_info = pod_info
        self.timestamp = timestamp
        self.attempts = 0
        self.unschedulable_count = 0
        self.consecutive_errors_count = 0
        self.initial_attempt_timestamp: float | None = None
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.gating_plugin = ""
        self.seq = 0

    @property
    def key(self) -> str:
        return self.pod_info.key

    @property
    def pod(self) -> Obj:
        return self.pod_info.pod

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.key} attempts={self.attempts} rejected_by={sorted(self.unschedulable_plugins)})"


def _is_pod_updated(old: Obj | None, new: Obj) -> bool:
    """Did anything but status / resourceVersion / generation / managedFields change? (upstream isPodUpdated)"""
    if old is None:
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") != new.get("spec") or om.get("labels") != nm.get("labels")
            or om.get("annotations") != nm.get("annotations") or om.get("finalizers") != nm.get("finalizers")
            or om.get("ownerReferences") != nm.get("ownerReferences"))


class SchedulingQueue:
    """See the module docstring. All methods are called from the event loop; only `pop()` awaits."""

    def __init__(self, *, clock: Clock = REAL_CLOCK, initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
                 max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
                 max_in_unschedulable: float = DEFAULT_POD_MAX_IN_UNSCHEDULABLE,
                 pre_enqueue: Callable[[PodInfo], Status | None] | None = None,
                 events: Iterable[tuple[str, ClusterEventWithHint]] = ()) -> None:
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.pre_enqueue = pre_enqueue
        self._events: dict[str, list[ClusterEventWithHint]] = {}
        for plugin, ev in events:
            self._events.setdefault(plugin, []).append(ev)
        self._seq = itertools.count()
        self._active_heap: list[tuple[int, float, int, QueuedPodInfo]] = []
        self._active: dict[str, QueuedPodInfo] = {}
        self._backoff_heap: list[tuple[float, int, QueuedPodInfo]] = []
        self._backoff: dict[str, QueuedPodInfo] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        # The unschedulable pool by rejecting plugin (unschedulable or pending plugins when the pod was parked),
        # and the pods parked without a rejector and not gated (any event may help them). Values: park order.
        self._by_rejector: dict[str, dict[str, int]] = {}
        self._no_rejector: dict[str, int] = {}
        self._parked_under: dict[str, frozenset[str]] = {}
        self._park_seq = itertools.count()
        self._interested: dict[ClusterEvent, frozenset[str]] = {}
        self._in_flight: set[str] = set()
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._nominated: dict[str, dict[str, PodInfo]] = {}
        self._nominated_node_of: dict[str, str] = {}
        self._wakeup = asyncio.Event()
        self._closed = False

    # ---- internal moves ----

    def _push_active(self, qpi: QueuedPodInfo) -> None:
        qpi.seq = next(self._seq)
        self._active[qpi.key] = qpi
        heapq.heappush(self._active_heap, (-qpi.pod_info.priority, qpi.timestamp, qpi.seq, qpi))
        self._wakeup.set()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        qpi.seq = next(self._seq)
        self._backoff[qpi.key] = qpi
        heapq.heappush(self._backoff_heap, (self.backoff_expiry(qpi), qpi.seq, qpi))

    def _discard(self, key: str) -> QueuedPodInfo | None:
        """Take `key` out of whichever sub-queue holds it (heap entries go stale and are skipped)."""
        for d in (self._active, self._backoff):
            qpi = d.pop(key, None)
            if qpi is not None:
                return qpi
        return self._unpark(key)

    def _park(self, qpi: QueuedPodInfo) -> None:
        """Put `qpi` in the unschedulable pool, indexed by the plugins that rejected it."""
        key = qpi.key
        self._unpark(key)
        self._unschedulable[key] = qpi
        if qpi.gating_plugin:
            return  # only a pod update or activate() releases a gated pod
        seq = next(self._park_seq)
        rejectors = frozenset(qpi.unschedulable_plugins | qpi.pending_plugins)
        self._parked_under[key] = rejectors
        if not rejectors:
            self._no_rejector[key] = seq
        for plugin in rejectors:
            self._by_rejector.setdefault(plugin, {})[key] = seq

    def _unpark(self, key: str) -> QueuedPodInfo | None:
        qpi = self._unschedulable.pop(key, None)
        if qpi is None:
            return None
        rejectors = self._parked_under.pop(key, None)
        if rejectors is not None:
            if not rejectors:
                self._no_rejector.pop(key, None)
            for plugin in rejectors:
                keys = self._by_rejector.get(plugin)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del self._by_rejector[plugin]
        return qpi

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        count = qpi.consecutive_errors_count or qpi.unschedulable_count
        if count <= 0:
            return 0.0
        d = self.initial_backoff
        for _ in range(1, count):
            if d > self.max_backoff - d:
                return self.max_backoff
            d += d
        return min(d, self.max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        return self.backoff_expiry(qpi) > self.clock.monotonic()

    def _requeue(self, qpi: QueuedPodInfo) -> str:
        """Move a pod out of the unschedulable pool to backoffQ or activeQ; returns where it went."""
        self._unpark(qpi.key)
        if self.is_backing_off(qpi):
            self._push_backoff(qpi)
            return BACKOFF_Q
        self._push_active(qpi)
        return ACTIVE_Q

    # ---- informer-driven changes ----

    def add(self, pi: PodInfo) -> None:
        """A new unscheduled pod."""
        if pi.key in self._in_flight:
            return
        self._discard(pi.key)
        qpi = QueuedPodInfo(pi, self.clock.monotonic())
        self._enqueue_gated_or_active(qpi)
        self.add_nominated_pod(pi, None)

    def _enqueue_gated_or_active(self, qpi: QueuedPodInfo) -> None:
        s = self.pre_enqueue(qpi.pod_info) if self.pre_enqueue is not None else None
        if s is not None and s.code:
            qpi.gating_plugin = s.plugin or "PreEnqueue"
            self._park(qpi)
            return
        qpi.gating_plugin = ""
        self._push_active(qpi)

    def update(self, old: PodInfo | None, new: PodInfo) -> None:
        """An unscheduled pod changed."""
        key = new.key
        if key in self._active:
            qpi = self._active[key]
            qpi.pod_info = new
            if old is None or old.priority != new.priority:
                self._push_active(qpi)
        elif key in self._backoff:
            self._backoff[key].pod_info = new
        elif key in self._unschedulable:
            qpi = self._unschedulable[key]
            qpi.pod_info = new
            if _is_pod_updated(old.pod if old is not None else None, new.pod):
                if qpi.gating_plugin:
                    self._unpark(key)
                    self._enqueue_gated_or_active(qpi)
                else:
                    self._requeue(qpi)
        elif key not in self._in_flight:
            self.add(new)
            return
        self.add_nominated_pod(new, None)

    def delete(self, pi: PodInfo) -> None:
        self.delete_key(pi.key, pi.uid_key)

    def delete_key(self, key: str, uid_key: str) -> None:
        """Forget the pod "namespace/name" (and its nomination, by uid)."""
        self._discard(key)
        node = self._nominated_node_of.pop(uid_key, None)
        if node is not None:
            pods = self._nominated.get(node)
            if pods is not None:
                pods.pop(uid_key, None)
                if not pods:
                    del self._nominated[node]

    # ---- the scheduling loop's side ----

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule; waits while activeQ is empty. Raises QueueClosed after close()."""
        while True:
            if self._closed:
                raise QueueClosed()
            qpi = self.try_pop()
            if qpi is not None:
                return qpi
            self._wakeup.clear()
            await self._wakeup.wait()

    def try_pop(self) -> QueuedPodInfo | None:
        """pop() without waiting: None when activeQ is empty."""
        heap = self._active_heap
        active = self._active
        while heap:
            _, _, seq, qpi = heapq.heappop(heap)
            if qpi.seq != seq or active.get(qpi.key) is not qpi:
                continue
            del active[qpi.key]
            self.scheduling_cycle += 1
            qpi.attempts += 1
            if qpi.initial_attempt_timestamp is None:
                qpi.initial_attempt_timestamp = self.clock.monotonic()
            self._in_flight.add(qpi.key)
            return qpi
        return None

    def done(self, key: str) -> None:
        """The pod's scheduling attempt is over (scheduled, or requeued through add_unschedulable...)."""
        self._in_flight.discard(key)

    def add_unschedulable_if_not_present(self, qpi: QueuedPodInfo, pod_scheduling_cycle: int) -> str:
        """Requeue a pod whose attempt failed; returns the sub-queue it went to ("" if already queued)."""
        key = qpi.key
        self._in_flight.discard(key)
        if key in self._active or key in self._backoff or key in self._unschedulable:
            return ""
        rejectors = qpi.unschedulable_plugins | qpi.pending_plugins
        if rejectors:
            qpi.unschedulable_count += 1
            qpi.consecutive_errors_count = 0
        else:
            qpi.consecutive_errors_count += 1
        qpi.timestamp = self.clock.monotonic()
        if self.move_request_cycle >= pod_scheduling_cycle or not rejectors:
            return self._requeue(qpi)
        self._park(qpi)
        return UNSCHEDULABLE_PODS

    def activate(self, pods: Iterable[PodInfo]) -> None:
        """Move the given pods to activeQ if they wait in backoffQ or the unschedulable pool."""
        for pi in pods:
            qpi = self._backoff.pop(pi.key, None) or self._unschedulable.get(pi.key)
            if qpi is None or qpi.gating_plugin:
                continue
            self._unpark(pi.key)
            self._push_active(qpi)

    # ---- cluster events ----

    def _worth_requeuing(self, qpi: QueuedPodInfo, event: ClusterEvent, old: Obj | None, new: Obj | None) -> bool:
        if event.resource == EventResource.WILDCARD:
            return True
        rejectors = qpi.unschedulable_plugins | qpi.pending_plugins
        if not rejectors:
            return True
        for plugin in rejectors:
            for ceh in self._events.get(plugin, ()):
                if not ceh.event.matches(event):
                    continue
                if ceh.hint is None:
                    return True
                try:
                    if ceh.hint(qpi.pod_info, old, new) == QueueingHint.QUEUE:
                        return True
                except Exception:
                    return True
        return False

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Obj | None = None, new: Obj | None = None,
                                      pre_check: Callable[[PodInfo], bool] | None = None) -> int:
        """Requeue the unschedulable pods `event` may help; returns how many moved."""
        self.move_request_cycle = self.scheduling_cycle
        if not self._unschedulable:
            return 0
        moved = 0
        for qpi in self._candidates(event):
            if qpi.gating_plugin:
                continue
            if pre_check is not None and not pre_check(qpi.pod_info):
                continue
            if self._worth_requeuing(qpi, event, old, new):
                self._requeue(qpi)
                moved += 1
        return moved

    def _candidates(self, event: ClusterEvent) -> list[QueuedPodInfo]:
        """The parked pods `_worth_requeuing` may accept for `event`, in the order they were parked: all for a
        wildcard event, else those parked without a rejector or rejected by a plugin registered for `event`."""
        if event.resource == EventResource.WILDCARD:
            return list(self._unschedulable.values())
        plugins = self._interested.get(event)
        if plugins is None:
            plugins = frozenset(plugin for plugin, evs in self._events.items()
                                if any(ceh.event.matches(event) for ceh in evs))
            self._interested[event] = plugins
        groups = [self._no_rejector] if self._no_rejector else []
        for plugin in plugins:
            keys = self._by_rejector.get(plugin)
            if keys:
                groups.append(keys)
        if not groups:
            return []
        pool = self._unschedulable
        if len(groups) == 1:
            return [pool[k] for k in groups[0]]
        order: dict[str, int] = {}
        for keys in groups:
            order.update(keys)
        return [pool[k] for k in sorted(order, key=order.__getitem__)]

    def flush_backoff_completed(self) -> int:
        now = self.clock.monotonic()
        heap = self._backoff_heap
        moved = 0
        while heap:
            expiry, seq, qpi = heap[0]
            if qpi.seq != seq or self._backoff.get(qpi.key) is not qpi:
                heapq.heappop(heap)
                continue
            if expiry > now:
                break
            heapq.heappop(heap)
            del self._backoff[qpi.key]
            self._push_active(qpi)
            moved += 1
        return moved

    def flush_unschedulable_leftover(self) -> int:
        """Requeue pods that waited longer than max_in_unschedulable (upstream flushUnschedulablePodsLeftover)."""
        now = self.clock.monotonic()
        stale = [qpi for qpi in self._unschedulable.values()
                 if not qpi.gating_plugin and now - qpi.timestamp > self.max_in_unschedulable]
        for qpi in stale:
            self._requeue(qpi)
        return len(stale)

    def move_all_on_timeout(self) -> int:
        return self.move_all_to_active_or_backoff(EVENT_UNSCHEDULABLE_TIMEOUT)

    def force_activate_all(self) -> int:
        return self.move_all_to_active_or_backoff(EVENT_FORCE_ACTIVATE)

    async def run(self) -> None:
        """Flush backoffQ every second and the unschedulable leftovers every 30 s, until cancelled."""
        async def backoff_loop() -> None:
            while True:
                await self.clock.sleep(BACKOFF_FLUSH_PERIOD)
                self.flush_backoff_completed()

        async def leftover_loop() -> None:
            while True:
                await self.clock.sleep(UNSCHEDULABLE_FLUSH_PERIOD)
                self.flush_unschedulable_leftover()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(backoff_loop())
            tg.create_task(leftover_loop())

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # ---- nominated pods ----

    def add_nominated_pod(self, pi: PodInfo, info: NominatingInfo | None) -> None:
        """Record where `pi` is nominated: `info` when it overrides, else the pod's status.nominatedNodeName."""
        self.delete_nominated_pod_if_exists(pi)
        if info is not None and info.mode is NominatingMode.OVERRIDE:
            node = info.nominated_node_name
        else:
            node = str((pi.pod.get("status") or {}).get("nominatedNodeName") or "")
        if not node:
            return
        self._nominated.setdefault(node, {})[pi.uid_key] = pi
        self._nominated_node_of[pi.uid_key] = node

    def delete_nominated_pod_if_exists(self, pi: PodInfo) -> None:
        node = self._nominated_node_of.pop(pi.uid_key, None)
        if node is None:
            return
        pods = self._nominated.get(node)
        if pods is not None:
            pods.pop(pi.uid_key, None)
            if not pods:
                del self._nominated[node]

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        pods = self._nominated.get(node_name)
        return list(pods.values()) if pods else []

    def has_nominated_pods(self) -> bool:
        return bool(self._nominated_node_of)

    def nominated_node_of(self, pi: PodInfo) -> str:
        return self._nominated_node_of.get(pi.uid_key, "")

    # ---- inspection ----

    def where(self, key: str) -> str:
        """The sub-queue holding `key`, "inFlight", or ""."""
        if key in self._active:
            return ACTIVE_Q
        if key in self._backoff:
            return BACKOFF_Q
        if key in self._unschedulable:
            return UNSCHEDULABLE_PODS
        if key in self._in_flight:
            return "inFlight"
        return ""

    def get(self, key: str) -> QueuedPodInfo | None:
        return self._active.get(key) or self._backoff.get(key) or self._unschedulable.get(key)

    def pending_pods(self) -> dict[str, list[Any]]:
        return {ACTIVE_Q: list(self._active), BACKOFF_Q: list(self._backoff),
                UNSCHEDULABLE_PODS: list(self._unschedulable)}

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff) + len(self._unschedulable)

    def num_active(self) -> int:
        return len(self._active)

    def num_unschedulable(self) -> int:
        return len(self._unschedulable)

    def in_flight_count(self) -> int:
        return len(self._in_flight)
