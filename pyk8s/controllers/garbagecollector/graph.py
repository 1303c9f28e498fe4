"""The garbage collector's dependency graph: which object owns which, kept current from informer events.

Upstream's GraphBuilder (pkg/controller/garbagecollector/graph_builder.go). Every object of every watched
resource is a `Node` keyed by uid; an ownerReference links a dependent to its owner's node. An owner that
has not been seen yet is a *virtual* node, queued so a worker can ask the apiserver whether it exists.

The graph never talks to the apiserver. It turns events into work for the two queues it is given:
"attempt to delete" (dependents whose owners may be gone, owners waiting for their dependents, virtual
nodes to verify) and "attempt to orphan" (owners deleted with the orphan finalizer). All methods are
synchronous and cheap (the number of owners plus dependents touched), so informer handlers call them directly.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

ORPHAN_FINALIZER = "orphan"  # metav1.FinalizerOrphanDependents
FOREGROUND_FINALIZER = "foregroundDeletion"  # metav1.FinalizerDeleteDependents
ABSENT_OWNER_CACHE_SIZE = 500  # upstream's absentOwnerCache size


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@dataclass(frozen=True, slots=True)
class Identity:
    """An object's coordinates as an ownerReference names them, plus its namespace."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str = ""

    @classmethod
    def of_ref(cls, ref: Obj, namespace: str) -> Identity:
        return cls(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""), str(ref.get("name") or ""),
                   str(ref.get("uid") or ""), namespace)

    def __str__(self) -> str:  # upstream's objectReference.String()
        return (f"[{self.api_version}/{self.kind}, namespace: {self.namespace}, name: {self.name}, "
                f"uid: {self.uid}]")


def ref_matches(ref: Obj, ident: Identity) -> bool:
    """upstream ownerReferenceMatchesCoordinates: same uid, name, kind and API group (any version)."""
    return (ref.get("uid") == ident.uid and ref.get("name") == ident.name and ref.get("kind") == ident.kind
            and group_of(str(ref.get("apiVersion") or "")) == group_of(ident.api_version))


def has_finalizer(obj: Obj, finalizer: str) -> bool:
    return finalizer in ((obj.get("metadata") or {}).get("finalizers") or ())


def being_deleted(obj: Obj | None) -> bool:
    return bool(obj and (obj.get("metadata") or {}).get("deletionTimestamp"))


def deletion_starts_with_finalizer(old: Obj | None, new: Obj, finalizer: str) -> bool:
    """True when `new` is being deleted with `finalizer` and `old` was not (or had no such finalizer)."""
    if not being_deleted(new) or not has_finalizer(new, finalizer):
        return False
    if old is None:
        return True
    return not being_deleted(old) or not has_finalizer(old, finalizer)


def owner_refs(obj: Obj) -> list[Obj]:
    return [r for r in ((obj.get("metadata") or {}).get("ownerReferences") or ()) if isinstance(r, dict)]


def references_diffs(old: list[Obj], new: list[Obj]) -> tuple[list[Obj], list[Obj], list[tuple[Obj, Obj]]]:
    """(added, removed, changed pairs) between two ownerReference lists, matched by uid."""
    old_by_uid = {str(r.get("uid")): r for r in old}
    added: list[Obj] = []
    changed: list[tuple[Obj, Obj]] = []
    for ref in new:
        uid = str(ref.get("uid"))
        prev = old_by_uid.pop(uid, None)
        if prev is None:
            added.append(ref)
        elif prev != ref:
            changed.append((prev, ref))
    return added, list(old_by_uid.values()), changed


class Node:
    """One object (or a virtual owner not yet observed) and its links."""

    __slots__ = ("being_deleted", "deleting_dependents", "dependents", "foreground_pending", "identity", "observed",
                 "owners", "virtual")

    def __init__(self, identity: Identity, owners: list[Obj] | None = None, *, virtual: bool = False) -> None:
        self.identity = identity
        self.owners: list[Obj] = owners or []
        self.dependents: set[Node] = set()
        self.virtual = virtual  # created from an ownerReference, never from an informer event
        self.observed = not virtual  # an informer has delivered this object
        self.being_deleted = False  # deletionTimestamp seen (one-way)
        self.deleting_dependents = False  # deletion started with the foregroundDeletion finalizer (one-way)
        self.foreground_pending = False  # latest event: deletionTimestamp and foregroundDeletion finalizer

    @property
    def uid(self) -> str:
        return self.identity.uid

    def blocking_dependents(self) -> list[Node]:
        """Dependents whose ownerReference to this node has blockOwnerDeletion: true."""
        out = []
        for dep in self.dependents:
            for ref in dep.owners:
                if ref.get("uid") == self.identity.uid and ref.get("blockOwnerDeletion") is True:
                    out.append(dep)
                    break
        return out

    def __repr__(self) -> str:
        return f"Node({self.identity}, virtual={self.virtual})"


