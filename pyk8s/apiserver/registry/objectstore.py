"""Objects on top of the revisioned key-value store: encode, decode, and translate errors.

The stored bytes are the object's JSON without ``metadata.resourceVersion``; the resourceVersion a
client sees is always the store revision of the object's last write (as upstream's etcd3 store does).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.apiserver.registry.encoding import decode, encode, with_resource_version
from pyk8s.storage import errors as serr
from pyk8s.storage.interface import EventType, KeyValue, Store

Obj = dict[str, Any]


def parse_rv(value: str | None, *, what: str = "resourceVersion") -> int:
    if value in (None, ""):
        return 0
    try:
        rv = int(str(value))
        if rv < 0:
            raise ValueError
        return rv
    except ValueError:
        raise errors.BadRequest(f'invalid {what}: "{value}"') from None


@dataclass(frozen=True, slots=True)
class RawListPage:
    items: list[bytes]              # each object's JSON, resourceVersion included
    revision: int
    continue_token: str = ""
    remaining: int | None = None


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[Obj]
    revision: int
    continue_token: str = ""        # '' when the list is complete
    remaining: int | None = None    # objects after this page, when known


class ObjectEvent:
    """One watch event; the object is decoded only if someone looks at it (and then once, shared).

    Decoded objects may be shared between watchers of the same ObjectStore: treat them as read-only.
    """

    __slots__ = ("_cache", "_obj", "_old", "key", "mod_revision", "prev_mod_revision", "prev_value", "revision",
                 "type", "value")

    def __init__(self, type: str, key: str, value: bytes, mod_revision: int, prev_value: bytes | None,
                 prev_mod_revision: int, revision: int, cache: DecodeCache) -> None:
        self.type = type                  # ADDED | MODIFIED | DELETED
        self.key = key
        self.value = value
        self.mod_revision = mod_revision  # the resourceVersion the event's object carries
        self.prev_value = prev_value
        self.prev_mod_revision = prev_mod_revision
        self.revision = revision
        self._cache = cache
        self._obj: Obj | None = None
        self._old: Obj | None = None

    @property
    def obj(self) -> Obj:
        if self._obj is None:
            self._obj = self._cache.decode(self.key, self.value, self.mod_revision)
        return self._obj

    @property
    def old(self) -> Obj | None:
        if self.prev_value is None:
            return None
        if self._old is None:
            self._old = self._cache.decode(self.key, self.prev_value, self.prev_mod_revision)
        return self._old

    def json_line(self, event_type: str | None = None) -> bytes:
        """The watch line for this event's object as stored (no conversion), built without decoding."""
        return self._cache.line(self.key, event_type or self.type, self.value, self.mod_revision)


class DecodeCache:
    """Decoded objects and encoded watch lines for recent revisions, shared by all watchers of a resource.

    Bounded by entries and by the stored bytes they stand for; when either fills up, it starts over.
    """

    def __init__(self, capacity: int = 512, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._objs: dict[tuple[str, int], Obj] = {}
        self._lines: dict[tuple[str, int, str], bytes] = {}
        # Selectable fields of decoded objects (by identity; the entry holds the object, so its id stays its own).
        self._fields: dict[int, tuple[Obj, dict[str, str]]] = {}
        self._bytes = 0

    def _room(self, size: int) -> None:
        if len(self._objs) + len(self._lines) >= self.capacity or self._bytes + size > self.max_bytes:
            self._objs.clear()
            self._lines.clear()
            self._fields.clear()
            self._bytes = 0
        self._bytes += size

    def fields(self, obj: Obj, compute: Callable[[Obj], dict[str, str]]) -> dict[str, str]:
        """`compute(obj)` for a decoded event object, computed once however many selecting watchers ask."""
        hit = self._fields.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        if len(self._fields) >= self.capacity:
            self._fields.clear()
        found = compute(obj)
        self._fields[id(obj)] = (obj, found)
        return found

    def decode(self, key: str, value: bytes, revision: int) -> Obj:
        k = (key, revision)
        obj = self._objs.get(k)
        if obj is None:
            self._room(len(value) * 4)  # a decoded object takes several times its JSON size
            obj = self._objs[k] = decode(value, revision)
        return obj

    def line(self, key: str, event_type: str, value: bytes, revision: int) -> bytes:
        k = (key, revision, event_type)
        line = self._lines.get(k)
        if line is None:
            line = (b'{"type":"' + event_type.encode() + b'","object":'
                    + with_resource_version(value, revision) + b"}\n")
            self._room(len(line))
            self._lines[k] = line
        return line


def encode_continue(revision: int, start_after: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start_after})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        return int(data["rv"]), str(data["start"])
    except Exception:
        raise errors.BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None


