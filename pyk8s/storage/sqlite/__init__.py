"""The embedded SQLite storage backend (default): a kine-shaped revision log with etcd semantics."""

from pyk8s.storage.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
