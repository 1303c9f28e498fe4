"""WATCH streams: chunked JSON events, held open until timeoutSeconds (upstream: 30-60 min without one).

A reader task follows the store and queues events; the response loop writes whatever is queued in one
write and wakes for bookmarks and the deadline, so no task is created per event. Events of plain JSON
watches are spliced from stored bytes and shared by every watcher (decoded only when a selector or a
conversion needs the object).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors
from pyk8s.apiserver import tables
from pyk8s.apiserver.endpoints.reads import make_filter, served_as_stored
from pyk8s.apiserver.negotiation import OutputForm
from pyk8s.apiserver.registry.objectstore import ObjectEvent, ObjectStore, parse_rv
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.request import RequestInfo, query_flag

Obj = dict[str, Any]

MIN_WATCH_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 60.0
# Upstream's watch cache sends a last bookmark this long before a watch's deadline.
BOOKMARK_BEFORE_DEADLINE = 2.0
_END = object()


def event_line(event_type: str, obj: Obj) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def next_bookmark(now: float, deadline: float) -> float | None:
    """When the next BOOKMARK is due: every minute, and once just before the deadline."""
    last = deadline - BOOKMARK_BEFORE_DEADLINE
    if now >= last:
        return None
    return min(now + BOOKMARK_INTERVAL, last)


# Events queued for one watcher before its reader waits; beyond that the store's own bounded buffer and its
# catch-up from the log take over, so a client that stops reading costs bounded memory.
WATCHER_QUEUE = 256


async def _follow(objects: ObjectStore, namespace: str, start: int, queue: asyncio.Queue[Any]) -> None:
    """Reader task: every store event into the queue, then an end marker (or the error that ended it)."""
    end: Any = _END
    try:
        async for ev in objects.watch(namespace, start):
            await queue.put(ev)
    except errors.StatusError as e:
        end = e
    except Exception as e:  # never leave the client hanging until its deadline
        end = errors.InternalError(f"watch ended: {type(e).__name__}")
    await queue.put(end)


def _by_name(name: str, accept: Callable[[Obj], bool] | None) -> Callable[[Obj], bool] | None:
    """`accept` narrowed to the object named `name` (a watch of one object); unchanged without a name."""
    if not name:
        return accept

    def by_name(obj: Obj) -> bool:
        return obj.get("metadata", {}).get("name") == name and (accept is None or accept(obj))
    return by_name


async def watch(request: web.Request, reg: Registry, info: RequestInfo, form: OutputForm) -> web.StreamResponse:
    r = info.resource
    q = request.query
    objects = reg.objects(r)
    # Events' objects come decoded from the store's shared cache, so their selectable fields are memoized there.
    accept = _by_name(info.name, make_filter(r, q, objects.events.fields))
    bookmarks = query_flag(q, "allowWatchBookmarks")
    timeout = MIN_WATCH_TIMEOUT * (1 + random.random())
    if q.get("timeoutSeconds"):
        try:
            asked = int(q["timeoutSeconds"])
        except ValueError:
            raise errors.BadRequest(f'invalid timeoutSeconds: "{q.get("timeoutSeconds")}"') from None
        if asked > 0:  # 0 (and negatives) mean "no timeout asked", as upstream
            timeout = float(asked)
    rv_param = q.get("resourceVersion", "")
    initial: list[Obj] = []
    if rv_param in ("", "0"):
        first = await objects.list(info.namespace, accept=_by_name(info.name, make_filter(r, q)))
        initial, start = first.items, first.revision
    else:
        start = parse_rv(rv_param)
    io = tables.include_object_option(q.get("includeObject"))
    plain = served_as_stored(reg, r, form)

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

    def lines_for(ev: ObjectEvent) -> bytes:
        """The line(s) one store event turns into for this watcher (b'' when filtered out)."""
        if accept is None:
            return ev.json_line() if plain else event_line(ev.type, render(ev.obj))
        now_ok = accept(ev.obj)
        if ev.type == "DELETED":
            kind = "DELETED" if now_ok else ""
        elif now_ok:
            kind = ev.type if ev.type == "ADDED" or (ev.old is not None and accept(ev.old)) else "ADDED"
        elif ev.old is not None and accept(ev.old):
            # Leaving the selector: upstream sends the previous (matching) content at the event's revision.
            old = dict(ev.old)
            old["metadata"] = {**old["metadata"], "resourceVersion": str(ev.revision)}
            return event_line("DELETED", render(old))
        else:
            return b""
        if not kind:
            return b""
        return ev.json_line(kind) if plain else event_line(kind, render(ev.obj))

    if initial:
        await resp.write(b"".join(event_line("ADDED", render(obj)) for obj in initial))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    bookmark_at = next_bookmark(loop.time(), deadline) if bookmarks else None
    last_rv = start
    queue: asyncio.Queue[Any] = asyncio.Queue(WATCHER_QUEUE)
    reader = asyncio.ensure_future(_follow(objects, info.namespace, start, queue))
    ended = False
    try:
        while not ended:
            wake = deadline if bookmark_at is None else min(deadline, bookmark_at)
            try:
                async with asyncio.timeout_at(wake):
                    item = await queue.get()
            except TimeoutError:
                now = loop.time()
                if now >= deadline:
                    break
                if bookmark_at is not None and now >= bookmark_at:
                    await resp.write(event_line("BOOKMARK", {"kind": r.kind, "apiVersion": r.group_version,
                                                             "metadata": {"resourceVersion": str(last_rv)}}))
                    bookmark_at = next_bookmark(now, deadline)
                continue
            chunks: list[bytes] = []
            while True:
                if item is _END:
                    ended = True
                    break
                if isinstance(item, errors.StatusError):
                    chunks.append(event_line("ERROR", item.status()))
                    ended = True
                    break
                last_rv = item.revision
                chunks.append(lines_for(item))
                if queue.empty():
                    break
                item = queue.get_nowait()
            data = b"".join(chunks)
            if data:
                await resp.write(data)
    except ConnectionResetError:  # the client went away: nothing to report, nobody to report it to
        return resp
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
