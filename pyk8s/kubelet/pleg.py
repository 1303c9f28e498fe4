"""The pod lifecycle event generator: what the runtime runs, grouped by pod, and what changed since last time.

Every `relist_period` (upstream: 1 s) the PLEG lists the runtime's sandboxes and containers, groups them by
the pod uid label, caches a `RuntimePodStatus` per pod and compares each container's state with the previous
relist: a container that appeared running is ContainerStarted, one that stopped is ContainerDied, one that
vanished is ContainerRemoved. Each event goes to `on_event`, which wakes the pod's worker. Pod workers read a
fresh status for their pod with `pod_status(uid)` before every sync (it refreshes the cache too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.kubelet.cri import interface as cri

log = logging.getLogger("pyk8s.kubelet.pleg")

CONTAINER_STARTED = "ContainerStarted"
CONTAINER_DIED = "ContainerDied"
CONTAINER_REMOVED = "ContainerRemoved"
CONTAINER_CHANGED = "ContainerChanged"
# Upstream reports the PLEG unhealthy when a relist has not completed for 3 minutes.
RELIST_THRESHOLD = 180.0


def restart_count_of(c: cri.ContainerStatus) -> int:
    """The restart count the kubelet wrote on the container (annotation), else its attempt number."""
    text = c.annotations.get(cri.ANNOTATION_RESTART_COUNT)
    try:
        return int(text) if text is not None else c.metadata.attempt
    except ValueError:
        return c.metadata.attempt


@dataclass
class RuntimePodStatus:
    """What the runtime holds for one pod: sandboxes and containers, newest first."""

    uid: str
    name: str = ""
    namespace: str = ""
    sandboxes: list[cri.PodSandboxStatus] = field(default_factory=list)
    containers: list[cri.ContainerStatus] = field(default_factory=list)

    def find(self, name: str) -> cri.ContainerStatus | None:
        """The newest container of that name."""
        return next((c for c in self.containers if c.metadata.name == name), None)

    def all_of(self, name: str) -> list[cri.ContainerStatus]:
        return [c for c in self.containers if c.metadata.name == name]

    def running(self) -> list[cri.ContainerStatus]:
        return [c for c in self.containers if c.state == "CONTAINER_RUNNING"]

    @property
    def sandbox(self) -> cri.PodSandboxStatus | None:
        return self.sandboxes[0] if self.sandboxes else None

    @property
    def ips(self) -> list[str]:
        s = self.sandbox
        if s is None or s.state != "SANDBOX_READY" or not s.ip:
            return []
        return [s.ip, *s.additional_ips]


def group_by_pod(sandboxes: list[cri.PodSandboxStatus],
                 containers: list[cri.ContainerStatus]) -> dict[str, RuntimePodStatus]:
    pods: dict[str, RuntimePodStatus] = {}

    def pod_of(labels: dict[str, str], uid: str) -> RuntimePodStatus:
        p = pods.get(uid)
        if p is None:
            p = pods[uid] = RuntimePodStatus(uid, labels.get(cri.LABEL_POD_NAME, ""),
                                             labels.get(cri.LABEL_POD_NAMESPACE, ""))
        return p

    for s in sandboxes:
        uid = s.labels.get(cri.LABEL_POD_UID) or s.metadata.uid
        p = pod_of(s.labels, uid)
        p.name = p.name or s.metadata.name
        p.namespace = p.namespace or s.metadata.namespace
        p.sandboxes.append(s)
    for c in containers:
        uid = c.labels.get(cri.LABEL_POD_UID, "")
        if uid:
            pod_of(c.labels, uid).containers.append(c)
    for p in pods.values():
        p.sandboxes.sort(key=lambda s: s.created_at, reverse=True)
        p.containers.sort(key=lambda c: c.created_at, reverse=True)
    return pods


@dataclass(frozen=True)
class PodLifecycleEvent:
    uid: str
    type: str
    data: str  # the container id


class PLEG:
    def __init__(self, runtime: cri.RuntimeService, *, clock: Clock = REAL_CLOCK, relist_period: float = 1.0,
                 on_event: Callable[[PodLifecycleEvent], None] | None = None) -> None:
        self.runtime = runtime
        self.clock = clock
        self.relist_period = relist_period
        self.on_event = on_event
        self.cache: dict[str, RuntimePodStatus] = {}
        self._states: dict[str, tuple[str, str]] = {}  # container id -> (pod uid, state)
        self.last_relist: float | None = None

    async def relist(self) -> list[PodLifecycleEvent]:
        sandboxes = await self.runtime.list_pod_sandboxes()
        containers = await self.runtime.list_containers()
        self.cache = group_by_pod(sandboxes, containers)
        events: list[PodLifecycleEvent] = []
        seen: dict[str, tuple[str, str]] = {}
        for c in containers:
            uid = c.labels.get(cri.LABEL_POD_UID, "")
            seen[c.id] = (uid, c.state)
            old = self._states.get(c.id)
            old_state = old[1] if old else "NON_EXISTENT"
            if old_state == c.state:
                continue
            if c.state == "CONTAINER_RUNNING":
                events.append(PodLifecycleEvent(uid, CONTAINER_STARTED, c.id))
            elif c.state == "CONTAINER_EXITED":
                events.append(PodLifecycleEvent(uid, CONTAINER_DIED, c.id))
            else:
                events.append(PodLifecycleEvent(uid, CONTAINER_CHANGED, c.id))
        for cid, (uid, _) in self._states.items():
            if cid not in seen:
                events.append(PodLifecycleEvent(uid, CONTAINER_REMOVED, cid))
        self._states = seen
        self.last_relist = self.clock.monotonic()
        if self.on_event is not None:
            for ev in events:
                if ev.uid:
                    self.on_event(ev)
        return events

    async def pod_status(self, uid: str) -> RuntimePodStatus:
        """A fresh view of one pod from the runtime (also stored in the cache).

        A runtime with per-pod listings (`list_pod_sandboxes_of(uid)`, `list_containers_of(uid)`, not part of
        the CRI seam) is asked for that pod only, instead of building every pod's statuses."""
        sandboxes_of = getattr(self.runtime, "list_pod_sandboxes_of", None)
        containers_of = getattr(self.runtime, "list_containers_of", None)
        all_sandboxes = await sandboxes_of(uid) if sandboxes_of is not None else await self.runtime.list_pod_sandboxes()
        all_containers = await containers_of(uid) if containers_of is not None else await self.runtime.list_containers()
        sandboxes = [s for s in all_sandboxes if (s.labels.get(cri.LABEL_POD_UID) or s.metadata.uid) == uid]
        containers = [c for c in all_containers if c.labels.get(cri.LABEL_POD_UID) == uid]
        status = group_by_pod(sandboxes, containers).get(uid) or RuntimePodStatus(uid)
        self.cache[uid] = status
        return status

    def healthy(self) -> bool:
        return self.last_relist is not None and self.clock.monotonic() - self.last_relist < RELIST_THRESHOLD

    async def run(self) -> None:
        while True:
            try:
                await self.relist()
            except (cri.CRIError, OSError) as e:
                log.warning("PLEG: relist failed: %s", e)
            await self.clock.sleep(self.relist_period)
