"""The TTL-after-finished controller (pkg/controller/ttlafterfinished): deletes a finished Job
``spec.ttlSecondsAfterFinished`` seconds after its Complete/Failed condition's lastTransitionTime.

Before deleting it re-reads the Job from the apiserver (the TTL may have changed) and deletes with
propagationPolicy Foreground and a UID precondition, as upstream does.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.api.meta import parse_time
from pyk8s.client.interface import split_key
from pyk8s.client.kinds import JOBS
from pyk8s.controllers.framework import Controller, ControllerContext, Result

log = logging.getLogger("pyk8s.controllers.ttlafterfinished")

Obj = dict[str, Any]

COMPONENT: Final = "ttl-after-finished-controller"


class FinishTimeError(ValueError):
    pass


def finished_at(job: Obj) -> datetime.datetime:
    """The lastTransitionTime of the Job's True Complete or Failed condition."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            t = parse_time(c.get("lastTransitionTime"))
            if t is None:
                raise FinishTimeError(f"unable to find the time when the Job {meta.namespace_of(job)}/"
                                      f"{meta.name_of(job)} finished")
            return t
    raise FinishTimeError(f"unable to find the status of the finished Job {meta.namespace_of(job)}/"
                          f"{meta.name_of(job)}")


def needs_cleanup(job: Obj) -> bool:
    """A TTL is set and the Job has finished."""
    if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is None:
        return False
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


def time_left(job: Obj, now: datetime.datetime) -> float:
    """Seconds until the Job's TTL expires (zero or negative: expired)."""
    ttl = int((job.get("spec") or {})["ttlSecondsAfterFinished"])
    return (finished_at(job) + datetime.timedelta(seconds=ttl) - now).total_seconds()


class TTLAfterFinishedController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.jobs = ctx.informers.informer(JOBS)
        self.controller = Controller("ttl_jobs_to_delete", self, workers=ctx.options.concurrent_syncs,
                                     clock=ctx.clock, informers=[self.jobs])
        self.jobs.add_handler(on_add=self._changed, on_update=lambda _old, cur: self._changed(cur))

    def _changed(self, job: Obj) -> None:
        if not (job.get("metadata") or {}).get("deletionTimestamp") and needs_cleanup(job):
            self.controller.enqueue(job)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.controller.run())
            tg.create_task(self.recorder.run())

    def _expired(self, job: Obj) -> tuple[bool, float | None]:
        """(expired, seconds to wait when not yet expired) for a Job that may need cleaning up."""
        if (job.get("metadata") or {}).get("deletionTimestamp") or not needs_cleanup(job):
            return False, None
        left = time_left(job, self.clock.now())
        if left <= 0:
            return True, None
        return False, left

    async def reconcile(self, key: str) -> Result | None:
        ns, name = split_key(key)
        job = self.jobs.lister.get(key)
        if job is None:
            return None
        expired, wait = self._expired(job)
        if not expired:
            return Result(requeue_after=wait) if wait is not None else None
        # The cached TTL may be stale: decide on a live read.
        try:
            fresh = await self.client.get(JOBS, name, ns)
        except errors.NotFound:
            return None
        expired, wait = self._expired(fresh)
        if not expired:
            return Result(requeue_after=wait) if wait is not None else None
        log.debug("cleaning up Job %s", key)
        try:
            await self.client.delete(JOBS, name, ns, propagation_policy="Foreground",
                                     preconditions={"uid": (fresh.get("metadata") or {}).get("uid")})
        except errors.NotFound:
            pass
        return None
