"""The DaemonSet controller: one pod per eligible node, rolled forward by template revision (upstream daemon_controller.go).

Each sync of a DaemonSet: record its template as a ControllerRevision (the current revision's hash labels the
pods), create a pod on every node that should run one and has none, delete pods from nodes that should not run
one (and failed pods, with backoff), then, for RollingUpdate, replace out-of-date pods within maxUnavailable /
maxSurge, trim old revisions, and write status. Pods name no node: a required node affinity on
`metadata.name` pins each to its node and the scheduler binds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from pyk8s.api import errors
from pyk8s.api.meta import copy, labels_of
from pyk8s.client.interface import Obj, object_key, split_key
from pyk8s.client.kinds import CONTROLLER_REVISIONS, DAEMON_SETS, NODES, PODS
from pyk8s.controllers.daemonset import history
from pyk8s.controllers.daemonset.backoff import Backoff
from pyk8s.controllers.daemonset.daemonpods import (
    UNIQUE_LABEL_KEY,
    InvalidIntOrPercent,
    create_pod_template,
    creation_order_key,
    is_pod_updated,
    node_should_run,
    replace_node_name_affinity,
    surge_count,
    target_node_name,
    template_generation,
    unavailable_count,
)
from pyk8s.controllers.daemonset.plan import pods_should_be_on_node, rolling_update, unscheduled_pods_without_node
from pyk8s.controllers.framework import Controller, ControllerContext, Expectations, Result, controller_ref
from pyk8s.controllers.framework.apierrors import is_namespace_terminating
from pyk8s.controllers.framework.ownership import (
    ControllerRefManager,
    owners_selecting,
    resolve_controller_ref,
    spec_selector,
)
from pyk8s.controllers.framework.podindex import add_pod_controller_uid_index, claim_candidates
from pyk8s.controllers.framework.podstate import is_pod_available, is_pod_ready, is_terminal, is_terminating
from pyk8s.controllers.framework.revisions import revision_number

log = logging.getLogger("pyk8s.controllers.daemonset")

COMPONENT = "daemonset-controller"
KIND = "DaemonSet"
API_VERSION = "apps/v1"
BURST_REPLICAS = 250  # upstream BurstReplicas
SLOW_START_INITIAL_BATCH_SIZE = 1  # controller.SlowStartInitialBatchSize
STATUS_UPDATE_RETRIES = 1
WORKERS = 2  # --concurrent-daemonset-syncs default


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}




class DaemonSetController:
    """Reconciles DaemonSets: keys are "namespace/name"."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder(COMPONENT)
        self.ds_informer = ctx.informers.informer(DAEMON_SETS)
        self.history_informer = ctx.informers.informer(CONTROLLER_REVISIONS)
        self.pod_informer = ctx.informers.informer(PODS)
        self.node_informer = ctx.informers.informer(NODES)
        self.creations = Expectations(ctx.clock)
        self.deletions = Expectations(ctx.clock)
        self.failed_pods_backoff = Backoff(ctx.clock)
        self.burst_replicas = BURST_REPLICAS
        self.controller = Controller("daemonset", self, workers=WORKERS, clock=ctx.clock,
                                     informers=[self.ds_informer, self.history_informer, self.pod_informer,
                                                self.node_informer])
        self.ds_informer.add_handler(on_add=self.controller.enqueue,
                                     on_update=lambda old, cur: self.controller.enqueue(cur),
                                     on_delete=self._delete_ds)
        self.history_informer.add_handler(on_add=self._add_history, on_update=self._update_history,
                                          on_delete=self._delete_history)
        add_pod_controller_uid_index(self.pod_informer)
        self.pod_informer.add_handler(on_add=self._add_pod, on_update=self._update_pod, on_delete=self._delete_pod)
        self.node_informer.add_handler(on_add=self._add_node, on_update=self._update_node,
                                       on_delete=self._delete_node)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())
            tg.create_task(self._gc_backoff())

    async def _gc_backoff(self) -> None:
        while True:
            await self.clock.sleep(60)  # upstream BackoffGCInterval
            self.failed_pods_backoff.gc()

    # ---- informer handlers: compute keys, nothing more ----

    def _delete_ds(self, ds: Obj) -> None:
        key = object_key(ds)
        self.creations.forget(key)
        self.deletions.forget(key)
        self.controller.enqueue(key)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        return resolve_controller_ref(self.ds_informer.lister, namespace, ref, KIND)

    def _sets_selecting(self, obj: Obj) -> list[Obj]:
        return owners_selecting(self.ds_informer.lister, obj)

    def _add_history(self, rev: Obj) -> None:
        if _meta(rev).get("deletionTimestamp"):
            self._delete_history(rev)
            return
        ref = controller_ref(rev)
        if ref is not None:
            # Creation of a revision we own needs no sync; the owner created it.
            return
        for ds in self._sets_selecting(rev):
            self.controller.enqueue(ds)

    def _update_history(self, old: Obj, cur: Obj) -> None:
        if _meta(old).get("resourceVersion") == _meta(cur).get("resourceVersion"):
            return
        ns = _meta(cur).get("namespace") or ""
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            ds = self._resolve(ns, old_ref)
            if ds is not None:
                self.controller.enqueue(ds)
        if cur_ref is not None:
            ds = self._resolve(ns, cur_ref)
            if ds is not None:
                self.controller.enqueue(ds)
            return
        if labels_of(cur) != labels_of(old) or cur_ref != old_ref:
            for ds in self._sets_selecting(cur):
                self.controller.enqueue(ds)

    def _delete_history(self, rev: Obj) -> None:
        ds = self._resolve(_meta(rev).get("namespace") or "", controller_ref(rev))
        if ds is not None:
            self.controller.enqueue(ds)

    def _add_pod(self, pod: Obj) -> None:
        if is_terminating(pod):
            self._delete_pod(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            ds = self._resolve(_meta(pod).get("namespace") or "", ref)
            if ds is None:
                return
            self.creations.creation_observed(object_key(ds))
            self.controller.enqueue(ds)
            return
        for ds in self._sets_selecting(pod):
            self.controller.enqueue(ds)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        if _meta(old).get("resourceVersion") == _meta(cur).get("resourceVersion"):
            return
        if is_terminating(cur):
            self._delete_pod(cur)
            return
        ns = _meta(cur).get("namespace") or ""
        cur_ref, old_ref = controller_ref(cur), controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            ds = self._resolve(ns, old_ref)
            if ds is not None:
                self.controller.enqueue(ds)
        if cur_ref is not None:
            ds = self._resolve(ns, cur_ref)
            if ds is None:
                return
            self.controller.enqueue(ds)
            min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                self.controller.enqueue_after(ds, min_ready + 1)
            return
        if labels_of(cur) != labels_of(old) or cur_ref != old_ref:
            for ds in self._sets_selecting(cur):
                self.controller.enqueue(ds)

    def _delete_pod(self, pod: Obj) -> None:
        ds = self._resolve(_meta(pod).get("namespace") or "", controller_ref(pod))
        if ds is None:
            return
        self.deletions.deletion_observed(object_key(ds), str(_meta(pod).get("uid") or ""))
        self.controller.enqueue(ds)

    def _add_node(self, node: Obj) -> None:
        for ds in self.ds_informer.lister.list():
            if node_should_run(node, ds)[0]:
                self.controller.enqueue(ds)

    def _update_node(self, old: Obj, cur: Obj) -> None:
        if (labels_of(old) == labels_of(cur)
                and (old.get("spec") or {}).get("taints") == (cur.get("spec") or {}).get("taints")):
            return
        for ds in self.ds_informer.lister.list():
            if node_should_run(old, ds) != node_should_run(cur, ds):
                self.controller.enqueue(ds)

    def _delete_node(self, node: Obj) -> None:
        # Upstream leaves this to pod GC; resyncing keeps desiredNumberScheduled right meanwhile.
        for ds in self.ds_informer.lister.list():
            self.controller.enqueue(ds)

    # ---- reconcile ----

    async def reconcile(self, key: str) -> Result | None:
        ds = self.ds_informer.lister.get(key)
        if ds is None:
            self.creations.forget(key)
            self.deletions.forget(key)
            return None
        nodes = sorted(self.node_informer.lister.list(), key=lambda n: str(_meta(n).get("name") or ""))
        selector = (ds.get("spec") or {}).get("selector")
        if isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return None
        if _meta(ds).get("deletionTimestamp"):
            return None
        cur, old = await self._construct_history(ds)
        hash_ = str(labels_of(cur).get(UNIQUE_LABEL_KEY) or "")
        if not self._satisfied(key):
            await self._update_status(ds, nodes, hash_, update_observed_generation=False)
            return None
        err: Exception | None = None
        try:
            await self._update_daemon_set(ds, nodes, hash_, key, old)
        except Exception as e:
            err = e
        try:
            await self._update_status(ds, nodes, hash_, update_observed_generation=True)
        except Exception as status_err:
            if err is None:
                raise
            log.info("daemonset %s: failed to update status: %s", key, status_err)
        if err is not None:
            raise err
        return None

    def _satisfied(self, key: str) -> bool:
        return self.creations.satisfied(key) and self.deletions.satisfied(key)

    async def _update_daemon_set(self, ds: Obj, nodes: list[Obj], hash_: str, key: str, old: list[Obj]) -> None:
        await self._manage(ds, nodes, hash_)
        if self._satisfied(key):
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
            if strategy == "RollingUpdate":
                await self._rolling_update(ds, nodes, hash_)
        await self._cleanup_history(ds, old)

    async def _daemon_pods(self, ds: Obj) -> list[Obj]:
        """getDaemonPods: pods this DaemonSet controls, adopting and releasing as needed."""
        selector = spec_selector(ds)
        if selector is None:
            raise ValueError(f"daemon set {_meta(ds).get('name')!r} has an invalid selector")
        manager = ControllerRefManager(self.client, ds, DAEMON_SETS, selector)
        return await manager.claim(PODS, claim_candidates(self.pod_informer.lister, ds))

    async def _nodes_to_daemon_pods(self, ds: Obj, include_deleted_terminal: bool = False) -> dict[str, list[Obj]]:
        out: dict[str, list[Obj]] = {}
        for pod in await self._daemon_pods(ds):
            if not include_deleted_terminal and is_terminal(pod) and is_terminating(pod):
                continue
            node_name = target_node_name(pod)
            if node_name is None:
                continue
            out.setdefault(node_name, []).append(pod)
        return out

    async def _manage(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        node_to_pods = await self._nodes_to_daemon_pods(ds)
        now = self.clock.now()
        needing: list[str] = []
        to_delete: list[Obj] = []
        for node in nodes:
            decision = pods_should_be_on_node(node, node_to_pods, ds, hash_, now)
            node_name = str(_meta(node).get("name") or "")
            if decision.needs_pod:
                needing.append(node_name)
            to_delete.extend(decision.delete)
            for pod in decision.failed:
                key = f"{_meta(ds).get('uid')}/{(ds.get('status') or {}).get('observedGeneration') or 0}/{node_name}"
                if self.failed_pods_backoff.in_backoff_since_update(key):
                    self.controller.enqueue_after(ds, self.failed_pods_backoff.get(key))
                    continue
                self.failed_pods_backoff.next(key)
                pm = _meta(pod)
                self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                    f"Found failed daemon pod {pm.get('namespace')}/{pm.get('name')} on node "
                                    f"{node_name}, will try to kill it")
                to_delete.append(pod)
            for pod in decision.succeeded:
                pm = _meta(pod)
                self.recorder.event(ds, "Normal", "SucceededDaemonPod",
                                    f"Found succeeded daemon pod {pm.get('namespace')}/{pm.get('name')} on node "
                                    f"{node_name}, will try to delete it")
                to_delete.append(pod)
        node_names = {str(_meta(n).get("name") or "") for n in nodes}
        to_delete.extend(unscheduled_pods_without_node(node_names, node_to_pods))
        await self._sync_nodes(ds, to_delete, needing, hash_)

    async def _rolling_update(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        node_to_pods = await self._nodes_to_daemon_pods(ds)
        desired = 0
        for node in nodes:
            if node_should_run(node, ds)[0]:
                desired += 1
                node_to_pods.setdefault(str(_meta(node).get("name") or ""), [])
        try:
            max_unavailable = unavailable_count(ds, desired)
        except InvalidIntOrPercent as e:
            raise ValueError(f"couldn't get unavailable numbers: invalid value for MaxUnavailable: {e}") from None
        try:
            max_surge = surge_count(ds, desired)
        except InvalidIntOrPercent as e:
            raise ValueError(f"couldn't get unavailable numbers: invalid value for MaxSurge: {e}") from None
        if desired > 0 and max_unavailable == 0 and max_surge == 0:
            max_unavailable = 1
        by_name = {str(_meta(n).get("name") or ""): n for n in nodes}

        def should_run(node_name: str) -> bool:
            node = by_name.get(node_name)
            return node is not None and node_should_run(node, ds)[0]

        decision = rolling_update(ds, node_to_pods, hash_, max_surge, max_unavailable, desired, self.clock.now(),
                                  should_run)
        await self._sync_nodes(ds, decision.delete, decision.create_on, hash_)

    async def _sync_nodes(self, ds: Obj, to_delete: Sequence[Obj], needing: Sequence[str], hash_: str) -> None:
        """syncNodes: delete the given pods and create one pod on each given node, under expectations."""
        key = object_key(ds)
        create_diff = min(len(needing), self.burst_replicas)
        deletes = list(to_delete)[: self.burst_replicas]
        self.creations.expect_creations(key, create_diff)
        self.deletions.expect_deletions(key, [str(_meta(p).get("uid") or "") for p in deletes])
        failures: list[Exception] = []
        template = create_pod_template((ds.get("spec") or {}).get("template") or {}, template_generation(ds), hash_)

        pos = 0
        batch = min(create_diff, SLOW_START_INITIAL_BATCH_SIZE)
        while pos < create_diff:
            results = await asyncio.gather(*(self._create_pod(ds, template, needing[i])
                                             for i in range(pos, pos + batch)), return_exceptions=True)
            errs = [r for r in results if isinstance(r, BaseException)]
            for e in errs:
                if isinstance(e, Exception):
                    self.creations.lower_creations(key)
                    failures.append(e)
                else:
                    raise e
            pos += batch
            if errs:
                for _ in range(create_diff - pos):
                    self.creations.lower_creations(key)
                break
            batch = min(2 * batch, create_diff - pos)

        results = await asyncio.gather(*(self._delete_pod_of(ds, pod) for pod in deletes), return_exceptions=True)
        for pod, r in zip(deletes, results, strict=True):
            if isinstance(r, BaseException):
                self.deletions.deletion_observed(key, str(_meta(pod).get("uid") or ""))
                if isinstance(r, errors.NotFound):
                    continue
                if not isinstance(r, Exception):
                    raise r
                failures.append(r)
        if failures:
            raise failures[0]

    async def _create_pod(self, ds: Obj, template: Obj, node_name: str) -> None:
        """RealPodControl.CreatePods for one node: generateName "<ds>-", controller ref, node affinity."""
        spec: Obj = copy(template.get("spec") or {})
        spec["affinity"] = replace_node_name_affinity(spec.get("affinity"), node_name)
        tmeta = template.get("metadata") or {}
        m = _meta(ds)
        meta: Obj = {
            "generateName": f"{m['name']}-",
            "namespace": m.get("namespace") or "",
            "labels": dict(tmeta.get("labels") or {}),
            "ownerReferences": [{"apiVersion": API_VERSION, "kind": KIND, "name": m["name"], "uid": m["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        if tmeta.get("finalizers"):
            meta["finalizers"] = list(tmeta["finalizers"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        if not meta["labels"]:
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, meta["namespace"])
        except errors.StatusError as e:
            if is_namespace_terminating(e):
                return
            self.recorder.event(ds, "Warning", "FailedCreate", f"Error creating: {e}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {_meta(created).get('name')}")

    async def _delete_pod_of(self, ds: Obj, pod: Obj) -> None:
        pm = _meta(pod)
        try:
            await self.client.delete(PODS, pm["name"], pm.get("namespace") or "")
        except errors.NotFound:
            raise
        except errors.StatusError as e:
            self.recorder.event(ds, "Warning", "FailedDelete", f"Error deleting: {e}")
            raise
        self.recorder.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pm['name']}")

    # ---- history ----

    async def _controlled_histories(self, ds: Obj) -> list[Obj]:
        selector = spec_selector(ds)
        if selector is None:
            raise ValueError(f"daemon set {_meta(ds).get('name')!r} has an invalid selector")
        ns = _meta(ds).get("namespace") or ""
        manager = ControllerRefManager(self.client, ds, DAEMON_SETS, selector)
        return await manager.claim(CONTROLLER_REVISIONS, self.history_informer.lister.list(ns))

    async def _construct_history(self, ds: Obj) -> tuple[Obj, list[Obj]]:
        """constructHistory: the current revision (created or renumbered as needed) and the old ones."""
        current: list[Obj] = []
        old: list[Obj] = []
        for rev in await self._controlled_histories(ds):
            if UNIQUE_LABEL_KEY not in labels_of(rev):
                fixed = copy(rev)
                fixed["metadata"].setdefault("labels", {})[UNIQUE_LABEL_KEY] = fixed["metadata"]["name"]
                rev = await self.client.update(CONTROLLER_REVISIONS, fixed)
            (current if history.matches(ds, rev) else old).append(rev)
        next_number = history.max_revision(old) + 1
        if not current:
            return await self._snapshot(ds, next_number), old
        cur = await self._dedup_current(ds, current)
        if revision_number(cur) < next_number:
            renumbered = copy(cur)
            renumbered["revision"] = next_number
            await self.client.update(CONTROLLER_REVISIONS, renumbered)
        return cur, old

    async def _snapshot(self, ds: Obj, revision: int) -> Obj:
        collision = (ds.get("status") or {}).get("collisionCount")
        hash_ = history.compute_hash((ds.get("spec") or {}).get("template") or {}, collision)
        rev = history.new_revision(ds, revision, hash_)
        ns = _meta(ds).get("namespace") or ""
        try:
            return await self.client.create(CONTROLLER_REVISIONS, rev, ns)
        except errors.AlreadyExists:
            existing = await self.client.get(CONTROLLER_REVISIONS, rev["metadata"]["name"], ns)
            if history.matches(ds, existing):
                return existing
            fresh = await self.client.get(DAEMON_SETS, _meta(ds)["name"], ns)
            fresh_collision = (fresh.get("status") or {}).get("collisionCount")
            if fresh_collision != collision:
                raise ValueError(f"found a stale collision count ({collision}, expected {fresh_collision}) of "
                                 f"DaemonSet {_meta(ds)['name']!r} while processing; will retry until it is updated"
                                 ) from None
            fresh.setdefault("status", {})["collisionCount"] = int(fresh_collision or 0) + 1
            await self.client.update(DAEMON_SETS, fresh, subresource="status")
            log.info("daemonset %s/%s: hash collision, collisionCount now %s", ns, _meta(ds)["name"],
                     fresh["status"]["collisionCount"])
            raise

    async def _dedup_current(self, ds: Obj, current: list[Obj]) -> Obj:
        if len(current) == 1:
            return current[0]
        keep = current[0]
        for rev in current:
            if revision_number(rev) >= revision_number(keep):
                keep = rev
        keep_hash = labels_of(keep).get(UNIQUE_LABEL_KEY)
        for pod in await self._daemon_pods(ds):
            if labels_of(pod).get(UNIQUE_LABEL_KEY) != keep_hash:
                pm = _meta(pod)
                await self.client.patch(PODS, pm["name"], {"metadata": {"labels": {UNIQUE_LABEL_KEY: keep_hash}}},
                                        pm.get("namespace") or "", patch_type="merge")
        for rev in current:
            if rev is not keep and _meta(rev).get("name") != _meta(keep).get("name"):
                rm = _meta(rev)
                await self.client.delete(CONTROLLER_REVISIONS, rm["name"], rm.get("namespace") or "")
        return keep

    async def _cleanup_history(self, ds: Obj, old: list[Obj]) -> None:
        limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
        to_kill = len(old) - (10 if limit is None else int(limit))
        if to_kill <= 0:
            return
        live: set[str] = set()
        for pods in (await self._nodes_to_daemon_pods(ds, include_deleted_terminal=True)).values():
            for pod in pods:
                h = labels_of(pod).get(UNIQUE_LABEL_KEY)
                if h:
                    live.add(h)
        for rev in sorted(old, key=revision_number):
            if to_kill <= 0:
                break
            if labels_of(rev).get(UNIQUE_LABEL_KEY) in live:
                continue
            rm = _meta(rev)
            try:
                await self.client.delete(CONTROLLER_REVISIONS, rm["name"], rm.get("namespace") or "")
            except errors.NotFound:
                pass
            to_kill -= 1

    # ---- status ----

    async def _update_status(self, ds: Obj, nodes: list[Obj], hash_: str, *, update_observed_generation: bool) -> None:
        node_to_pods = await self._nodes_to_daemon_pods(ds)
        now = self.clock.now()
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        generation = template_generation(ds)
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            should_run = node_should_run(node, ds)[0]
            pods = node_to_pods.get(str(_meta(node).get("name") or ""), [])
            if should_run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = sorted(pods, key=creation_order_key)[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, min_ready, now):
                        available += 1
                if is_pod_updated(pod, hash_, generation):
                    updated += 1
            elif pods:
                misscheduled += 1
        counts = {
            "desiredNumberScheduled": desired, "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberUnavailable": desired - available,
        }
        await self._store_status(ds, counts, update_observed_generation)
        if min_ready > 0 and ready != available:
            self.controller.enqueue_after(ds, min_ready)

    async def _store_status(self, ds: Obj, counts: dict[str, int], update_observed_generation: bool) -> None:
        status = ds.get("status") or {}
        generation = int(_meta(ds).get("generation") or 0)
        if (all(int(status.get(k) or 0) == v for k, v in counts.items())
                and int(status.get("observedGeneration") or 0) >= generation):
            return
        to_update = copy(ds)
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            st = to_update.setdefault("status", {})
            if update_observed_generation:
                st["observedGeneration"] = generation
            st.update(counts)
            for omit_empty in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable",
                               "observedGeneration"):
                if not st.get(omit_empty):
                    st.pop(omit_empty, None)
            try:
                await self.client.update(DAEMON_SETS, to_update, subresource="status")
                return
            except errors.StatusError:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                ns, name = split_key(object_key(ds))
                to_update = await self.client.get(DAEMON_SETS, name, ns)
