"""Subresources with their own shapes: scale (autoscaling/v1 Scale), pods/binding, pods/eviction,
namespaces/finalize.

pods/eviction is a delete that respects PodDisruptionBudgets (upstream pkg/registry/core/pod/storage/
eviction.go): Pods that are Pending, finished or already terminating go at once; otherwise the one budget
matching the Pod must allow a disruption, which is spent (disruptionsAllowed - 1, the Pod noted in
status.disruptedPods) before the Pod is marked DisruptionTarget and deleted with the Eviction's deleteOptions.
No budget left is 429, two budgets are a 500, as upstream answers.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors, labels, meta
from pyk8s.api.patch import PATCH_CONTENT_TYPES
from pyk8s.api.scale import SCALE_API_VERSION, scale_of
from pyk8s.apiserver.endpoints.common import check_kind, json_response, read_body
from pyk8s.apiserver.endpoints.deletes import DeleteHandler, parse_delete_options
from pyk8s.apiserver.endpoints.writes import WriteHandler
from pyk8s.apiserver.negotiation import decode_body, decode_json, media_type
from pyk8s.apiserver.registry.core import NamespaceStrategy
from pyk8s.apiserver.registry.strategy import RequestContext
from pyk8s.apiserver.request import RequestInfo, dry_run

Obj = dict[str, Any]

EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")
# Evictions approved but not yet seen by the disruption controller; past this many the budget refuses more.
MAX_DISRUPTED_POD_SIZE = 2000
# Attempts at an eviction whose Pod keeps changing under it (upstream EvictionsRetry: 20 steps).
EVICTION_ATTEMPTS = 20
EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."


class SubresourceHandler:
    def __init__(self, writes: WriteHandler) -> None:
        self.writes = writes
        self.registry = writes.registry
        self.deletes = DeleteHandler(writes.registry, writes.admission)

    # ---- scale ----
    async def get_scale(self, info: RequestInfo) -> web.StreamResponse:
        obj = await self.registry.objects(info.resource).get(info.namespace, info.name)
        return json_response(scale_of(self.registry.to_version(info.resource, obj)))

    async def write_scale(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        from pyk8s.api import patch as patching

        r = info.resource
        ctx.dry_run = dry_run(request.query, "PatchOptions" if request.method == "PATCH" else "UpdateOptions")
        ctx.field_manager = self.writes._field_manager(request)
        raw = await read_body(request)
        if request.method == "PUT":
            body = check_kind(decode_body(raw, request.headers.get("Content-Type"), kind_hint="Scale").obj, r,
                              expected_kind="Scale", expected_version=SCALE_API_VERSION)
        else:
            flavour = PATCH_CONTENT_TYPES.get(media_type(request.headers.get("Content-Type")))
            if flavour is None or flavour.startswith("apply"):
                raise errors.UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: "
                    "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
            try:
                patch_doc = decode_json(raw, track_duplicates=False).obj
            except ValueError as e:
                raise errors.BadRequest(f"error decoding patch: {e}"[:512]) from e
            if flavour == "strategic" and not isinstance(patch_doc, dict):
                raise errors.BadRequest("unable to unmarshal patch: the patch must be a JSON object")

        async def make_new(live: Obj) -> Obj:
            current_scale = scale_of(live)
            if request.method == "PUT":
                scale = body
            elif flavour == "json":
                scale = patching.json_patch(current_scale, patch_doc)
            elif flavour == "merge":
                scale = patching.json_merge_patch(current_scale, patch_doc)
            else:
                scale = patching.strategic_merge_patch(current_scale, patch_doc, None)
            if not isinstance(scale, dict) or not isinstance(scale.get("spec", {}), dict) or \
                    not isinstance(scale.get("metadata", {}), dict):
                raise errors.BadRequest("the patch produced something that is not a Scale object")
            rv = (scale.get("metadata") or {}).get("resourceVersion")
            if rv and rv != live["metadata"]["resourceVersion"]:
                raise errors.conflict(r.plural, r.group, info.name, errors.OPTIMISTIC_LOCK_MESSAGE)
            replicas = (scale.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid("Scale", "autoscaling", info.name, [{
                    "reason": "FieldValueInvalid", "field": "spec.replicas",
                    "message": f"Invalid value: {replicas}: must be greater than or equal to 0"}])
            live.setdefault("spec", {})["replicas"] = replicas
            live["metadata"].pop("resourceVersion", None)
            return live

        obj, _ = await self.writes.update_object(r, RequestInfo(info.group, info.version, r, info.namespace,
                                                                info.name, ""), ctx, make_new)
        return json_response(scale_of(obj))

    # ---- pods/binding and pods POST binding ----
    async def bind(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        binding_res = self.registry.table.lookup("", "v1", "bindings")
        assert binding_res is not None
        ctx.dry_run = dry_run(request.query, "CreateOptions")
        body = check_kind(decode_body(await read_body(request), request.headers.get("Content-Type"),
                                      kind_hint="Binding").obj, binding_res, expected_kind="Binding",
                          expected_version="v1")
        pod_name = info.name or (body.get("metadata") or {}).get("name", "")
        target = (body.get("target") or {}).get("name", "")
        if not target:
            raise errors.invalid("Binding", "", pod_name, [{"reason": "FieldValueRequired", "field": "target.name",
                                                            "message": "Required value"}])
        pods = self.registry.table.lookup("", "v1", "pods")
        assert pods is not None

        async def assign(current: Obj) -> Obj | None:
            md = current["metadata"]
            if md.get("deletionTimestamp"):
                raise errors.conflict("pods/binding", "", pod_name,
                                      f"pod {pod_name} is being deleted, cannot be assigned to a host")
            node = (current.get("spec") or {}).get("nodeName")
            if node:
                raise errors.conflict("pods/binding", "", pod_name,
                                      f"pod {pod_name} is already assigned to node \"{node}\"")
            want_uid = (body.get("metadata") or {}).get("uid")
            if want_uid and want_uid != md.get("uid"):
                raise errors.conflict("pods", "", pod_name, "Precondition failed: UID in precondition: "
                                      f"{want_uid}, UID in object meta: {md.get('uid')}")
            current.setdefault("spec", {})["nodeName"] = target
            status = current.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": meta.now_rfc3339(ctx.now)})
            status["conditions"] = conds
            for k, v in ((body.get("metadata") or {}).get("annotations") or {}).items():
                md.setdefault("annotations", {})[k] = v
            return None if ctx.dry_run else current

        await self.registry.objects(pods).guaranteed_update(info.namespace, pod_name, assign)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                             201)

    # ---- pods/eviction ----
    async def evict(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        pods = info.resource
        create_dry_run = dry_run(request.query, "CreateOptions")
        eviction = _check_eviction(decode_body(await read_body(request), request.headers.get("Content-Type"),
                                               kind_hint="Eviction", target=("policy/v1", "Eviction")).obj, pods)
        md = eviction["metadata"]
        if md.get("name", "") != info.name:
            raise errors.BadRequest("name in URL does not match name in Eviction object")
        if md.get("namespace") and md["namespace"] != info.namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on "
                                    "the request")
        opts = _eviction_delete_options(eviction.get("deleteOptions"), create_dry_run)
        dry = bool(opts.get("dryRun"))
        rv_given = bool((opts.get("preconditions") or {}).get("resourceVersion"))
        objects = self.registry.objects(pods)

        # Pods that cannot count towards a budget go at once (retrying while the Pod changes under us).
        pod: Obj = {}
        for attempt in range(EVICTION_ATTEMPTS):
            pod = await objects.get(info.namespace, info.name)
            if not _can_ignore_budget(pod):
                break
            delete_opts = opts
            if _enforce_resource_version(pod) and not rv_given:
                delete_opts = _with_resource_version(opts, pod["metadata"]["resourceVersion"])
            try:
                await self._mark_and_delete(pods, info.namespace, info.name, delete_opts, ctx)
            except errors.Conflict:
                if rv_given or attempt == EVICTION_ATTEMPTS - 1:
                    raise
                continue
            return _eviction_success()

        budgets = await self._budgets_for(pod)
        if len(budgets) > 1:
            return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": MULTIPLE_BUDGETS, "code": 500}, 500)
        pinned = False  # the Pod is deleted only if it is still the version the decision was made on
        budget_name = ""
        if budgets:
            budget = budgets[0]
            budget_name = meta.name_of(budget)
            status = budget.get("status") or {}
            if not _is_pod_ready(pod):
                # An unhealthy Pod does not count: it may go without spending the budget when the policy
                # says so, or when the application is healthy enough anyway.
                policy = (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy")
                desired = int(status.get("desiredHealthy") or 0)
                if policy == "AlwaysAllow" or (int(status.get("currentHealthy") or 0) >= desired and desired > 0):
                    pinned = True
            if not pinned:
                await self._spend_budget(info.namespace, budget_name, info.name, dry, ctx.now)
        delete_opts = _with_resource_version(opts, pod["metadata"]["resourceVersion"]) if pinned else opts
        try:
            await self._mark_and_delete(pods, info.namespace, info.name, delete_opts, ctx)
        except errors.Conflict:
            if pinned and not rv_given:
                raise _budget_still_processing(budget_name) from None
            raise
        return _eviction_success()

    async def _budgets_for(self, pod: Obj) -> list[Obj]:
        pdbs = self.registry.table.lookup("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        listed = await self.registry.objects(pdbs).list(meta.namespace_of(pod))
        out = []
        for pdb in listed.items:
            try:
                selector = labels.from_label_selector((pdb.get("spec") or {}).get("selector"))
            except errors.BadRequest:
                continue  # an invalid selector matches nothing
            if selector.matches(meta.labels_of(pod)):
                out.append(pdb)
        return out

    async def _spend_budget(self, namespace: str, name: str, pod_name: str, dry: bool,
                            now: datetime.datetime) -> None:
        """Verify-and-decrement, atomically on the stored budget (upstream checkAndDecrement)."""
        pdbs = self.registry.table.lookup("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None

        async def spend(current: Obj) -> Obj | None:
            status = current.setdefault("status", {})
            generation = int(current["metadata"].get("generation") or 0)
            if int(status.get("observedGeneration") or 0) < generation:
                raise _budget_still_processing(name)
            allowed = int(status.get("disruptionsAllowed") or 0)
            if allowed < 0:
                raise _budget_forbidden(name, "pdb disruptions allowed is negative")
            if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
                raise _budget_forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by "
                                              "PDB controller")
            if allowed == 0:
                raise errors.TooManyRequests(EVICTION_REFUSED, details={"causes": [{
                    "reason": "DisruptionBudget",
                    "message": f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
                               f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently"}]})
            status["disruptionsAllowed"] = allowed - 1
            if allowed - 1 == 0:
                _set_disruption_allowed_false(status, now)
            if dry:
                return None
            disrupted = dict(status.get("disruptedPods") or {})
            disrupted[pod_name] = meta.now_rfc3339(now)
            status["disruptedPods"] = disrupted
            return current

        await self.registry.objects(pdbs).guaranteed_update(namespace, name, spend)

    async def _mark_and_delete(self, pods: Any, namespace: str, name: str, opts: Obj, ctx: RequestContext) -> None:
        """Add the DisruptionTarget condition (honouring the preconditions), then delete with `opts`."""
        if not opts.get("dryRun"):
            pre = opts.get("preconditions") or {}

            async def mark(current: Obj) -> Obj | None:
                cmd = current["metadata"]
                if pre.get("uid") and pre["uid"] != cmd.get("uid"):
                    raise errors.conflict("Pod", "", name, f"the UID in the precondition ({pre['uid']}) does not "
                                          f"match the UID in record ({cmd.get('uid')}). The object might have been "
                                          "deleted and then recreated")
                if pre.get("resourceVersion") and pre["resourceVersion"] != cmd.get("resourceVersion"):
                    raise errors.conflict("Pod", "", name, "the ResourceVersion in the precondition "
                                          f"({pre['resourceVersion']}) does not match the ResourceVersion in record "
                                          f"({cmd.get('resourceVersion')}). The object might have been modified")
                if not _set_pod_condition(current, {"type": "DisruptionTarget", "status": "True",
                                                    "reason": "EvictionByEvictionAPI",
                                                    "message": "Eviction API: evicting"}, ctx.now):
                    return None
                return current

            _, marked = await self.registry.objects(pods).guaranteed_update(namespace, name, mark)
            if pre.get("resourceVersion"):
                # We wrote the Pod ourselves: the precondition now names our write.
                opts = _with_resource_version(opts, marked["metadata"]["resourceVersion"])
        await self.deletes.delete_one(pods, namespace, name, opts, ctx)

    # ---- namespaces/finalize ----
    async def finalize(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        body = check_kind(decode_body(await read_body(request), request.headers.get("Content-Type"),
                                      kind_hint="Namespace").obj, r)
        strategy = self.registry.strategy(r)
        assert isinstance(strategy, NamespaceStrategy)
        objects = self.registry.objects(r)
        outcome: dict[str, int] = {}

        async def fin(current: Obj) -> Obj | None:
            new = meta.copy(body)
            strategy.prepare_for_finalize(new, current)
            md = new["metadata"]
            if md.get("deletionTimestamp") and not md.get("finalizers") and not strategy.pending_deletion(new):
                outcome["delete"] = int(current["metadata"]["resourceVersion"])
                return None
            return new

        _, stored = await objects.guaranteed_update("", info.name, fin)
        if outcome.get("delete"):
            stored = await objects.delete("", info.name, outcome["delete"])
        return json_response(stored)


# ---- pods/eviction helpers ----
def _check_eviction(obj: Any, pods: Any) -> Obj:
    """An Eviction of policy/v1 (or v1beta1, which has the same shape)."""
    if isinstance(obj, dict) and obj.get("apiVersion") in EVICTION_VERSIONS:
        return check_kind(obj, pods, expected_kind="Eviction", expected_version=str(obj["apiVersion"]))
    return check_kind(obj, pods, expected_kind="Eviction", expected_version="policy/v1")


def _eviction_delete_options(raw: Any, create_dry_run: bool) -> Obj:
    """The Eviction's deleteOptions, validated, with the request's dryRun merged in (upstream propagateDryRun)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise errors.BadRequest("Eviction.deleteOptions must be an object")
    opts = parse_delete_options(orjson.dumps(raw), {})
    query_dry = ["All"] if create_dry_run else []
    body_dry = list(opts.get("dryRun") or [])
    if not body_dry:
        if query_dry:
            opts["dryRun"] = query_dry
    elif query_dry and body_dry != query_dry:
        raise errors.InternalError("Internal error occurred: Non-matching dry-run options in request and content: "
                                   f"[{' '.join(query_dry)}] and [{' '.join(body_dry)}]")
    return opts


