"""GET of one object, LIST with selectors and pagination, and WATCH streams."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors, fields, labels
from pyk8s.api.resources import Resource
from pyk8s.apiserver import tables
from pyk8s.apiserver.endpoints.common import json_response
from pyk8s.apiserver.negotiation import OutputForm
from pyk8s.apiserver.registry.objectstore import RawListPage, decode_continue, encode_continue, parse_rv
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.request import RequestInfo

Obj = dict[str, Any]

# Upstream's message (storage/etcd3) for a continue token whose revision was compacted; the Status carries a
# fresh token (revision -1) that continues after the same key at the newest revision.
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def served_as_stored(reg: Registry, r: Resource, form: OutputForm) -> bool:
    """Plain JSON of the stored version: the response can be spliced from stored bytes, no decode needed."""
    return not form.table and not form.partial_metadata and reg.serves_stored_version(r)


FieldsOf = Callable[[Obj, Callable[[Obj], dict[str, str]]], dict[str, str]]


def make_filter(r: Resource, query: Any, fields_of: FieldsOf | None = None) -> Callable[[Obj], bool] | None:
    """The label and field selectors of a request as one predicate (None: no selector). `fields_of(obj,
    compute)` may stand in for `compute(obj)` with a memo (watchers share one over the decoded event objects)."""
    label_text = query.get("labelSelector", "")
    field_text = query.get("fieldSelector", "")
    if not label_text and not field_text:
        return None
    lsel = labels.parse_selector(label_text) if label_text else None
    # Events are stored as core Events whatever version is asked for.
    fgroup = "" if (r.group, r.plural) == ("events.k8s.io", "events") else r.group
    fsel = fields.parse_for_resource(field_text, r.plural, r.group) if field_text else None

    if fsel is not None and fsel.empty():
        fsel = None

    def object_fields(obj: Obj) -> dict[str, str]:
        return fields.object_fields(r.plural, fgroup, obj)

    def accept(obj: Obj) -> bool:
        if lsel is not None and not lsel.matches((obj.get("metadata") or {}).get("labels") or {}):
            return False
        if fsel is None:
            return True
        return fsel.matches(object_fields(obj) if fields_of is None else fields_of(obj, object_fields))

    return accept


async def get(request: web.Request, reg: Registry, info: RequestInfo, form: OutputForm) -> web.StreamResponse:
    r = info.resource
    if served_as_stored(reg, r, form):
        return web.Response(body=await reg.objects(r).get_raw(info.namespace, info.name),
                            content_type="application/json")
    obj = reg.to_version(r, await reg.objects(r).get(info.namespace, info.name))
    if form.table:
        rv = obj["metadata"].get("resourceVersion", "")
        io = tables.include_object_option(request.query.get("includeObject"))
        return json_response(tables.table(r, [obj], resource_version=rv, include_object=io))
    if form.partial_metadata:
        return json_response({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                              "metadata": obj.get("metadata", {})})
    return json_response(obj)


async def list_(request: web.Request, reg: Registry, info: RequestInfo, form: OutputForm) -> web.StreamResponse:
    r = info.resource
    q = request.query
    accept = make_filter(r, q)
    try:
        limit = int(q.get("limit", "0") or 0)
    except ValueError:
        raise errors.BadRequest(f'invalid limit: "{q.get("limit")}"') from None
    revision, start_after = await _list_revision(q, reg)
    token = q.get("continue", "")
    try:
        if accept is None and served_as_stored(reg, r, form):
            raw = await reg.objects(r).list_raw(info.namespace, revision=revision, limit=max(limit, 0),
                                                start_after=start_after)
            return _raw_list_response(r, raw)
        page = await reg.objects(r).list(info.namespace, revision=revision, limit=max(limit, 0),
                                         start_after=start_after, accept=accept)
    except errors.Expired:
        if not token:
            raise
        status = errors.Expired(INCONSISTENT_CONTINUE).status()
        status["metadata"] = {"continue": encode_continue(-1, start_after)}
        return json_response(status, 410)
    objs = [reg.to_version(r, o) for o in page.items]
    rv_text, cont = str(page.revision), page.continue_token
    if form.table:
        io = tables.include_object_option(q.get("includeObject"))
        return json_response(tables.table(r, objs, resource_version=rv_text, continue_token=cont, include_object=io,
                                          remaining=page.remaining))
    if form.partial_metadata:
        return json_response(tables.partial_metadata_list(objs, rv_text, cont, page.remaining))
    md = tables.list_meta(rv_text, cont, page.remaining)
    return json_response({"kind": r.list_kind, "apiVersion": r.group_version, "metadata": md, "items": objs})


# How long a list for a resourceVersion the store has not reached waits before 504 (upstream: about 3 s).
FUTURE_RV_WAIT = 3.0
MATCH_VALUES = ("Exact", "NotOlderThan")


def _forbidden_option(field: str, detail: str) -> errors.Invalid:
    body = f"Forbidden: {detail}"
    return errors.Invalid(f'ListOptions.meta.k8s.io "" is invalid: {field}: {body}',
                          details={"group": "meta.k8s.io", "kind": "ListOptions",
                                   "causes": [{"reason": "FieldValueForbidden", "message": body, "field": field}]})


async def _list_revision(q: Any, reg: Registry) -> tuple[int, str]:
    """(revision to list at, 0 = newest; key to continue after) from resourceVersion/Match and continue.

    Upstream semantics: no RV or "0" serve the newest state; RV=N (NotOlderThan) serves a state not older than
    N, waiting briefly for a store that has not reached it and then answering 504; Exact serves exactly N.
    """
    rv = q.get("resourceVersion", "")
    match = q.get("resourceVersionMatch", "")
    token = q.get("continue", "")
    if match and match not in MATCH_VALUES:
        raise errors.invalid_options("ListOptions", "resourceVersionMatch", match, list(MATCH_VALUES))
    if match and not rv:
        raise _forbidden_option("resourceVersionMatch",
                                "resourceVersionMatch is forbidden unless resourceVersion is provided")
    if match and token:
        raise _forbidden_option("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
    if match == "Exact" and rv == "0":
        raise _forbidden_option("resourceVersionMatch",
                                'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
    if token:
        if rv not in ("", "0"):
            raise errors.BadRequest("specifying resource version is not allowed when using continue")
        revision, start_after = decode_continue(token)
        return max(revision, 0), start_after  # -1: an inconsistent continuation, served at the newest revision
    wanted = parse_rv(rv)
    if match == "Exact":
        return wanted, ""
    if wanted:
        deadline = asyncio.get_running_loop().time() + FUTURE_RV_WAIT
        while await reg.store.current_revision() < wanted:
            if asyncio.get_running_loop().time() > deadline:
                return wanted, ""  # the store refuses a future revision: 504 Too large resource version
            await asyncio.sleep(0.05)
    return 0, ""


def _raw_list_response(r: Resource, page: RawListPage) -> web.Response:
    """A JSON list assembled from stored bytes: upstream's shape, without decoding a single object."""
    head = orjson.dumps({"kind": r.list_kind, "apiVersion": r.group_version,
                         "metadata": tables.list_meta(str(page.revision), page.continue_token, page.remaining)})
    body = head[:-1] + b',"items":[' + b",".join(page.items) + b"]}"
    return web.Response(body=body, content_type="application/json")
