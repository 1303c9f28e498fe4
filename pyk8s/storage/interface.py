"""The storage Protocol: what the apiserver may ask of any backend (SQLite by default, etcd for HA).

The contract is etcd's: one global revision that only increases, every write gets a new revision,
a key's ``mod_revision`` is the revision of its last write, and watches deliver every later event
in revision order exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import Enum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    # The revision the list was served at (the store's current revision when revision=0 was asked for).
    revision: int
    # True when `limit` cut the result short; continue with start_after=items[-1].key at the same revision.
    more: bool
    # When `more`: how many live keys under the prefix come after the returned ones (etcd's count - len(items)).
    remaining: int = 0


class EventType(Enum):
    PUT = "PUT"          # create or update; `prev` is None for a create
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    kv: KeyValue              # for DELETE: key, the deleted value, and mod_revision = the delete's revision
    prev: KeyValue | None     # the value before this event (None for a create)
    revision: int

    @property
    def is_create(self) -> bool:
        return self.type is EventType.PUT and self.prev is None


class Store(Protocol):
    """A revisioned key-value store with etcd semantics.

    Every method is safe to call concurrently from many tasks on one event loop; writes are linearizable
    and acknowledged only once durable. Revisions are positive integers; 0 means "current" where
    accepted. Keys are ``/``-separated strings; prefixes end with ``/``.
    """

    async def start(self) -> None:
        """Open the backend; idempotent."""

    async def close(self) -> None:
        """Flush and release the backend; pending watches end. Idempotent."""

    async def current_revision(self) -> int:
        """The newest committed revision (0 for an empty store)."""

    async def compacted_revision(self) -> int:
        """The compaction point C: reads at revisions >= C work, watches need from_revision >= C (0 = none)."""

    async def create(self, key: str, value: bytes) -> int:
        """Store a new key; returns the write's revision. Raises KeyExists if the key is live."""

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        """The key's value at `revision` (0 = current). Raises KeyNotFound, Compacted, FutureRevision."""

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        """Live keys under `prefix` in key order, as of `revision` (0 = current).

        `limit` > 0 caps the number of items; `start_after` resumes after that key. Raises Compacted
        when `revision` is older than the compaction point, FutureRevision when it is newer than current.
        """

    async def count(self, prefix: str) -> int:
        """Number of live keys under `prefix`."""

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Compare-and-swap: replace the value only if the key's mod_revision equals `expected_revision`.

        Returns the new revision. Raises KeyNotFound if the key is absent, RevisionConflict if it changed.
        """

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[KeyValue, int]:
        """Delete the key (only if its mod_revision equals `expected_revision`, when that is non-zero).

        Returns (the deleted KeyValue, the delete's revision). Raises KeyNotFound, RevisionConflict.
        """

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[WatchEvent]:
        """Every event on keys under `prefix` with revision > `from_revision`, in order, none lost or repeated.

        Starts by replaying history newer than `from_revision`, then follows live writes. Raises
        Compacted (on first iteration) if `from_revision` < compacted_revision(). The iterator ends
        when the store closes; the caller cancels it to stop early.
        """
        ...

    async def compact(self, revision: int) -> None:
        """Forget history older than `revision`: the state as of `revision` and everything newer survive.

        Afterwards compacted_revision() == revision (it never moves backwards). Idempotent.
        """
