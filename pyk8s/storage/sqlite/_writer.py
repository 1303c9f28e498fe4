"""The one thread that writes the SQLite log, committing every pending write in one transaction.

Group commit: callers on the event loop queue requests; the writer takes everything queued, opens one
``BEGIN IMMEDIATE`` transaction, applies each request in queue order (each precondition is checked
against the state left by the requests before it, and a failed precondition fails only that request),
commits once (one fsync for the whole batch), and only then hands the results and the watch events of
the batch back to the loop in a single ``call_soon_threadsafe`` callback. A write is therefore
acknowledged only once it is durable, and each write still gets its own revision.

If SQLite itself fails mid-batch, the batch is rolled back and its requests are retried one per
transaction, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyk8s.storage.errors import FutureRevision, KeyExists, KeyNotFound, RevisionConflict, StorageError, Unavailable
from pyk8s.storage.interface import EventType, KeyValue, WatchEvent
from pyk8s.storage.sqlite import _schema

log = logging.getLogger(__name__)

MAX_BATCH = 512
# How many revisions one compaction sweep transaction covers; small enough to keep write latency flat.
SWEEP_WINDOW = 500


@dataclass(slots=True)
class Request:
    """One queued write. `op` is create, update, delete, compact (move the point) or sweep (delete rows)."""

    op: str
    future: asyncio.Future[Any]
    key: str = ""
    value: bytes = b""
    revision: int = 0


@dataclass(slots=True)
class Outcome:
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None


# Called on the event loop after each commit: (outcomes in request order, events in revision order,
# newest revision, compaction point).
CommitCallback = Callable[[list[Outcome], list[WatchEvent], int, int], None]

_STOP = object()


class _RequestFailed(Exception):
    """SQLite failed while applying batch[index] (the transaction is rolled back)."""

    def __init__(self, index: int, error: sqlite3.Error) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


class Writer:
    """Owns the writing connection and the thread that uses it."""

    def __init__(self, path: str, *, compact_min_retain: int, loop: asyncio.AbstractEventLoop,
                 on_commit: CommitCallback) -> None:
        self._path = path
        self._compact_min_retain = compact_min_retain
        self._loop = loop
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._ready: concurrent.futures.Future[tuple[int, int]] = concurrent.futures.Future()
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._conn: sqlite3.Connection | None = None
        # Inside a transaction: the id the next INSERT will get (AUTOINCREMENT picks max(seq, max id) + 1).
        self._next_id = 0
        self._committed = 0
        self._compacted = 0

    def start(self) -> concurrent.futures.Future[tuple[int, int]]:
        """Start the thread; the future resolves to (current revision, compaction point) once the DB is open."""
        self._thread.start()
        return self._ready

    def submit(self, request: Request) -> None:
        self._queue.put(request)

    def stop(self) -> concurrent.futures.Future[None]:
        """Finish every request queued so far, close the connection, end the thread."""
        self._queue.put(_STOP)
        return self._stopped

    # --- thread side -------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._conn = _schema.connect(self._path, writer=True)
            _schema.create_schema(self._conn)
            self._committed, self._compacted = _schema.read_header(self._conn)
        except BaseException as e:  # reported to start()'s caller through the ready future
            if self._conn is not None:
                self._conn.close()
            self._ready.set_exception(e if isinstance(e, StorageError) else Unavailable(f"open {self._path}: {e}"))
            self._stopped.set_result(None)
            return
        self._ready.set_result((self._committed, self._compacted))
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                batch: list[Request] = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        break
                    batch.append(item)
                self._commit(batch)
        finally:
            self._conn.close()
            self._stopped.set_result(None)

    def _commit(self, batch: list[Request]) -> None:
        """Apply and commit `batch` in one transaction, then hand every outcome back to the loop.

        If SQLite fails while applying one request, that request fails (Unavailable) and the rest of the
        batch is retried without it; if BEGIN or COMMIT fails, the whole batch fails (a locked or broken
        database would fail each of them anyway, and retrying one by one would multiply the wait).
        """
        failed: list[Outcome] = []
        while batch:
            compacted = self._compacted
            try:
                outcomes, events = self._transaction(batch)
            except _RequestFailed as e:
                self._compacted = compacted
                bad = batch[e.index]
                log.warning("storage %s of %r failed: %s", bad.op, bad.key, e.error)
                failed.append(Outcome(bad.future, error=Unavailable(f"storage write failed: {e.error}")))
                batch = batch[: e.index] + batch[e.index + 1 :]
                continue
            except sqlite3.Error as e:
                self._compacted = compacted
                log.warning("storage batch of %d writes failed: %s", len(batch), e)
                outcomes = [Outcome(r.future, error=Unavailable(f"storage write failed: {e}")) for r in batch]
                events = []
            except Exception as e:  # a bug must fail the requests, never kill the writer thread
                self._compacted = compacted
                log.exception("storage writer failed on a batch of %d", len(batch))
                outcomes = [Outcome(r.future, error=StorageError(f"storage writer failed: {e}")) for r in batch]
                events = []
            self._deliver(failed + outcomes, events, self._committed, self._compacted)
            return
        self._deliver(failed, [], self._committed, self._compacted)

    def _transaction(self, batch: list[Request]) -> tuple[list[Outcome], list[WatchEvent]]:
        conn = self._conn
        assert conn is not None
        outcomes: list[Outcome] = []
        events: list[WatchEvent] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._next_id = conn.execute(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0),"
                " COALESCE((SELECT MAX(id) FROM log), 0)) + 1"
            ).fetchone()[0]
            for index, request in enumerate(batch):
                try:
                    outcomes.append(Outcome(request.future, self._apply(request, events)))
                except (KeyExists, KeyNotFound, RevisionConflict, FutureRevision) as e:
                    outcomes.append(Outcome(request.future, error=e))
                except sqlite3.Error as e:
                    raise _RequestFailed(index, e) from e
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._committed = self._next_id - 1
        return outcomes, events

    def _deliver(self, outcomes: list[Outcome], events: list[WatchEvent], current: int, compacted: int) -> None:
        try:
            self._loop.call_soon_threadsafe(self._on_commit, outcomes, events, current, compacted)
        except RuntimeError:
            log.warning("event loop closed before %d storage results could be delivered", len(outcomes))

    def _insert(self, key: str, *, created: bool, deleted: bool, create_revision: int, prev_revision: int,
                value: bytes) -> int:
        assert self._conn is not None
        revision = self._next_id
        cursor = self._conn.execute(_schema.SQL_INSERT, (key, int(created), int(deleted),
                                                         revision if created else create_revision,
                                                         prev_revision, value))
        if cursor.lastrowid != revision:
            raise StorageError(f"storage log handed out revision {cursor.lastrowid}, expected {revision}")
        self._next_id = revision + 1
        return revision

    def _apply(self, request: Request, events: list[WatchEvent]) -> Any:
        assert self._conn is not None
        op, key = request.op, request.key
        if op == "compact":
            return self._compact(request.revision)
        if op == "sweep":
            return self._sweep()
        latest = self._conn.execute(_schema.SQL_LATEST, (key,)).fetchone()
        live = latest is not None and not latest[1]
        if op == "create":
            if live:
                raise KeyExists(key)
            prev_revision = latest[0] if latest is not None else 0
            revision = self._insert(key, created=True, deleted=False, create_revision=0,
                                    prev_revision=prev_revision, value=request.value)
            events.append(WatchEvent(EventType.PUT, KeyValue(key, request.value, revision, revision), None, revision))
            return revision
        if not live:
            raise KeyNotFound(key)
        mod_revision, _, create_revision, old_value = latest
        if (op == "update" or request.revision) and request.revision != mod_revision:
            raise RevisionConflict(key, request.revision, mod_revision)
        before = KeyValue(key, old_value, create_revision, mod_revision)
        if op == "update":
            revision = self._insert(key, created=False, deleted=False, create_revision=create_revision,
                                    prev_revision=mod_revision, value=request.value)
            after = KeyValue(key, request.value, create_revision, revision)
            events.append(WatchEvent(EventType.PUT, after, before, revision))
            return revision
        if op == "delete":
            revision = self._insert(key, created=False, deleted=True, create_revision=create_revision,
                                    prev_revision=mod_revision, value=old_value)
            tombstone = KeyValue(key, old_value, create_revision, revision)
            events.append(WatchEvent(EventType.DELETE, tombstone, before, revision))
            return before, revision
        raise StorageError(f"unknown storage operation {op!r}")

    def _compact(self, revision: int) -> int:
        """Move the compaction point forward (never back); rows are removed later by sweeps."""
        assert self._conn is not None
        current = self._next_id - 1
        if revision > current:
            raise FutureRevision(revision, current)
        if revision > self._compacted:
            _schema.write_meta(self._conn, "compact_revision", revision)
            self._compacted = revision
        return self._compacted

    def _sweep(self) -> bool:
        """Delete one window of rows no read at or after the compaction point can see; True if more remain.

        A row is removable once a newer row of its key (one whose prev_revision names it) is itself at or
        below the target, and a tombstone once it is at or below the target. The target trails the
        newest revision by `compact_min_retain`, and never passes the compaction point, so the newest row
        of a live key, and every row a replay from the compaction point needs, stays.
        """
        assert self._conn is not None
        conn = self._conn
        target = min(self._compacted, self._next_id - 1 - self._compact_min_retain)
        swept = _schema.read_meta(conn, "compact_swept")
        if target <= swept:
            return False
        high = min(swept + SWEEP_WINDOW, target)
        conn.execute(
            "DELETE FROM log WHERE id IN ("
            " SELECT prev_revision FROM log WHERE id > ? AND id <= ? AND prev_revision != 0"
            " UNION SELECT id FROM log WHERE id > ? AND id <= ? AND deleted != 0)",
            (swept, high, swept, high),
        )
        _schema.write_meta(conn, "compact_swept", high)
        return high < target
