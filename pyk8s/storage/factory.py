"""Pick the storage backend for a ``--datastore-endpoint`` value (SQLite in the data dir by default)."""

from __future__ import annotations

import os

from pyk8s.storage.interface import Store

DEFAULT_DB_NAME = "state.db"


def open_store(endpoint: str | None, data_dir: str) -> Store:
    """A not-yet-started store for `endpoint`.

    None, "" or "sqlite://" -> `<data_dir>/state.db`; "sqlite:///abs/path" -> that file;
    "etcd://..." -> not available yet. Anything else is a ValueError naming the accepted forms.
    """
    if not endpoint or endpoint.startswith("sqlite://"):
        from pyk8s.storage.sqlite import SQLiteStore

        path = endpoint.removeprefix("sqlite://") if endpoint else ""
        return SQLiteStore(path or os.path.join(data_dir, DEFAULT_DB_NAME))
    if endpoint.startswith("etcd://"):
        raise NotImplementedError("etcd backend not built yet")
    raise ValueError(f"unsupported datastore endpoint {endpoint!r}: use sqlite://[/path/to/file.db] or etcd://host:port")
