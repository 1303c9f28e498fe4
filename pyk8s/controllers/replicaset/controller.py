"""The ReplicaSet controller: keeps `spec.replicas` active pods running for every ReplicaSet.

Level-based, as upstream's pkg/controller/replicaset: handlers only enqueue "ns/name"; a sync re-reads the
ReplicaSet and the pods from the caches, adopts matching orphans and releases owned pods that stopped
matching, creates missing pods in slow-start batches or deletes the extra ones (best candidates first, see
ranking.py), then writes status. Expectations keep a sync from acting again until the watch has shown the
creates and deletes of the previous one.

Every pod event syncs its ReplicaSet (as upstream), so a sync must not cost O(pods). The pods come from the
pods-by-controller index (framework.podindex), and when there is nothing to adopt, release or delete and
minReadySeconds is 0, from the pod tally (tally.py) alone: the same status and creates in O(1).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import Selector, from_label_selector, selector_from_set
from pyk8s.api.meta import copy, labels_of, name_of, namespace_of
from pyk8s.client.interface import Obj, object_key
from pyk8s.client.kinds import PODS, REPLICA_SETS
from pyk8s.controllers.framework import Controller, ControllerContext, Expectations, Result, controller_ref
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.labelmatch import label_matcher
from pyk8s.controllers.framework.ownership import (
    ControllerRefManager,
    owners_selecting,
    resolve_controller_ref,
)
from pyk8s.controllers.framework.podindex import add_pod_controller_uid_index, claim_candidates, orphan_pods
from pyk8s.controllers.framework.podstate import is_pod_active, is_pod_ready, is_terminating
from pyk8s.controllers.replicaset.batch import SLOW_START_INITIAL_BATCH_SIZE, slow_start_batch
from pyk8s.controllers.replicaset.podtemplate import pod_from_template
from pyk8s.controllers.replicaset.ranking import pods_to_delete, seconds_until_available
from pyk8s.controllers.replicaset.status import (
    PodCounts,
    calculate_status,
    normalize_status,
    spec_replicas,
    status_from_counts,
    status_unchanged,
)
from pyk8s.controllers.replicaset.tally import PodTally

log = logging.getLogger("pyk8s.controllers.replicaset")

NAME = "replicaset"
COMPONENT = "replicaset-controller"
KIND = "ReplicaSet"
API_VERSION = "apps/v1"
BURST_REPLICAS = 500  # at most this many creates or deletes per sync
STATUS_UPDATE_RETRIES = 1
CONTROLLER_UID_INDEX = "replicaset-controller:controllerUID"


class DeleteError(Exception):
    """Deleting an extra pod failed (upstream: "unable to delete pods: ...")."""


def pod_key(pod: Obj) -> str:
    return f"{namespace_of(pod)}/{name_of(pod)}"


def _controller_uid_index(obj: Obj) -> list[str]:
    ref = controller_ref(obj)
    return [str(ref["uid"])] if ref is not None and ref.get("uid") else []


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _label_map(obj: Obj) -> dict[str, str]:
    """The object's labels as cached (read only; no copy)."""
    return (obj.get("metadata") or {}).get("labels") or {}  # type: ignore[no-any-return]



