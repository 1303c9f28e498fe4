"""One asyncio task per pod, moving it through upstream's pod worker lifecycle: syncing -> terminating ->
terminated.

`update_pod(pod)` hands the worker the newest version of the pod; updates that arrive while a sync runs are
coalesced (the worker only ever syncs the latest). `wake(uid)` asks for another sync with the same pod (a PLEG
event, a probe result). While syncing, the worker calls `syncer.sync_pod(pod)` after every update or wake,
and again after the returned delay or the resync interval. A pod that is deleted (deletionTimestamp, or
`update_pod(pod, removed=True)` when it left the API) or whose sync reports it terminal moves to terminating:
`sync_terminating_pod(pod, grace)` stops its containers once (with the effective grace period), then
terminated: `sync_terminated_pod(pod)` cleans up (retried until it returns True). A removed pod's worker then
ends and is forgotten. A sync that raises is retried after `backoff` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Protocol

from pyk8s.api import meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Obj
from pyk8s.kubelet.kuberuntime import effective_grace_period

log = logging.getLogger("pyk8s.kubelet.podworkers")

SYNCING = "syncing"
TERMINATING = "terminating"
TERMINATED = "terminated"
SYNC_ERROR_BACKOFF = 10.0  # upstream backOffPeriod


@dataclass
class SyncOutcome:
    terminal: bool = False  # the pod has finished (Succeeded/Failed): stop it for good
    requeue_after: float | None = None


class PodSyncer(Protocol):
    async def sync_pod(self, pod: Obj) -> SyncOutcome: ...

    async def sync_terminating_pod(self, pod: Obj, grace: int) -> None: ...

    async def sync_terminated_pod(self, pod: Obj, removed: bool) -> bool:
        """Clean up a stopped pod; True when nothing is left to do for it."""


@dataclass
class _PodWorker:
    uid: str
    pod: Obj
    state: str = SYNCING
    removed: bool = False
    grace_override: int | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    syncs: int = 0
    finished: bool = False


class PodWorkers:
    def __init__(self, syncer: PodSyncer, *, clock: Clock = REAL_CLOCK, resync_interval: float = 60.0,
                 backoff: float = SYNC_ERROR_BACKOFF) -> None:
        self.syncer = syncer
        self.clock = clock
        self.resync_interval = resync_interval
        self.backoff = backoff
        self._workers: dict[str, _PodWorker] = {}

    # ---- inputs ----
    def update_pod(self, pod: Obj, *, removed: bool = False, grace_override: int | None = None,
                   wake: bool = True) -> None:
        """Hand the worker the newest pod (starting a worker for a new uid). `wake=False` only stores it (a
        status-only change that needs no sync)."""
        uid = str(meta.meta(pod).get("uid") or "")
        if not uid:
            return
        w = self._workers.get(uid)
        if w is None:
            if removed:
                return
            w = self._workers[uid] = _PodWorker(uid, pod)
            w.task = asyncio.get_running_loop().create_task(self._run(w), name=f"pod-worker-{meta.name_of(pod)}")
            w.wake.set()
        w.pod = pod
        if removed:
            w.removed = True
        if grace_override is not None:
            w.grace_override = grace_override
        if wake or removed or w.task is None:
            w.wake.set()

    def wake(self, uid: str) -> None:
        w = self._workers.get(uid)
        if w is not None:
            w.wake.set()

    # ---- views ----
    def known(self, uid: str) -> bool:
        return uid in self._workers

    def state(self, uid: str) -> str | None:
        w = self._workers.get(uid)
        return w.state if w else None

    def uids(self) -> list[str]:
        return list(self._workers)

    def pod(self, uid: str) -> Obj | None:
        w = self._workers.get(uid)
        return w.pod if w else None

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()

    # ---- the worker ----
    async def _wait(self, w: _PodWorker, timeout: float | None) -> None:
        if w.wake.is_set():
            return
        waiter = asyncio.ensure_future(w.wake.wait())
        sleeper = asyncio.ensure_future(self.clock.sleep(timeout)) if timeout is not None else None
        try:
            await asyncio.wait([f for f in (waiter, sleeper) if f is not None], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for f in (waiter, sleeper):
                if f is not None and not f.done():
                    f.cancel()

    async def _run(self, w: _PodWorker) -> None:
        try:
            while True:
                w.wake.clear()
                pod = w.pod
                delay: float | None = self.resync_interval
                try:
                    if w.state == SYNCING:
                        if w.removed or meta.meta(pod).get("deletionTimestamp"):
                            w.state = TERMINATING
                        else:
                            outcome = await self.syncer.sync_pod(pod)
                            w.syncs += 1
                            if outcome.terminal:
                                w.state = TERMINATING
                            elif outcome.requeue_after is not None:
                                delay = min(delay or outcome.requeue_after, outcome.requeue_after)
                    if w.state == TERMINATING:
                        grace = effective_grace_period(pod, w.grace_override)
                        await self.syncer.sync_terminating_pod(pod, grace)
                        w.state = TERMINATED
                    if w.state == TERMINATED:
                        done = await self.syncer.sync_terminated_pod(w.pod, w.removed)
                        if done and w.removed:
                            return
                        delay = None if done else self.backoff
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.warning("pod %s/%s: sync failed, retrying in %.0fs: %s", meta.namespace_of(pod),
                                meta.name_of(pod), self.backoff, e, exc_info=not isinstance(e, OSError))
                    delay = self.backoff
                await self._wait(w, delay)
        finally:
            w.finished = True
            if self._workers.get(w.uid) is w:
                del self._workers[w.uid]
