"""Shared informers: one list-then-watch cache per (resource, namespace, selectors), with handlers and listers.

This is client-go's SharedInformer/Reflector/Indexer trio for asyncio:

* the reflector LISTs in pages of 500, replaces the cache, then WATCHes from the list's resourceVersion (with
  bookmarks, and a random 5-10 minute timeoutSeconds so streams are renewed). A watch stream that ends normally
  is reopened from the last resourceVersion seen. A 410 (Expired/Gone) means the history is gone, so it
  relists and hands the difference to the handlers as adds, updates and deletes (an update only when the
  resourceVersion changed). A stream that ends within a second without a single event ("very short watch")
  and any other unexpected watch error also lead to a relist. Connection failures, 429 and 503 reopen the
  watch without a relist.
* every retry and every relist waits on client-go's backoff manager, timed on the injected Clock: 0.8 s
  doubling to 30 s, back to 0.8 s only once no backoff was needed for 2 minutes. So a server that keeps
  failing, or keeps ending watches at once, sees a few requests a minute, not a tight loop.
* `run()` never ends but by cancellation: an unexpected error is logged with its traceback and retried after
  the backoff (client-go's HandleCrash + BackoffUntil), so a cache cannot silently go stale.
* the `Indexer` is the cache: objects by "ns/name" key plus named indexes (the "namespace" index always).
  It is used from the event loop only, so it needs no locks. Index lookups return keys in insertion order
  (unsorted, as upstream; callers that need an order sort).
* handlers run on the event loop, in order for each object, and must only enqueue keys.

`SharedInformerFactory` hands out one informer per (resource, namespace, label selector, field selector) and
starts, syncs and stops them together (the `InformerFactory` Protocol of client/interface.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import NAMESPACE_INDEX, Client, IndexFunc, Obj, WatchEvent, object_key

log = logging.getLogger("pyk8s.client.informer")

LIST_PAGE_SIZE = 500  # client-go's pager default
BACKOFF_INITIAL = 0.8  # client-go reflector backoff manager: 800 ms ...
BACKOFF_CAP = 30.0  # ... doubling up to 30 s
BACKOFF_RESET = 120.0  # ... and starting over once no backoff was needed for 2 minutes
VERY_SHORT_WATCH = 1.0  # a stream that ends sooner without any event counts as a failure
MIN_WATCH_TIMEOUT = 300  # client-go asks the server to end a watch after 5-10 minutes (random per watch)

AddHandler = Callable[[Obj], None]
UpdateHandler = Callable[[Obj, Obj], None]
DeleteHandler = Callable[[Obj], None]
ObjList = list[Obj]  # (a module-level alias: inside classes `list` names the method)
StrList = list[str]


def namespace_index(obj: Obj) -> StrList:
    """client-go MetaNamespaceIndexFunc: the object's namespace ("" for cluster-scoped objects)."""
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


def resource_version_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Indexer:
    """A keyed object store with named indexes (client-go cache.Indexer). Objects are stored as given."""

    def __init__(self) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        # index name -> index value -> keys (a dict used as an insertion-ordered set)
        self._indices: dict[str, dict[str, dict[str, None]]] = {NAMESPACE_INDEX: {}}

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add named index functions; existing objects are indexed at once."""
        for name, fn in indexers.items():
            self._indexers[name] = fn
            self._indices[name] = self._build_index(fn)

    def put(self, key: str, obj: Obj) -> Obj | None:
        """Store `obj` under `key`; returns the object it replaced."""
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def delete(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, items: dict[str, Obj]) -> None:
        self._items = dict(items)
        for name, fn in self._indexers.items():
            self._indices[name] = self._build_index(fn)

    def _build_index(self, fn: IndexFunc) -> dict[str, dict[str, None]]:
        index: dict[str, dict[str, None]] = {}
        for key, obj in self._items.items():
            for value in fn(obj):
                index.setdefault(value, {})[key] = None
        return index

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self) -> ObjList:
        return list(self._items.values())

    def keys(self) -> StrList:
        return list(self._items)

    def items(self) -> dict[str, Obj]:
        return dict(self._items)

    def by_index(self, index_name: str, value: str) -> ObjList:
        index = self._indices[index_name]  # KeyError for an unknown index, as the Protocol says
        return [self._items[k] for k in index.get(value, ())]

    def index_keys(self, index_name: str, value: str) -> StrList:
        return list(self._indices[index_name].get(value, ()))

    def __len__(self) -> int:
        return len(self._items)

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                index.setdefault(value, {})[key] = None

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del index[value]


class CacheLister:
    """The `Lister` view of an informer's Indexer. Objects are shared: copy before changing."""

    def __init__(self, indexer: Indexer) -> None:
        self._indexer = indexer

    def get(self, key: str) -> Obj | None:
        return self._indexer.get(key)

    def list(self, namespace: str | None = None) -> ObjList:
        """Everything (namespace None or ""), or the objects of one namespace."""
        if not namespace:
            return self._indexer.list()
        return self._indexer.by_index(NAMESPACE_INDEX, namespace)

    def by_index(self, index_name: str, value: str) -> ObjList:
        return self._indexer.by_index(index_name, value)

    def keys(self) -> StrList:
        return self._indexer.keys()


