"""Subresources with their own shapes: scale (autoscaling/v1 Scale), pods/binding, namespaces/finalize."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyk8s.api import errors, labels, meta
from pyk8s.api.patch import PATCH_CONTENT_TYPES
from pyk8s.apiserver.endpoints.common import check_kind, json_response, read_body
from pyk8s.apiserver.endpoints.writes import WriteHandler
from pyk8s.apiserver.negotiation import decode_body, decode_json, media_type
from pyk8s.apiserver.registry.core import NamespaceStrategy
from pyk8s.apiserver.registry.strategy import RequestContext
from pyk8s.apiserver.request import RequestInfo, dry_run

Obj = dict[str, Any]
SCALE_GV = "autoscaling/v1"


def scale_of(obj: Obj) -> Obj:
    md = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        sel_text = ""
    elif obj.get("kind") == "ReplicationController":
        sel_text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    else:
        sel_text = labels.selector_to_string(selector)
    scale_md = {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md}
    out_status: Obj = {"replicas": int(status.get("replicas") or 0)}
    if sel_text:
        out_status["selector"] = sel_text
    return {"kind": "Scale", "apiVersion": SCALE_GV, "metadata": scale_md,
            "spec": {"replicas": int(spec["replicas"]) if spec.get("replicas") is not None else 1},
            "status": out_status}


class SubresourceHandler:
    def __init__(self, writes: WriteHandler) -> None:
        self.writes = writes
        self.registry = writes.registry

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
                              expected_kind="Scale", expected_version=SCALE_GV)
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


