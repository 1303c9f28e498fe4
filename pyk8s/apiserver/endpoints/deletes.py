"""DELETE of one object and of collections: preconditions, grace periods, finalizers, propagation.

An object with finalizers, or one whose strategy asks for a grace period (a pod bound to a node), is
only marked (deletionTimestamp) and removed later, when its last finalizer goes or the kubelet confirms.
"""

from __future__ import annotations

import datetime
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors, meta
from pyk8s.api.resources import Resource
from pyk8s.api.typecheck import type_error
from pyk8s.apiserver.admission import Admission
from pyk8s.apiserver.endpoints.common import json_response, read_body, status_success
from pyk8s.apiserver.endpoints.reads import make_filter
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.registry.strategy import RequestContext
from pyk8s.apiserver.request import RequestInfo

Obj = dict[str, Any]
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")

# Upstream returns the deleted object (ReturnDeletedObject) for these; others answer with a Status.
_RETURNS_OBJECT = frozenset({("", "pods"), ("", "serviceaccounts"), ("", "services"), ("", "namespaces")})


def parse_delete_options(body: bytes, query: Any) -> Obj:
    opts: Obj = {}
    if body.strip():
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise errors.BadRequest(f"couldn't get version/kind; json parse error: {e}") from e
        if not isinstance(parsed, dict):
            raise errors.BadRequest("DeleteOptions must be an object")
        problem = type_error("", "v1", "DeleteOptions", parsed)
        if problem:
            raise errors.BadRequest(f"couldn't decode DeleteOptions: {problem}")
        opts = parsed
    if "gracePeriodSeconds" in query:
        try:
            opts["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.BadRequest(f'invalid gracePeriodSeconds: "{query["gracePeriodSeconds"]}"') from None
    if "propagationPolicy" in query:
        opts["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        opts["orphanDependents"] = query["orphanDependents"].lower() == "true"
    if "dryRun" in query:
        opts["dryRun"] = query.getall("dryRun")
    pp = opts.get("propagationPolicy")
    if pp is not None and pp not in PROPAGATION_POLICIES:
        body_text = f'Unsupported value: "{pp}": supported values: "Foreground", "Background", "Orphan"'
        raise errors.Invalid(f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: {body_text}',
                             details={"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [
                                 {"reason": "FieldValueNotSupported", "message": body_text,
                                  "field": "propagationPolicy"}]})
    for v in opts.get("dryRun") or []:
        if v != "All":
            raise errors.invalid_options("DeleteOptions", "dryRun", v, ["All"])
    grace = opts.get("gracePeriodSeconds")
    if grace is not None and not isinstance(grace, int):
        raise errors.BadRequest("gracePeriodSeconds must be an integer")
    return opts


class DeleteHandler:
    def __init__(self, registry: Registry, admission: Admission) -> None:
        self.registry = registry
        self.admission = admission

    async def delete_one(self, r: Resource, namespace: str, name: str, opts: Obj, ctx: RequestContext) -> tuple[Obj, bool]:
        """Delete or mark for deletion; returns (object, removed_now)."""
        reg = self.registry
        strategy = reg.strategy(r)
        await self.admission.on_delete(r, name)
        objects = reg.objects(r)
        dry = bool(opts.get("dryRun"))
        pre = opts.get("preconditions") or {}
        outcome: dict[str, Any] = {}

        async def mark(current: Obj) -> Obj | None:
            md = current["metadata"]
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise errors.conflict(r.plural, r.group, name,
                                      f"Precondition failed: UID in precondition: {pre['uid']}, "
                                      f"UID in object meta: {md.get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
                raise errors.conflict(r.plural, r.group, name,
                                      f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                                      f"ResourceVersion in object meta: {md.get('resourceVersion')}")
            finalizers = list(md.get("finalizers") or [])
            policy = opts.get("propagationPolicy")
            if policy is None and opts.get("orphanDependents") is not None:
                policy = "Orphan" if opts["orphanDependents"] else "Background"
            if policy is None:
                policy = "Background"
            if policy == "Orphan" and ORPHAN not in finalizers:
                finalizers.append(ORPHAN)
            elif policy == "Foreground" and FOREGROUND not in finalizers:
                finalizers.append(FOREGROUND)
                if ORPHAN in finalizers:
                    finalizers.remove(ORPHAN)
            elif policy == "Background":
                if ORPHAN in finalizers:
                    finalizers.remove(ORPHAN)
            grace = opts.get("gracePeriodSeconds")
            if grace is None:
                grace = strategy.default_grace_period(current)
            grace = strategy.effective_grace_period(current, grace)
            held = strategy.pending_deletion(current)
            if not finalizers and grace <= 0 and not held:
                outcome["now"] = True
                return None
            now = ctx.now
            if md.get("deletionTimestamp"):
                # Already terminating: a shorter grace period may be asked for, never a longer one; the new
                # deadline counts from the original start of the deletion, as upstream.
                changed = False
                old_grace = md.get("deletionGracePeriodSeconds")
                if old_grace is not None and 0 <= grace < old_grace:
                    started = meta.parse_time(md["deletionTimestamp"])
                    base = (started - datetime.timedelta(seconds=old_grace)) if started else now
                    md["deletionGracePeriodSeconds"] = grace
                    md["deletionTimestamp"] = meta.now_rfc3339(base + datetime.timedelta(seconds=grace))
                    changed = True
                if finalizers != list(md.get("finalizers") or []):
                    md["finalizers"] = finalizers
                    changed = True
                if grace <= 0 and not finalizers and not held:
                    outcome["now"] = True
                    return None
                if not changed:
                    outcome["pending"] = True
                    return None
            else:
                md["deletionTimestamp"] = meta.now_rfc3339(now + datetime.timedelta(seconds=max(grace, 0)))
                md["deletionGracePeriodSeconds"] = max(grace, 0)
                if finalizers:
                    md["finalizers"] = finalizers
                strategy.mark_deleting(current)
                if md.get("generation") is not None:
                    md["generation"] = int(md["generation"]) + 1
            if dry:
                outcome["dry"] = current
                return None
            return current

        while True:
            outcome.clear()
            old, new = await objects.guaranteed_update(namespace, name, mark)
            if not outcome.get("now"):
                break
            if dry:
                return reg.to_version(r, old), True
            try:
                gone = await objects.delete(namespace, name, int(old["metadata"]["resourceVersion"]))
            except errors.Conflict:
                continue  # written to between the look and the delete: decide again on the newer state
            await strategy.after_delete(gone)
            return reg.to_version(r, gone), True
        if "dry" in outcome:
            return reg.to_version(r, outcome["dry"]), False
        return reg.to_version(r, new), False

    async def delete(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        opts = parse_delete_options(await read_body(request), request.query)
        obj, removed = await self.delete_one(r, info.namespace, info.name, opts, ctx)
        if removed and (r.group, r.plural) not in _RETURNS_OBJECT:
            return json_response(status_success(r, info.name, obj["metadata"].get("uid", "")))
        # Upstream answers 202 only for a pending delete that explicitly asked orphanDependents=false.
        accepted = not removed and opts.get("orphanDependents") is False
        return json_response(obj, 202 if accepted else 200)

    async def delete_collection(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        opts = parse_delete_options(await read_body(request), request.query)
        accept = make_filter(r, request.query)
        listed = await self.registry.objects(r).list(info.namespace, accept=accept)
        objs, rv = listed.items, listed.revision
        items = []
        for obj in objs:
            try:
                deleted, _removed = await self.delete_one(r, obj["metadata"].get("namespace", ""),
                                                          obj["metadata"]["name"], opts, ctx)
                items.append(deleted)
            except errors.NotFound:
                continue
        return json_response({"kind": r.list_kind, "apiVersion": r.group_version,
                              "metadata": {"resourceVersion": str(rv)}, "items": items})