@dataclass(frozen=True, slots=True)
class _Handler:
    on_add: AddHandler | None
    on_update: UpdateHandler | None
    on_delete: DeleteHandler | None


Transform = Callable[[Obj], Obj]


def strip_managed_fields(obj: Obj) -> Obj:
    """client-go's TransformStripManagedFields: components never read managedFields, and they are a large part
    of every cached object. Changes `obj` (fresh from the client, not yet shared) and returns it."""
    md = obj.get("metadata")
    if isinstance(md, dict):
        md.pop("managedFields", None)
    return obj


class SharedInformer:
    """One resource's cache kept by list-then-watch (the `Informer` Protocol; see the module docstring)."""

    def __init__(self, client: Client, resource: Resource, *, namespace: str = "", label_selector: str = "",
                 field_selector: str = "", clock: Clock = REAL_CLOCK, page_size: int = LIST_PAGE_SIZE,
                 transform: Transform | None = None) -> None:
        self.client = client
        self.transform = transform
        self.resource = resource
        self.namespace = namespace if resource.namespaced else ""
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.clock = clock
        self.page_size = page_size
        self._indexer = Indexer()
        self._lister = CacheLister(self._indexer)
        self._handlers: list[_Handler] = []
        self._synced = asyncio.Event()
        self._last_rv = ""
        self._backoff = BACKOFF_INITIAL
        self._last_backoff_start = float("-inf")

    def __repr__(self) -> str:
        parts = [self.resource.qualified]
        if self.namespace:
            parts.append(f"namespace={self.namespace}")
        if self.label_selector:
            parts.append(f"labels={self.label_selector}")
        if self.field_selector:
            parts.append(f"fields={self.field_selector}")
        return f"<informer {' '.join(parts)}>"

    # ---- the Informer Protocol ----

    @property
    def lister(self) -> CacheLister:
        return self._lister

    @property
    def indexer(self) -> Indexer:
        return self._indexer

    def add_handler(self, on_add: AddHandler | None = None, on_update: UpdateHandler | None = None,
                    on_delete: DeleteHandler | None = None) -> None:
        """Register handlers; if the cache already holds objects, `on_add` is called for each of them now."""
        handler = _Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if on_add is not None:
            for obj in self._indexer.list():
                self._call(on_add, obj)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        self._indexer.add_indexers(indexers)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    def last_sync_resource_version(self) -> str:
        """The resourceVersion the cache is known to be current at (from the last list, event or bookmark)."""
        return self._last_rv

    # ---- the reflector ----

    async def run(self) -> None:
        """List and watch until cancelled; every relist waits for the backoff first (see the module docstring)."""
        while True:
            try:
                await self._list_and_watch()
            except Exception:
                log.exception("%r: list and watch failed unexpectedly; retrying", self)
            await self._back_off()

    def _next_backoff(self) -> float:
        """client-go's exponential backoff manager: the next wait, reset after BACKOFF_RESET without backoffs."""
        now = self.clock.monotonic()
        if now - self._last_backoff_start > BACKOFF_RESET:
            self._backoff = BACKOFF_INITIAL
        self._last_backoff_start = now
        delay = self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_CAP)
        return delay

    async def _back_off(self) -> None:
        await self.clock.sleep(self._next_backoff())

    async def _list_and_watch(self) -> None:
        """One list, then watches until a relist is needed."""
        try:
            await self._list()
        except Exception as e:
            log.warning("%r: list failed (will retry): %s", self, e)
            return
        await self._watch_until_relist()

    async def _list(self) -> None:
        """LIST every page, then replace the cache and tell the handlers what changed."""
        items: dict[str, Obj] = {}
        cont = ""
        limit = self.page_size
        while True:
            try:
                page = await self.client.list(self.resource, self.namespace, label_selector=self.label_selector,
                                              field_selector=self.field_selector, limit=limit, continue_=cont)
            except (errors.Expired, errors.Gone):
                if not cont:
                    raise
                # The continue token outlived the server's history: start over with one unpaged list.
                items.clear()
                cont, limit = "", 0
                continue
            for obj in page.get("items") or ():
                items[object_key(obj)] = self.transform(obj) if self.transform is not None else obj
            md = page.get("metadata") or {}
            cont = str(md.get("continue") or "")
            if not cont:
                rv = str(md.get("resourceVersion") or "")
                break
        self._replace(items)
        self._last_rv = rv
        self._synced.set()

    def _replace(self, items: dict[str, Obj]) -> None:
        old = self._indexer.items()
        self._indexer.replace(items)
        for key, gone in old.items():
            if key not in items:
                self._notify_delete(gone)
        for key, obj in items.items():
            before = old.get(key)
            if before is None:
                self._notify_add(obj)
            elif resource_version_of(before) != resource_version_of(obj):
                self._notify_update(before, obj)

    async def _watch_until_relist(self) -> None:
        """Watch from the last resourceVersion, reopening streams, until a relist is needed (then return)."""
        while True:
            timeout = int(MIN_WATCH_TIMEOUT * (1 + random.random()))
            started = self.clock.monotonic()
            events = 0
            stream = self.client.watch(self.resource, self.namespace, resource_version=self._last_rv,
                                       label_selector=self.label_selector, field_selector=self.field_selector,
                                       allow_bookmarks=True, timeout_seconds=timeout)
            try:
                async for event in stream:
                    events += 1
                    self._handle(event)
            except (errors.Expired, errors.Gone) as e:
                log.info("%r: watch from resourceVersion %s expired (%s); relisting", self, self._last_rv, e)
                return
            except (ConnectionError, OSError, errors.TooManyRequests, errors.ServiceUnavailable) as e:
                delay = self._next_backoff()
                log.info("%r: watch failed, retrying in %.1fs: %s", self, delay, e)
                await self.clock.sleep(delay)
                continue
            except Exception as e:
                log.warning("%r: watch failed, relisting: %s", self, e)
                return
            finally:
                await self._close(stream)
            if events == 0 and self.clock.monotonic() - started < VERY_SHORT_WATCH:
                log.warning("%r: very short watch: the stream from resourceVersion %s ended at once without any "
                            "event; relisting", self, self._last_rv)
                return
            await asyncio.sleep(0)  # the stream ended normally: reopen it, but let others run first

    async def _close(self, stream: object) -> None:
        """Close a watch stream; a failure to close must not replace the error that ended it."""
        aclose = getattr(stream, "aclose", None)
        if aclose is None:
            return
        try:
            await aclose()
        except Exception as e:
            log.debug("%r: closing the watch stream failed: %s", self, e)

    def _handle(self, event: WatchEvent) -> None:
        obj = event.object if self.transform is None else self.transform(event.object)
        rv = resource_version_of(obj)
        if event.type == "BOOKMARK":
            if rv:
                self._last_rv = rv
            return
        key = object_key(obj)
        if event.type in ("ADDED", "MODIFIED"):
            old = self._indexer.put(key, obj)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        elif event.type == "DELETED":
            self._indexer.delete(key)
            self._notify_delete(obj)
        else:
            log.warning("%r: ignoring watch event of type %r", self, event.type)
        if rv:
            self._last_rv = rv

    # ---- handler calls: one handler's failure never stops the cache or the other handlers ----

    def _notify_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _notify_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("%r: event handler %r failed", self, fn)


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors), shared by every controller of a process."""

    def __init__(self, client: Client, *, clock: Clock = REAL_CLOCK, page_size: int = LIST_PAGE_SIZE,
                 transform: Transform | None = None) -> None:
        """`transform` is applied to every object before it is cached (e.g. strip_managed_fields)."""
        self.client = client
        self.transform = transform
        self.clock = clock
        self.page_size = page_size
        self._informers: dict[tuple[Resource, str, str, str], SharedInformer] = {}
        self._tasks: dict[SharedInformer, asyncio.Task[None]] = {}
        self._started = False

    def informer(self, resource: Resource, *, namespace: str = "", label_selector: str = "",
                 field_selector: str = "") -> SharedInformer:
        key = (resource, namespace if resource.namespaced else "", label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = SharedInformer(self.client, resource, namespace=key[1], label_selector=label_selector,
                                 field_selector=field_selector, clock=self.clock, page_size=self.page_size,
                                 transform=self.transform)
            self._informers[key] = inf
            if self._started:
                self._start(inf)
        return inf

    def informers(self) -> Iterable[SharedInformer]:
        return list(self._informers.values())

    def start(self) -> None:
        """Start every informer requested so far, and later ones as they are requested."""
        self._started = True
        for inf in self._informers.values():
            self._start(inf)

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait until every started informer has listed once; False when `timeout` (real seconds) passes."""
        pending = [inf.wait_for_sync() for inf in self._tasks if not inf.has_synced()]
        if not pending:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*pending), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """Cancel every informer task and wait for them."""
        self._started = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            try:
                await t
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("informer task failed")

    def _start(self, inf: SharedInformer) -> None:
        if inf not in self._tasks:
            task = asyncio.get_running_loop().create_task(inf.run(), name=repr(inf))
            task.add_done_callback(_log_unexpected_exit)
            self._tasks[inf] = task


def _log_unexpected_exit(task: asyncio.Task[None]) -> None:
    """An informer task ends only when cancelled; anything else leaves a cache that never changes again."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("informer %s stopped: %r; its cache no longer follows the server", task.get_name(), exc,
                  exc_info=exc)
    else:
        log.error("informer %s stopped; its cache no longer follows the server", task.get_name())
