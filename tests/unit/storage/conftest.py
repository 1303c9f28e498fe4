"""Fixtures for the storage conformance suite: `store` is one fresh, started store per backend.

To add a backend, add its name to BACKENDS and an opener to OPENERS; every conformance test then
runs against it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pyk8s.storage.interface import Store
from pyk8s.storage.sqlite import SQLiteStore


def _open_sqlite(tmp_path: Path, *, cache_current: bool = True) -> Store:
    # No retention window and a small watch buffer, so compaction really deletes rows and slow
    # watchers really overflow into catch-up during the suite.
    return SQLiteStore(str(tmp_path / "state.db"), compact_min_retain=0, watch_buffer=256,
                       cache_current=cache_current)


def _open_sqlite_uncached(tmp_path: Path) -> Store:
    # Every read through the reader threads and SQLite, as with cache_current=False in production.
    return _open_sqlite(tmp_path, cache_current=False)


OPENERS: dict[str, Callable[[Path], Store]] = {
    "sqlite": _open_sqlite,
    "sqlite-uncached": _open_sqlite_uncached,
}
BACKENDS = list(OPENERS)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend = OPENERS[request.param](tmp_path)
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()