class ObjectStore:
    """Typed object operations for one resource over a Store; storage errors become API errors."""

    def __init__(self, store: Store, resource: Resource) -> None:
        self.store = store
        self.resource = resource
        self.events = DecodeCache()

    # ---- errors ----
    def _not_found(self, name: str) -> errors.NotFound:
        return errors.not_found(self.resource.plural, self.resource.group, name)

    def _conflict(self, name: str) -> errors.Conflict:
        return errors.conflict(self.resource.plural, self.resource.group, name, errors.OPTIMISTIC_LOCK_MESSAGE)

    def _translate(self, exc: serr.StorageError, name: str) -> errors.StatusError:
        if isinstance(exc, serr.KeyNotFound):
            return self._not_found(name)
        if isinstance(exc, serr.KeyExists):
            return errors.already_exists(self.resource.plural, self.resource.group, name)
        if isinstance(exc, serr.RevisionConflict):
            return self._conflict(name)
        if isinstance(exc, serr.Compacted):
            return errors.Expired(f"too old resource version: {exc.requested} ({exc.compacted})")
        if isinstance(exc, serr.FutureRevision):
            return errors.Timeout(
                f"Too large resource version: {exc.requested}, current: {exc.current}",
                details={"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                         "retryAfterSeconds": 1},
                headers={"Retry-After": "1"},
            )
        return errors.InternalError(str(exc))

    # ---- reads ----
    async def _get_kv(self, namespace: str, name: str) -> KeyValue:
        try:
            return await self.store.get(self.resource.key(namespace, name))
        except serr.StorageError as e:
            raise self._translate(e, name) from e

    async def get(self, namespace: str, name: str) -> Obj:
        kv = await self._get_kv(namespace, name)
        return decode(kv.value, kv.mod_revision)

    async def get_raw(self, namespace: str, name: str) -> bytes:
        """The object's JSON as clients see it, spliced from the stored bytes (no decode)."""
        kv = await self._get_kv(namespace, name)
        return with_resource_version(kv.value, kv.mod_revision)

    async def list(self, namespace: str, *, revision: int = 0, limit: int = 0, start_after: str = "",
                   accept: Callable[[Obj], bool] | None = None) -> ListPage:
        """Objects (filtered by `accept`) at one revision, one page of at most `limit` when limit > 0."""
        prefix = self.resource.namespace_prefix(namespace)
        out: list[Obj] = []
        while True:
            want = (limit - len(out)) if limit else 0
            try:
                res = await self.store.list(prefix, revision=revision, limit=want, start_after=start_after)
            except serr.StorageError as e:
                raise self._translate(e, "") from e
            revision = res.revision
            for kv in res.items:
                obj = decode(kv.value, kv.mod_revision)
                if accept is None or accept(obj):
                    out.append(obj)
            if not res.more:
                return ListPage(out, revision)
            start_after = res.items[-1].key
            if limit and len(out) >= limit:
                # Upstream reports remainingItemCount only when no selector filters the list.
                remaining = res.remaining if accept is None else None
                return ListPage(out, revision, encode_continue(revision, start_after), remaining)

    async def list_raw(self, namespace: str, *, revision: int = 0, limit: int = 0, start_after: str = "") -> RawListPage:
        """Like list() without a filter, as JSON bytes spliced from storage (no decode, no re-encode)."""
        prefix = self.resource.namespace_prefix(namespace)
        try:
            res = await self.store.list(prefix, revision=revision, limit=limit, start_after=start_after)
        except serr.StorageError as e:
            raise self._translate(e, "") from e
        items = [with_resource_version(kv.value, kv.mod_revision) for kv in res.items]
        if res.more and res.items:
            return RawListPage(items, res.revision, encode_continue(res.revision, res.items[-1].key), res.remaining)
        return RawListPage(items, res.revision)

    # ---- writes ----
    async def create(self, obj: Obj) -> Obj:
        m = obj["metadata"]
        try:
            rev = await self.store.create(self.resource.key(m.get("namespace", ""), m["name"]), encode(obj))
        except serr.StorageError as e:
            raise self._translate(e, m["name"]) from e
        m["resourceVersion"] = str(rev)
        return obj

    async def guaranteed_update(
        self, namespace: str, name: str, update: Callable[[Obj], Awaitable[Obj | None]], *, retries: int = 64,
    ) -> tuple[Obj, Obj]:
        """Read-modify-write with compare-and-swap, retried on conflict.

        `update` gets a private copy of the current object and returns the new object, or None for "no
        change". It may raise API errors (including Conflict for a stale client resourceVersion). Returns
        (old, new); when nothing changed new is old and no write happens. Lost races are retried (the
        first at once, then with a short growing pause until a read shows the newer revision), as upstream
        retries until its precondition holds.
        """
        key = self.resource.key(namespace, name)
        seen_after_conflict = 0
        pause = 0.0005
        for _ in range(retries):
            try:
                kv = await self.store.get(key)
            except serr.StorageError as e:
                raise self._translate(e, name) from e
            if kv.mod_revision < seen_after_conflict:
                # The write that beat us is committed but not yet visible to reads: wait a moment for it.
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.05)
                continue
            current = decode(kv.value, kv.mod_revision)
            new = await update(decode(kv.value, kv.mod_revision))
            if new is None:
                return current, current
            data = encode(new)
            if data == kv.value:
                return current, current
            try:
                rev = await self.store.update(key, data, kv.mod_revision)
            except serr.RevisionConflict as e:
                seen_after_conflict = max(e.actual, kv.mod_revision + 1)
                continue
            except serr.StorageError as e:
                raise self._translate(e, name) from e
            new.setdefault("metadata", {})["resourceVersion"] = str(rev)
            return current, new
        raise self._conflict(name)

    async def delete(self, namespace: str, name: str, expected_revision: int = 0) -> Obj:
        try:
            kv, _rev = await self.store.delete(self.resource.key(namespace, name), expected_revision)
        except serr.StorageError as e:
            raise self._translate(e, name) from e
        return decode(kv.value, kv.mod_revision)

    # ---- watch ----
    async def watch(self, namespace: str, from_revision: int) -> AsyncIterator[ObjectEvent]:
        prefix = self.resource.namespace_prefix(namespace)
        cache = self.events
        try:
            async for ev in self.store.watch(prefix, from_revision):
                kv, prev = ev.kv, ev.prev
                if ev.type is EventType.DELETE:
                    yield ObjectEvent("DELETED", kv.key, kv.value, ev.revision, None, 0, ev.revision, cache)
                elif prev is None:
                    yield ObjectEvent("ADDED", kv.key, kv.value, kv.mod_revision, None, 0, ev.revision, cache)
                else:
                    yield ObjectEvent("MODIFIED", kv.key, kv.value, kv.mod_revision, prev.value, prev.mod_revision,
                                      ev.revision, cache)
        except serr.StorageError as e:
            raise self._translate(e, "") from e
