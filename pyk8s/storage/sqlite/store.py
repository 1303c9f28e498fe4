"""SQLiteStore: the default, embedded storage backend (a kine-shaped revision log in one SQLite file).

Threads: writes go to the single writer thread (`_writer`, group commit); reads of older revisions
run on a small pool of reader threads, each with its own connection, and every such read is one snapshot
(a read transaction), so a list at revision R, its header checks, and its pages all agree. Nothing
touches SQLite on the event loop. Watches are fed by the in-process broadcaster (`_watch`); a process
lock on ``<path>.lock`` keeps a second process from writing the same log behind this one's back.

Reads at the current revision (get, list, count) are served on the loop from an in-memory copy of the
live keys (`_cache`), loaded at start and advanced by each commit's events in the very callback that
advances the revision and acknowledges the writes. The copy is used only while it is as new as any
revision the store has handed out (a reader thread may see a commit before its callback runs); until
then such reads go to SQLite too.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyk8s.storage.errors import Compacted, FutureRevision, KeyNotFound, StorageError, Unavailable
from pyk8s.storage.interface import KeyValue, ListResult, WatchEvent
from pyk8s.storage.sqlite import _schema
from pyk8s.storage.sqlite._cache import CurrentState, StateDiverged
from pyk8s.storage.sqlite._watch import Broadcaster, follow
from pyk8s.storage.sqlite._writer import Outcome, Request, Writer

T = TypeVar("T")

log = logging.getLogger(__name__)

REPLAY_PAGE = 1_000

# (events, snapshot revision, compaction point); named here because `list` is a method name in the class.
EventPage = tuple[list[WatchEvent], int, int]


class SQLiteStore:
    """A Store (see pyk8s.storage.interface) on one SQLite file in WAL mode with synchronous=FULL.

    `compact_min_retain`: compaction physically removes rows only this many revisions behind the newest
    (the compaction point itself still moves exactly where compact() asks). `watch_buffer`: how many
    undelivered live events a watcher may hold before it falls back to catching up from the log.
    `readers`: size of the read thread pool. `cache_current`: keep the live keys in memory and serve reads
    at the current revision from there (memory: one KeyValue and two references per live key; the values
    themselves are the bytes objects already held by the writes).
    """

    def __init__(self, path: str, *, compact_min_retain: int = 1000, watch_buffer: int = 10_000,
                 readers: int = 2, cache_current: bool = True) -> None:
        self.path = path
        self._cache_current = cache_current
        self._cache: CurrentState | None = None
        self._compact_min_retain = compact_min_retain
        self._broadcaster = Broadcaster(watch_buffer)
        self._reader_count = readers
        self._readers: ThreadPoolExecutor | None = None
        self._reader_local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._writer: Writer | None = None
        self._lock_fd: int | None = None
        self._start_lock = asyncio.Lock()
        self._started = False
        self._closed = False
        self._revision = 0
        self._compacted = 0

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            if self._closed:
                raise Unavailable("store is closed")
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self._take_process_lock)
            writer = Writer(self.path, compact_min_retain=self._compact_min_retain, loop=loop,
                            on_commit=self._on_commit)
            try:
                self._revision, self._compacted = await asyncio.wrap_future(writer.start())
            except BaseException:
                self._release_process_lock()
                raise
            readers = ThreadPoolExecutor(self._reader_count, thread_name_prefix="sqlite-reader")
            self._readers = readers
            if self._cache_current:
                # No write can be queued before start() returns (`_writer` is still unset), so the log
                # stays at the revision the writer reported while the state is loaded.
                try:
                    self._cache = await loop.run_in_executor(readers, self._run_read, _load_current_state)
                    if self._cache.revision != self._revision:
                        raise StorageError(f"loaded state at revision {self._cache.revision}, "
                                           f"log is at {self._revision}")
                except BaseException:
                    self._cache = None
                    await asyncio.wrap_future(writer.stop())
                    await loop.run_in_executor(None, lambda: readers.shutdown(wait=True))
                    self._close_reader_connections()
                    self._readers = None
                    self._release_process_lock()
                    raise
            self._writer = writer
            self._started = True

    async def close(self) -> None:
        async with self._start_lock:
            if self._closed:
                return
            self._closed = True
            self._broadcaster.close()
            if not self._started:
                return
            assert self._writer is not None and self._readers is not None
            await asyncio.wrap_future(self._writer.stop())
            self._cache = None
            readers = self._readers
            await asyncio.get_running_loop().run_in_executor(None, lambda: readers.shutdown(wait=True))
            self._close_reader_connections()
            self._release_process_lock()

    def _close_reader_connections(self) -> None:
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    def _take_process_lock(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise Unavailable(f"{self.path} is in use by another process") from e
        self._lock_fd = fd

    def _release_process_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- writes ---------------------------------------------------------------------------------------------

    async def _write(self, request_op: str, key: str = "", value: bytes = b"", revision: int = 0) -> Any:
        if self._closed or self._writer is None:
            raise Unavailable("store is closed" if self._closed else "store is not started")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._writer.submit(Request(request_op, future, key, value, revision))
        return await future

    def _on_commit(self, outcomes: list[Outcome], events: list[WatchEvent], current: int, compacted: int) -> None:
        # Runs on the loop. Revision, current state and watch events first, so whoever sees an ack sees them.
        if current > self._revision:
            self._revision = current
        if self._cache is not None:
            try:
                self._cache.apply(events, current)
            except StateDiverged:
                log.exception("in-memory state of %s diverged from the log; reading SQLite from now on", self.path)
                self._cache = None
        if compacted > self._compacted:
            self._compacted = compacted
        self._broadcaster.publish(events)
        for outcome in outcomes:
            future = outcome.future
            if future.done():
                continue
            if outcome.error is not None:
                future.set_exception(outcome.error)
            else:
                future.set_result(outcome.result)

    async def create(self, key: str, value: bytes) -> int:
        revision: int = await self._write("create", key, _immutable(value))
        return revision

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        revision: int = await self._write("update", key, _immutable(value), expected_revision)
        return revision

    async def delete(self, key: str, expected_revision: int = 0) -> tuple[KeyValue, int]:
        result: tuple[KeyValue, int] = await self._write("delete", key, b"", expected_revision)
        return result

    async def compact(self, revision: int) -> None:
        await self._write("compact", revision=revision)
        while await self._write("sweep"):
            pass

    # --- reads ----------------------------------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or self._readers is None:
            raise Unavailable("store is closed" if self._closed else "store is not started")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._readers, self._run_read, fn)
        except RuntimeError as e:
            if self._closed:  # the pool shut down under us
                raise Unavailable("store is closed") from e
            raise

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        try:
            if conn is None:
                conn = _schema.connect(self.path, writer=False)
                self._reader_local.conn = conn
                with self._reader_lock:
                    self._reader_conns.append(conn)
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise Unavailable(f"storage read failed: {e}") from e

    def _seen(self, revision: int) -> None:
        """Keep current_revision() at or above any revision a reader has already handed out."""
        if revision > self._revision:
            self._revision = revision

    def _check_open(self) -> None:
        if self._closed or not self._started:
            raise Unavailable("store is closed" if self._closed else "store is not started")

    def _current_state(self, revision: int) -> CurrentState | None:
        """The in-memory state if it can answer a read at `revision` (0 = current), else None (ask SQLite).

        It can while it is at the newest revision the store has handed out: a reader thread may have seen
        (and `_seen` recorded) a commit whose callback has not run yet, and then only SQLite has it.
        """
        cache = self._cache
        if cache is None or cache.revision != self._revision or (revision and revision != cache.revision):
            return None
        return cache

    async def current_revision(self) -> int:
        self._check_open()
        return self._revision

    async def compacted_revision(self) -> int:
        self._check_open()
        return self._compacted

    async def get(self, key: str, revision: int = 0) -> KeyValue:
        self._check_open()
        cache = self._current_state(revision)
        if cache is not None:
            found = cache.get(key)
        else:
            found, current = await self._read(lambda conn: _read_get(conn, key, revision))
            self._seen(current)
        if found is None:
            raise KeyNotFound(key)
        return found

    async def list(self, prefix: str, revision: int = 0, limit: int = 0, start_after: str = "") -> ListResult:
        self._check_open()
        cache = self._current_state(revision)
        if cache is not None:
            return cache.list(prefix, limit, start_after)
        result, current = await self._read(lambda conn: _read_list(conn, prefix, revision, limit, start_after))
        self._seen(current)
        return result

    async def count(self, prefix: str) -> int:
        self._check_open()
        cache = self._current_state(0)
        if cache is not None:
            return cache.count(prefix)
        sql, params = _schema.count_sql(prefix)
        total: int = await self._read(lambda conn: conn.execute(sql, params).fetchone()[0])
        return total

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[WatchEvent]:
        return follow(self._broadcaster, self._read_events, prefix, from_revision, REPLAY_PAGE)

    async def _read_events(self, prefix: str, after: int, limit: int) -> EventPage:
        events, current, compacted = await self._read(lambda conn: _read_events(conn, prefix, after, limit))
        self._seen(current)
        return events, current, compacted


def _immutable(value: bytes) -> bytes:
    """`value` itself when it is bytes (no copy); a bytes copy of a bytearray or memoryview, which could change."""
    return value if type(value) is bytes else bytes(value)


# --- snapshot reads (reader threads, inside a read transaction) ---------------------------------------------


def _load_current_state(conn: sqlite3.Connection) -> CurrentState:
    result, _ = _read_list(conn, "", 0, 0, "")
    return CurrentState(result.items, result.revision)


def _check_revision(revision: int, current: int, compacted: int) -> None:
    if revision < compacted:
        raise Compacted(revision, compacted)
    if revision > current:
        raise FutureRevision(revision, current)


def _read_get(conn: sqlite3.Connection, key: str, revision: int) -> tuple[KeyValue | None, int]:
    current, compacted = _schema.read_header(conn)
    if revision:
        _check_revision(revision, current, compacted)
    row = conn.execute(_schema.SQL_AT_REVISION, (key, revision or current)).fetchone()
    if row is None or row[1]:
        return None, current
    mod_revision, _, create_revision, value = row
    return KeyValue(key, value, create_revision, mod_revision), current


def _read_list(conn: sqlite3.Connection, prefix: str, revision: int, limit: int,
               start_after: str) -> tuple[ListResult, int]:
    current, compacted = _schema.read_header(conn)
    if revision:
        _check_revision(revision, current, compacted)
    at = revision or current
    params_tail = [at, limit + 1 if limit > 0 else -1]
    sql, params = _schema.list_sql(prefix, start_after, ordered=False)
    rows = conn.execute(sql, [*params, *params_tail]).fetchall()
    if any(rows[i][0] >= rows[i + 1][0] for i in range(len(rows) - 1)):
        # The planner did not keep the index order; pay for an explicit sort rather than page wrongly.
        sql, params = _schema.list_sql(prefix, start_after, ordered=True)
        rows = conn.execute(sql, [*params, *params_tail]).fetchall()
    more = limit > 0 and len(rows) > limit
    remaining = 0
    if more:
        del rows[limit:]
        count_sql, count_params = _schema.count_after_sql(prefix, rows[-1][0])
        remaining = int(conn.execute(count_sql, [*count_params, at]).fetchone()[0])
    items = [KeyValue(name, value, create_revision, mod_revision) for name, create_revision, mod_revision, value in rows]
    return ListResult(items, at, more, remaining), current


def _read_events(conn: sqlite3.Connection, prefix: str, after: int, limit: int) -> EventPage:
    current, compacted = _schema.read_header(conn)
    if after < compacted:
        return [], current, compacted
    sql, params = _schema.events_sql(prefix)
    rows = conn.execute(sql, [after, *params, limit]).fetchall()
    return [_schema.event_from_row(row) for row in rows], current, compacted
