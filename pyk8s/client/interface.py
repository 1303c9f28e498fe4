"""The client seams every component codes against: reading/writing objects, watching, informer caches.

Two implementations serve the `Client` Protocol: `rest.RESTClient` (HTTPS to a real apiserver) and
`fake.FakeClient` (in memory, for unit tests of one room). Controllers, the scheduler, the kubelet and
hollow nodes never see HTTP: they take a `Client` and, for reads, an `InformerFactory`'s caches.

Resources are named by `pyk8s.api.resources.Resource` (see client/kinds.py for the common ones).
Objects are plain dicts in exact Kubernetes JSON shape. Errors are the classes of pyk8s.api.errors,
rebuilt from the server's `Status` (callers match on class or `.reason`, never on message text).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pyk8s.api.resources import Resource

Obj = dict[str, Any]

PatchType = Literal["merge", "json", "strategic", "apply"]
PatchBody = Obj | list[Any]
ObjList = list[Obj]
KeyList = list[str]

PATCH_CONTENT_TYPE: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch event. `type` is ADDED, MODIFIED, DELETED or BOOKMARK (ERROR events become exceptions)."""

    type: str
    object: Obj


class Client(Protocol):
    """Reads and writes objects through the API. Every method is a coroutine except `watch`.

    `namespace` is "" for cluster-scoped resources (and, for `list`/`watch`, means all namespaces).
    For `create`, an empty `namespace` means "the object's metadata.namespace".
    Each call is one API request: no retries, no caching. Raises pyk8s.api.errors.StatusError subclasses
    (NotFound, AlreadyExists, Conflict, Invalid, Expired/Gone, Forbidden, ...) built from the Status body,
    and `ConnectionError` when the apiserver cannot be reached.
    """

    async def get(self, resource: Resource, name: str, namespace: str = "", *, subresource: str = "") -> Obj: ...

    async def list(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_: str = "",
                   resource_version: str = "") -> Obj:
        """One page: a `<Kind>List` dict with metadata.resourceVersion (and metadata.continue when limited)."""

    def watch(self, resource: Resource, namespace: str = "", *, resource_version: str = "",
              label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
              timeout_seconds: int | None = None) -> AsyncIterator[WatchEvent]:
        """Events after `resource_version`, in order, until the server ends the stream or the caller stops.

        A 410 (as a response or as an ERROR event) raises errors.Expired / errors.Gone so an informer relists.
        Breaking out of the iteration (or cancelling) closes the connection.
        """

    async def create(self, resource: Resource, obj: Obj, namespace: str = "", *, dry_run: bool = False,
                     field_manager: str = "") -> Obj: ...

    async def update(self, resource: Resource, obj: Obj, *, subresource: str = "",
                     field_manager: str = "") -> Obj:
        """PUT the object (name/namespace from its metadata); subresource "status" or "scale" for those."""

    async def patch(self, resource: Resource, name: str, patch: PatchBody, namespace: str = "", *,
                    patch_type: PatchType = "merge", subresource: str = "", field_manager: str = "",
                    force: bool = False) -> Obj: ...

    async def delete(self, resource: Resource, name: str, namespace: str = "", *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Obj | None = None) -> Obj:
        """DELETE; returns what the server returns (the object while finalizers hold it, or a Status)."""

    async def create_subresource(self, resource: Resource, name: str, subresource: str, body: Obj,
                                 namespace: str = "") -> Obj:
        """POST to a subresource: pods/binding, pods/eviction, serviceaccounts/token."""


def object_key(obj: Obj) -> str:
    """The cache key client-go uses: "namespace/name", or "name" for cluster-scoped objects."""
    m = obj.get("metadata") or {}
    ns = m.get("namespace") or ""
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


def split_key(key: str) -> tuple[str, str]:
    """("namespace", "name") from a cache key; namespace is "" for cluster-scoped keys."""
    ns, _, name = key.rpartition("/")
    return ns, name


IndexFunc = Callable[[Obj], list[str]]
NAMESPACE_INDEX = "namespace"


class Lister(Protocol):
    """Read-only view of an informer's cache. Returned objects are shared: copy (api.meta.copy) before changing."""

    def get(self, key: str) -> Obj | None:
        """The object cached under "ns/name" (or "name"), or None."""

    def list(self, namespace: str | None = None) -> ObjList:
        """All cached objects, or those of one namespace (uses the namespace index)."""

    def by_index(self, index_name: str, value: str) -> ObjList:
        """Objects whose index function returned `value` for `index_name`. Unknown index: KeyError."""

    def keys(self) -> KeyList: ...


class Informer(Protocol):
    """A shared, eventually consistent cache of one resource, kept by list-then-watch.

    Contract (client-go's SharedInformer): the cache is filled by a LIST, then a WATCH from the list's
    resourceVersion; on 410 or a broken watch it relists and emits the difference as add/update/delete.
    Handlers for one object see its states in order; nothing is promised across objects. Handlers run on
    the event loop and must return quickly (enqueue a key, nothing more). Deletes carry the last known
    state of the object. Handlers added after sync get synthetic adds for everything already cached.
    """

    resource: Resource

    @property
    def lister(self) -> Lister: ...

    def add_handler(self, on_add: Callable[[Obj], None] | None = None,
                    on_update: Callable[[Obj, Obj], None] | None = None,
                    on_delete: Callable[[Obj], None] | None = None) -> None: ...

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Register extra indexes (before start). The "namespace" index always exists."""

    def has_synced(self) -> bool:
        """True once the first LIST has been delivered to the cache and to the handlers."""


class InformerFactory(Protocol):
    """One informer per (resource, namespace, selectors), shared by every controller of a process."""

    def informer(self, resource: Resource, *, namespace: str = "", label_selector: str = "",
                 field_selector: str = "") -> Informer: ...

    def start(self) -> None:
        """Start every informer requested so far (and later ones as they are requested). Needs a running loop."""

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait until every started informer has synced; False on timeout."""

    async def stop(self) -> None:
        """Cancel every informer task and wait for them."""
