"""The cronjob controller (pkg/controller/cronjob/cronjob_controllerv2.go): creates a Job per schedule
activation and keeps status.active / lastScheduleTime / lastSuccessfulTime and the Job history.

Each sync re-reads the CronJob and the Jobs it controls, prunes finished Jobs beyond the history limits,
starts the most recent unmet activation (unless too late for startingDeadlineSeconds, or Forbid with a
Job still running; Replace deletes the running ones first) and asks to be requeued at the next activation,
measured on the injected Clock. Job names are ``<cronjob>-<minutes since epoch>`` so a restart never
creates an activation's Job twice.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from dataclasses import dataclass
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.api.field_errors import go_quote
from pyk8s.api.meta import parse_time
from pyk8s.client.interface import object_key, split_key
from pyk8s.client.kinds import CRON_JOBS, JOBS
from pyk8s.controllers.cronjob import schedule as sc
from pyk8s.controllers.framework import Controller, ControllerContext, Result, controller_ref, new_controller_ref
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.ownership import resolve_controller_ref

log = logging.getLogger("pyk8s.controllers.cronjob")

Obj = dict[str, Any]

COMPONENT: Final = "cronjob-controller"
SCHEDULED_TIMESTAMP_ANNOTATION: Final = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_FAR_PAST: Final = datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)


def job_finished_type(job: Obj) -> str:
    """"Complete" or "Failed" when that condition is True, else ""."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


def job_from_template(cronjob: Obj, scheduled: datetime.datetime) -> Obj:
    """The Job for one activation: the template's labels, annotations and spec, the scheduled-timestamp
    annotation, a deterministic name and the CronJob as controller."""
    template = meta.copy((cronjob.get("spec") or {}).get("jobTemplate") or {})
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = sc.scheduled_timestamp(
        scheduled, (cronjob.get("spec") or {}).get("timeZone"))
    job_meta: Obj = {
        "name": sc.job_name(meta.name_of(cronjob), scheduled),
        "namespace": meta.namespace_of(cronjob),
    }
    if tmeta.get("labels"):
        job_meta["labels"] = dict(tmeta["labels"])
    job_meta["annotations"] = annotations
    job_meta["ownerReferences"] = [new_controller_ref(cronjob, "batch/v1", "CronJob")]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta, "spec": template.get("spec") or {}}


def object_reference(job: Obj) -> Obj:
    """The ObjectReference status.active holds for a Job."""
    m = job.get("metadata") or {}
    return {"kind": "Job", "namespace": m.get("namespace"), "name": m.get("name"), "uid": m.get("uid"),
            "apiVersion": "batch/v1", "resourceVersion": m.get("resourceVersion")}


def _start_time_key(job: Obj) -> tuple[bool, datetime.datetime, str]:
    """byJobStartTime: started Jobs oldest first, never-started ones last, names breaking ties."""
    start = parse_time((job.get("status") or {}).get("startTime"))
    return start is None, start or _FAR_PAST, meta.name_of(job)


def _earliest(cronjob: Obj) -> datetime.datetime:
    """status.lastScheduleTime, or the creationTimestamp of a CronJob that never ran."""
    return (parse_time((cronjob.get("status") or {}).get("lastScheduleTime"))
            or parse_time((cronjob.get("metadata") or {}).get("creationTimestamp")) or _FAR_PAST)


@dataclass
class _Outcome:
    """What one sync decided: the CronJob to write (if ``update``), when to requeue, and any error."""

    cronjob: Obj
    requeue: float | None = None
    update: bool = False
    error: BaseException | None = None


