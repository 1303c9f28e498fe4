"""What every controller shares: level-based reconcile loops over a workqueue, expectations, owner lookups.

A controller is a `Reconciler` (reconcile(key) -> Result) plus the informer handlers that turn events into
keys. `Controller` owns the queue and the workers: an error from reconcile is a rate-limited requeue, a
`Result.requeue_after` is a delayed requeue, success forgets the key's failure history (controller-runtime's
reconcileHandler). The workqueue guarantees one worker per key at a time.

`Expectations` is upstream's ControllerExpectations: after a controller writes N creates or deletes, it
waits for the N watch echoes (or a TTL) before trusting its cache again, so it never creates twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client, InformerFactory, Obj, object_key

log = logging.getLogger("pyk8s.controllers")


@dataclass(frozen=True, slots=True)
class Result:
    """What a reconcile asks for besides success: `requeue_after` seconds for time-based waits."""

    requeue_after: float | None = None


class Reconciler(Protocol):
    async def reconcile(self, key: str) -> Result | None:
        """Drive the object named by `key` ("ns/name" or "name") toward its spec, reading from caches and
        writing through the client. Level-based: the key carries no event. NotFound in the cache means
        "deleted, clean up". Raise to retry with rate-limited backoff. Must tolerate being called again for
        the same key at any time (idempotent)."""


class Runnable(Protocol):
    async def run(self) -> None:
        """Run until cancelled."""


class Controller:
    """A named reconciler, its rate-limited queue and `workers` concurrent workers."""

    def __init__(self, name: str, reconciler: Reconciler, *, workers: int = 1, clock: Clock = REAL_CLOCK,
                 informers: Iterable[Any] = ()) -> None:
        from pyk8s.client.workqueue import RateLimitingQueue

        self.name = name
        self.reconciler = reconciler
        self.workers = workers
        self.clock = clock
        self.queue = RateLimitingQueue(name=name, clock=clock)
        self._informers = list(informers)

    # ---- event handlers call these; they only compute and enqueue a key ----
    def enqueue(self, obj_or_key: Obj | str) -> None:
        self.queue.add(obj_or_key if isinstance(obj_or_key, str) else object_key(obj_or_key))

    def enqueue_after(self, obj_or_key: Obj | str, seconds: float) -> None:
        self.queue.add_after(obj_or_key if isinstance(obj_or_key, str) else object_key(obj_or_key), seconds)

    def enqueue_owner(self, obj: Obj, owner_kind: str) -> None:
        """Enqueue the controlling owner of `obj` if it is of `owner_kind` (same namespace)."""
        ref = controller_ref(obj)
        if ref is not None and ref.get("kind") == owner_kind:
            ns = (obj.get("metadata") or {}).get("namespace") or ""
            self.queue.add(f"{ns}/{ref['name']}" if ns else str(ref["name"]))

    async def process_next(self) -> bool:
        """Take one key and reconcile it; False once the queue is shut down. Tests call this directly."""
        from pyk8s.client.workqueue import QueueShutDown

        try:
            key = await self.queue.get()
        except QueueShutDown:
            return False
        try:
            result = await self.reconciler.reconcile(key)
        except asyncio.CancelledError:
            self.queue.done(key)
            raise
        except Exception as e:
            # Conflicts are routine (someone else wrote first); everything else is worth a log line.
            level = logging.DEBUG if getattr(e, "reason", "") == "Conflict" else logging.INFO
            log.log(level, "%s: error syncing %r, requeuing: %s", self.name, key, e)
            self.queue.add_rate_limited(key)
        else:
            if result is not None and result.requeue_after is not None and result.requeue_after <= 0:
                # "requeue now" computed as a difference of times: a rate-limited retry, never a tight loop
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
                if result is not None and result.requeue_after is not None:
                    self.queue.add_after(key, result.requeue_after)
        self.queue.done(key)
        return True

    async def run(self) -> None:
        """Wait for the informers to sync, then run the workers until cancelled."""
        deadline_log = self.clock.monotonic() + 30
        while not all(i.has_synced() for i in self._informers):
            if self.clock.monotonic() > deadline_log:
                log.info("%s: waiting for caches to sync", self.name)
                deadline_log = self.clock.monotonic() + 30
            await asyncio.sleep(0.05)
        log.info("%s: caches synced, starting %d workers", self.name, self.workers)
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(self.workers):
                    tg.create_task(self._worker())
        finally:
            self.queue.shut_down()

    async def _worker(self) -> None:
        while await self.process_next():
            pass


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with controller: true, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """The ownerReference a controller puts on what it creates (controller and blockOwnerDeletion true)."""
    m = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": m["name"], "uid": m["uid"],
            "controller": True, "blockOwnerDeletion": True}


EXPECTATIONS_TIMEOUT = 300.0  # upstream ExpectationsTimeout: 5 minutes


@dataclass(slots=True)
class _Expectation:
    add: int = 0
    deleting: set[str] = field(default_factory=set)
    timestamp: float = 0.0


class Expectations:
    """Upstream's UIDTrackingControllerExpectations: creates counted, deletes tracked by pod UID."""

    def __init__(self, clock: Clock = REAL_CLOCK, ttl: float = EXPECTATIONS_TIMEOUT) -> None:
        self.clock = clock
        self.ttl = ttl
        self._by_key: dict[str, _Expectation] = {}

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = _Expectation(add=count, timestamp=self.clock.monotonic())

    def expect_deletions(self, key: str, uids: Iterable[str]) -> None:
        self._by_key[key] = _Expectation(deleting=set(uids), timestamp=self.clock.monotonic())

    def creation_observed(self, key: str) -> None:
        e = self._by_key.get(key)
        if e is not None and e.add > 0:
            e.add -= 1

    lower_creations = creation_observed  # a create that failed will never be observed

    def deletion_observed(self, key: str, uid: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.deleting.discard(uid)

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending for `key`, or the record is older than the TTL."""
        e = self._by_key.get(key)
        if e is None:
            return True
        if e.add <= 0 and not e.deleting:
            return True
        return self.clock.monotonic() - e.timestamp > self.ttl

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)


@dataclass
class ControllerOptions:
    """Timers and sizes with upstream kube-controller-manager defaults (flag names in comments)."""

    node_monitor_period: float = 5.0  # --node-monitor-period
    node_monitor_grace_period: float = 50.0  # --node-monitor-grace-period (1.32+ default 50s)
    node_startup_grace_period: float = 60.0  # --node-startup-grace-period
    cluster_cidr: str = "10.244.0.0/16"  # --cluster-cidr
    node_cidr_mask_size: int = 24  # --node-cidr-mask-size
    allocate_node_cidrs: bool = True  # --allocate-node-cidrs
    terminated_pod_gc_threshold: int = 12500  # --terminated-pod-gc-threshold
    concurrent_syncs: int = 5  # --concurrent-*-syncs (one figure for all, as most default to 5)
    cronjob_poll_interval: float = 10.0  # upstream checks every 10s when nothing is due sooner
    gc_poll_interval: float = 1.0  # how often the garbage collector rechecks waiting dependents
    extra: dict[str, Any] = field(default_factory=dict)


class RecorderFactory(Protocol):
    def __call__(self, component: str) -> Any:
        """An event recorder (client.events.EventRecorder) reporting as `component`."""


@dataclass
class ControllerContext:
    """Everything a controller constructor receives: no globals."""

    client: Client
    informers: InformerFactory
    recorder: RecorderFactory
    clock: Clock = REAL_CLOCK
    options: ControllerOptions = field(default_factory=ControllerOptions)


@dataclass(frozen=True)
class ControllerDescriptor:
    """How the manager finds a controller: its name (as --controllers spells it) and its constructor."""

    name: str
    new: Callable[[ControllerContext], Runnable]
    aliases: tuple[str, ...] = ()
    disabled_by_default: bool = False