class ReplicaSetController:
    """Reconciles ReplicaSets against their pods. `reconcile(key)` is one upstream syncReplicaSet."""

    def __init__(self, ctx: ControllerContext, *, burst_replicas: int = BURST_REPLICAS) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder: Any = ctx.recorder(COMPONENT)
        self.burst_replicas = burst_replicas
        self.expectations = Expectations(ctx.clock)
        self.rs_informer = ctx.informers.informer(REPLICA_SETS)
        self.pod_informer = ctx.informers.informer(PODS)
        self._has_uid_index = True
        try:
            self.rs_informer.add_indexers({CONTROLLER_UID_INDEX: _controller_uid_index})
        except (KeyError, ValueError, RuntimeError):
            self._has_uid_index = False
        add_pod_controller_uid_index(self.pod_informer)
        self.tally = PodTally()
        self.rs_informer.add_handler(self._on_rs_add, self._on_rs_update, self._on_rs_delete)
        self.pod_informer.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        self.controller = Controller(NAME, self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.rs_informer, self.pod_informer])

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())

    def _event(self, rs: Obj, type_: str, reason: str, message: str) -> None:
        # Objects from a LIST carry no kind/apiVersion: name them so the event's involvedObject is complete.
        self.recorder.event(rs, type_, reason, message, kind=KIND, api_version=API_VERSION)

    # ---- lookups in the caches ----
    def _resolve(self, namespace: str, ref: Obj) -> Obj | None:
        """The ReplicaSet a controller reference names, if it still is that object (same UID)."""
        return resolve_controller_ref(self.rs_informer.lister, namespace, ref, KIND)

    def _replica_sets_for_pod(self, pod: Obj) -> list[Obj]:
        """ReplicaSets in the pod's namespace whose (non-empty, valid) selector matches its labels."""
        found = owners_selecting(self.rs_informer.lister, pod)
        if len(found) > 1:
            log.info("user error: more than one ReplicaSet selects pod %s with labels %s", pod_key(pod), labels_of(pod))
        return found

    def _replica_sets_with_same_controller(self, rs: Obj) -> list[Obj]:
        ref = controller_ref(rs)
        if ref is None:
            return []
        uid = str(ref.get("uid") or "")
        if self._has_uid_index:
            try:
                return self.rs_informer.lister.by_index(CONTROLLER_UID_INDEX, uid)
            except KeyError:
                self._has_uid_index = False
        return [o for o in self.rs_informer.lister.list(namespace_of(rs)) if _controller_uid_index(o) == [uid]]

    def _indirectly_related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet owned by this ReplicaSet's owner (for the same-node rank)."""
        seen: set[str] = set()
        related: list[Obj] = []
        for other in self._replica_sets_with_same_controller(rs):
            try:
                selector = from_label_selector((other.get("spec") or {}).get("selector"))
            except errors.StatusError:
                continue
            for pod in self.pod_informer.lister.list(namespace_of(other)):
                if selector.matches(labels_of(pod)) and _uid(pod) not in seen:
                    seen.add(_uid(pod))
                    related.append(pod)
        return related

    # ---- informer handlers: keep the tally, compute keys, nothing else ----
    def _pod_added(self, pod: Obj) -> None:
        self.tally.observe(pod)
        self._on_pod_add(pod)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        self.tally.observe(cur)
        self._on_pod_update(old, cur)

    def _pod_deleted(self, pod: Obj) -> None:
        self.tally.forget(pod)
        self._on_pod_delete(pod)

    def _on_rs_add(self, rs: Obj) -> None:
        self.controller.enqueue(rs)

    def _on_rs_update(self, old: Obj, cur: Obj) -> None:
        if _uid(old) != _uid(cur):
            self._on_rs_delete(old)
        self.controller.enqueue(cur)

    def _on_rs_delete(self, rs: Obj) -> None:
        key = object_key(rs)
        self.expectations.forget(key)
        self.controller.enqueue(key)

    def _on_pod_add(self, pod: Obj) -> None:
        if is_terminating(pod):
            # Seen for the first time already terminating (e.g. after a restart): not a creation.
            self._on_pod_delete(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            rs = self._resolve(namespace_of(pod), ref)
            if rs is None:
                return
            key = object_key(rs)
            self.expectations.creation_observed(key)
            self.controller.enqueue(key)
            return
        for rs in self._replica_sets_for_pod(pod):
            self.controller.enqueue(rs)

    def _on_pod_update(self, old: Obj, cur: Obj) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (cur.get("metadata") or {}).get("resourceVersion"):
            return
        label_changed = _label_map(old) != _label_map(cur)
        if is_terminating(cur):
            # A graceful delete started: act now rather than when the kubelet finally removes the pod.
            self._on_pod_delete(cur)
            if label_changed:
                self._on_pod_delete(old)
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            prev = self._resolve(namespace_of(old), old_ref)
            if prev is not None:
                self.controller.enqueue(prev)
        if cur_ref is not None:
            rs = self._resolve(namespace_of(cur), cur_ref)
            if rs is None:
                return
            self.controller.enqueue(rs)
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                # Re-check availability once minReadySeconds have passed (one extra second against skew).
                self.controller.enqueue_after(rs, min_ready + 1)
            return
        if label_changed or ref_changed:
            for rs in self._replica_sets_for_pod(cur):
                self.controller.enqueue(rs)

    def _on_pod_delete(self, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref is None:
            return
        rs = self._resolve(namespace_of(pod), ref)
        if rs is None:
            return
        key = object_key(rs)
        self.expectations.deletion_observed(key, pod_key(pod))
        self.controller.enqueue(key)

    # ---- the sync ----
    async def reconcile(self, key: str) -> Result | None:
        rs = self.rs_informer.lister.get(key)
        if rs is None:
            self.expectations.forget(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = from_label_selector((rs.get("spec") or {}).get("selector"))
        except errors.StatusError as e:
            log.info("replicaset %s has an invalid selector: %s", key, e)
            return None
        manage = needs_sync and not (rs.get("metadata") or {}).get("deletionTimestamp")
        counts = self._tallied_counts(rs, selector)
        if counts is not None and not (manage and counts.replicas > spec_replicas(rs)):
            # Nothing to adopt, release or delete: the same sync from the tally, without visiting every pod.
            return await self._sync_counted(key, rs, counts, manage)
        # The pods it controls and the orphans it may adopt (by index): O(its pods), not O(the namespace's).
        active = [p for p in claim_candidates(self.pod_informer.lister, rs) if is_pod_active(p)]
        pods = await self._claim_pods(rs, selector, active)

        manage_error: Exception | None = None
        if needs_sync and not (rs.get("metadata") or {}).get("deletionTimestamp"):
            try:
                await self._manage_replicas(key, rs, pods)
            except Exception as e:
                manage_error = e
        now = self.clock.now()
        status = calculate_status(rs, pods, manage_error, now)
        await self._update_status(rs, status)
        if manage_error is not None:
            raise manage_error
        return self._availability_recheck(rs, pods)

    def _tallied_counts(self, rs: Obj, selector: Selector) -> PodCounts | None:
        """The counts of the active pods `rs` controls, from the tally, when a claim would keep exactly those
        (no active orphan it would adopt, none of them to release) and availability is readiness
        (minReadySeconds 0); else None, and the sync visits the pods."""
        spec = rs.get("spec") or {}
        if int(spec.get("minReadySeconds") or 0) > 0:
            return None
        ns = namespace_of(rs)
        matches = label_matcher(selector)
        for orphan in orphan_pods(self.pod_informer.lister, ns):
            if is_pod_active(orphan) and matches((orphan.get("metadata") or {}).get("labels") or {}):
                return None
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        template_matches = label_matcher(selector_from_set(template_labels))
        replicas = fully_labeled = ready = 0
        for sig, n in self.tally.groups(ns, _uid(rs)).items():
            if not sig.active:
                continue
            labels = dict(sig.labels)
            if not matches(labels):
                return None  # to be released (or ignored while the ReplicaSet is deleted)
            replicas += n
            if template_matches(labels):
                fully_labeled += n
            if sig.ready:
                ready += n
        return PodCounts(replicas, fully_labeled, ready, ready)

    async def _sync_counted(self, key: str, rs: Obj, counts: PodCounts, manage: bool) -> Result | None:
        """The rest of a sync that needs no pod: create the missing ones, write the status."""
        manage_error: Exception | None = None
        missing = spec_replicas(rs) - counts.replicas
        if manage and missing > 0:
            try:
                await self._create_pods(key, rs, min(missing, self.burst_replicas))
            except Exception as e:
                manage_error = e
        await self._update_status(rs, status_from_counts(rs, counts, manage_error, self.clock.now()))
        if manage_error is not None:
            raise manage_error
        return None

    def _availability_recheck(self, rs: Obj, pods: list[Obj]) -> Result | None:
        """Come back when the next ready pod becomes available (minReadySeconds), as upstream's delayed resync."""
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready <= 0:
            return None
        now = self.clock.now()
        waits = [w for w in (seconds_until_available(p, min_ready, now) for p in pods) if w is not None]
        return Result(requeue_after=min(waits) + 1.0) if waits else None

    async def _claim_pods(self, rs: Obj, selector: Selector, pods: list[Obj]) -> list[Obj]:
        return await ControllerRefManager(self.client, rs, REPLICA_SETS, selector).claim(PODS, pods)

    async def _manage_replicas(self, key: str, rs: Obj, pods: list[Obj]) -> None:
        diff = len(pods) - spec_replicas(rs)
        if diff < 0:
            await self._create_pods(key, rs, min(-diff, self.burst_replicas))
        elif diff > 0:
            await self._delete_pods(key, rs, pods, min(diff, self.burst_replicas))

    async def _create_pods(self, key: str, rs: Obj, count: int) -> None:
        self.expectations.expect_creations(key, count)
        log.debug("replicaset %s: too few replicas, creating %d", key, count)

        async def create_one() -> None:
            pod = pod_from_template(rs, API_VERSION, KIND)
            try:
                created = await self.client.create(PODS, pod, namespace_of(rs))
            except Exception as e:
                if is_namespace_terminating(e):
                    return  # every create will fail; nothing to report
                self._event(rs, "Warning", "FailedCreate", f"Error creating: {e}")
                raise
            self._event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name_of(created)}")

        successes, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, create_one)
        for _ in range(count - successes):
            # Creates that failed or were never attempted will never be observed.
            self.expectations.creation_observed(key)
        if error is not None:
            raise error

    async def _delete_pods(self, key: str, rs: Obj, pods: list[Obj], count: int) -> None:
        log.debug("replicaset %s: too many replicas, deleting %d", key, count)
        victims = pods_to_delete(pods, self._indirectly_related_pods(rs), count, self.clock.now())
        self.expectations.expect_deletions(key, [pod_key(p) for p in victims])

        async def delete_one(pod: Obj) -> None:
            try:
                await self.client.delete(PODS, name_of(pod), namespace_of(rs))
            except errors.NotFound:
                self.expectations.deletion_observed(key, pod_key(pod))
                return
            except Exception as e:
                self.expectations.deletion_observed(key, pod_key(pod))
                self._event(rs, "Warning", "FailedDelete", f"Error deleting: {e}")
                raise DeleteError(f"unable to delete pods: {e}") from e
            self._event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name_of(pod)}")

        results = await asyncio.gather(*(delete_one(p) for p in victims), return_exceptions=True)
        for r in results:
            if isinstance(r, asyncio.CancelledError):
                raise r
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]

    async def _update_status(self, rs: Obj, status: Obj) -> Obj:
        """Write `status` unless nothing changed; one GET-and-retry on failure, as upstream."""
        if status_unchanged(rs, status):
            return rs
        status = dict(status)
        status["observedGeneration"] = int((rs.get("metadata") or {}).get("generation") or 0)
        status = normalize_status(status)
        obj = copy(rs)
        obj.setdefault("apiVersion", API_VERSION)
        obj.setdefault("kind", KIND)
        obj["status"] = status
        attempt = 0
        while True:
            try:
                return await self.client.update(REPLICA_SETS, obj, subresource="status")
            except errors.StatusError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
            attempt += 1
            obj = await self.client.get(REPLICA_SETS, name_of(rs), namespace_of(rs))
            obj["status"] = status
