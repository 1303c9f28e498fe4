"""The SQLite store's on-disk layout, its connections, and how a log row becomes a KeyValue or WatchEvent.

The layout is kine's: one append-only ``log`` table whose AUTOINCREMENT ``id`` is the global revision.
Every write appends a row; a delete appends a tombstone (``deleted = 1``) carrying the deleted value;
a key's state at revision R is its newest row with ``id <= R``. ``prev_revision`` points at the row a
write replaced (0 for the first create of a name), so the UNIQUE index on (name, prev_revision) lets
the database itself refuse two writes from the same base. ``create_revision`` holds the key's create
revision on every row, including the create row itself.

Unlike kine, ``old_value`` stays NULL: a watch replay reads the previous value through ``prev_revision``
(compaction never removes the row an un-compacted row points at), which halves the bytes per update.

A small ``meta`` table keeps the compaction point (``compact_revision``) and how far compaction has
physically swept the log (``compact_swept``). ``sqlite_sequence`` keeps the newest revision ever handed
out, so the current revision survives compaction deleting the newest rows (a trailing tombstone).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from pyk8s.storage.errors import StorageError
from pyk8s.storage.interface import EventType, KeyValue, WatchEvent

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5_000
_MAX_CHAR = chr(0x10FFFF)
_FIRST_SURROGATE = 0xD800
_PAST_SURROGATES = 0xE000

_DDL = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    lease INTEGER NOT NULL DEFAULT 0,
    value BLOB,
    old_value BLOB
);
CREATE INDEX IF NOT EXISTS log_name_index ON log (name);
CREATE INDEX IF NOT EXISTS log_name_id_index ON log (name, id);
CREATE INDEX IF NOT EXISTS log_id_deleted_index ON log (id, deleted);
CREATE INDEX IF NOT EXISTS log_prev_revision_index ON log (prev_revision);
CREATE UNIQUE INDEX IF NOT EXISTS log_name_prev_revision_uindex ON log (name, prev_revision);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

# The newest revision ever handed out and the compaction point, read in one statement (one snapshot).
SQL_HEADER = (
    "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'log'), 0),"
    " COALESCE((SELECT value FROM meta WHERE key = 'compact_revision'), 0)"
)

SQL_LATEST = "SELECT id, deleted, create_revision, value FROM log WHERE name = ? ORDER BY id DESC LIMIT 1"

SQL_AT_REVISION = (
    "SELECT id, deleted, create_revision, value FROM log WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)

SQL_INSERT = (
    "INSERT INTO log (name, created, deleted, create_revision, prev_revision, lease, value, old_value)"
    " VALUES (?, ?, ?, ?, ?, 0, ?, NULL)"
)

# The newest row per name in [lo, hi) and after `start_after`, as of a revision; tombstones dropped.
# The grouped subquery walks the (name, id) index in name order and the outer loop keeps that order,
# so LIMIT stops early; an outer ORDER BY would force a sort of every value (see `list_sql`).
_LIST_TEMPLATE = (
    "SELECT latest.name, kv.create_revision, kv.id, kv.value FROM"
    " (SELECT name, MAX(id) AS id FROM log WHERE {where} AND id <= ? GROUP BY name ORDER BY name) AS latest"
    " CROSS JOIN log AS kv ON kv.id = latest.id WHERE kv.deleted = 0{order} LIMIT ?"
)

_COUNT_AT_TEMPLATE = (
    "SELECT COUNT(*) FROM (SELECT MAX(id) AS id FROM log WHERE {where} AND id <= ? GROUP BY name) AS latest"
    " CROSS JOIN log AS kv ON kv.id = latest.id WHERE kv.deleted = 0"
)

_COUNT_TEMPLATE = (
    "SELECT COUNT(*) FROM (SELECT MAX(id) AS id FROM log WHERE {where} GROUP BY name) AS latest"
    " CROSS JOIN log AS kv ON kv.id = latest.id WHERE kv.deleted = 0"
)

# Rows after a revision under a prefix, in revision order, each with the value of the row it replaced.
_EVENTS_TEMPLATE = (
    "SELECT kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.prev_revision, kv.value, prev.value"
    " FROM log AS kv LEFT JOIN log AS prev ON prev.id = kv.prev_revision AND kv.created = 0"
    " WHERE kv.id > ? AND {where} ORDER BY kv.id LIMIT ?"
)


def connect(path: str, *, writer: bool) -> sqlite3.Connection:
    """Open a connection in autocommit mode (transactions are explicit) with the store's pragmas."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if writer:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.close()
            raise StorageError(f"{path}: cannot switch the database to WAL mode (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so an acknowledged write survives a crash.
        conn.execute("PRAGMA synchronous = FULL")
    else:
        conn.execute("PRAGMA query_only = ON")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables and indexes if missing and check the schema version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise StorageError(f"unsupported storage schema version {row[0]} (this build reads {SCHEMA_VERSION})")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def read_header(conn: sqlite3.Connection) -> tuple[int, int]:
    """(newest revision, compaction point) as one consistent snapshot."""
    current, compacted = conn.execute(SQL_HEADER).fetchone()
    return int(current), int(compacted)


def read_meta(conn: sqlite3.Connection, key: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return int(row[0]) if row else 0


def write_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))


