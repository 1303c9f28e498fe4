"""The Deployment controller: rolls a Deployment's pod template out through ReplicaSets.

Upstream's pkg/controller/deployment, level-based: a sync re-reads the Deployment, claims the ReplicaSets
its selector matches, then in upstream's priority order: deleting -> status only; paused -> scale only;
deprecated rollbackTo annotation -> rollback; a replica-count change -> proportional scale; otherwise the
strategy's rollout (RollingUpdate or Recreate). Every write goes through the client; reads come from the
caches. Pure arithmetic lives in util.py, rolling.py, scaling.py, recreate.py and rollback.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import Selector, from_label_selector
from pyk8s.api.meta import copy, labels_of, name_of, namespace_of
from pyk8s.client.interface import Obj, object_key
from pyk8s.client.kinds import DEPLOYMENTS, PODS, REPLICA_SETS
from pyk8s.controllers.deployment.hash import compute_hash, normalize
from pyk8s.controllers.deployment.recreate import old_pods_running
from pyk8s.controllers.deployment.rollback import apply_rollback, clear_rollback_to, rollback_to
from pyk8s.controllers.deployment.rolling import (
    max_scaled_down,
    new_replica_set_target,
    old_scale_down_plan,
    unhealthy_cleanup_plan,
)
from pyk8s.controllers.deployment.scaling import scale_plan
from pyk8s.controllers.deployment.util import (
    FAILED_RS_CREATE_REASON,
    FOUND_NEW_RS_REASON,
    NEW_REPLICA_SET_REASON,
    NEW_RS_AVAILABLE_REASON,
    PAUSED_DEPLOY_REASON,
    PROGRESSING,
    REPLICA_FAILURE,
    REPLICA_SET_UPDATED_REASON,
    RESUMED_DEPLOY_REASON,
    REVISION_ANNOTATION,
    ROLLBACK_DONE,
    ROLLBACK_REVISION_NOT_FOUND,
    ROLLBACK_TEMPLATE_UNCHANGED,
    TIMED_OUT_REASON,
    UNIQUE_LABEL_KEY,
    annotations_of,
    calculate_status,
    clone_selector_and_add_label,
    deployment_complete,
    deployment_progressing,
    deployment_timed_out,
    desired_replicas_annotation,
    equal_ignore_hash,
    filter_active,
    find_new_replica_set,
    find_old_replica_sets,
    get_condition,
    has_progress_deadline,
    has_revision_history_limit,
    is_paused,
    last_revision,
    max_revision,
    max_surge,
    new_condition,
    new_rs_new_replicas,
    normalize_status,
    remove_condition,
    replicas,
    replicas_annotations_need_update,
    revision,
    rs_to_deployment_condition,
    seconds_until_progress_check,
    set_condition,
    set_deployment_revision,
    set_new_rs_annotations,
    set_replicas_annotations,
    sort_by_revision,
    status_count,
    status_equal,
    strategy_type,
    total_replicas,
    uid,
)
from pyk8s.controllers.framework import Controller, ControllerContext, Result, controller_ref, new_controller_ref
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.ownership import (
    ControllerRefManager,
    owners_selecting,
    resolve_controller_ref,
)
from pyk8s.controllers.framework.podindex import add_pod_controller_uid_index, controlled_pods

log = logging.getLogger("pyk8s.controllers.deployment")

NAME = "deployment"
COMPONENT = "deployment-controller"
KIND = "Deployment"
API_VERSION = "apps/v1"
RS_KIND = "ReplicaSet"


class DeploymentSyncError(Exception):
    """A sync could not proceed (invalid selector, stale cache, unsupported strategy); it is retried."""


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}



def _typed(obj: Obj, kind: str) -> Obj:
    """`obj` with apiVersion and kind (objects from a LIST carry neither)."""
    obj.setdefault("apiVersion", API_VERSION)
    obj.setdefault("kind", kind)
    return obj


def _replace(rss: list[Obj], updated: Obj) -> None:
    """Swap the copy of `updated` (same UID) in `rss` for the newer object the server returned."""
    for i, rs in enumerate(rss):
        if uid(rs) == uid(updated):
            rss[i] = updated


class DeploymentController:
    """Reconciles Deployments. `reconcile(key)` is one upstream syncDeployment."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder: Any = ctx.recorder(COMPONENT)
        self.d_informer = ctx.informers.informer(DEPLOYMENTS)
        self.rs_informer = ctx.informers.informer(REPLICA_SETS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.d_informer.add_handler(self._on_deployment, lambda old, cur: self._on_deployment(cur),
                                    self._on_deployment)
        self.rs_informer.add_handler(self._on_rs_add, self._on_rs_update, self._on_rs_delete)
        add_pod_controller_uid_index(self.pod_informer)
        self.pod_informer.add_handler(on_delete=self._on_pod_delete)
        self.controller = Controller(NAME, self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.d_informer, self.rs_informer, self.pod_informer])

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())

    def _event(self, d: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.event(d, type_, reason, message, kind=KIND, api_version=API_VERSION)

    # ---- cache lookups ----
    def _resolve(self, namespace: str, ref: Obj) -> Obj | None:
        return resolve_controller_ref(self.d_informer.lister, namespace, ref, KIND)

    def _deployments_for_rs(self, rs: Obj) -> list[Obj]:
        found = owners_selecting(self.d_informer.lister, rs)
        if len(found) > 1:
            log.info("user error: more than one deployment selects replica set %s", object_key(rs))
        return found

    def _owned_replica_sets(self, d: Obj) -> list[Obj]:
        """ListReplicaSets: the cached ReplicaSets the selector matches and the Deployment controls."""
        try:
            selector = from_label_selector(_spec(d).get("selector"))
        except errors.StatusError:
            return []
        return [rs for rs in self.rs_informer.lister.list(namespace_of(d))
                if selector.matches(labels_of(rs)) and (controller_ref(rs) or {}).get("uid") == uid(d)]

    def _pod_map(self, d: Obj, rss: list[Obj], *, exclude_uid: str = "") -> dict[str, list[Obj]]:
        """Pods (terminating and finished ones too) grouped by the UID of the owned ReplicaSet controlling them."""
        selector = from_label_selector(_spec(d).get("selector"))
        ns = namespace_of(d)
        by_rs: dict[str, list[Obj]] = {uid(rs): [] for rs in rss}
        for rs_uid, pods in by_rs.items():
            # Through the controller index: O(pods of these ReplicaSets), not O(pods of the namespace).
            for pod in controlled_pods(self.pod_informer.lister, ns, rs_uid):
                if selector.matches(_meta(pod).get("labels") or {}) and not (exclude_uid and uid(pod) == exclude_uid):
                    pods.append(pod)
        return by_rs

    # ---- informer handlers ----
    def _on_deployment(self, d: Obj) -> None:
        self.controller.enqueue(d)

    def _on_rs_add(self, rs: Obj) -> None:
        if _meta(rs).get("deletionTimestamp"):
            self._on_rs_delete(rs)
            return
        ref = controller_ref(rs)
        if ref is not None:
            d = self._resolve(namespace_of(rs), ref)
            if d is not None:
                self.controller.enqueue(d)
            return
        for d in self._deployments_for_rs(rs):
            self.controller.enqueue(d)

    def _on_rs_update(self, old: Obj, cur: Obj) -> None:
        if _meta(old).get("resourceVersion") == _meta(cur).get("resourceVersion"):
            return
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            prev = self._resolve(namespace_of(old), old_ref)
            if prev is not None:
                self.controller.enqueue(prev)
        if cur_ref is not None:
            d = self._resolve(namespace_of(cur), cur_ref)
            if d is not None:
                self.controller.enqueue(d)
            return
        if ref_changed or labels_of(old) != labels_of(cur):
            for d in self._deployments_for_rs(cur):
                self.controller.enqueue(d)

    def _on_rs_delete(self, rs: Obj) -> None:
        ref = controller_ref(rs)
        if ref is None:
            return
        d = self._resolve(namespace_of(rs), ref)
        if d is not None:
            self.controller.enqueue(d)

    def _on_pod_delete(self, pod: Obj) -> None:
        """A Recreate Deployment waits for its old pods to be gone: sync it when the last one goes."""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != RS_KIND:
            return
        rs = self.rs_informer.lister.get(f"{namespace_of(pod)}/{ref.get('name', '')}")
        if rs is None or uid(rs) != ref.get("uid"):
            return
        rs_ref = controller_ref(rs)
        d = self._resolve(namespace_of(rs), rs_ref) if rs_ref is not None else None
        if d is None or strategy_type(d) != "Recreate":
            return
        try:
            pod_map = self._pod_map(d, self._owned_replica_sets(d), exclude_uid=uid(pod))
        except errors.StatusError:
            return
        if not any(pod_map.values()):
            self.controller.enqueue(d)

    # ---- the sync ----
    async def reconcile(self, key: str) -> Result | None:
        cached = self.d_informer.lister.get(key)
        if cached is None:
            return None
        d: Obj = _typed(copy(cached), KIND)
        if normalize(_spec(d).get("selector")) == {}:
            self._event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            generation = int(_meta(d).get("generation") or 0)
            if int((d.get("status") or {}).get("observedGeneration") or 0) < generation:
                d.setdefault("status", {})["observedGeneration"] = generation
                await self._write_status(d)
            return None

        rss = await self._claim_replica_sets(d)
        # Only the Recreate rollout reads the pods (it waits for the old ones to go): skip the lookup otherwise.
        pod_map = self._pod_map(d, rss) if strategy_type(d) == "Recreate" else {}
        if _meta(d).get("deletionTimestamp"):
            await self._sync_status_only(d, rss)
            return None
        await self._check_paused_conditions(d)
        if is_paused(d):
            await self._sync(d, rss)
            return None
        target_revision = rollback_to(d)
        if target_revision is not None:
            await self._rollback(d, rss, target_revision)
            return None
        if await self._is_scaling_event(d, rss):
            await self._sync(d, rss)
            return None
        kind = strategy_type(d)
        if kind == "Recreate":
            return await self._rollout_recreate(d, rss, pod_map)
        if kind == "RollingUpdate":
            return await self._rollout_rolling(d, rss)
        raise DeploymentSyncError(f"unexpected deployment strategy type: {kind}")

    async def _claim_replica_sets(self, d: Obj) -> list[Obj]:
        ns, name = namespace_of(d), name_of(d)
        try:
            selector: Selector = from_label_selector(_spec(d).get("selector"))
        except errors.StatusError as e:
            raise DeploymentSyncError(f"deployment {ns}/{name} has invalid label selector: {e}") from e

        manager = ControllerRefManager(self.client, d, DEPLOYMENTS, selector)
        return await manager.claim(REPLICA_SETS, self.rs_informer.lister.list(ns))

    async def _write_status(self, d: Obj) -> None:
        """PUT d's status. When the server's copy still has our spec and metadata, continue from its
        resourceVersion so the next write of this sync does not conflict with our own."""
        d["status"] = normalize_status(d.get("status") or {})
        written = await self.client.update(DEPLOYMENTS, d, subresource="status")
        wm = _meta(written)
        if (written.get("spec") == d.get("spec") and wm.get("generation") == _meta(d).get("generation")
                and (wm.get("labels") or {}) == (_meta(d).get("labels") or {})
                and (wm.get("annotations") or {}) == (_meta(d).get("annotations") or {})):
            d["metadata"]["resourceVersion"] = wm.get("resourceVersion")

    # ---- ReplicaSets: find or create the new one, keep revisions in step ----
    async def _get_all_replica_sets_and_sync_revision(self, d: Obj, rss: list[Obj],
                                                      create: bool) -> tuple[Obj | None, list[Obj]]:
        _, all_old = find_old_replica_sets(d, rss)
        new_rs = await self._get_new_replica_set(d, rss, all_old, create)
        return new_rs, all_old

    async def _get_new_replica_set(self, d: Obj, rss: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        existing = find_new_replica_set(d, rss)
        new_revision = str(max_revision(old_rss) + 1)
        now = self.clock.now()
        status = d.setdefault("status", {})
        if existing is not None:
            rs_copy = _typed(copy(existing), RS_KIND)
            annotations_updated = set_new_rs_annotations(d, rs_copy, new_revision, True)
            min_ready = int(_spec(d).get("minReadySeconds") or 0)
            if annotations_updated or int(_spec(rs_copy).get("minReadySeconds") or 0) != min_ready:
                if min_ready:
                    rs_copy["spec"]["minReadySeconds"] = min_ready
                else:
                    rs_copy["spec"].pop("minReadySeconds", None)
                updated = await self.client.update(REPLICA_SETS, rs_copy)
                _replace(rss, updated)
                return updated
            needs_update = set_deployment_revision(d, annotations_of(rs_copy).get(REVISION_ANNOTATION, ""))
            if has_progress_deadline(d) and get_condition(status, PROGRESSING) is None:
                set_condition(status, new_condition(PROGRESSING, "True", FOUND_NEW_RS_REASON,
                                                    f'Found new replica set "{name_of(rs_copy)}"', now))
                needs_update = True
            if needs_update:
                await self._write_status(d)
            return rs_copy
        if not create:
            return None

        template = copy(_spec(d).get("template") or {})
        template_hash = compute_hash(template, status.get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), UNIQUE_LABEL_KEY: template_hash}
        rs_name = f"{name_of(d)}-{template_hash}"
        rs_spec: Obj = {
            "replicas": 0,
            "selector": clone_selector_and_add_label(_spec(d).get("selector"), UNIQUE_LABEL_KEY, template_hash),
            "template": template,
        }
        if _spec(d).get("minReadySeconds"):
            rs_spec["minReadySeconds"] = int(_spec(d)["minReadySeconds"])
        new_rs: Obj = {
            "apiVersion": API_VERSION, "kind": RS_KIND,
            "metadata": {"name": rs_name, "namespace": namespace_of(d), "labels": dict(tmeta["labels"]),
                         "ownerReferences": [new_controller_ref(d, API_VERSION, KIND)]},
            "spec": rs_spec,
        }
        new_replicas = new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        rs_spec["replicas"] = new_replicas
        set_new_rs_annotations(d, new_rs, new_revision, False)

        already_exists = False
        try:
            created = await self.client.create(REPLICA_SETS, new_rs, namespace_of(d))
        except errors.AlreadyExists:
            already_exists = True
            found = self.rs_informer.lister.get(f"{namespace_of(d)}/{rs_name}")
            if found is None:
                raise  # not in our cache yet: try again later
            ref = controller_ref(found)
            if ref is not None and ref.get("uid") == uid(d) and \
                    equal_ignore_hash(_spec(d).get("template"), _spec(found).get("template")):
                created = found
            else:
                # A hash collision: another template got this name. Bump collisionCount and try a new name.
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                try:
                    await self._write_status(d)
                except errors.StatusError:
                    pass
                raise
        except errors.StatusError as e:
            if is_namespace_terminating(e):
                raise
            msg = f'Failed to create new replica set "{rs_name}": {e}'
            if has_progress_deadline(d):
                set_condition(status, new_condition(PROGRESSING, "False", FAILED_RS_CREATE_REASON, msg, now))
                try:
                    await self._write_status(d)
                except errors.StatusError:
                    pass
            self._event(d, "Warning", FAILED_RS_CREATE_REASON, msg)
            raise
        if not already_exists:
            rss.append(created)
            if new_replicas > 0:
                self._event(d, "Normal", "ScalingReplicaSet",
                                    f"Scaled up replica set {name_of(created)} from 0 to {new_replicas}")
        needs_update = set_deployment_revision(d, new_revision)
        if not already_exists and has_progress_deadline(d):
            set_condition(status, new_condition(PROGRESSING, "True", NEW_REPLICA_SET_REASON,
                                                f'Created new replica set "{name_of(created)}"', now))
            needs_update = True
        if needs_update:
            await self._write_status(d)
        return created

    # ---- scaling ----
    async def _scale_replica_set(self, rs: Obj, size: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        """Set spec.replicas (and the desired/max annotations); an event when the size changed."""
        max_replicas = replicas(d) + max_surge(d)
        size_changed = replicas(rs) != size
        if not size_changed and not replicas_annotations_need_update(rs, replicas(d), max_replicas):
            return False, rs
        old_size = replicas(rs)
        rs_copy = _typed(copy(rs), RS_KIND)
        rs_copy.setdefault("spec", {})["replicas"] = size
        set_replicas_annotations(rs_copy, replicas(d), max_replicas)
        updated = await self.client.update(REPLICA_SETS, rs_copy)
        if size_changed:
            self._event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {operation} replica set {name_of(updated)} from {old_size} to {size}")
        return size_changed, updated

    async def _scale_and_record(self, rs: Obj, size: int, d: Obj) -> tuple[bool, Obj]:
        if replicas(rs) == size:
            return False, rs
        return await self._scale_replica_set(rs, size, d, "up" if replicas(rs) < size else "down")

    async def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        for step in scale_plan(d, new_rs, old_rss):
            if step.operation is None:
                await self._scale_and_record(step.rs, step.size, d)
            else:
                await self._scale_replica_set(step.rs, step.size, d, step.operation)

    async def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        """Whether spec.replicas changed since the active ReplicaSets were last sized (desired-replicas)."""
        new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, False)
        for rs in filter_active([*old_rss, new_rs]):
            desired = desired_replicas_annotation(rs)
            if desired is not None and desired != replicas(d):
                return True
        return False

    async def _cleanup(self, old_rss: list[Obj], d: Obj) -> None:
        """Delete the oldest empty ReplicaSets beyond revisionHistoryLimit."""
        if not has_revision_history_limit(d):
            return
        alive = [rs for rs in old_rss if rs is not None and not _meta(rs).get("deletionTimestamp")]
        diff = len(alive) - int(_spec(d)["revisionHistoryLimit"])
        if diff <= 0:
            return
        for rs in sort_by_revision(alive)[:diff]:
            generation = int(_meta(rs).get("generation") or 0)
            if (status_count(rs, "replicas") != 0 or replicas(rs) != 0
                    or generation > status_count(rs, "observedGeneration")):
                continue
            try:
                await self.client.delete(REPLICA_SETS, name_of(rs), namespace_of(rs))
            except errors.NotFound:
                pass

    # ---- paths of a sync ----
    async def _sync_status_only(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, False)
        await self._sync_deployment_status([*old_rss, new_rs], new_rs, d)

    async def _sync(self, d: Obj, rss: list[Obj]) -> None:
        """Scaling events and paused Deployments: resize, never roll out."""
        new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, False)
        await self._scale(d, new_rs, old_rss)
        if is_paused(d) and rollback_to(d) is None:
            await self._cleanup(old_rss, d)
        await self._sync_deployment_status([*old_rss, new_rs], new_rs, d)

    async def _check_paused_conditions(self, d: Obj) -> None:
        """Progressing=Unknown DeploymentPaused/DeploymentResumed, so time spent paused never counts
        against progressDeadlineSeconds."""
        if not has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = get_condition(status, PROGRESSING)
        if cond is not None and cond.get("reason") == TIMED_OUT_REASON:
            return
        paused_cond = cond is not None and cond.get("reason") == PAUSED_DEPLOY_REASON
        now = self.clock.now()
        if is_paused(d) and not paused_cond:
            set_condition(status, new_condition(PROGRESSING, "Unknown", PAUSED_DEPLOY_REASON,
                                                "Deployment is paused", now))
        elif not is_paused(d) and paused_cond:
            set_condition(status, new_condition(PROGRESSING, "Unknown", RESUMED_DEPLOY_REASON,
                                                "Deployment is resumed", now))
        else:
            return
        await self._write_status(d)

    async def _sync_deployment_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> None:
        new_status = calculate_status(all_rss, new_rs, d, self.clock.now())
        if status_equal(d.get("status") or {}, new_status):
            return
        d["status"] = new_status
        await self._write_status(d)

    async def _sync_rollout_status(self, all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Result | None:
        """Status during a rollout, with the Progressing condition (progress.go)."""
        now = self.clock.now()
        new_status = calculate_status(all_rss, new_rs, d, now)
        if not has_progress_deadline(d):
            remove_condition(new_status, PROGRESSING)
        current = get_condition(d.get("status") or {}, PROGRESSING)
        is_complete = (int(new_status.get("replicas") or 0) == int(new_status.get("updatedReplicas") or 0)
                       and current is not None and current.get("reason") == NEW_RS_AVAILABLE_REASON)
        if has_progress_deadline(d) and not is_complete:
            rs_name = name_of(new_rs) if new_rs is not None else ""
            if deployment_complete(d, new_status):
                msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if new_rs is not None
                       else f'Deployment "{name_of(d)}" has successfully progressed.')
                set_condition(new_status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE_REASON, msg, now))
            elif deployment_progressing(d, new_status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if new_rs is not None
                       else f'Deployment "{name_of(d)}" is progressing.')
                cond = new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED_REASON, msg, now)
                # Same reason, fresh lastUpdateTime: progress moves the deadline.
                if current is not None:
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    remove_condition(new_status, PROGRESSING)
                set_condition(new_status, cond)
            elif deployment_timed_out(d, new_status, now):
                msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if new_rs is not None
                       else f'Deployment "{name_of(d)}" has timed out progressing.')
                set_condition(new_status, new_condition(PROGRESSING, "False", TIMED_OUT_REASON, msg, now))
        failures = self._replica_failures(all_rss, new_rs)
        if failures:
            set_condition(new_status, failures[0])
        else:
            remove_condition(new_status, REPLICA_FAILURE)
        new_status = normalize_status(new_status)
        if status_equal(d.get("status") or {}, new_status):
            wait = seconds_until_progress_check(d, new_status, now)
            if wait is None:
                return None
            # One extra second against clock skew, as upstream; at least one second to avoid a hot loop.
            return Result(requeue_after=max(wait, 0.0) + 1.0)
        d["status"] = new_status
        await self._write_status(d)
        return None

    @staticmethod
    def _replica_failures(all_rss: list[Obj | None], new_rs: Obj | None) -> list[Obj]:
        """ReplicaFailure conditions of the new ReplicaSet, else of any ReplicaSet, as Deployment conditions."""
        def failures(rs: Obj | None) -> list[Obj]:
            conds = ((rs or {}).get("status") or {}).get("conditions") or ()
            return [rs_to_deployment_condition(c) for c in conds if c.get("type") == REPLICA_FAILURE]
        found = failures(new_rs)
        if found:
            return found
        return [c for rs in all_rss for c in failures(rs)]

    async def _rollout_rolling(self, d: Obj, rss: list[Obj]) -> Result | None:
        new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, True)
        if new_rs is None:
            raise DeploymentSyncError("new replica set was not created")
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        target = new_replica_set_target(d, all_rss, new_rs)
        if target != replicas(new_rs):
            scaled, _ = await self._scale_and_record(new_rs, target, d)
            if scaled:
                return await self._sync_rollout_status(all_rss, new_rs, d)
        if await self._reconcile_old_replica_sets(all_rss, filter_active(old_rss), new_rs, d):
            return await self._sync_rollout_status(all_rss, new_rs, d)
        if deployment_complete(d, d.get("status") or {}):
            await self._cleanup(old_rss, d)
        return await self._sync_rollout_status(all_rss, new_rs, d)

    async def _reconcile_old_replica_sets(self, all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj,
                                          d: Obj) -> bool:
        """Scale old ReplicaSets down as far as availability allows; True when anything was scaled.
        Write failures end the step without failing the sync (upstream ignores them here)."""
        if total_replicas(old_rss) == 0:
            return False
        budget = max_scaled_down(d, all_rss, new_rs)
        if budget <= 0:
            return False
        old_rss = list(old_rss)
        scaled_down = 0
        try:
            for rs, size in unhealthy_cleanup_plan(old_rss, budget):
                _, updated = await self._scale_and_record(rs, size, d)
                _replace(old_rss, updated)
                scaled_down += replicas(rs) - size
            for rs, size in old_scale_down_plan(d, [*old_rss, new_rs], old_rss):
                await self._scale_and_record(rs, size, d)
                scaled_down += replicas(rs) - size
        except Exception as e:
            log.info("deployment %s: scaling down old replica sets failed: %s", object_key(d), e)
            return False
        return scaled_down > 0

    async def _rollout_recreate(self, d: Obj, rss: list[Obj], pod_map: dict[str, list[Obj]]) -> Result | None:
        # Do not create the new ReplicaSet yet: nothing may scale up before everything old is down.
        new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, False)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        scaled_down = False
        for rs in filter_active(old_rss):
            scaled, _ = await self._scale_and_record(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down:
            return await self._sync_rollout_status(all_rss, new_rs, d)
        if old_pods_running(new_rs, old_rss, pod_map):
            return await self._sync_rollout_status(all_rss, new_rs, d)
        if new_rs is None:
            new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, True)
            all_rss = [*old_rss, new_rs]
        if new_rs is None:
            raise DeploymentSyncError("new replica set was not created")
        await self._scale_and_record(new_rs, replicas(d), d)
        if deployment_complete(d, d.get("status") or {}):
            await self._cleanup(old_rss, d)
        return await self._sync_rollout_status(all_rss, new_rs, d)

    async def _rollback(self, d: Obj, rss: list[Obj], target: int) -> None:
        """The deprecated rollbackTo annotation: copy an old revision's template, then drop the annotation."""
        new_rs, old_rss = await self._get_all_replica_sets_and_sync_revision(d, rss, True)
        all_rss = [rs for rs in [*old_rss, new_rs] if rs is not None]
        if target == 0:
            target = last_revision(all_rss)
            if target == 0:
                self._event(d, "Warning", ROLLBACK_REVISION_NOT_FOUND, "Unable to find last revision.")
                await self._update_and_clear_rollback_to(d)
                return
        for rs in all_rss:
            try:
                rev = revision(rs)
            except ValueError:
                continue
            if rev != target:
                continue
            if not equal_ignore_hash(_spec(d).get("template"), _spec(rs).get("template")):
                apply_rollback(d, rs)
                await self._update_and_clear_rollback_to(d)
                self._event(d, "Normal", ROLLBACK_DONE,
                                    f'Rolled back deployment "{name_of(d)}" to revision {target}')
            else:
                self._event(d, "Warning", ROLLBACK_TEMPLATE_UNCHANGED,
                                    f'The rollback revision contains the same template as current deployment '
                                    f'"{name_of(d)}"')
                await self._update_and_clear_rollback_to(d)
            return
        self._event(d, "Warning", ROLLBACK_REVISION_NOT_FOUND, "Unable to find the revision to rollback to.")
        await self._update_and_clear_rollback_to(d)

    async def _update_and_clear_rollback_to(self, d: Obj) -> None:
        clear_rollback_to(d)
        await self.client.update(DEPLOYMENTS, d)
