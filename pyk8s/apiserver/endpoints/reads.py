"""GET of one object, LIST with selectors and pagination, and WATCH streams."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors, fields, labels
from pyk8s.api.resources import Resource
from pyk8s.apiserver import tables
from pyk8s.apiserver.endpoints.common import json_response
from pyk8s.apiserver.negotiation import OutputForm
from pyk8s.apiserver.registry.objectstore import decode_continue, encode_continue, parse_rv
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.request import RequestInfo, query_flag

Obj = dict[str, Any]

# Upstream holds watches open for a random 30-60 min when the client asks for no timeout.
MIN_WATCH_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 60.0
# Upstream's watch cache sends a last bookmark this long before a watch's deadline.
BOOKMARK_BEFORE_DEADLINE = 2.0
# Upstream's message (storage/etcd3) for a continue token whose revision was compacted; the Status carries a
# fresh token (revision -1) that continues after the same key at the newest revision.
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def make_filter(r: Resource, query: Any) -> Callable[[Obj], bool] | None:
    label_text = query.get("labelSelector", "")
    field_text = query.get("fieldSelector", "")
    if not label_text and not field_text:
        return None
    lsel = labels.parse_selector(label_text) if label_text else None
    # Events are stored as core Events whatever version is asked for.
    fgroup = "" if (r.group, r.plural) == ("events.k8s.io", "events") else r.group
    fsel = fields.parse_for_resource(field_text, r.plural, r.group) if field_text else None

    def accept(obj: Obj) -> bool:
        if lsel is not None and not lsel.matches((obj.get("metadata") or {}).get("labels") or {}):
            return False
        return fsel is None or fields.matches_object(fsel, r.plural, fgroup, obj)

    return accept


async def get(request: web.Request, reg: Registry, info: RequestInfo, form: OutputForm) -> web.StreamResponse:
    r = info.resource
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
    revision = 0
    start_after = ""
    token = q.get("continue", "")
    if token:
        revision, start_after = decode_continue(token)
        revision = max(revision, 0)  # -1: an inconsistent continuation, served at the newest revision
    else:
        rv = q.get("resourceVersion", "")
        match = q.get("resourceVersionMatch", "")
        if match == "Exact":
            revision = parse_rv(rv)
        elif match not in ("", "NotOlderThan"):
            raise errors.BadRequest(f'resourceVersionMatch: Unsupported value: "{match}"')
    try:
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


def _next_bookmark(now: float, deadline: float) -> float | None:
    """When the next BOOKMARK is due: every minute, and a last one shortly before the deadline (as upstream)."""
    due = min(now + BOOKMARK_INTERVAL, deadline - BOOKMARK_BEFORE_DEADLINE)
    return due if due > now else None


def _event_line(event_type: str, obj: Obj) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


async def watch(request: web.Request, reg: Registry, info: RequestInfo, form: OutputForm) -> web.StreamResponse:
    """A chunked stream of watch events, held open until timeoutSeconds (or 30-60 min)."""
    r = info.resource
    q = request.query
    accept = make_filter(r, q)
    if info.name:
        name_filter = info.name

        def by_name(obj: Obj, inner: Callable[[Obj], bool] | None = accept) -> bool:
            return obj.get("metadata", {}).get("name") == name_filter and (inner is None or inner(obj))
        accept = by_name
    bookmarks = query_flag(q, "allowWatchBookmarks")
    try:
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else MIN_WATCH_TIMEOUT * (1 + random.random())
    except ValueError:
        raise errors.BadRequest(f'invalid timeoutSeconds: "{q.get("timeoutSeconds")}"') from None
    rv_param = q.get("resourceVersion", "")
    objects = reg.objects(r)
    initial: list[Obj] = []
    if rv_param in ("", "0"):
        first = await objects.list(info.namespace, accept=accept)
        initial, list_rv = first.items, first.revision
        start = list_rv
    else:
        start = parse_rv(rv_param)
    io = tables.include_object_option(q.get("includeObject"))

    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    first_table = [True]

    def render(obj: Obj) -> Obj:
        obj = reg.to_version(r, obj)
        if form.table:
            t = tables.table(r, [obj], resource_version=obj["metadata"].get("resourceVersion", ""),
                             include_object=io, with_columns=first_table[0])
            first_table[0] = False
            return t
        if form.partial_metadata:
            return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}
        return obj

    for obj in initial:
        await resp.write(_event_line("ADDED", render(obj)))

    last_rv = start
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_bookmark = _next_bookmark(loop.time(), deadline) if bookmarks else None
    stream = objects.watch(info.namespace, start).__aiter__()
    # The pending read is never cancelled on a timeout: cancelling it would end the store's watch generator.
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            now = loop.time()
            remaining = deadline - now
            if remaining <= 0:
                break
            if next_bookmark is not None and now >= next_bookmark:
                await resp.write(_event_line("BOOKMARK", {
                    "kind": r.kind, "apiVersion": r.group_version,
                    "metadata": {"resourceVersion": str(last_rv)}}))
                next_bookmark = _next_bookmark(now, deadline)
                continue
            wait = remaining if next_bookmark is None else min(remaining, next_bookmark - now)
            if pending is None:
                pending = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=wait)
            if not done:
                continue
            read, pending = pending, None
            try:
                ev = read.result()
            except StopAsyncIteration:
                break
            except errors.StatusError as e:
                await resp.write(_event_line("ERROR", e.status()))
                break
            last_rv = ev.revision
            if accept is None:
                await resp.write(_event_line(ev.type, render(ev.obj)))
                continue
            now_ok = accept(ev.obj)
            was_ok = ev.old is not None and accept(ev.old)
            if ev.type == "DELETED":
                if now_ok:
                    await resp.write(_event_line("DELETED", render(ev.obj)))
            elif now_ok and (was_ok or ev.type == "ADDED"):
                await resp.write(_event_line(ev.type, render(ev.obj)))
            elif now_ok:
                await resp.write(_event_line("ADDED", render(ev.obj)))
            elif was_ok and ev.old is not None:
                # Upstream: the previous (matching) content, at the event's resourceVersion.
                ev.old["metadata"]["resourceVersion"] = str(ev.revision)
                await resp.write(_event_line("DELETED", render(ev.old)))
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait({pending})
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
