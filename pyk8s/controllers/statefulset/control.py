"""One StatefulSet sync: revisions, ordered scaling, rolling update, status (upstream stateful_set_control.go).

OrderedReady ("monotonic") creates ordinal n only once 0..n-1 are Running and Ready (and available), stops at
the first pod that is not, and removes surplus pods from the highest ordinal down, one at a time, waiting for
each to be gone. Parallel creates and deletes without waiting. RollingUpdate replaces, from the highest ordinal
down to the partition, one pod at a time whose revision is not the update revision, waiting for each
replacement to be Running and Ready; OnDelete replaces nothing. Status counts replicas, ready, available,
current and updated pods; the current revision becomes the update revision once every replica is updated and ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import Selector
from pyk8s.api.meta import copy
from pyk8s.base.clock import Clock
from pyk8s.client.interface import Client, Lister
from pyk8s.client.kinds import CONTROLLER_REVISIONS, STATEFUL_SETS
from pyk8s.controllers.framework import controller_ref
from pyk8s.controllers.framework.podstate import is_terminal, is_terminating, phase_of
from pyk8s.controllers.framework.revisions import revision_number
from pyk8s.controllers.statefulset import history
from pyk8s.controllers.statefulset import pods as sp
from pyk8s.controllers.statefulset.podcontrol import AggregateError, StatefulPodControl

log = logging.getLogger("pyk8s.controllers.statefulset")

Obj = dict[str, Any]

MAX_BATCH_SIZE = 500
STATUS_UPDATE_RETRIES = 5  # retry.DefaultRetry steps


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


async def slow_start_batch(count: int, initial: int, fn: Callable[[int], Awaitable[bool]]) -> int:
    """Call fn(0..count-1) in concurrent batches of 1, 2, 4, ... (at most MAX_BATCH_SIZE); stop after a
    batch with failures and raise them. Returns the number of successes."""
    successes = 0
    done = 0
    batch = min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn(i) for i in range(done, done + batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for f in failures:
            if not isinstance(f, Exception):
                raise f
        successes += batch - len(failures)
        done += batch
        if failures:
            raise failures[0] if len(failures) == 1 else AggregateError([f for f in failures
                                                                        if isinstance(f, Exception)])
        batch = min(2 * batch, count - done, MAX_BATCH_SIZE)
    return successes


async def run_for_all(count: int, fn: Callable[[int], Awaitable[bool]], monotonic: bool) -> bool:
    """runForAll: in order and stopping at the first blocker (monotonic), or all at once (burst).
    True when processing must stop here."""
    if monotonic:
        for i in range(count):
            if await fn(i):
                return True
        return False
    await slow_start_batch(count, 1, fn)
    return False


class StatefulSetControl:
    def __init__(self, client: Client, pod_control: StatefulPodControl, revision_lister: Lister,
                 set_lister: Lister, clock: Clock) -> None:
        self.client = client
        self.pods = pod_control
        self.revision_lister = revision_lister
        self.set_lister = set_lister
        self.clock = clock

    # ---- revisions ----

    def list_revisions(self, sts: Obj, selector: Selector) -> list[Obj]:
        """ListControllerRevisions: revisions matching the selector owned by the set or by nobody."""
        uid = _meta(sts).get("uid")
        out = []
        for rev in self.revision_lister.list(_meta(sts).get("namespace") or ""):
            if not selector.matches(_meta(rev).get("labels") or {}):
                continue
            ref = controller_ref(rev)
            if ref is None or ref.get("uid") == uid:
                out.append(rev)
        return out

    async def _create_revision(self, sts: Obj, revision: Obj, collision_count: int) -> tuple[Obj, int]:
        """CreateControllerRevision: retry under a new hash on name collisions (counting them)."""
        ns = _meta(sts).get("namespace") or ""
        clone: Obj = copy(revision)
        while True:
            hash_ = history.hash_revision(revision["data"], collision_count)
            clone["metadata"]["name"] = history.revision_name(_meta(sts)["name"], hash_)
            try:
                return await self.client.create(CONTROLLER_REVISIONS, clone, ns), collision_count
            except errors.AlreadyExists:
                existing = await self.client.get(CONTROLLER_REVISIONS, clone["metadata"]["name"], ns)
                if history.equal_revision(existing, clone):
                    return existing, collision_count
                collision_count += 1

    async def _renumber_revision(self, revision: Obj, number: int) -> Obj:
        current: Obj = copy(revision)
        for attempt in range(STATUS_UPDATE_RETRIES):
            if revision_number(current) == number:
                return current
            current["revision"] = number
            try:
                return await self.client.update(CONTROLLER_REVISIONS, current)
            except errors.Conflict:
                if attempt == STATUS_UPDATE_RETRIES - 1:
                    raise
                fresh = self.revision_lister.get(f"{_meta(current).get('namespace')}/{_meta(current)['name']}")
                current = copy(fresh) if fresh is not None else current
        return current

    async def revisions_for(self, sts: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """getStatefulSetRevisions: (current revision, update revision, collisionCount), creating the
        update revision or renumbering an equal older one (a rollback) as needed."""
        revisions = history.sort_revisions(revisions)
        collision_count = int((sts.get("status") or {}).get("collisionCount") or 0)
        update = history.new_revision(sts, history.next_revision(revisions), collision_count)
        equal = history.find_equal_revisions(revisions, update)
        if equal and history.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:
            update = await self._renumber_revision(equal[-1], revision_number(update))
        else:
            update, collision_count = await self._create_revision(sts, update, collision_count)
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if _meta(r).get("name") == current_name), None)
        return (current if current is not None else update), update, collision_count

    async def truncate_history(self, sts: Obj, pods: Sequence[Obj], revisions: list[Obj], current: Obj | None,
                               update: Obj | None) -> None:
        live = {_meta(r).get("name") for r in (current, update) if r is not None}
        live.update(sp.pod_revision(p) for p in pods)
        old = [r for r in history.sort_revisions(revisions) if _meta(r).get("name") not in live]
        limit_raw = (sts.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit_raw is None else int(limit_raw)
        if limit < 0 or len(old) <= limit:
            return
        for rev in old[: len(old) - limit]:
            rm = _meta(rev)
            try:
                await self.client.delete(CONTROLLER_REVISIONS, rm["name"], rm.get("namespace") or "")
            except errors.NotFound:
                pass

    # ---- the sync ----

    async def update_stateful_set(self, sts: Obj, pods: list[Obj], selector: Selector) -> Obj:
        """UpdateStatefulSet: returns the status written (or that would have been)."""
        sts = copy(sts)
        revisions = history.sort_revisions(self.list_revisions(sts, selector))
        current, update, collision_count = await self.revisions_for(sts, revisions)
        status: Obj | None = None
        err: Exception | None = None
        try:
            status = await self._update_pods(sts, current, update, collision_count, pods)
        except _PartialStatus as p:
            status, err = p.status, p.error
        except Exception as e:
            err = e
        if status is not None:
            try:
                await self._update_status(sts, status)
            except Exception as status_err:
                if err is None:
                    err = status_err
                else:
                    log.info("statefulset %s: could not update status: %s", _meta(sts).get("name"), status_err)
        try:
            await self.truncate_history(sts, pods, revisions, current, update)
        except Exception as trunc_err:
            if err is None:
                err = trunc_err
        if err is not None:
            raise err
        assert status is not None
        return status

    def _status_counts(self, sts: Obj, current: Obj, update: Obj, *pod_lists: Sequence[Obj | None]) -> dict[str, int]:
        """updateStatus/computeReplicaStatus over the given pods (uncreated placeholders count for nothing)."""
        now = self.clock.now()
        min_ready = sp.min_ready_seconds(sts)
        counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0, "currentReplicas": 0,
                  "updatedReplicas": 0}
        current_name, update_name = _meta(current).get("name"), _meta(update).get("name")
        for pods in pod_lists:
            for pod in pods:
                if pod is None or not sp.is_created(pod):
                    continue
                counts["replicas"] += 1
                if sp.is_running_and_ready(pod):
                    counts["readyReplicas"] += 1
                    if sp.is_running_and_available(pod, min_ready, now):
                        counts["availableReplicas"] += 1
                if not is_terminating(pod):
                    revision = sp.pod_revision(pod)
                    if revision == current_name:
                        counts["currentReplicas"] += 1
                    if revision == update_name:
                        counts["updatedReplicas"] += 1
        return counts

    async def _update_pods(self, sts: Obj, current: Obj, update: Obj, collision_count: int,
                           pods: list[Obj]) -> Obj:
        current_set = history.apply_revision(sts, current)
        update_set = history.apply_revision(sts, update)
        current_name, update_name = str(_meta(current)["name"]), str(_meta(update)["name"])
        status: Obj = {
            "observedGeneration": int(_meta(sts).get("generation") or 0),
            "currentRevision": current_name,
            "updateRevision": update_name,
            "collisionCount": collision_count,
        }
        status.update(self._status_counts(sts, current, update, pods))

        start, end = sp.start_ordinal(sts), sp.end_ordinal(sts)
        replicas: list[Obj | None] = [None] * max(0, end - start + 1)
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = sp.ordinal_of(pod)
            if start <= ordinal <= end:
                replicas[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        for i in range(len(replicas)):
            if replicas[i] is None:
                replicas[i] = sp.new_versioned_pod(current_set, update_set, current_name, update_name, start + i)
        members: list[Obj] = [p for p in replicas if p is not None]
        condemned.sort(key=sp.ordinal_of, reverse=True)

        now = self.clock.now()
        min_ready = sp.min_ready_seconds(sts)
        first_unavailable: Obj | None = None
        for pod in members + condemned[::-1]:
            if sp.is_unavailable(pod, min_ready, now):
                first_unavailable = pod
                break

        def finish() -> Obj:
            status.update(self._status_counts(sts, current, update, members, condemned))
            return status

        if _meta(sts).get("deletionTimestamp"):
            return status
        monotonic = not sp.allows_burst(sts)

        async def process_replica(i: int) -> bool:
            return await self._process_replica(sts, update_set, monotonic, members, i)

        try:
            if await run_for_all(len(members), process_replica, monotonic):
                return finish()

            async def fix_claims(i: int) -> bool:
                if not self.pods.claims_match_retention(update_set, condemned[i]):
                    await self.pods.update_claims_for_retention(update_set, condemned[i])
                return False

            if await run_for_all(len(condemned), fix_claims, monotonic):
                return finish()

            async def process_condemned(i: int) -> bool:
                return await self._process_condemned(sts, first_unavailable, monotonic, condemned, i)

            if await run_for_all(len(condemned), process_condemned, monotonic):
                return finish()
        except Exception as e:
            raise _PartialStatus(finish(), e) from e

        finish()
        if sp.strategy_type(sts) == "OnDelete":
            return status
        update_min = sp.partition_of(sts)
        for target in range(len(members) - 1, update_min - 1, -1):
            pod = members[target]
            if sp.pod_revision(pod) != update_name and not is_terminating(pod):
                log.info("statefulset %s: terminating pod %s for update", _meta(sts).get("name"),
                         _meta(pod).get("name"))
                try:
                    await self.pods.delete(sts, pod)
                except errors.NotFound:
                    pass
                except Exception as e:
                    raise _PartialStatus(status, e) from e
                status["currentReplicas"] -= 1
                return status
            if sp.is_unavailable(pod, min_ready, now):
                return status
        return status

    async def _process_replica(self, sts: Obj, update_set: Obj, monotonic: bool, replicas: list[Obj],
                               i: int) -> bool:
        pod = replicas[i]
        now = self.clock.now()
        min_ready = sp.min_ready_seconds(sts)
        if is_terminal(pod):
            if not is_terminating(pod):
                await self.pods.delete(sts, pod)
            return True
        if not sp.is_created(pod):
            if self.pods.pod_claim_is_stale(sts, pod):
                return True
            await self.pods.create(sts, pod)
            if monotonic:
                return True
        if phase_of(pod) == "Pending":
            await self.pods.create_missing_claims(sts, pod)
        if is_terminating(pod) and monotonic:
            return True
        if not sp.is_running_and_ready(pod) and monotonic:
            return True
        if not sp.is_running_and_available(pod, min_ready, now) and monotonic:
            return True
        retention_match = True
        try:
            retention_match = self.pods.claims_match_retention(update_set, pod)
        except Exception:
            retention_match = True
        if sp.identity_matches(sts, pod) and sp.storage_matches(sts, pod) and retention_match:
            return False
        await self.pods.update(update_set, pod)
        return False

    async def _process_condemned(self, sts: Obj, first_unavailable: Obj | None, monotonic: bool,
                                 condemned: list[Obj], i: int) -> bool:
        pod = condemned[i]
        if is_terminating(pod):
            return monotonic
        now = self.clock.now()
        min_ready = sp.min_ready_seconds(sts)
        if monotonic and pod is not first_unavailable and (
                not sp.is_running_and_ready(pod) or not sp.is_running_and_available(pod, min_ready, now)):
            return True
        log.info("statefulset %s: terminating pod %s for scale down", _meta(sts).get("name"), _meta(pod).get("name"))
        await self.pods.delete(sts, pod)
        return True

    # ---- status ----

    async def _update_status(self, sts: Obj, status: Obj) -> None:
        """updateStatefulSetStatus: complete a finished rolling update, then write status if it changed."""
        replicas = sp.replicas_of(sts)
        if (sp.strategy_type(sts) == "RollingUpdate" and status["updatedReplicas"] == replicas
                and status["readyReplicas"] == replicas and status["replicas"] == replicas):
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        if not inconsistent_status(sts, status):
            return
        target: Obj = copy(sts)
        for attempt in range(STATUS_UPDATE_RETRIES):
            target["status"] = status_body(target.get("status") or {}, status)
            try:
                await self.client.update(STATEFUL_SETS, target, subresource="status")
                return
            except errors.Conflict:
                if attempt == STATUS_UPDATE_RETRIES - 1:
                    raise
                fresh = self.set_lister.get(f"{_meta(sts).get('namespace')}/{_meta(sts)['name']}")
                if fresh is not None:
                    target = copy(fresh)


class _PartialStatus(Exception):
    """A sync that failed part-way still has a status worth writing."""

    def __init__(self, status: Obj, error: Exception) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


_STATUS_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "currentReplicas", "updatedReplicas",
                  "currentRevision", "updateRevision", "availableReplicas")


def inconsistent_status(sts: Obj, status: Obj) -> bool:
    """inconsistentStatus: the computed status differs from what the set shows (or is of a newer generation)."""
    have = sts.get("status") or {}
    if int(status.get("observedGeneration") or 0) > int(have.get("observedGeneration") or 0):
        return True
    for k in _STATUS_FIELDS[1:]:
        if k.endswith("Revision"):
            if (status.get(k) or "") != (have.get(k) or ""):
                return True
        elif int(status.get(k) or 0) != int(have.get(k) or 0):
            return True
    return False


def status_body(previous: Obj, status: Obj) -> Obj:
    """The StatefulSetStatus to write: computed fields (zero omitempty ones left out), conditions kept."""
    out: Obj = {}
    for k in _STATUS_FIELDS:
        v = status.get(k)
        if k in ("replicas", "availableReplicas") or v:
            out[k] = v or 0
    out["collisionCount"] = int(status.get("collisionCount") or 0)
    if previous.get("conditions"):
        out["conditions"] = previous["conditions"]
    return out
