"""SQLiteStore survives kill -9: every acknowledged write is on disk and revisions keep increasing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from pyk8s.storage.errors import Compacted, KeyNotFound, Unavailable
from pyk8s.storage.interface import KeyValue
from pyk8s.storage.sqlite import SQLiteStore

REPO_ROOT = Path(__file__).resolve().parents[3]
DEADLINE = 20.0

# Eight concurrent writers (so acknowledgements come out of group commits); one line per ack.
WRITER = """
import asyncio, sys
from pyk8s.storage.sqlite import SQLiteStore

async def main():
    store = SQLiteStore(sys.argv[1])
    await store.start()
    async def writer(worker):
        i = 0
        while True:
            key = f"/burst/{worker}/{i}"
            revision = await store.create(key, key.encode() + b"x" * 2048)
            print(revision, key, flush=True)
            i += 1
    await asyncio.gather(*(writer(w) for w in range(8)))

asyncio.run(main())
"""


async def test_every_acknowledged_write_survives_kill_9_mid_burst(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    acked: dict[str, int] = {}
    try:
        async with asyncio.timeout(DEADLINE):
            while len(acked) < 400:
                line = await proc.stdout.readline()
                assert line, (await proc.stderr.read()).decode()
                rev_text, key = line.decode().split()
                acked[key] = int(rev_text)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Lines already in the pipe were acknowledged before the kill, too.
    for rest in (await proc.stdout.read()).decode().splitlines():
        rev_text, key = rest.split()
        acked[key] = int(rev_text)

    store = SQLiteStore(path)
    await store.start()
    try:
        assert len(set(acked.values())) == len(acked)
        for key, revision in acked.items():
            assert await store.get(key) == KeyValue(key, key.encode() + b"x" * 2048, revision, revision)
        newest = await store.current_revision()
        assert newest >= max(acked.values())
        assert await store.create("/after/reopen", b"") == newest + 1
    finally:
        await store.close()


async def test_reopen_keeps_current_revision_and_compaction_point(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = SQLiteStore(path, compact_min_retain=0)
    await store.start()
    r1 = await store.create("/k/a", b"a1")
    await store.update("/k/a", b"a2", r1)
    kept = await store.create("/k/b", b"b")
    await store.compact(kept)
    _, deleted_at = await store.delete("/k/b")  # the newest revision is a tombstone
    await store.close()

    reopened = SQLiteStore(path, compact_min_retain=0)
    await reopened.start()
    try:
        assert await reopened.current_revision() == deleted_at
        assert await reopened.compacted_revision() == kept
        with pytest.raises(Compacted):
            await reopened.get("/k/a", r1)
        assert [kv.key for kv in (await reopened.list("/k/", revision=kept)).items] == ["/k/a", "/k/b"]
        with pytest.raises(KeyNotFound):
            await reopened.get("/k/b")
        await reopened.compact(deleted_at)  # sweeps the trailing tombstone away
        assert await reopened.create("/k/c", b"c") == deleted_at + 1
    finally:
        await reopened.close()

    again = SQLiteStore(path)
    await again.start()
    try:
        assert await again.current_revision() == deleted_at + 1
        assert await again.compacted_revision() == deleted_at
    finally:
        await again.close()


async def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    first = SQLiteStore(path)
    await first.start()
    try:
        with pytest.raises(Unavailable):
            await SQLiteStore(path).start()
    finally:
        await first.close()
    second = SQLiteStore(path)
    await second.start()
    await second.close()
    with pytest.raises(Unavailable):
        await second.create("/closed", b"")