class AbsentOwnerCache:
    """A bounded LRU set of owner identities confirmed absent, so N dependents cost one lookup, not N."""

    def __init__(self, size: int = ABSENT_OWNER_CACHE_SIZE) -> None:
        self.size = size
        self._entries: collections.OrderedDict[tuple[str, str, str, str, str], None] = collections.OrderedDict()

    @staticmethod
    def _key(ident: Identity) -> tuple[str, str, str, str, str]:
        return (group_of(ident.api_version), ident.kind, ident.namespace, ident.name, ident.uid)

    def add(self, ident: Identity) -> None:
        key = self._key(ident)
        self._entries[key] = None
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __contains__(self, ident: object) -> bool:
        if not isinstance(ident, Identity):
            return False
        key = self._key(ident)
        if key in self._entries:
            self._entries.move_to_end(key)
            return True
        return False


def _noop_report(dependent: Node, ref: Obj) -> None:
    return None


def _unknown_scope(api_version: str, kind: str) -> bool | None:
    return None


class DependencyGraph:
    """uid -> Node, updated from informer events; emits uids onto the attempt-to-delete / -orphan queues.

    `is_namespaced(api_version, kind)` says whether a kind is namespaced (None: unknown), so a virtual owner
    gets the namespace its lookup needs. `report_invalid_namespace(dependent, ref)` is told when a dependent
    names an observed namespaced owner from another namespace (upstream's OwnerRefInvalidNamespace event).
    """

    def __init__(self, attempt_to_delete: Callable[[str], None], attempt_to_orphan: Callable[[str], None], *,
                 is_namespaced: Callable[[str, str], bool | None] = _unknown_scope,
                 report_invalid_namespace: Callable[[Node, Obj], None] = _noop_report) -> None:
        self.attempt_to_delete = attempt_to_delete
        self.attempt_to_orphan = attempt_to_orphan
        self.is_namespaced = is_namespaced
        self.report_invalid_namespace = report_invalid_namespace
        self.nodes: dict[str, Node] = {}
        self.absent_owners = AbsentOwnerCache()

    def __len__(self) -> int:
        return len(self.nodes)

    # ---- informer events ----
    def observe(self, identity: Identity, obj: Obj, old: Obj | None = None) -> None:
        """An add (old None) or update event for `obj`, whose coordinates are `identity`."""
        uid = identity.uid
        if not uid:
            return
        existing = self.nodes.get(uid)
        if (old is not None and existing is not None and existing.observed and not existing.foreground_pending
                and not being_deleted(obj)
                and ((obj.get("metadata") or {}).get("ownerReferences") or []) == existing.owners):
            # Same owners and not being deleted (node lease renewals, status updates: nearly every update):
            # nothing below would change the graph or queue anything.
            return
        owners = owner_refs(obj)
        if existing is not None and not existing.observed:
            self._mark_observed(existing, identity)
        deleting = being_deleted(obj)
        if existing is None:
            node = Node(identity, owners)
            node.being_deleted = deleting
            node.deleting_dependents = deleting and has_finalizer(obj, FOREGROUND_FINALIZER)
            node.foreground_pending = node.deleting_dependents
            self.nodes[uid] = node
            self._add_dependent_to_owners(node, owners)
            self._process_transitions(old, obj, node)
            return
        added, removed, changed = references_diffs(existing.owners, owners)
        if added or removed or changed:
            self._enqueue_unblocked_owners(removed, changed)
            existing.owners = owners
            self._add_dependent_to_owners(existing, added)
            self._remove_dependent_from_owners(existing, removed)
        if deleting:
            existing.being_deleted = True
        existing.foreground_pending = deleting and has_finalizer(obj, FOREGROUND_FINALIZER)
        self._process_transitions(old, obj, existing)

    def observe_delete(self, identity: Identity) -> None:
        """An informer's delete event."""
        existing = self.nodes.get(identity.uid)
        if existing is None:
            return
        self._remove_and_notify(existing, identity)

    def virtual_delete(self, identity: Identity) -> None:
        """A worker confirmed with a live GET that `identity` does not exist (NotFound or another uid)."""
        existing = self.nodes.get(identity.uid)
        if existing is None:
            return
        if existing.observed and existing.identity != identity:
            # A real node disagrees with the coordinates that were looked up: keep it, but the dependents that
            # used those coordinates point at nothing.
            matching = [d for d in existing.dependents if self._dependent_refers_as(d, identity)]
            if matching:
                self.absent_owners.add(identity)
                for dep in matching:
                    self.attempt_to_delete(dep.uid)
            return
        self._remove_and_notify(existing, identity)

    # ---- internals ----
    def _mark_observed(self, node: Node, identity: Identity) -> None:
        if node.identity != identity:
            for dep in list(node.dependents):
                if self._dependent_refers_as(dep, identity):
                    continue
                if identity.namespace and dep.identity.namespace != identity.namespace:
                    ref = next((r for r in dep.owners if r.get("uid") == identity.uid), None)
                    if ref is not None:
                        self.report_invalid_namespace(dep, ref)
                self.attempt_to_delete(dep.uid)
            node.identity = identity
        node.observed = True
        node.virtual = False

    @staticmethod
    def _dependent_refers_as(dep: Node, owner: Identity) -> bool:
        if owner.namespace and dep.identity.namespace != owner.namespace:
            return False
        return any(ref_matches(r, owner) for r in dep.owners)

    def _add_dependent_to_owners(self, node: Node, refs: Iterable[Obj]) -> None:
        potentially_invalid = False
        for ref in refs:
            uid = str(ref.get("uid") or "")
            if not uid:
                continue
            owner = self.nodes.get(uid)
            if owner is None:
                api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
                namespaced = self.is_namespaced(api_version, kind)
                ns = "" if namespaced is False else node.identity.namespace
                owner = Node(Identity.of_ref(ref, ns), virtual=True)
                self.nodes[uid] = owner
                owner.dependents.add(node)
                self.attempt_to_delete(uid)  # a worker verifies the owner exists
                continue
            owner.dependents.add(node)
            if potentially_invalid:
                continue
            if owner.identity.namespace and owner.identity.namespace != node.identity.namespace:
                if owner.observed:
                    self.report_invalid_namespace(node, ref)
                potentially_invalid = True
            elif not ref_matches(ref, owner.identity):
                potentially_invalid = True
        if potentially_invalid:
            self.attempt_to_delete(node.uid)

    def _remove_dependent_from_owners(self, node: Node, refs: Iterable[Obj]) -> None:
        for ref in refs:
            owner = self.nodes.get(str(ref.get("uid") or ""))
            if owner is not None:
                owner.dependents.discard(node)

    def _enqueue_unblocked_owners(self, removed: list[Obj], changed: list[tuple[Obj, Obj]]) -> None:
        """An owner waiting for blocking dependents may be free once a blocking reference goes or unblocks."""
        for ref in removed:
            if ref.get("blockOwnerDeletion") is True and str(ref.get("uid")) in self.nodes:
                self.attempt_to_delete(str(ref.get("uid")))
        for old, new in changed:
            if old.get("blockOwnerDeletion") is True and new.get("blockOwnerDeletion") is not True:
                if str(new.get("uid")) in self.nodes:
                    self.attempt_to_delete(str(new.get("uid")))

    def _process_transitions(self, old: Obj | None, obj: Obj, node: Node) -> None:
        if deletion_starts_with_finalizer(old, obj, ORPHAN_FINALIZER):
            self.attempt_to_orphan(node.uid)
            return
        if deletion_starts_with_finalizer(old, obj, FOREGROUND_FINALIZER):
            node.deleting_dependents = True
            for dep in node.dependents:
                self.attempt_to_delete(dep.uid)
            self.attempt_to_delete(node.uid)

    def _remove_and_notify(self, node: Node, identity: Identity) -> None:
        self.nodes.pop(node.uid, None)
        self._remove_dependent_from_owners(node, node.owners)
        if node.dependents:
            self.absent_owners.add(identity)
        for dep in node.dependents:
            self.attempt_to_delete(dep.uid)
        for ref in node.owners:
            owner = self.nodes.get(str(ref.get("uid") or ""))
            if owner is not None and owner.deleting_dependents:
                # the owner may have been waiting for exactly this dependent
                self.attempt_to_delete(owner.uid)
