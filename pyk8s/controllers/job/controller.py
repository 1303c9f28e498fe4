"""The job controller (pkg/controller/job/job_controller.go): runs a Job's pods to completion.

Each sync reads the Job and its pods from the caches, creates or deletes pods toward
min(parallelism, remaining completions), and counts finished pods exactly once with the
``batch.kubernetes.io/job-tracking`` finalizer: a finished pod's UID first goes into
``status.uncountedTerminatedPods`` (written), then its finalizer is removed, then it moves into the
``succeeded`` / ``failed`` counters (written). A crash between the steps repeats a step, never a count.
The Job ends with SuccessCriteriaMet/FailureTarget, then Complete/Failed once no pod is left terminating.

A second queue ("job_orphan_pod") removes the tracking finalizer from pods whose Job is gone or finished.
Timers (for tests, via ControllerOptions.extra): job_sync_batch_period (1s), job_pod_failure_backoff (10s),
job_max_pod_failure_backoff (600s).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.api.labels import from_label_selector
from pyk8s.api.meta import parse_time
from pyk8s.client.interface import object_key, split_key
from pyk8s.client.kinds import JOBS, PODS
from pyk8s.controllers.framework import (
    Controller,
    ControllerContext,
    Expectations,
    Result,
    controller_ref,
    new_controller_ref,
)
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.ownership import ControllerRefManager, owners_selecting, resolve_controller_ref
from pyk8s.controllers.framework.podindex import add_pod_controller_uid_index, claim_candidates, controlled_pods
from pyk8s.controllers.framework.podstate import (
    is_pod_active,
    is_pod_ready,
    is_pod_terminating,
    is_terminating,
    phase_of,
)
from pyk8s.controllers.job import backoff as bo
from pyk8s.controllers.job import indexes as ix
from pyk8s.controllers.job import status as js
from pyk8s.controllers.job.pods import (
    TRACKING_FINALIZER,
    count_ready,
    deletion_order_key,
    finished_time,
    has_tracking_finalizer,
    pod_from_template,
    restart_count_sum,
    uid,
)
from pyk8s.controllers.job.policies import match_pod_failure_policy, match_success_policy
from pyk8s.controllers.job.tracking import FinalizerExpectations

log = logging.getLogger("pyk8s.controllers.job")

Obj = dict[str, Any]

COMPONENT: Final = "job-controller"
MAX_UNCOUNTED_PODS: Final = 500
MAX_POD_CREATE_DELETE_PER_SYNC: Final = 500
SLOW_START_INITIAL_BATCH_SIZE: Final = 1
_REMOVE_FINALIZER_PATCH: Final = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}


@dataclass
class _Sync:
    """What one sync of one Job knows (upstream's syncJobCtx)."""

    key: str
    job: Obj
    pods: list[Obj]
    active_pods: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_rm: set[str]
    succeeded: int = 0
    failed: int = 0
    finished: Obj | None = None
    new_backoff: bo.BackoffRecord = field(default_factory=lambda: bo.BackoffRecord(""))
    prev_succeeded_indexes: ix.Intervals = field(default_factory=list)
    succeeded_indexes: ix.Intervals = field(default_factory=list)
    failed_indexes: ix.Intervals | None = None
    delayed_deletion: dict[int, Obj] = field(default_factory=dict)
    requeue_after: float | None = None

    def requeue(self, seconds: float) -> None:
        self.requeue_after = seconds if self.requeue_after is None else min(self.requeue_after, seconds)


class JobController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        extra = ctx.options.extra
        self.sync_batch_period = float(extra.get("job_sync_batch_period", 1.0))
        self.pod_failure_backoff = float(extra.get("job_pod_failure_backoff", bo.DEFAULT_POD_FAILURE_BACKOFF))
        self.max_pod_failure_backoff = float(extra.get("job_max_pod_failure_backoff", bo.MAX_POD_FAILURE_BACKOFF))
        self.jobs = ctx.informers.informer(JOBS)
        self.pods = ctx.informers.informer(PODS)
        self.expectations = Expectations(clock=ctx.clock)
        self.finalizer_expectations = FinalizerExpectations()
        self.backoff = bo.BackoffStore()
        self.controller = Controller("job", self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.jobs, self.pods])
        self.orphan_controller = Controller("job_orphan_pod", OrphanPodFinalizers(self), workers=1,
                                            clock=ctx.clock, informers=[self.jobs, self.pods])
        self.jobs.add_handler(on_add=self._add_job, on_update=self._update_job, on_delete=self._delete_job)
        add_pod_controller_uid_index(self.pods)
        self.pods.add_handler(on_add=self._add_pod, on_update=self._update_pod,
                              on_delete=lambda p: self._delete_pod(p, final=True))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.controller.run())
            tg.create_task(self.orphan_controller.run())
            tg.create_task(self.recorder.run())

    # ------------------------------------------------------------------ event handlers (enqueue only)

    def _enqueue_batched(self, job: Obj) -> None:
        if self.sync_batch_period > 0:
            self.controller.enqueue_after(job, self.sync_batch_period)
        else:
            self.controller.enqueue(job)

    def _resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return resolve_controller_ref(self.jobs.lister, namespace, ref, "Job")

    def _jobs_selecting(self, pod: Obj) -> list[Obj]:
        """GetPodJobs: none for a pod without labels; an empty selector is not skipped."""
        if not meta.labels_of(pod):
            return []
        return owners_selecting(self.jobs.lister, pod, match_empty=True)

    def _add_pod(self, pod: Obj) -> None:
        if is_terminating(pod):
            self._delete_pod(pod, final=False)
            return
        ref = controller_ref(pod)
        if ref is not None:
            job = self._resolve(meta.namespace_of(pod), ref)
            if job is not None:
                self.expectations.creation_observed(object_key(job))
                self._enqueue_batched(job)
            return
        if has_tracking_finalizer(pod):
            self.orphan_controller.enqueue(pod)
        for job in self._jobs_selecting(pod):
            self._enqueue_batched(job)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (cur.get("metadata") or {}).get("resourceVersion"):
            return
        if is_terminating(cur):
            self._delete_pod(cur, final=False)
            return
        finalizer_removed = not has_tracking_finalizer(cur)
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = cur_ref != old_ref
        ns = meta.namespace_of(cur)
        if ref_changed and old_ref is not None:
            job = self._resolve(ns, old_ref)
            if job is not None:
                if finalizer_removed:
                    self.finalizer_expectations.removal_observed(object_key(job), uid(cur))
                self._enqueue_batched(job)
        if cur_ref is not None:
            job = self._resolve(ns, cur_ref)
            if job is not None:
                if finalizer_removed:
                    self.finalizer_expectations.removal_observed(object_key(job), uid(cur))
                self._enqueue_batched(job)
            return
        if has_tracking_finalizer(cur):
            self.orphan_controller.enqueue(cur)
        if ref_changed or meta.labels_of(cur) != meta.labels_of(old):
            for job in self._jobs_selecting(cur):
                self._enqueue_batched(job)

    def _delete_pod(self, pod: Obj, *, final: bool) -> None:
        ref = controller_ref(pod)
        has_finalizer = has_tracking_finalizer(pod)
        if ref is None:
            if has_finalizer:
                self.orphan_controller.enqueue(pod)
            return
        job = self._resolve(meta.namespace_of(pod), ref)
        if job is None or js.is_finished(job):
            if has_finalizer:
                self.orphan_controller.enqueue(pod)
            return
        key = object_key(job)
        self.expectations.deletion_observed(key, uid(pod))
        if final or not has_finalizer:
            self.finalizer_expectations.removal_observed(key, uid(pod))
        self._enqueue_batched(job)

    def _add_job(self, job: Obj) -> None:
        self.controller.enqueue(job)

    def _update_job(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("generation") == (cur.get("metadata") or {}).get("generation"):
            self._enqueue_batched(cur)
        else:
            self.controller.enqueue(cur)
        if js.is_finished(cur):
            self._cleanup_pod_finalizers(cur)
        start = parse_time((cur.get("status") or {}).get("startTime"))
        cur_ads = js.spec_int(cur, "activeDeadlineSeconds")
        if start is not None and cur_ads is not None and js.spec_int(old, "activeDeadlineSeconds") != cur_ads:
            passed = (self.clock.now() - start).total_seconds()
            self.controller.enqueue_after(cur, max(0.0, cur_ads - passed))

    def _delete_job(self, job: Obj) -> None:
        self.controller.enqueue(job)
        self._cleanup_pod_finalizers(job)

    def _cleanup_pod_finalizers(self, job: Obj) -> None:
        for pod in controlled_pods(self.pods.lister, meta.namespace_of(job), uid(job)):
            if has_tracking_finalizer(pod):
                self.orphan_controller.enqueue(pod)

    # ------------------------------------------------------------------ sync

    async def reconcile(self, key: str) -> Result | None:
        shared = self.jobs.lister.get(key)
        if shared is None:
            self.expectations.forget(key)
            self.finalizer_expectations.forget(key)
            self.backoff.remove(key)
            return None
        if js.managed_by_other(shared) is not None:
            return None
        job: Obj = meta.copy(shared)
        if js.is_finished(job):
            self.backoff.remove(key)
            return None
        mode = (job.get("spec") or {}).get("completionMode")
        if mode not in (None, "NonIndexed", "Indexed"):
            self.recorder.event(job, "Warning", "UnknownCompletionMode",
                                "Skipped Job sync because completion mode is unknown")
            return None
        status: Obj = job.setdefault("status", {})
        uncounted: Obj = status.setdefault("uncountedTerminatedPods", {})
        now = self.clock.now()

        # Expectations first: a pod created after this point is seen by the next sync.
        satisfied = self.expectations.satisfied(key)
        pods = await self._pods_for_job(job)
        active_pods = [p for p in pods if is_pod_active(p)]
        s = _Sync(key=key, job=job, pods=pods, active_pods=active_pods, ready=count_ready(active_pods),
                  terminating=sum(1 for p in pods if is_pod_terminating(p)),
                  uncounted_succeeded=set(uncounted.get("succeeded") or ()),
                  uncounted_failed=set(uncounted.get("failed") or ()),
                  expected_rm=self.finalizer_expectations.expected(key))
        active = len(active_pods)
        new_succeeded = self._valid_pods(s, s.uncounted_succeeded, lambda p: phase_of(p) == "Succeeded")
        new_failed = self._valid_pods(s, s.uncounted_failed, lambda p: _is_pod_failed(p, job))
        s.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(s.uncounted_succeeded)
        s.failed = (int(status.get("failed") or 0) + _counted_failures(job, new_failed)
                    + len(s.uncounted_failed))
        if not status.get("startTime") and not js.suspended(job):
            status["startTime"] = meta.now_rfc3339(now)
        s.new_backoff = self.backoff.new_record(key, new_succeeded, new_failed)

        s.finished = meta.copy(js.true_condition(job, js.SUCCESS_CRITERIA_MET))
        if s.finished is None:
            target = js.true_condition(job, js.FAILURE_TARGET)
            if target is not None:
                s.finished = js.new_condition(js.FAILED, "True", target.get("reason", ""),
                                              target.get("message", ""), now)
            elif (message := _fail_job_message(job, pods)) is not None:
                s.finished = js.new_condition(js.FAILURE_TARGET, "True", js.REASON_POD_FAILURE_POLICY, message, now)
        if s.finished is None:
            if s.failed > js.backoff_limit(job) or _past_backoff_limit_on_failure(job, pods):
                s.finished = js.new_condition(js.FAILURE_TARGET, "True", js.REASON_BACKOFF_LIMIT_EXCEEDED,
                                              js.MESSAGE_BACKOFF_LIMIT_EXCEEDED, now)
            elif self._past_active_deadline(job):
                s.finished = js.new_condition(js.FAILURE_TARGET, "True", js.REASON_DEADLINE_EXCEEDED,
                                              js.MESSAGE_DEADLINE_EXCEEDED, now)
            elif (ads := js.spec_int(job, "activeDeadlineSeconds")) is not None and not js.suspended(job):
                start = parse_time(status.get("startTime")) or now
                s.requeue(max(0.0, ads - (now - start).total_seconds()))

        if js.is_indexed(job):
            self._indexed_state(s, now)

        suspend_changed = False
        manage_error: BaseException | None = None
        if s.finished is not None:
            deleted_ready, deleted, manage_error = await self._delete_active_pods(job, s.active_pods)
            if deleted != active or not satisfied:
                # Pods may still be unseen or hold finalizers: the Job is not finished yet.
                s.finished = None
            active -= deleted
            s.terminating += deleted
            s.ready -= deleted_ready
        else:
            manage_called = False
            if satisfied and not is_terminating(job):
                active, manage_error = await self._manage_job(s)
                manage_called = True
            completions = js.completions(job)
            if completions is None:
                complete = s.succeeded > 0 and active == 0
            else:
                complete = s.succeeded >= completions and active == 0
            if complete:
                s.finished = js.new_condition(js.SUCCESS_CRITERIA_MET, "True", js.REASON_COMPLETIONS_REACHED,
                                              js.MESSAGE_COMPLETIONS_REACHED, now)
            elif manage_called:
                conditions = status.setdefault("conditions", [])
                if js.suspended(job):
                    if js.ensure_condition_status(conditions, js.SUSPENDED, "True", "JobSuspended", "Job suspended",
                                                  now):
                        suspend_changed = True
                        self.recorder.event(job, "Normal", "Suspended", "Job suspended")
                elif js.ensure_condition_status(conditions, js.SUSPENDED, "False", "JobResumed", "Job resumed", now):
                    suspend_changed = True
                    self.recorder.event(job, "Normal", "Resumed", "Job resumed")
                    # activeDeadlineSeconds counts continuous activity: a resumed Job starts again.
                    status["startTime"] = meta.now_rfc3339(now)
                if not conditions:
                    status.pop("conditions", None)

        needs_update = (suspend_changed or active != int(status.get("active") or 0)
                        or status.get("ready") != s.ready or status.get("terminating") != s.terminating)
        status["active"] = active
        status["ready"] = s.ready
        status["terminating"] = s.terminating
        await self._track_status_and_remove_finalizers(s, needs_update)
        if manage_error is not None:
            raise manage_error
        return Result(requeue_after=s.requeue_after) if s.requeue_after is not None else None

    def _valid_pods(self, s: _Sync, uncounted: set[str], accept: Any) -> list[Obj]:
        """Pods not yet counted (tracking finalizer, not in the uncounted list, no removal pending) that pass
        ``accept``; for Indexed Jobs only pods with a valid index."""
        out = []
        completions = js.completions(s.job) or 0
        for p in s.pods:
            if not has_tracking_finalizer(p) or uid(p) in uncounted or uid(p) in s.expected_rm:
                continue
            if js.is_indexed(s.job) and ix.valid_index(p, completions) == ix.UNKNOWN_INDEX:
                continue
            if accept(p):
                out.append(p)
        return out

    def _past_active_deadline(self, job: Obj) -> bool:
        ads = js.spec_int(job, "activeDeadlineSeconds")
        start = parse_time((job.get("status") or {}).get("startTime"))
        if ads is None or start is None or js.suspended(job):
            return False
        return (self.clock.now() - start).total_seconds() >= ads

    def _indexed_state(self, s: _Sync, now: Any) -> None:
        job, completions = s.job, js.completions(s.job) or 0
        status = job["status"]
        s.prev_succeeded_indexes = ix.parse_indexes(status.get("completedIndexes"), completions)
        s.succeeded_indexes = ix.with_indexes(s.prev_succeeded_indexes, [
            ix.completion_index(p) for p in s.pods
            if phase_of(p) == "Succeeded" and ix.valid_index(p, completions) != ix.UNKNOWN_INDEX
            and has_tracking_finalizer(p)])
        s.succeeded = ix.total(s.succeeded_indexes)
        spec = job.get("spec") or {}
        if js.has_backoff_limit_per_index(job):
            prev_failed = (ix.parse_indexes(status["failedIndexes"], completions)
                           if status.get("failedIndexes") is not None else [])
            s.failed_indexes = ix.with_indexes(prev_failed, [
                ix.completion_index(p) for p in s.pods
                if ix.valid_index(p, completions) != ix.UNKNOWN_INDEX and has_tracking_finalizer(p)
                and _is_index_failed(job, p)])
            if s.finished is None:
                failed_total = ix.total(s.failed_indexes)
                max_failed = spec.get("maxFailedIndexes")
                if max_failed is not None and failed_total > int(max_failed):
                    s.finished = js.new_condition(js.FAILURE_TARGET, "True", js.REASON_MAX_FAILED_INDEXES_EXCEEDED,
                                                  js.MESSAGE_MAX_FAILED_INDEXES_EXCEEDED, now)
                elif failed_total > 0 and failed_total + ix.total(s.succeeded_indexes) >= completions:
                    s.finished = js.new_condition(js.FAILURE_TARGET, "True", js.REASON_FAILED_INDEXES,
                                                  js.MESSAGE_FAILED_INDEXES, now)
            s.delayed_deletion = self._pods_with_delayed_deletion(s)
        if s.finished is None:
            message = match_success_policy(spec.get("successPolicy"), completions, s.succeeded_indexes)
            if message is not None:
                s.finished = js.new_condition(js.SUCCESS_CRITERIA_MET, "True", js.REASON_SUCCESS_POLICY, message, now)

    def _pods_with_delayed_deletion(self, s: _Sync) -> dict[int, Obj]:
        """backoffLimitPerIndex: per index, the last failed pod, kept (finalizer and all) until its replacement
        exists, so the replacement can carry the index's failure count."""
        completions = js.completions(s.job) or 0
        active_indexes = {ix.completion_index(p) for p in s.active_pods}
        out: dict[int, Obj] = {}
        for p in self._valid_pods(s, set(), lambda p: _is_pod_failed(p, s.job)):
            index = ix.valid_index(p, completions)
            if (ix.has(s.succeeded_indexes, index) or ix.has(s.failed_indexes or [], index)
                    or index in active_indexes):
                continue
            last = out.get(index)
            if last is None or (_absolute_failures(last) <= _absolute_failures(p)
                                and not finished_time(p) < finished_time(last)):
                out[index] = p
        return out

    # ------------------------------------------------------------------ pods for a Job (claiming)

    async def _pods_for_job(self, job: Obj) -> list[Obj]:
        """Pods controlled by the Job, adopting matching orphans (with the tracking finalizer) and releasing
        owned pods that no longer match its selector (controller.PodControllerRefManager.ClaimPods). Adopted
        pods are returned as copies showing the new reference and the finalizer, as upstream's getPodsForJob."""
        selector = from_label_selector((job.get("spec") or {}).get("selector"))
        manager = ControllerRefManager(self.client, job, JOBS, selector, adopt_finalizers=[TRACKING_FINALIZER])
        claimed = await manager.claim(PODS, claim_candidates(self.pods.lister, job))
        for i, pod in enumerate(claimed):
            if controller_ref(pod) is not None:
                continue
            adopted = meta.copy(pod)
            adopted["metadata"].setdefault("ownerReferences", []).append(new_controller_ref(job, "batch/v1", "Job"))
            if TRACKING_FINALIZER not in adopted["metadata"].setdefault("finalizers", []):
                adopted["metadata"]["finalizers"].append(TRACKING_FINALIZER)
            claimed[i] = adopted
        return claimed

    # ------------------------------------------------------------------ creating and deleting pods

    async def _manage_job(self, s: _Sync) -> tuple[int, BaseException | None]:
        """Create or delete pods toward the wanted number of active pods. Returns the new active count."""
        job = s.job
        active = len(s.active_pods)
        parallelism = js.parallelism(job)
        if js.suspended(job):
            removed, err = await self._delete_some(s, _pods_for_removal(job, s.active_pods, active))
            return active - removed, err
        completions = js.completions(job)
        if completions is None:
            want = active if s.succeeded > 0 else parallelism
        else:
            want = max(0, min(completions - s.succeeded, parallelism))
        to_delete = _pods_for_removal(job, s.active_pods, max(0, active - want))[:MAX_POD_CREATE_DELETE_PER_SYNC]
        if to_delete:
            removed, err = await self._delete_some(s, to_delete)
            return active - removed, err
        terminating = s.terminating if js.only_replace_failed_pods(job) else 0
        diff = want - terminating - active
        if diff <= 0:
            return active, None
        now = self.clock.now()
        if not js.has_backoff_limit_per_index(job):
            remaining = s.new_backoff.remaining(now, self.pod_failure_backoff, self.max_pod_failure_backoff)
            if remaining > 0:
                s.requeue(max(remaining, self.sync_batch_period))
                return active, None
        diff = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        to_add: list[int] = []
        if js.is_indexed(job):
            non_pending = ix.with_indexes(s.succeeded_indexes, [ix.completion_index(p) for p in s.active_pods
                                                                if ix.completion_index(p) != ix.UNKNOWN_INDEX])
            if js.only_replace_failed_pods(job):
                non_pending = ix.with_indexes(non_pending, [ix.completion_index(p) for p in s.pods
                                                            if is_pod_terminating(p)
                                                            and ix.completion_index(p) != ix.UNKNOWN_INDEX])
            if s.failed_indexes is not None:
                non_pending = ix.merge(non_pending, s.failed_indexes)
            to_add = ix.first_pending_indexes(non_pending, diff, completions or 0)
            if js.has_backoff_limit_per_index(job):
                ready_now, wait = [], None
                for index in to_add:
                    left = bo.remaining_for_index(now, self.pod_failure_backoff, self.max_pod_failure_backoff,
                                                  s.delayed_deletion.get(index))
                    if left == 0:
                        ready_now.append(index)
                    elif wait is None or left < wait:
                        wait = left
                if not ready_now and wait is not None:
                    s.requeue(max(wait, self.sync_batch_period))
                    return active, None
                to_add = ready_now
            diff = len(to_add)
        if diff <= 0:
            return active, None
        return await self._create_pods(s, active, diff, to_add)

    async def _create_pods(self, s: _Sync, active: int, diff: int, to_add: list[int]) -> tuple[
            int, BaseException | None]:
        """Create ``diff`` pods in slow-start batches (1, 2, 4, ...); a failing batch stops the rest."""
        job, key = s.job, s.key
        self.expectations.expect_creations(key, diff)
        active += diff
        ref = new_controller_ref(job, "batch/v1", "Job")
        first_error: BaseException | None = None
        batch = min(diff, SLOW_START_INITIAL_BATCH_SIZE)
        while diff > 0:
            batch_indexes = [to_add.pop(0) if to_add else ix.UNKNOWN_INDEX for _ in range(batch)]
            results = await asyncio.gather(*(self._create_one(s, ref, i) for i in batch_indexes))
            failures = sum(1 for r in results if r is not None)
            for err in results:
                if err is not None:
                    self.expectations.lower_creations(key)
                    active -= 1
                    if first_error is None and not is_namespace_terminating(err):
                        first_error = err
            diff -= batch
            if failures and diff > 0:
                # The rest would most likely fail the same way; the next sync retries them.
                for _ in range(diff):
                    self.expectations.lower_creations(key)
                active -= diff
                break
            batch = min(2 * batch, diff)
        return active, first_error

    async def _create_one(self, s: _Sync, ref: Obj, index: int) -> BaseException | None:
        job = s.job
        counts = None
        if index != ix.UNKNOWN_INDEX and js.has_backoff_limit_per_index(job):
            counts = _new_index_failure_counts(job, s.delayed_deletion.get(index))
        pod = pod_from_template(job, ref, index, counts)
        try:
            created = await self.client.create(PODS, pod, meta.namespace_of(job))
        except errors.StatusError as e:
            if not is_namespace_terminating(e):
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {e}")
            return e
        self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {meta.name_of(created)}")
        return None

    async def _delete_some(self, s: _Sync, pods: list[Obj]) -> tuple[int, BaseException | None]:
        """Remove the tracking finalizer from, then delete, ``pods`` (scale down or suspend)."""
        if not pods:
            return 0, None
        self.expectations.expect_deletions(s.key, [uid(p) for p in pods])
        results = await asyncio.gather(*(self._delete_one(s.key, s.job, p) for p in pods))
        removed = sum(1 for r in results if r is None)
        removed_ready = sum(1 for p, r in zip(pods, results, strict=True) if r is None and is_pod_ready(p))
        s.terminating += removed
        s.ready -= removed_ready
        return removed, next((r for r in results if r is not None), None)

    async def _delete_one(self, key: str, job: Obj, pod: Obj) -> BaseException | None:
        ns, name = meta.namespace_of(pod), meta.name_of(pod)
        try:
            if has_tracking_finalizer(pod):
                await self.client.patch(PODS, name, _REMOVE_FINALIZER_PATCH, ns, patch_type="strategic")
            await self.client.delete(PODS, name, ns)
        except errors.NotFound:
            self.expectations.deletion_observed(key, uid(pod))
            return None
        except errors.StatusError as e:
            self.expectations.deletion_observed(key, uid(pod))
            self.recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {e}")
            return e
        self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        return None

    async def _delete_active_pods(self, job: Obj, pods: list[Obj]) -> tuple[int, int, BaseException | None]:
        """A finishing Job's active pods get a DELETE (finalizers stay: they are counted as they go)."""
        async def one(pod: Obj) -> BaseException | None:
            name = meta.name_of(pod)
            try:
                await self.client.delete(PODS, name, meta.namespace_of(pod))
            except errors.NotFound:
                return None
            except errors.StatusError as e:
                self.recorder.event(job, "Warning", "FailedDelete", f"Error deleting: {e}")
                return e
            self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
            return None

        results = await asyncio.gather(*(one(p) for p in pods))
        deleted = sum(1 for r in results if r is None)
        deleted_ready = sum(1 for p, r in zip(pods, results, strict=True) if r is None and is_pod_ready(p))
        return deleted_ready, deleted, next((r for r in results if r is not None), None)

    # ------------------------------------------------------------------ exact counting

    async def _track_status_and_remove_finalizers(self, s: _Sync, needs_flush: bool) -> None:
        """Record newly finished pods in uncountedTerminatedPods, remove their finalizers, move them into the
        counters, and finish the Job once everything is counted (trackJobStatusAndRemoveFinalizers)."""
        job = s.job
        status = job["status"]
        uncounted = status["uncountedTerminatedPods"]
        indexed = js.is_indexed(job)
        completions = js.completions(job) or 0
        pods = sorted(s.pods, key=ix.completion_index) if indexed else s.pods
        with_finalizer = {uid(p) for p in pods if has_tracking_finalizer(p) and uid(p) not in s.expected_rm}
        if _clean_uncounted(status, with_finalizer):
            needs_flush = True
        to_remove: list[Obj] = []
        new_succeeded_indexes: list[int] = []
        reached_max = False
        finishing_as_failure = s.finished is not None and s.finished.get("type") != js.SUCCESS_CRITERIA_MET
        for pod in pods:
            pod_uid = uid(pod)
            if not has_tracking_finalizer(pod) or pod_uid in s.expected_rm:
                continue
            failed = _is_pod_failed(pod, job)
            if not self._can_remove_finalizer(s, pod, failed):
                continue
            to_remove.append(pod)
            if phase_of(pod) == "Succeeded" and pod_uid not in s.uncounted_failed:
                if indexed:
                    index = ix.valid_index(pod, completions)
                    if index != ix.UNKNOWN_INDEX and not ix.has(s.prev_succeeded_indexes, index):
                        new_succeeded_indexes.append(index)
                        needs_flush = True
                elif pod_uid not in s.uncounted_succeeded:
                    uncounted.setdefault("succeeded", []).append(pod_uid)
                    needs_flush = True
            elif failed or finishing_as_failure:
                index = ix.valid_index(pod, completions)
                if pod_uid not in s.uncounted_failed and (not indexed or index != ix.UNKNOWN_INDEX):
                    _, counts, _ = match_pod_failure_policy((job.get("spec") or {}).get("podFailurePolicy"), pod)
                    if counts:
                        uncounted.setdefault("failed", []).append(pod_uid)
                        needs_flush = True
            if (len(new_succeeded_indexes) + len(uncounted.get("succeeded") or ())
                    + len(uncounted.get("failed") or ())) >= MAX_UNCOUNTED_PODS:
                # Keep the status small and let other Jobs sync; the next sync continues.
                reached_max = True
                break
        if indexed:
            s.succeeded_indexes = ix.with_indexes(s.succeeded_indexes, new_succeeded_indexes)
            text = ix.format_indexes(s.succeeded_indexes)
            if text != (status.get("completedIndexes") or ""):
                needs_flush = True
            status["succeeded"] = ix.total(s.succeeded_indexes)
            status["completedIndexes"] = text
            failed_text = ix.format_indexes(s.failed_indexes) if s.failed_indexes is not None else None
            if status.get("failedIndexes") != failed_text:
                needs_flush = True
                if failed_text is None:
                    status.pop("failedIndexes", None)
                else:
                    status["failedIndexes"] = failed_text
        now = self.clock.now()
        if s.finished is not None and s.finished.get("type") == js.FAILURE_TARGET:
            # Record why the Job fails before its pods' finalizers go; Failed follows once they are gone.
            status.setdefault("conditions", []).append(s.finished)
            needs_flush = True
            s.finished = js.new_condition(js.FAILED, "True", s.finished.get("reason", ""),
                                          s.finished.get("message", ""), now)
        if s.finished is not None and s.finished.get("type") == js.SUCCESS_CRITERIA_MET:
            if js.true_condition(job, js.SUCCESS_CRITERIA_MET) is None:
                status.setdefault("conditions", []).append(s.finished)
                needs_flush = True
            s.finished = js.new_condition(js.COMPLETE, "True", s.finished.get("reason", ""),
                                          s.finished.get("message", ""), now)
        needs_flush = await self._flush_and_remove_finalizers(s, to_remove, with_finalizer, needs_flush)
        finished = not reached_max and self._enact_finished(s)
        if finished:
            needs_flush = True
        if needs_flush:
            s.job = await self._update_status(s.job)
            if finished and s.finished is not None:
                self._record_finished(s.job, s.finished)

    def _can_remove_finalizer(self, s: _Sync, pod: Obj, failed: bool) -> bool:
        if is_terminating(s.job) or s.finished is not None or phase_of(pod) == "Succeeded":
            return True
        if not failed:
            return False
        if js.has_backoff_limit_per_index(s.job):
            index = ix.completion_index(pod)
            delayed = s.delayed_deletion.get(index)
            if index != ix.UNKNOWN_INDEX and delayed is not None and uid(delayed) == uid(pod):
                return False
        return True

    async def _flush_and_remove_finalizers(self, s: _Sync, to_remove: list[Obj], with_finalizer: set[str],
                                           needs_flush: bool) -> bool:
        if needs_flush:
            s.job = await self._update_status(s.job)
            self.backoff.update(s.new_backoff)
            needs_flush = False
        rm_error: BaseException | None = None
        if to_remove:
            self.finalizer_expectations.expect_removals(s.key, [uid(p) for p in to_remove])
            results = await asyncio.gather(*(self._remove_finalizer(s.key, p) for p in to_remove))
            for pod, err in zip(to_remove, results, strict=True):
                if err is None:
                    with_finalizer.discard(uid(pod))
                elif rm_error is None:
                    rm_error = err
        if _clean_uncounted(s.job["status"], with_finalizer):
            needs_flush = True
        if rm_error is not None:
            if needs_flush:
                s.job = await self._update_status(s.job)
            raise rm_error
        return needs_flush

    async def _remove_finalizer(self, key: str, pod: Obj) -> BaseException | None:
        try:
            await self.client.patch(PODS, meta.name_of(pod), _REMOVE_FINALIZER_PATCH, meta.namespace_of(pod),
                                    patch_type="strategic")
        except errors.NotFound:
            self.finalizer_expectations.removal_observed(key, uid(pod))
            return None
        except errors.StatusError as e:
            self.finalizer_expectations.removal_observed(key, uid(pod))
            return e
        return None

    def _enact_finished(self, s: _Sync) -> bool:
        """Add Complete/Failed once nothing is uncounted and no pod is terminating."""
        if s.finished is None:
            return False
        status = s.job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        if uncounted.get("succeeded") or uncounted.get("failed") or s.terminating > 0:
            return False
        c = s.finished
        js.ensure_condition_status(status.setdefault("conditions", []), c["type"], c["status"],
                                   c.get("reason", ""), c.get("message", ""), self.clock.now())
        if c["type"] == js.COMPLETE:
            status["completionTime"] = c["lastTransitionTime"]
        return True

    def _record_finished(self, job: Obj, condition: Obj) -> None:
        if condition["type"] == js.COMPLETE:
            completions = js.completions(job)
            if completions is not None and int((job.get("status") or {}).get("succeeded") or 0) > completions:
                self.recorder.event(job, "Warning", "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count reached")
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.event(job, "Warning", condition.get("reason", ""), condition.get("message", ""))

    async def _update_status(self, job: Obj) -> Obj:
        body = meta.copy(job)
        _normalize_status(body["status"])
        updated = await self.client.update(JOBS, body, subresource="status")
        out: Obj = meta.copy(updated)
        out_status = out.setdefault("status", {})
        out_status.setdefault("uncountedTerminatedPods", {})
        return out


class OrphanPodFinalizers:
    """Removes the tracking finalizer from pods no unfinished Job of this controller owns (syncOrphanPod)."""

    def __init__(self, jc: JobController) -> None:
        self.jc = jc

    async def reconcile(self, key: str) -> Result | None:
        pod = self.jc.pods.lister.get(key)
        if pod is None:
            return None
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("kind") != "Job" or ref.get("apiVersion") != "batch/v1":
                return None
            job = self.jc._resolve(meta.namespace_of(pod), ref)
            if job is not None and js.managed_by_other(job) is not None:
                return None
            if job is not None and not js.is_finished(job):
                return None  # adopted, or still running: its Job counts it
        if has_tracking_finalizer(pod):
            ns, name = split_key(key)
            try:
                await self.jc.client.patch(PODS, name, _REMOVE_FINALIZER_PATCH, ns, patch_type="strategic")
            except errors.NotFound:
                pass
        return None


# ---------------------------------------------------------------------- pure helpers


def _is_pod_failed(pod: Obj, job: Obj) -> bool:
    """Failed phase, or (unless only failed pods are replaced) being deleted before succeeding."""
    if phase_of(pod) == "Failed":
        return True
    if js.only_replace_failed_pods(job):
        return False
    return is_terminating(pod) and phase_of(pod) != "Succeeded"


def _counted_failures(job: Obj, failed: list[Obj]) -> int:
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if policy is None:
        return len(failed)
    return sum(1 for p in failed if match_pod_failure_policy(policy, p)[1])


def _fail_job_message(job: Obj, pods: list[Obj]) -> str | None:
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if policy is None:
        return None
    for p in pods:
        if _is_pod_failed(p, job):
            message = match_pod_failure_policy(policy, p)[0]
            if message is not None:
                return message
    return None


def _past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
    template_spec = (((job.get("spec") or {}).get("template") or {}).get("spec") or {})
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    restarts = restart_count_sum(pods)
    limit = js.backoff_limit(job)
    return restarts > 0 if limit == 0 else restarts >= limit


def _is_index_failed(job: Obj, pod: Obj) -> bool:
    counted = False
    if _is_pod_failed(pod, job):
        policy = (job.get("spec") or {}).get("podFailurePolicy")
        if policy is not None:
            _, counts, action = match_pod_failure_policy(policy, pod)
            if action == "FailIndex":
                return True
            counted = counts
        else:
            counted = True
    limit = int((job.get("spec") or {}).get("backoffLimitPerIndex") or 0)
    return counted and ix.parse_count_annotation(pod, ix.INDEX_FAILURE_COUNT_ANNOTATION) >= limit


def _absolute_failures(pod: Obj) -> int:
    return (ix.parse_count_annotation(pod, ix.INDEX_FAILURE_COUNT_ANNOTATION)
            + ix.parse_count_annotation(pod, ix.INDEX_IGNORED_FAILURE_COUNT_ANNOTATION))


def _new_index_failure_counts(job: Obj, replaced: Obj | None) -> tuple[int, int]:
    """The failure-count annotations for an index's next pod, carried over from the pod it replaces."""
    if replaced is None:
        return 0, 0
    failures = ix.parse_count_annotation(replaced, ix.INDEX_FAILURE_COUNT_ANNOTATION)
    ignored = ix.parse_count_annotation(replaced, ix.INDEX_IGNORED_FAILURE_COUNT_ANNOTATION)
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if policy is not None and not match_pod_failure_policy(policy, replaced)[1]:
        ignored += 1
    else:
        failures += 1
    return failures, ignored


def _pods_for_removal(job: Obj, pods: list[Obj], at_least: int) -> list[Obj]:
    """Active pods to delete: for Indexed Jobs every pod with a duplicate, missing or out-of-range index
    first; then, to reach ``at_least``, those earliest in controller.ActivePods order."""
    remove: list[Obj] = []
    left: list[Obj] = list(pods)
    if js.is_indexed(job):
        completions = js.completions(job) or 0
        left = []
        groups: dict[int, list[Obj]] = {}
        for p in pods:
            index = ix.completion_index(p)
            if index == ix.UNKNOWN_INDEX or index >= completions:
                remove.append(p)
            else:
                groups.setdefault(index, []).append(p)
        for index in sorted(groups):
            group = sorted(groups[index], key=deletion_order_key)
            remove.extend(group[:-1])
            left.append(group[-1])
    if len(remove) < at_least:
        left.sort(key=deletion_order_key)
        remove.extend(left[: at_least - len(remove)])
    return remove


def _clean_uncounted(status: Obj, with_finalizer: set[str]) -> bool:
    """Move uncounted UIDs whose pods no longer carry the finalizer into the counters."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    changed = False
    for kind in ("succeeded", "failed"):
        uids = list(uncounted.get(kind) or ())
        keep = [u for u in uids if u in with_finalizer]
        if len(keep) != len(uids):
            changed = True
            status[kind] = int(status.get(kind) or 0) + len(uids) - len(keep)
            uncounted[kind] = keep
    return changed


def _normalize_status(status: Obj) -> None:
    """Drop what upstream's JSON omits when empty (omitempty counters, lists and strings)."""
    for key in ("active", "succeeded", "failed"):
        if not status.get(key):
            status.pop(key, None)
    if not status.get("completedIndexes"):
        status.pop("completedIndexes", None)
    if not status.get("conditions"):
        status.pop("conditions", None)
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    for kind in ("succeeded", "failed"):
        if not uncounted.get(kind):
            uncounted.pop(kind, None)