def prefix_end(prefix: str) -> str | None:
    """The smallest string past every string that starts with `prefix`; None when nothing sorts past them.

    Keys compare as UTF-8 bytes in SQLite and as code points in Python, which agree, so bumping the last
    character that can be bumped gives the bound (trailing U+10FFFF cannot; the surrogate block is skipped,
    since no key can hold a surrogate and SQLite cannot bind one).
    """
    stripped = prefix.rstrip(_MAX_CHAR)
    if not stripped:
        return None
    bumped = ord(stripped[-1]) + 1
    if bumped == _FIRST_SURROGATE:
        bumped = _PAST_SURROGATES
    return stripped[:-1] + chr(bumped)


def prefix_where(prefix: str, column: str = "name") -> tuple[str, list[Any]]:
    """A WHERE fragment (and its parameters) selecting names that start with `prefix`, as an index range."""
    if not prefix:
        return "1", []
    end = prefix_end(prefix)
    if end is None:
        return f"{column} >= ?", [prefix]
    return f"{column} >= ? AND {column} < ?", [prefix, end]


def list_sql(prefix: str, start_after: str, *, ordered: bool) -> tuple[str, list[Any]]:
    where, params = prefix_where(prefix)
    if start_after:
        where += " AND name > ?"
        params.append(start_after)
    order = " ORDER BY latest.name" if ordered else ""
    return _LIST_TEMPLATE.format(where=where, order=order), params


def count_after_sql(prefix: str, after_key: str) -> tuple[str, list[Any]]:
    """Live keys under `prefix` sorting after `after_key`, at a revision given as the last parameter."""
    where, params = prefix_where(prefix)
    where += " AND name > ?"
    params.append(after_key)
    return _COUNT_AT_TEMPLATE.format(where=where), params


def count_sql(prefix: str) -> tuple[str, list[Any]]:
    where, params = prefix_where(prefix)
    return _COUNT_TEMPLATE.format(where=where), params


def events_sql(prefix: str) -> tuple[str, list[Any]]:
    where, params = prefix_where(prefix, "kv.name")
    return _EVENTS_TEMPLATE.format(where=where), params


def event_from_row(row: Sequence[Any]) -> WatchEvent:
    """Turn an `events_sql` row into the WatchEvent it records."""
    rev, name, created, deleted, create_rev, prev_rev, value, prev_value = row
    if created:
        return WatchEvent(EventType.PUT, KeyValue(name, value, rev, rev), None, rev)
    if deleted:
        # A tombstone carries the deleted value; the event's kv is stamped with the delete's revision.
        before = KeyValue(name, value, create_rev, prev_rev)
        return WatchEvent(EventType.DELETE, KeyValue(name, value, create_rev, rev), before, rev)
    if prev_value is None:
        raise StorageError(f"storage log is missing revision {prev_rev}, replaced by {rev} on {name}")
    before = KeyValue(name, prev_value, create_rev, prev_rev)
    return WatchEvent(EventType.PUT, KeyValue(name, value, create_rev, rev), before, rev)
