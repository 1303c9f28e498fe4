"""An in-memory `Client` for unit tests of one room: controllers, the scheduler, the kubelet, hollow nodes.

`FakeClient` keeps objects the way the apiserver's registry does where components depend on it: a global
resourceVersion counter, uid/creationTimestamp/generateName on create, metadata.generation bumped when
anything outside metadata and status changes, optimistic concurrency (a stale resourceVersion is a 409),
the status/scale/binding/eviction/finalize subresources, finalizers and graceful pod deletion
(deletionTimestamp), label and field selectors, paginated lists, and watches from a resourceVersion over a
bounded event history (older than the history: 410 Expired, so informers relist).

It is not a validator or a defaulter: objects are stored as given (status included, as client-go's fake
tracker does), with only the system metadata filled in. Every call is recorded as an `Action`; tests can
make the next call of a verb fail (`fail_next`), store objects without an action (`seed`), cut open watch
streams (`disconnect_watches`) and drop the event history (`compact`).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from pyk8s.api import errors, labels, meta
from pyk8s.api import fields as fieldsel
from pyk8s.api import patch as patching
from pyk8s.api import schema as schemas
from pyk8s.api.resources import Resource
from pyk8s.api.scale import scale_of
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Obj, PatchType, WatchEvent

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
DEFAULT_HISTORY_LIMIT = 10000
DEFAULT_POD_GRACE_SECONDS = 30

# Upstream answers a removed object of these resources with the object itself; the others with a Status.
_RETURNS_OBJECT = frozenset({("", "pods"), ("", "serviceaccounts"), ("", "services"), ("", "namespaces")})
# Kinds whose annotation changes bump metadata.generation too (upstream's deployment strategy).
_ANNOTATION_GENERATION = frozenset({("apps", "deployments")})
_NOT_SERVED = "the server could not find the requested resource"

_GroupResource = tuple[str, str]
PatchBody = dict[str, Any] | list[Any]  # (a module-level alias: inside the class `list` names the method)
_ObjectKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Action:
    """One recorded client call. `resource` is the plural; `body` a copy of what was sent (patch, options...)."""

    verb: str
    resource: str
    namespace: str
    name: str
    subresource: str = ""
    body: Any = None
    group: str = ""


@dataclass(slots=True)
class _Event:
    rv: int
    gr: _GroupResource
    type: str
    obj: Obj
    old: Obj | None


@dataclass(eq=False, slots=True)
class _Watcher:
    resource: Resource
    namespace: str
    label_selector: labels.Selector
    field_selector: fieldsel.FieldSelector
    bookmarks: bool
    queue: asyncio.Queue[WatchEvent | BaseException | None] = field(default_factory=asyncio.Queue)


def _gr(r: Resource) -> _GroupResource:
    return (r.group, r.plural)


# Upstream resets only spec and labels on these workloads' status writes, so annotations may change there.
_ANNOTATIONS_VIA_STATUS = frozenset({"deployments", "replicasets", "daemonsets", "statefulsets"})


def _status_success(r: Resource, name: str, uid: str) -> Obj:
    details: Obj = {"name": name, "kind": r.plural, "uid": uid}
    if r.group:
        details["group"] = r.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _without(obj: Obj, *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}


def _encode_continue(rv: int, start_after: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start_after})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), str(data["start"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as e:
        raise errors.BadRequest(f"continue key is not valid: {e}") from None


class FakeClient:
    """In-memory `Client` (see the module docstring). Every returned object is a private deep copy."""

    def __init__(self, *, clock: Clock = REAL_CLOCK, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.clock = clock
        self.history_limit = history_limit
        self.actions: list[Action] = []
        self._rv = 0
        self._objects: dict[_GroupResource, dict[_ObjectKey, Obj]] = {}
        self._history: deque[_Event] = deque()
        self._compacted_rv = 0
        self._watchers: list[_Watcher] = []
        self._failures: dict[tuple[str, str], deque[BaseException]] = {}

    # ------------------------------------------------------------------------------------------------ test helpers

    def clear_actions(self) -> None:
        self.actions.clear()

    def fail_next(self, verb: str, plural: str, error: BaseException) -> None:
        """The next call of `verb` ("get", "list", "watch", "create", "update", "patch", "delete",
        "create_subresource") on resource `plural` ("*" for any) raises `error`. Calls queue up in order."""
        self._failures.setdefault((verb, plural), deque()).append(error)

    def seed(self, resource: Resource, obj: Obj) -> Obj:
        """Store `obj` as is (status included) without recording an action; fills in missing system metadata
        (uid, creationTimestamp, generation) and sends the ADDED watch event. Replaces an existing object."""
        new = meta.copy(obj)
        new.setdefault("apiVersion", resource.api_version)
        new.setdefault("kind", resource.kind)
        md = meta.meta(new)
        if not md.get("name"):
            md["name"] = meta.generate_name(str(md.get("generateName") or "seed-"))
        if not resource.namespaced:
            md.pop("namespace", None)
        md.setdefault("uid", meta.new_uid())
        md.setdefault("creationTimestamp", self._now())
        if resource.has_status:
            md.setdefault("generation", 1)
        old = self._bucket(resource).get((meta.namespace_of(new), meta.name_of(new)))
        return meta.copy(self._commit(resource, "MODIFIED" if old is not None else "ADDED", new, old))

    def objects(self, resource: Resource, namespace: str | None = None) -> list[Obj]:
        """Copies of every stored object of `resource` (of one namespace if given), sorted by namespace/name."""
        bucket = self._bucket(resource)
        return [meta.copy(bucket[k]) for k in sorted(bucket) if namespace is None or k[0] == namespace]

    def compact(self) -> None:
        """Forget the watch history: a watch from any resourceVersion older than now gets 410 Expired."""
        self._history.clear()
        self._compacted_rv = self._rv

    def disconnect_watches(self, error: BaseException | None = None) -> int:
        """End every open watch stream (normally, or by raising `error` in it). Returns how many."""
        count = len(self._watchers)
        for w in self._watchers:
            w.queue.put_nowait(error)
        self._watchers.clear()
        return count

    def bookmark(self, resource: Resource) -> None:
        """Send a BOOKMARK at the current resourceVersion to every open watch of `resource` that allows them."""
        for w in self._watchers:
            if _gr(w.resource) == _gr(resource) and w.bookmarks:
                w.queue.put_nowait(WatchEvent("BOOKMARK", {
                    "apiVersion": resource.api_version, "kind": resource.kind,
                    "metadata": {"resourceVersion": str(self._rv)}}))

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        return str(self._rv)

    def open_watches(self) -> int:
        return len(self._watchers)

    # ------------------------------------------------------------------------------------------------ reads

    async def get(self, resource: Resource, name: str, namespace: str = "", *, subresource: str = "") -> Obj:
        self._record("get", resource, namespace, name, subresource)
        obj = self._must_get(resource, namespace, name)
        if subresource == "scale":
            self._require_subresource(resource, "scale")
            return scale_of(obj)
        if subresource and subresource != "status":
            raise errors.NotFound(_NOT_SERVED)
        return meta.copy(obj)

    async def list(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_: str = "",
                   resource_version: str = "") -> Obj:
        self._record("list", resource, namespace, "", "")
        lsel = labels.parse_selector(label_selector)
        fsel = fieldsel.parse_for_resource(field_selector, resource.plural, resource.group)
        rv = self._rv
        start_after = ""
        if continue_:
            rv, start_after = _decode_continue(continue_)
        bucket = self._bucket(resource)
        items: list[Obj] = []
        for key in sorted(bucket):
            text_key = f"{key[0]}/{key[1]}"
            if start_after and text_key <= start_after:
                continue
            obj = bucket[key]
            if self._matches(resource, obj, namespace, lsel, fsel):
                items.append(obj)
        md: Obj = {"resourceVersion": str(rv)}
        if limit > 0 and len(items) > limit:
            last = items[limit - 1]
            md["continue"] = _encode_continue(rv, f"{meta.namespace_of(last)}/{meta.name_of(last)}")
            md["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {"apiVersion": resource.api_version, "kind": resource.list_kind, "metadata": md,
                "items": [meta.copy(o) for o in items]}

    async def watch(self, resource: Resource, namespace: str = "", *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
                    timeout_seconds: int | None = None) -> AsyncIterator[WatchEvent]:
        """Events after `resource_version` ("" or "0": synthetic ADDED for what exists now, then changes).
        `timeout_seconds` is ignored: streams end only when the caller stops or `disconnect_watches` is called."""
        self._record("watch", resource, namespace, "", "")
        watcher = _Watcher(resource, namespace, labels.parse_selector(label_selector),
                           fieldsel.parse_for_resource(field_selector, resource.plural, resource.group),
                           allow_bookmarks)
        backlog: list[WatchEvent] = []
        if resource_version in ("", "0"):
            bucket = self._bucket(resource)
            for key in sorted(bucket):
                obj = bucket[key]
                if self._matches(resource, obj, namespace, watcher.label_selector, watcher.field_selector):
                    backlog.append(WatchEvent("ADDED", meta.copy(obj)))
        else:
            try:
                since = int(resource_version)
            except ValueError:
                raise errors.BadRequest(f"invalid resource version: {resource_version}") from None
            if since < self._compacted_rv:
                raise errors.expired(f"too old resource version: {since} ({self._compacted_rv})")
            for ev in self._history:
                if ev.rv > since and ev.gr == _gr(resource):
                    out = self._event_for(watcher, ev)
                    if out is not None:
                        backlog.append(out)
        self._watchers.append(watcher)
        try:
            for item in backlog:
                yield item
            while True:
                got = await watcher.queue.get()
                if got is None:
                    return
                if isinstance(got, BaseException):
                    raise got
                yield got
        finally:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    # ------------------------------------------------------------------------------------------------ writes

    async def create(self, resource: Resource, obj: Obj, namespace: str = "", *, dry_run: bool = False,
                     field_manager: str = "") -> Obj:
        md_in = obj.get("metadata") or {}
        ns = namespace or str(md_in.get("namespace") or "")
        self._record("create", resource, ns, str(md_in.get("name") or ""), "", obj)
        if namespace and md_in.get("namespace") and md_in["namespace"] != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on "
                                    "the request")
        if resource.namespaced and not ns:
            raise errors.BadRequest(f"a namespace is required to create {resource.qualified}")
        new = meta.copy(obj)
        new["apiVersion"] = resource.api_version
        new["kind"] = resource.kind
        md = meta.meta(new)
        if resource.namespaced:
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
            ns = ""
        if not md.get("name"):
            if not md.get("generateName"):
                raise errors.invalid(resource.kind, resource.group, "", [{
                    "reason": "FieldValueRequired", "field": "metadata.name",
                    "message": "Required value: name or generateName is required"}])
            md["name"] = meta.generate_name(str(md["generateName"]))
        name = str(md["name"])
        if (ns, name) in self._bucket(resource):
            raise errors.already_exists(resource.plural, resource.group, name)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            md.pop(k, None)
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = self._now()
        if resource.has_status:
            md["generation"] = 1
        if _gr(resource) == ("", "namespaces"):
            spec = new.setdefault("spec", {})
            if "kubernetes" not in (spec.get("finalizers") or []):
                spec["finalizers"] = [*(spec.get("finalizers") or []), "kubernetes"]
            new.setdefault("status", {"phase": "Active"})
        if dry_run:
            return new
        return meta.copy(self._commit(resource, "ADDED", new, None))

    async def update(self, resource: Resource, obj: Obj, *, subresource: str = "",
                     field_manager: str = "") -> Obj:
        md_in = obj.get("metadata") or {}
        ns = str(md_in.get("namespace") or "") if resource.namespaced else ""
        name = str(md_in.get("name") or "")
        self._record("update", resource, ns, name, subresource, obj)
        if subresource == "scale":
            return self._write_scale(resource, ns, name, obj)
        current = self._must_get(resource, ns, name)
        return self._write(resource, current, obj, subresource)

    async def patch(self, resource: Resource, name: str, patch: PatchBody, namespace: str = "", *,
                    patch_type: PatchType = "merge", subresource: str = "", field_manager: str = "",
                    force: bool = False) -> Obj:
        ns = namespace if resource.namespaced else ""
        self._record("patch", resource, ns, name, subresource, patch)
        current = self._bucket(resource).get((ns, name))
        if patch_type == "apply":
            return self._apply(resource, ns, name, current, patch, subresource, field_manager, force)
        if current is None:
            raise errors.not_found(resource.plural, resource.group, name)
        if subresource == "scale":
            self._require_subresource(resource, "scale")
            patched = self._patched(scale_of(current), patch, patch_type, "autoscaling", "v1", "Scale")
            return self._write_scale(resource, ns, name, patched)
        patched = self._patched(current, patch, patch_type, resource.group, resource.version, resource.kind)
        return self._write(resource, current, patched, subresource)

    async def delete(self, resource: Resource, name: str, namespace: str = "", *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Obj | None = None) -> Obj:
        ns = namespace if resource.namespaced else ""
        options: Obj = {}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = dict(preconditions)
        self._record("delete", resource, ns, name, "", options or None)
        return self._delete(resource, ns, name, propagation_policy, grace_period_seconds, preconditions or {})

    async def create_subresource(self, resource: Resource, name: str, subresource: str, body: Obj,
                                 namespace: str = "") -> Obj:
        ns = namespace if resource.namespaced else ""
        self._record("create_subresource", resource, ns, name, subresource, body)
        if _gr(resource) == ("", "pods") and subresource == "binding":
            return self._bind(resource, ns, name, body)
        if _gr(resource) == ("", "pods") and subresource == "eviction":
            opts = body.get("deleteOptions") or {}
            self._delete(resource, ns, name, opts.get("propagationPolicy"), opts.get("gracePeriodSeconds"),
                         opts.get("preconditions") or {})
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        if _gr(resource) == ("", "serviceaccounts") and subresource == "token":
            sa = self._must_get(resource, ns, name)
            spec = dict(body.get("spec") or {})
            seconds = int(spec.get("expirationSeconds") or 3600)
            spec["expirationSeconds"] = seconds
            expires = self.clock.now() + datetime.timedelta(seconds=seconds)
            return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "metadata": {"name": name, "namespace": ns, "creationTimestamp": None}, "spec": spec,
                    "status": {"token": f"fake-token.{sa['metadata']['uid']}.{meta.new_uid()}",
                               "expirationTimestamp": meta.now_rfc3339(expires)}}
        raise errors.NotFound(_NOT_SERVED)

    # ------------------------------------------------------------------------------------------------ internals

    def _now(self) -> str:
        return meta.now_rfc3339(self.clock.now())

    def _bucket(self, r: Resource) -> dict[_ObjectKey, Obj]:
        return self._objects.setdefault(_gr(r), {})

    def _record(self, verb: str, r: Resource, namespace: str, name: str, subresource: str, body: Any = None) -> None:
        self.actions.append(Action(verb, r.plural, namespace, name, subresource,
                                   meta.copy(body) if body is not None else None, r.group))
        for key in ((verb, r.plural), (verb, "*")):
            pending = self._failures.get(key)
            if pending:
                error = pending.popleft()
                if not pending:
                    del self._failures[key]
                raise error

    def _must_get(self, r: Resource, namespace: str, name: str) -> Obj:
        obj = self._bucket(r).get((namespace if r.namespaced else "", name))
        if obj is None:
            raise errors.not_found(r.plural, r.group, name)
        return obj

    @staticmethod
    def _require_subresource(r: Resource, sub: str) -> None:
        if r.subresource(sub) is None:
            raise errors.NotFound(_NOT_SERVED)

    @staticmethod
    def _matches(r: Resource, obj: Obj, namespace: str, lsel: labels.Selector,
                 fsel: fieldsel.FieldSelector) -> bool:
        if namespace and r.namespaced and meta.namespace_of(obj) != namespace:
            return False
        if not lsel.empty() and not lsel.matches(meta.labels_of(obj)):
            return False
        return fieldsel.matches_object(fsel, r.plural, r.group, obj)

    def _event_for(self, w: _Watcher, ev: _Event) -> WatchEvent | None:
        def match(o: Obj | None) -> bool:
            return o is not None and self._matches(w.resource, o, w.namespace, w.label_selector, w.field_selector)

        if ev.type == "MODIFIED":
            now, before = match(ev.obj), match(ev.old)
            if now and before:
                return WatchEvent("MODIFIED", meta.copy(ev.obj))
            if now:
                return WatchEvent("ADDED", meta.copy(ev.obj))
            if before:
                return WatchEvent("DELETED", meta.copy(ev.obj))
            return None
        return WatchEvent(ev.type, meta.copy(ev.obj)) if match(ev.obj) else None

    def _commit(self, r: Resource, type_: str, new: Obj, old: Obj | None) -> Obj:
        """Store (or, for DELETED, remove) one object at the next resourceVersion and tell the watchers."""
        self._rv += 1
        key = (meta.namespace_of(new) if r.namespaced else "", meta.name_of(new))
        stored = meta.copy(new)
        meta.meta(stored)["resourceVersion"] = str(self._rv)
        if type_ == "DELETED":
            self._bucket(r).pop(key, None)
        else:
            self._bucket(r)[key] = stored
        ev = _Event(self._rv, _gr(r), type_, stored, old)
        self._history.append(ev)
        while len(self._history) > self.history_limit:
            self._compacted_rv = self._history.popleft().rv
        for w in self._watchers:
            if _gr(w.resource) == _gr(r):
                out = self._event_for(w, ev)
                if out is not None:
                    w.queue.put_nowait(out)
        return stored

    @staticmethod
    def _check_rv(r: Resource, current: Obj, incoming: Obj) -> None:
        want = (incoming.get("metadata") or {}).get("resourceVersion")
        if want and want != current["metadata"].get("resourceVersion"):
            raise errors.conflict(r.plural, r.group, meta.name_of(current), errors.OPTIMISTIC_LOCK_MESSAGE)

    def _write(self, r: Resource, current: Obj, incoming: Obj, subresource: str) -> Obj:
        """An update of the whole object, its status, or (namespaces) its finalize subresource."""
        self._check_rv(r, current, incoming)
        cur_md = current["metadata"]
        if subresource == "status":
            self._require_subresource(r, "status")
            new = meta.copy(current)
            if "status" in incoming:
                new["status"] = meta.copy(incoming["status"])
            else:
                new.pop("status", None)
            if r.group == "apps" and r.plural in _ANNOTATIONS_VIA_STATUS:  # as the real apiserver
                annotations = (incoming.get("metadata") or {}).get("annotations")
                if annotations:
                    new["metadata"]["annotations"] = meta.copy(annotations)
                else:
                    new["metadata"].pop("annotations", None)
        elif subresource == "finalize":
            self._require_subresource(r, "finalize")
            new = meta.copy(current)
            finalizers = list((incoming.get("spec") or {}).get("finalizers") or [])
            spec = new.setdefault("spec", {})
            if finalizers:
                spec["finalizers"] = finalizers
            else:
                spec.pop("finalizers", None)
        elif subresource:
            raise errors.NotFound(_NOT_SERVED)
        else:
            new = meta.copy(incoming)
            new["apiVersion"] = current.get("apiVersion", r.api_version)
            new["kind"] = current.get("kind", r.kind)
            if r.has_status:
                if "status" in current:
                    new["status"] = meta.copy(current["status"])
                else:
                    new.pop("status", None)
            md = meta.meta(new)
            for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
                if k in cur_md:
                    md[k] = cur_md[k]
                else:
                    md.pop(k, None)
            if cur_md.get("deletionTimestamp"):
                added = set(md.get("finalizers") or []) - set(cur_md.get("finalizers") or [])
                if added:
                    raise errors.invalid(r.kind, r.group, meta.name_of(current), [{
                        "reason": "FieldValueForbidden", "field": "metadata.finalizers",
                        "message": "Forbidden: no new finalizers can be added if the object is being deleted, "
                                   f"found new finalizers {sorted(added)!r}".replace("'", '"')}])
            if md.get("generation") is not None and self._spec_changed(r, new, current):
                md["generation"] = int(md["generation"]) + 1
        meta.meta(new)["resourceVersion"] = cur_md.get("resourceVersion")
        if new == current:
            return meta.copy(current)  # upstream skips no-op writes: no new resourceVersion, no event
        if self._should_delete_during_update(r, new):
            self._commit(r, "DELETED", new, current)
            return meta.copy(new)
        return meta.copy(self._commit(r, "MODIFIED", new, current))

    @staticmethod
    def _spec_changed(r: Resource, new: Obj, old: Obj) -> bool:
        skip = ("metadata", "status", "apiVersion", "kind")
        if _without(new, *skip) != _without(old, *skip):
            return True
        if _gr(r) in _ANNOTATION_GENERATION:
            return (new["metadata"].get("annotations") or {}) != (old["metadata"].get("annotations") or {})
        return False

    @staticmethod
    def _should_delete_during_update(r: Resource, obj: Obj) -> bool:
        md = obj["metadata"]
        if not md.get("deletionTimestamp") or md.get("finalizers"):
            return False
        if _gr(r) == ("", "namespaces") and (obj.get("spec") or {}).get("finalizers"):
            return False
        return md.get("deletionGracePeriodSeconds") == 0

    def _patched(self, current: Obj, patch: PatchBody, patch_type: str, group: str, version: str,
                 kind: str) -> Obj:
        if patch_type == "merge":
            result = patching.json_merge_patch(current, patch)
            if not isinstance(result, dict):
                raise errors.BadRequest("the patch did not produce an object")
            return result
        if patch_type == "json":
            return patching.json_patch(current, patch)
        if patch_type == "strategic":
            if not isinstance(patch, dict):
                raise errors.BadRequest("a strategic merge patch must be a JSON object")
            return patching.strategic_merge_patch(current, patch, schemas.for_kind(group, version, kind))
        raise errors.UnsupportedMediaType(f"the body of the request was in an unknown format - accepted media types "
                                          f"include: application/json-patch+json, application/merge-patch+json, "
                                          f"application/apply-patch+yaml (patch type {patch_type!r})")

    def _apply(self, r: Resource, ns: str, name: str, current: Obj | None, patch: PatchBody,
               subresource: str, field_manager: str, force: bool) -> Obj:
        from pyk8s.api import apply as ssa

        if not isinstance(patch, dict):
            raise errors.BadRequest("an apply patch must be an object")
        if not field_manager:
            raise errors.Invalid('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                                 'required for apply patch')
        schema = schemas.for_kind(r.group, r.version, r.kind)
        result = ssa.server_side_apply(current, patch, field_manager, force, r.api_version, self._now(), schema,
                                       kind=r.kind, name=name, namespace=ns if r.namespaced else "",
                                       subresource=subresource)
        if current is None:
            if subresource:
                raise errors.not_found(r.plural, r.group, name)
            md = meta.meta(result)
            md.pop("resourceVersion", None)
            md["uid"] = meta.new_uid()
            md["creationTimestamp"] = self._now()
            if r.has_status:
                md["generation"] = 1
            result["apiVersion"], result["kind"] = r.api_version, r.kind
            return meta.copy(self._commit(r, "ADDED", result, None))
        return self._write(r, current, result, subresource)

    def _write_scale(self, r: Resource, ns: str, name: str, scale: Obj) -> Obj:
        self._require_subresource(r, "scale")
        current = self._must_get(r, ns, name)
        self._check_rv(r, current, scale)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("Scale", "autoscaling", name, [{
                "reason": "FieldValueInvalid", "field": "spec.replicas",
                "message": f"Invalid value: {replicas}: must be greater than or equal to 0"}])
        new = meta.copy(current)
        new.setdefault("spec", {})["replicas"] = replicas
        new["metadata"].pop("resourceVersion", None)
        return scale_of(self._write(r, current, new, ""))

    def _bind(self, r: Resource, ns: str, name: str, body: Obj) -> Obj:
        target = str((body.get("target") or {}).get("name") or "")
        if not target:
            raise errors.invalid("Binding", "", name, [{"reason": "FieldValueRequired", "field": "target.name",
                                                        "message": "Required value"}])
        current = self._must_get(r, ns, name)
        md = current["metadata"]
        if md.get("deletionTimestamp"):
            raise errors.conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
        node = (current.get("spec") or {}).get("nodeName")
        if node:
            raise errors.conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{node}"')
        want_uid = (body.get("metadata") or {}).get("uid")
        if want_uid and want_uid != md.get("uid"):
            raise errors.conflict("pods", "", name, f"Precondition failed: UID in precondition: {want_uid}, "
                                  f"UID in object meta: {md.get('uid')}")
        new = meta.copy(current)
        new.setdefault("spec", {})["nodeName"] = target
        status = new.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": self._now()})
        status["conditions"] = conditions
        for k, v in ((body.get("metadata") or {}).get("annotations") or {}).items():
            new["metadata"].setdefault("annotations", {})[k] = v
        self._commit(r, "MODIFIED", new, current)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _grace_period(self, r: Resource, obj: Obj, requested: int | None) -> int:
        """Upstream CheckGracefulDelete: only pods bound to a node and not finished get a grace period."""
        if _gr(r) != ("", "pods"):
            return 0
        spec = obj.get("spec") or {}
        if requested is None:
            configured = spec.get("terminationGracePeriodSeconds")
            requested = int(configured) if configured is not None else DEFAULT_POD_GRACE_SECONDS
        if not spec.get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        return 1 if requested < 0 else requested

    def _delete(self, r: Resource, ns: str, name: str, policy: str | None, grace_requested: int | None,
                preconditions: Obj) -> Obj:
        current = self._must_get(r, ns, name)
        md = current["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != md.get("uid"):
            raise errors.conflict(r.plural, r.group, name, f"Precondition failed: UID in precondition: "
                                  f"{preconditions['uid']}, UID in object meta: {md.get('uid')}")
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != md.get("resourceVersion"):
            raise errors.conflict(r.plural, r.group, name, f"Precondition failed: ResourceVersion in precondition: "
                                  f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                                  f"{md.get('resourceVersion')}")
        finalizers = list(md.get("finalizers") or [])
        policy = policy or "Background"
        if policy == "Orphan" and ORPHAN_FINALIZER not in finalizers:
            finalizers.append(ORPHAN_FINALIZER)
        elif policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
            finalizers.append(FOREGROUND_FINALIZER)
            if ORPHAN_FINALIZER in finalizers:
                finalizers.remove(ORPHAN_FINALIZER)
        elif policy == "Background" and ORPHAN_FINALIZER in finalizers:
            finalizers.remove(ORPHAN_FINALIZER)
        grace = self._grace_period(r, current, grace_requested)
        held = _gr(r) == ("", "namespaces") and bool((current.get("spec") or {}).get("finalizers"))
        new = meta.copy(current)
        new_md = new["metadata"]
        now = self.clock.now()
        if md.get("deletionTimestamp"):
            old_grace = md.get("deletionGracePeriodSeconds")
            if old_grace is not None and 0 <= grace < old_grace:
                started = meta.parse_time(md["deletionTimestamp"])
                base = (started - datetime.timedelta(seconds=old_grace)) if started else now
                new_md["deletionGracePeriodSeconds"] = grace
                new_md["deletionTimestamp"] = meta.now_rfc3339(base + datetime.timedelta(seconds=grace))
            if finalizers:
                new_md["finalizers"] = finalizers
            else:
                new_md.pop("finalizers", None)
            if grace <= 0 and not finalizers and not held:
                return self._remove(r, current)
            if new == current:
                return meta.copy(current)
            return meta.copy(self._commit(r, "MODIFIED", new, current))
        if not finalizers and grace <= 0 and not held:
            return self._remove(r, current)
        new_md["deletionTimestamp"] = meta.now_rfc3339(now + datetime.timedelta(seconds=max(grace, 0)))
        new_md["deletionGracePeriodSeconds"] = max(grace, 0)
        if finalizers:
            new_md["finalizers"] = finalizers
        if _gr(r) == ("", "namespaces"):
            new.setdefault("status", {})["phase"] = "Terminating"
        if new_md.get("generation") is not None:
            new_md["generation"] = int(new_md["generation"]) + 1
        return meta.copy(self._commit(r, "MODIFIED", new, current))

    def _remove(self, r: Resource, current: Obj) -> Obj:
        gone = self._commit(r, "DELETED", current, current)
        if _gr(r) in _RETURNS_OBJECT:
            return meta.copy(gone)
        return _status_success(r, meta.name_of(gone), str(gone["metadata"].get("uid") or ""))
