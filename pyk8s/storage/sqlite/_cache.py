"""The newest state of every live key, held in memory so reads at the current revision skip SQLite.

Only this process writes the log, and every write reaches the event loop as watch events in the
commit callback, so applying those events to a copy of the state loaded at start keeps the copy exact.
The store applies them in the same callback that advances its revision and acknowledges the writes:
whoever holds an acknowledgement reads its write here.

Layout: a dict for point reads and one list of the same KeyValue objects sorted by key, so a prefix
range is two binary searches and the page itself is a list slice. Values are the bytes objects the
writes carried (shared with the watch events); nothing is copied. Once built, it is only used on the loop.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from operator import attrgetter

from pyk8s.storage.errors import StorageError
from pyk8s.storage.interface import EventType, KeyValue, ListResult, WatchEvent
from pyk8s.storage.sqlite._schema import prefix_end

_KEY = attrgetter("key")


class StateDiverged(StorageError):
    """An event did not fit the state it was applied to; the copy can no longer be trusted."""


class CurrentState:
    """Live keys as of `revision`, with point lookup, prefix ranges and counts."""

    __slots__ = ("_by_key", "_ordered", "revision")

    def __init__(self, items: Sequence[KeyValue], revision: int) -> None:
        """`items`: every live key at `revision`, in key order (as a full list of the log returns them)."""
        self._ordered: list[KeyValue] = list(items)
        self._by_key: dict[str, KeyValue] = {kv.key: kv for kv in self._ordered}
        if len(self._by_key) != len(self._ordered) or any(
            self._ordered[i].key >= self._ordered[i + 1].key for i in range(len(self._ordered) - 1)
        ):
            raise StateDiverged("initial state is not in strict key order")
        self.revision = revision

    def __len__(self) -> int:
        return len(self._ordered)

    def apply(self, events: Sequence[WatchEvent], revision: int) -> None:
        """Apply one commit's events (in revision order); afterwards the state is as of `revision`.

        Raises StateDiverged if an event contradicts the state (then the caller must stop using it).
        """
        by_key, ordered = self._by_key, self._ordered
        for event in events:
            if event.revision <= self.revision:
                raise StateDiverged(f"event at revision {event.revision} applied to state at {self.revision}")
            kv = event.kv
            key = kv.key
            old = by_key.get(key)
            expected = event.prev.mod_revision if event.prev is not None else None
            if (old.mod_revision if old is not None else None) != expected:
                raise StateDiverged(f"{event.type.value} of {key} at {event.revision} expected mod_revision "
                                    f"{expected}, state has {old.mod_revision if old is not None else None}")
            if event.type is EventType.PUT:
                by_key[key] = kv
                index = bisect_left(ordered, key, key=_KEY)
                if old is None:
                    ordered.insert(index, kv)
                else:
                    ordered[index] = kv
            else:
                del by_key[key]
                del ordered[bisect_left(ordered, key, key=_KEY)]
            self.revision = event.revision
        if revision < self.revision:
            raise StateDiverged(f"commit at revision {revision} carried events up to {self.revision}")
        self.revision = revision

    def get(self, key: str) -> KeyValue | None:
        return self._by_key.get(key)

    def _range(self, prefix: str) -> tuple[int, int]:
        """Indexes [lo, hi) of the keys that start with `prefix`."""
        ordered = self._ordered
        lo = bisect_left(ordered, prefix, key=_KEY) if prefix else 0
        end = prefix_end(prefix)
        hi = len(ordered) if end is None else bisect_left(ordered, end, lo, key=_KEY)
        return lo, hi

    def list(self, prefix: str, limit: int = 0, start_after: str = "") -> ListResult:
        """Live keys under `prefix` after `start_after`, at most `limit` (0 = all), as of `revision`."""
        lo, hi = self._range(prefix)
        if start_after:
            lo = max(lo, bisect_right(self._ordered, start_after, lo, hi, key=_KEY))
        available = hi - lo
        if limit > 0 and available > limit:
            return ListResult(self._ordered[lo : lo + limit], self.revision, True, available - limit)
        return ListResult(self._ordered[lo:hi], self.revision, False, 0)

    def count(self, prefix: str) -> int:
        lo, hi = self._range(prefix)
        return hi - lo
