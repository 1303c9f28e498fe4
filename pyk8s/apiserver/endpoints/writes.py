"""POST, PUT and PATCH: the write path every resource shares.

Order, as upstream: decode -> check type/name/namespace -> drop unknown fields (fieldValidation) ->
defaults -> strategy prepare -> validate -> admission -> managedFields -> (dryRun stops here) -> store.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pyk8s.api import errors, meta, yamlload
from pyk8s.api import schema as S
from pyk8s.api.defaults import apply_defaults
from pyk8s.api.managedfields import manager_from_user_agent, update_managed_fields
from pyk8s.api.patch import PATCH_CONTENT_TYPES
from pyk8s.api.resources import Resource
from pyk8s.api.typecheck import type_error
from pyk8s.api.unknown_fields import prune_unknown
from pyk8s.api.validation import validate_create, validate_update
from pyk8s.apiserver.admission import Admission
from pyk8s.apiserver.endpoints.common import check_kind, check_namespace, json_response, read_body
from pyk8s.apiserver.negotiation import decode_body, decode_json, media_type
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.registry.strategy import RequestContext
from pyk8s.apiserver.request import RequestInfo, dry_run, field_validation, query_flag

Obj = dict[str, Any]

# Metadata the server owns: a client can neither set it on create nor change it on update.
_SYSTEM_META_ON_UPDATE = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink")


class WriteHandler:
    def __init__(self, registry: Registry, admission: Admission) -> None:
        self.registry = registry
        self.admission = admission

    # ------------------------------------------------------------------ helpers
    def _schema(self, r: Resource) -> S.Schema | None:
        return S.for_kind(r.group, r.version, r.kind)

    def _field_manager(self, request: web.Request) -> str:
        fm = request.query.get("fieldManager", "")
        if len(fm) > 128:
            raise errors.invalid_options("PatchOptions", "fieldManager", fm, [])
        return fm or manager_from_user_agent(request.headers.get("User-Agent", ""))

    def _handle_unknown(self, obj: Obj, r: Resource, mode: str, duplicates: list[str], ctx: RequestContext) -> None:
        """Drop fields the schema does not know; Strict refuses them (and duplicate keys), Warn reports them."""
        unknown = prune_unknown(obj, self._schema(r))
        if mode == "Ignore":
            return
        problems = [f'unknown field "{p}"' for p in unknown] + [f'duplicate field "{d}"' for d in duplicates]
        if not problems:
            return
        if mode == "Strict":
            raise errors.BadRequest(
                f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: strict decoding error: '
                + ", ".join(problems))
        ctx.warnings.extend(problems)

    def _check_types(self, r: Resource, obj: Obj) -> None:
        """400 for a JSON type mismatch, as Go's decoder gives before any defaulting or validation."""
        problem = type_error(r.group, r.version, r.kind, obj)
        if problem:
            raise errors.BadRequest(f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: {problem}')

    def _validate(self, r: Resource, obj: Obj, old: Obj | None) -> None:
        errs = (validate_create(r.group, r.version, r.kind, obj) if old is None
                else validate_update(r.group, r.version, r.kind, obj, old))
        if errs:
            raise errors.invalid(r.kind, r.group, meta.name_of(obj), [e.cause() for e in errs])

    def _managed(self, r: Resource, old: Obj | None, new: Obj, ctx: RequestContext, subresource: str = "") -> None:
        mf = update_managed_fields(old, new, ctx.field_manager, "Update", r.group_version,
                                   meta.now_rfc3339(ctx.now), self._schema(r), subresource=subresource)
        if mf:
            new["metadata"]["managedFields"] = mf
        else:
            new["metadata"].pop("managedFields", None)

    def _fill_create_meta(self, obj: Obj, ctx: RequestContext) -> None:
        md = obj["metadata"]
        if not md.get("name") and md.get("generateName"):
            md["name"] = meta.generate_name(md["generateName"])
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = meta.now_rfc3339(ctx.now)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "generation"):
            md.pop(k, None)

    # ------------------------------------------------------------------ create
    async def create_object(self, r: Resource, obj: Obj, ctx: RequestContext, *, fill_meta: bool = True,
                            managed: bool = True, validate: bool = True) -> Obj:
        """Run the create path on a decoded, kind-checked object; returns the stored (or dry-run) object.

        `validate=False` is for the apiserver's own reconcilers, which (as upstream's endpoint reconciler)
        write what validation would refuse from a client, such as a loopback apiserver address.
        """
        reg = self.registry
        strategy = reg.strategy(r)
        obj = reg.to_storage(r, obj)
        sr = reg.storage_resource(r)
        apply_defaults(sr.group, sr.version, sr.kind, obj)
        if fill_meta:
            self._fill_create_meta(obj, ctx)
        strategy.prepare_for_create(obj, ctx)
        if validate:
            self._validate(sr, obj, None)
        await self.admission.on_create(sr, obj)
        await strategy.before_create(obj, ctx)
        if managed:
            self._managed(sr, None, obj, ctx)
        if ctx.dry_run:
            return reg.to_version(r, obj)
        try:
            stored = await reg.objects(r).create(obj)
        except errors.StatusError:
            await strategy.after_failed_create(obj)
            raise
        return reg.to_version(r, stored)

    async def create(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        if info.name:
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        mode = field_validation(request.query, "CreateOptions")
        ctx.dry_run = dry_run(request.query, "CreateOptions")
        ctx.field_manager = self._field_manager(request)
        decoded = decode_body(await read_body(request), request.headers.get("Content-Type"), kind_hint=r.kind,
                              track_duplicates=mode != "Ignore", target=(r.group_version, r.kind))
        obj = check_kind(decoded.obj, r)
        check_namespace(obj, r, info.namespace)
        self._handle_unknown(obj, r, mode, decoded.duplicates, ctx)
        self._check_types(r, obj)
        md = obj["metadata"]
        if not md.get("name") and not md.get("generateName"):
            raise errors.invalid(r.kind, r.group, "", [{"reason": "FieldValueRequired",
                                                        "message": "name or generateName is required",
                                                        "field": "metadata.name"}])
        created = await self.create_object(r, obj, ctx)
        return json_response(created, 201, warnings=ctx.warnings)

    # ------------------------------------------------------------------ update (PUT)
    def _carry_system_meta(self, new: Obj, old: Obj) -> None:
        nm, om = new["metadata"], old["metadata"]
        for k in _SYSTEM_META_ON_UPDATE:
            if k in om:
                nm[k] = om[k]
            else:
                nm.pop(k, None)
        if "generation" in om:
            nm["generation"] = om["generation"]
        if "managedFields" not in nm and "managedFields" in om:
            nm["managedFields"] = om["managedFields"]

    async def update_object(self, r: Resource, info: RequestInfo, ctx: RequestContext, make_new: Any,
                            *, subresource: str = "", create_if_missing: Any = None,
                            applied: bool = False) -> tuple[Obj, bool]:
        """Shared PUT/PATCH machinery: `make_new(current) -> new` builds the candidate from the live object.

        `applied`: the candidate comes from server-side apply and already carries its managedFields (an Apply
        entry), so no Update entry is recorded and a change of ownership alone is a real write.
        Returns (object, created).
        """
        reg = self.registry
        strategy = reg.strategy(r)
        sr = reg.storage_resource(r)
        result: dict[str, Obj] = {}

        async def attempt(current: Obj) -> Obj | None:
            await strategy.abort_update(ctx)  # a retried attempt starts from nothing reserved
            live = reg.to_version(r, meta.copy(current))
            new = await make_new(live)
            new = check_kind(new, r)
            self._check_types(r, new)
            check_namespace(new, r, info.namespace)
            nm = new["metadata"]
            _take_url_name(nm, info.name)
            rv = nm.get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(sr.plural, sr.group, info.name, errors.OPTIMISTIC_LOCK_MESSAGE)
            if nm.get("uid") and nm["uid"] != current["metadata"].get("uid"):
                raise errors.conflict(sr.plural, sr.group, info.name,
                                      f"Precondition failed: UID in precondition: {nm['uid']}, "
                                      f"UID in object meta: {current['metadata'].get('uid')}")
            # An update without a resourceVersion is unconditional: it applies to what is stored now.
            nm["resourceVersion"] = current["metadata"]["resourceVersion"]
            new = reg.to_storage(r, new)
            self._carry_system_meta(new, current)
            apply_defaults(sr.group, sr.version, sr.kind, new)
            applied_fields = new["metadata"].get("managedFields") if applied else None
            if subresource == "status":
                strategy.prepare_for_status_update(new, current, ctx)
            else:
                strategy.prepare_for_update(new, current, ctx)
            if applied_fields is not None:
                new["metadata"]["managedFields"] = applied_fields
            self._validate(sr, new, current)
            if _without_volatile(new) == _without_volatile(current) and \
                    (not applied or _ownership(new) == _ownership(current)):
                result["obj"] = current
                return None
            if subresource != "status":
                await self.admission.on_update(sr, new, current)
                await strategy.before_update(new, current, ctx)
            if not applied:
                self._managed(sr, current, new, ctx, subresource)
            if ctx.dry_run:
                result["obj"] = new
                return None
            if (new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers")
                    and not strategy.pending_deletion(new) and strategy.effective_grace_period(new, 0) <= 0
                    and not new["metadata"].get("deletionGracePeriodSeconds")):
                result["delete"] = current
                return None
            return new

        try:
            old, stored = await reg.objects(r).guaranteed_update(info.namespace, info.name, attempt)
        except errors.NotFound:
            await strategy.abort_update(ctx)
            if create_if_missing is None:
                raise
            obj = await create_if_missing()
            return obj, True
        except BaseException:
            await strategy.abort_update(ctx)
            raise
        if stored is old:  # nothing written (no change, dry run, or a delete below)
            await strategy.abort_update(ctx)
        else:
            await strategy.after_update(stored, old, ctx)
        if "delete" in result:
            # The last finalizer went away from an object that is being deleted: remove it now.
            # Only the object we looked at: a re-created namesake must not be deleted in its place.
            gone = await reg.objects(r).delete(info.namespace, info.name,
                                               int(result["delete"]["metadata"]["resourceVersion"]))
            await strategy.after_delete(gone)
            return reg.to_version(r, gone), False
        if "obj" in result:
            return reg.to_version(r, result["obj"]), False
        return reg.to_version(r, stored), False

    async def update(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        mode = field_validation(request.query, "UpdateOptions")
        ctx.dry_run = dry_run(request.query, "UpdateOptions")
        ctx.field_manager = self._field_manager(request)
        decoded = decode_body(await read_body(request), request.headers.get("Content-Type"), kind_hint=r.kind,
                              track_duplicates=mode != "Ignore", target=(r.group_version, r.kind))
        body = check_kind(decoded.obj, r)
        self._handle_unknown(body, r, mode, decoded.duplicates, ctx)
        strategy = self.registry.strategy(r)
        if not body["metadata"].get("resourceVersion") and not strategy.allow_unconditional_update():
            raise errors.invalid(r.kind, r.group, info.name, [{
                "reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                "message": "Invalid value: 0x0: must be specified for an update"}])

        async def make_new(live: Obj) -> Obj:
            return meta.copy(body)

        create = None
        if strategy.allow_create_on_update() and not info.subresource:
            async def create_missing() -> Obj:
                obj = meta.copy(body)
                check_namespace(obj, r, info.namespace)
                obj["metadata"]["name"] = info.name
                return await self.create_object(r, obj, ctx)
            create = create_missing
        obj, created = await self.update_object(r, info, ctx, make_new, subresource=info.subresource,
                                                create_if_missing=create)
        return json_response(obj, 201 if created else 200, warnings=ctx.warnings)

    # ------------------------------------------------------------------ patch
    async def patch(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        from pyk8s.api import apply as ssa
        from pyk8s.api import patch as patching

        r = info.resource
        ct = media_type(request.headers.get("Content-Type"))
        flavour = PATCH_CONTENT_TYPES.get(ct)
        if flavour is None:
            raise errors.UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(PATCH_CONTENT_TYPES)}")
        mode = field_validation(request.query, "PatchOptions")
        ctx.dry_run = dry_run(request.query, "PatchOptions")
        raw = await read_body(request)
        force = query_flag(request.query, "force")
        if flavour == "apply":
            if not request.query.get("fieldManager"):
                raise errors.Invalid(
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch",
                    details={"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                        {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                         "field": "fieldManager"}]})
        elif "force" in request.query:
            raise errors.Invalid(
                'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
                details={"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                    {"reason": "FieldValueForbidden", "message": "Forbidden: may not be specified for non-apply patch",
                     "field": "force"}]})
        ctx.field_manager = self._field_manager(request)
        try:
            if flavour == "apply":
                patch_doc = yamlload.load(raw)
                duplicates: list[str] = []
            else:
                decoded = decode_json(raw, track_duplicates=mode != "Ignore" and flavour != "json")
                patch_doc, duplicates = decoded.obj, decoded.duplicates
        except (ValueError, RecursionError) as e:
            raise errors.BadRequest(f"error decoding patch: {e}"[:512]) from e
        schema = S.for_kind(r.group, r.version, r.kind)
        if flavour == "apply":
            if not isinstance(patch_doc, dict):
                raise errors.BadRequest("error decoding YAML: the apply patch must be an object")
            self._handle_unknown(patch_doc, r, mode, [], ctx)
            self._check_types(r, patch_doc)

        async def make_new(live: Obj) -> Obj:
            if flavour == "json":
                new = patching.json_patch(live, patch_doc)
            elif flavour == "merge":
                new = patching.json_merge_patch(live, patch_doc)
            elif flavour == "strategic":
                if not isinstance(patch_doc, dict):
                    raise errors.BadRequest("unable to unmarshal patch: the patch must be a JSON object")
                new = patching.strategic_merge_patch(live, patch_doc, schema)
            else:
                return ssa.server_side_apply(live, meta.copy(patch_doc), ctx.field_manager, force, r.group_version,
                                             meta.now_rfc3339(ctx.now), schema, name=info.name,
                                             namespace=info.namespace if r.namespaced else "",
                                             subresource=info.subresource)
            if not isinstance(new, dict):
                raise errors.BadRequest("the patch produced something that is not an object")
            self._handle_unknown(new, r, mode, duplicates, ctx)
            return new

        create = None
        if flavour == "apply" and not info.subresource:
            async def create_missing() -> Obj:
                obj = check_kind(meta.copy(patch_doc), r)
                check_namespace(obj, r, info.namespace)
                _take_url_name(obj["metadata"], info.name)
                applied = ssa.server_side_apply(None, obj, ctx.field_manager, force, r.group_version,
                                                meta.now_rfc3339(ctx.now), schema, name=info.name,
                                                namespace=info.namespace if r.namespaced else "")
                return await self.create_object(r, applied, ctx, managed=False)
            create = create_missing
        obj, created = await self.update_object(r, info, ctx, make_new, subresource=info.subresource,
                                                create_if_missing=create, applied=flavour == "apply")
        return json_response(obj, 201 if created else 200, warnings=ctx.warnings)


def _take_url_name(md: Obj, url_name: str) -> None:
    """The object is named by its URL; a different name in the body is upstream's 400."""
    if md.get("name") and md["name"] != url_name:
        raise errors.BadRequest(f"the name of the object ({md['name']}) does not match the name on the URL ({url_name})")
    md["name"] = url_name


def _ownership(obj: Obj) -> list[Obj]:
    """managedFields without their timestamps: who owns what."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return [{k: v for k, v in e.items() if k != "time"} for e in entries if isinstance(e, dict)]


def _without_volatile(obj: Obj) -> Obj:
    """The object minus what changes on every write (resourceVersion, managedFields timestamps)."""
    md = dict(obj.get("metadata") or {})
    md.pop("resourceVersion", None)
    md.pop("managedFields", None)
    return {**obj, "metadata": md}