def _with_resource_version(opts: Obj, resource_version: str) -> Obj:
    out = dict(opts)
    out["preconditions"] = {**(opts.get("preconditions") or {}), "resourceVersion": resource_version}
    return out


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _can_ignore_budget(pod: Obj) -> bool:
    """Finished, Pending or already terminating Pods are evicted without looking at budgets."""
    return _phase(pod) in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _enforce_resource_version(pod: Obj) -> bool:
    """Whether deleting must pin the version seen (a Pending Pod could become Ready meanwhile)."""
    return _phase(pod) not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _is_pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or ())


def _set_pod_condition(pod: Obj, condition: Obj, now: datetime.datetime) -> bool:
    """podutil.UpdatePodCondition: False when the condition is already exactly so."""
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    new = {"type": condition["type"], "status": condition["status"], "lastProbeTime": None,
           "lastTransitionTime": meta.now_rfc3339(now), **{k: condition[k] for k in ("reason", "message")
                                                           if condition.get(k)}}
    for i, old in enumerate(conditions):
        if old.get("type") != condition["type"]:
            continue
        if old.get("status") == new["status"]:
            new["lastTransitionTime"] = old.get("lastTransitionTime")
        same = all(old.get(k) == new.get(k) for k in ("status", "reason", "message", "lastProbeTime",
                                                      "lastTransitionTime"))
        conditions[i] = new
        return not same
    conditions.append(new)
    return True


def _set_disruption_allowed_false(status: Obj, now: datetime.datetime) -> None:
    """pdbhelper.UpdateDisruptionAllowedCondition once the last allowed disruption is spent."""
    generation = int(status.get("observedGeneration") or 0)
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == "DisruptionAllowed":
            if c.get("status") != "False":
                c["status"] = "False"
                c["lastTransitionTime"] = meta.now_rfc3339(now)
            c["reason"] = "InsufficientPods"
            c["message"] = ""
            c["observedGeneration"] = generation
            return
    conditions.append({"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "",
                       "observedGeneration": generation, "lastTransitionTime": meta.now_rfc3339(now)})


def _budget_still_processing(name: str) -> errors.TooManyRequests:
    return errors.TooManyRequests(EVICTION_REFUSED, details={
        "causes": [{"reason": "DisruptionBudget",
                    "message": f"The disruption budget {name} is still being processed by the server."}],
        "retryAfterSeconds": 10}, headers={"Retry-After": "10"})


def _budget_forbidden(name: str, why: str) -> errors.Forbidden:
    return errors.Forbidden(f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
                            details={"name": name, "group": "policy", "kind": "poddisruptionbudget"})


def _eviction_success() -> web.Response:
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         201)