class CronJobController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.jobs = ctx.informers.informer(JOBS)
        self.cronjobs = ctx.informers.informer(CRON_JOBS)
        self.controller = Controller("cronjob", self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.jobs, self.cronjobs])
        self.jobs.add_handler(on_add=self._add_job, on_update=self._update_job, on_delete=self._job_owner_changed)
        self.cronjobs.add_handler(on_add=self.controller.enqueue, on_update=self._update_cronjob,
                                  on_delete=self.controller.enqueue)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.controller.run())
            tg.create_task(self.recorder.run())

    # ------------------------------------------------------------------ event handlers

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller_ref(self.cronjobs.lister, namespace, ref, "CronJob")

    def _job_owner_changed(self, job: Obj) -> None:
        cronjob = self._resolve(meta.namespace_of(job), controller_ref(job))
        if cronjob is not None:
            self.controller.enqueue(cronjob)

    def _add_job(self, job: Obj) -> None:
        self._job_owner_changed(job)

    def _update_job(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (cur.get("metadata") or {}).get("resourceVersion"):
            return
        old_ref, cur_ref = controller_ref(old), controller_ref(cur)
        if old_ref != cur_ref and old_ref is not None:
            previous = self._resolve(meta.namespace_of(old), old_ref)
            if previous is not None:
                self.controller.enqueue(previous)
        self._job_owner_changed(cur)

    def _update_cronjob(self, old: Obj, cur: Obj) -> None:
        old_spec, cur_spec = old.get("spec") or {}, cur.get("spec") or {}
        if old_spec.get("schedule") != cur_spec.get("schedule") or old_spec.get("timeZone") != cur_spec.get(
                "timeZone"):
            # The next activation moved: requeue for it (sooner than the queued one if need be).
            try:
                sched = sc.parse(str(cur_spec.get("schedule") or ""), cur_spec.get("timeZone"))
            except sc.ScheduleError:
                self.recorder.event(cur, "Warning", "UnParseableCronJobSchedule",
                                    f"unparseable schedule for cronjob: {cur_spec.get('schedule')}")
                return
            now = self.clock.now()
            self.controller.enqueue_after(cur, sc.next_schedule_delay(_earliest(cur), now, sched))
            return
        self.controller.enqueue(cur)

    # ------------------------------------------------------------------ sync

    async def reconcile(self, key: str) -> Result | None:
        ns, _ = split_key(key)
        cached = self.cronjobs.lister.get(key)
        if cached is None:
            return None
        name = meta.name_of(cached)
        jobs = [j for j in self.jobs.lister.list(ns)
                if (ref := controller_ref(j)) is not None and ref.get("name") == name]
        cronjob: Obj = meta.copy(cached)
        cronjob.setdefault("status", {})
        update_after_cleanup = await self._cleanup_finished_jobs(cronjob, jobs)
        outcome = await self._sync_cronjob(cronjob, jobs)
        if outcome.error is not None:
            log.debug("cronjob %s: %s", key, outcome.error)
        if update_after_cleanup or outcome.update:
            await self.client.update(CRON_JOBS, _normalized(outcome.cronjob), subresource="status")
        if outcome.requeue is not None:
            return Result(requeue_after=outcome.requeue)
        if outcome.error is not None:
            raise outcome.error
        return None

    async def _sync_cronjob(self, cronjob: Obj, jobs: list[Obj]) -> _Outcome:
        """Reconcile status.active with the Jobs, then start the due activation."""
        try:
            return await self._sync(cronjob, jobs)
        except _SyncFailed as e:
            return _Outcome(e.cronjob, None, e.update, e.error)

    async def _sync(self, cronjob: Obj, jobs: list[Obj]) -> _Outcome:
        now = self.clock.now()
        update = False
        children: set[str] = set()
        for job in jobs:
            job_uid = (job.get("metadata") or {}).get("uid")
            children.add(str(job_uid))
            found = _in_active(cronjob, job_uid)
            finished = job_finished_type(job)
            if not found and not finished:
                try:
                    fresh = await self.client.get(CRON_JOBS, meta.name_of(cronjob), meta.namespace_of(cronjob))
                except errors.StatusError as e:
                    raise _SyncFailed(cronjob, update, e) from e
                if _in_active(fresh, job_uid):
                    cronjob = meta.copy(fresh)
                    cronjob.setdefault("status", {})
                    continue
                self.recorder.event(cronjob, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {meta.name_of(job)}")
            elif finished:
                if found:
                    _remove_active(cronjob, job_uid)
                    self.recorder.event(cronjob, "Normal", "SawCompletedJob",
                                        f"Saw completed job: {meta.name_of(job)}, condition: {finished}")
                    update = True
                if finished == "Complete":
                    completed = parse_time((job.get("status") or {}).get("completionTime"))
                    last = parse_time(cronjob["status"].get("lastSuccessfulTime"))
                    if completed is not None and (last is None or completed > last):
                        cronjob["status"]["lastSuccessfulTime"] = job["status"]["completionTime"]
                        update = True

        for ref in list(cronjob["status"].get("active") or ()):
            if str(ref.get("uid")) in children:
                continue
            # The cache may lag: ask the apiserver before declaring the Job gone.
            try:
                await self.client.get(JOBS, str(ref.get("name")), str(ref.get("namespace") or ""))
            except errors.NotFound:
                self.recorder.event(cronjob, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                _remove_active(cronjob, ref.get("uid"))
                update = True
            except errors.StatusError as e:
                raise _SyncFailed(cronjob, update, e) from e

        if (cronjob.get("metadata") or {}).get("deletionTimestamp"):
            return _Outcome(cronjob, None, update)
        spec = cronjob.get("spec") or {}
        time_zone = spec.get("timeZone")
        if time_zone is not None:
            try:
                sc.load_zone(str(time_zone))
            except sc.ScheduleError as e:
                self.recorder.event(cronjob, "Warning", "UnknownTimeZone",
                                    f"invalid timeZone: {go_quote(str(time_zone))}: {e}")
                return _Outcome(cronjob, None, update)
        if spec.get("suspend"):
            return _Outcome(cronjob, None, update)
        schedule_text = str(spec.get("schedule") or "")
        if "TZ" in schedule_text:
            self.recorder.event(cronjob, "Warning", "UnsupportedSchedule",
                                f"CRON_TZ or TZ used in schedule {go_quote(schedule_text)} is not officially "
                                "supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ "
                                "for more details")
        try:
            sched = sc.parse(schedule_text, time_zone)
        except sc.ScheduleError as e:
            self.recorder.event(cronjob, "Warning", "UnparseableSchedule",
                                f"unparseable schedule: {go_quote(schedule_text)} : {e}")
            return _Outcome(cronjob, None, update)
        earliest = _earliest(cronjob)
        deadline = spec.get("startingDeadlineSeconds")
        try:
            scheduled, missed = sc.next_schedule_time(earliest, now, sched,
                                                      int(deadline) if deadline is not None else None)
        except sc.ScheduleError as e:
            self.recorder.event(cronjob, "Warning", "InvalidSchedule", f"invalid schedule: {schedule_text} : {e}")
            return _Outcome(cronjob, None, update)
        if missed is sc.MissedSchedules.MANY:
            self.recorder.event(cronjob, "Warning", "TooManyMissedTimes",
                                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                                "check clock skew")
        if scheduled is None:
            return _Outcome(cronjob, sc.next_schedule_delay(earliest, now, sched), update)

        if deadline is not None and scheduled + datetime.timedelta(seconds=int(deadline)) < now:
            self.recorder.event(cronjob, "Warning", "MissSchedule",
                                f"Missed scheduled time to start a job: {sc.rfc1123z(scheduled)}")
            return _Outcome(cronjob, sc.next_schedule_delay(earliest, now, sched), update)
        name = sc.job_name(meta.name_of(cronjob), scheduled)
        if any(a.get("name") == name and a.get("namespace") == meta.namespace_of(cronjob)
               for a in cronjob["status"].get("active") or ()) or parse_time(
                cronjob["status"].get("lastScheduleTime")) == scheduled:
            return _Outcome(cronjob, sc.next_schedule_delay(earliest, now, sched), update)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and cronjob["status"].get("active"):
            self.recorder.event(cronjob, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return _Outcome(cronjob, sc.next_schedule_delay(earliest, now, sched), update)
        if policy == "Replace":
            for ref in list(cronjob["status"].get("active") or ()):
                try:
                    job = await self.client.get(JOBS, str(ref.get("name")), str(ref.get("namespace") or ""))
                except errors.StatusError as e:
                    self.recorder.event(cronjob, "Warning", "FailedGet", f"Get job: {e}")
                    raise _SyncFailed(cronjob, update, e) from e
                if not await self._delete_job(cronjob, job):
                    err = errors.InternalError(f"could not replace job {meta.namespace_of(job)}/{meta.name_of(job)}")
                    raise _SyncFailed(cronjob, update, err)
                update = True

        request = job_from_template(cronjob, scheduled)
        try:
            created = await self.client.create(JOBS, request, meta.namespace_of(cronjob))
            self.recorder.event(cronjob, "Normal", "SuccessfulCreate", f"Created job {meta.name_of(created)}")
        except errors.AlreadyExists:
            # Created before (and perhaps not recorded): adopt it into status.active if it is ours.
            try:
                created = await self.client.get(JOBS, name, meta.namespace_of(cronjob))
            except errors.StatusError as e:
                raise _SyncFailed(cronjob, update, e) from e
            ref = controller_ref(created)
            if ref is None or ref.get("uid") != (cronjob.get("metadata") or {}).get("uid"):
                return _Outcome(cronjob, None, update)
            if _in_active(cronjob, (created.get("metadata") or {}).get("uid")):
                return _Outcome(cronjob, None, update)
            log.info("cronjob %s: job %s already exists", object_key(cronjob), name)
        except errors.StatusError as e:
            if not is_namespace_terminating(e):
                self.recorder.event(cronjob, "Warning", "FailedCreate", f"Error creating job: {e}")
            raise _SyncFailed(cronjob, update, e) from e
        cronjob["status"].setdefault("active", []).append(object_reference(created))
        cronjob["status"]["lastScheduleTime"] = meta.now_rfc3339(scheduled)
        return _Outcome(cronjob, sc.next_schedule_delay(_earliest(cronjob), now, sched), True)

    async def _cleanup_finished_jobs(self, cronjob: Obj, jobs: list[Obj]) -> bool:
        """Delete the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit."""
        spec = cronjob.get("spec") or {}
        ok_limit, failed_limit = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        if ok_limit is None and failed_limit is None:
            return False
        update = False
        for kind, limit in (("Complete", ok_limit), ("Failed", failed_limit)):
            if limit is None:
                continue
            finished = sorted((j for j in jobs if job_finished_type(j) == kind), key=_start_time_key)
            for job in finished[: max(0, len(finished) - int(limit))]:
                if await self._delete_job(cronjob, job):
                    update = True
        return update

    async def _delete_job(self, cronjob: Obj, job: Obj) -> bool:
        """Delete a Job (its pods in the background) and drop it from status.active."""
        try:
            await self.client.delete(JOBS, meta.name_of(job), meta.namespace_of(job), propagation_policy="Background")
        except errors.StatusError as e:
            self.recorder.event(cronjob, "Warning", "FailedDelete", f"Deleted job: {e}")
            return False
        _remove_active(cronjob, (job.get("metadata") or {}).get("uid"))
        self.recorder.event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {meta.name_of(job)}")
        return True


class _SyncFailed(Exception):
    """A sync step failed after others may have changed the status (which is still written)."""

    def __init__(self, cronjob: Obj, update: bool, error: BaseException) -> None:
        super().__init__(str(error))
        self.cronjob, self.update, self.error = cronjob, update, error


def _in_active(cronjob: Obj, job_uid: Any) -> bool:
    return any(a.get("uid") == job_uid for a in (cronjob.get("status") or {}).get("active") or ())


def _remove_active(cronjob: Obj, job_uid: Any) -> None:
    status = cronjob.setdefault("status", {})
    status["active"] = [a for a in status.get("active") or () if a.get("uid") != job_uid]


def _normalized(cronjob: Obj) -> Obj:
    """The CronJob as written: an empty status.active is omitted, as upstream's JSON does."""
    out = meta.copy(cronjob)
    if not (out.get("status") or {}).get("active"):
        out.setdefault("status", {}).pop("active", None)
    return out
