"""SQLiteStore's in-memory current state agrees with its log: reads after an ack see the write, and every
read served from memory equals the same read served by SQLite at the same revision."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from pyk8s.storage.errors import Compacted, KeyExists, KeyNotFound, RevisionConflict, StorageError
from pyk8s.storage.interface import EventType, KeyValue, ListResult, WatchEvent
from pyk8s.storage.sqlite import SQLiteStore
from pyk8s.storage.sqlite._cache import CurrentState, StateDiverged

DEADLINE = 30.0

# Keys around the awkward edges of prefix ranges: a prefix that is itself a key, siblings that share a
# prefix without its slash, non-ASCII, the largest code point, and the character before the surrogates.
KEYS = [
    "/r/a", "/r/a/1", "/r/a/10", "/r/a/2", "/r/a/b/1", "/r/ab/1", "/r/b/x", "/r/b/y", "/r/é/1", "/r/z",
    "/r/\U0010ffff", "/r/\U0010ffff/1", "/r/\U0010ffff\U0010ffff", "/r/\ud7ff/1", "/r/\ue000/1", "/s/1",
]
PREFIXES = ["", "/r/", "/r/a/", "/r/a", "/r/b/", "/r/\U0010ffff", "/r/\ud7ff", "/r/\ue000/", "/s/", "/none/"]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(str(tmp_path / "state.db"), compact_min_retain=0, watch_buffer=256)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


async def read_all_ways(store: SQLiteStore, revision: int) -> dict[str, Any]:
    """Every list shape (whole, paged with each limit, counts) and every key, at `revision`."""
    out: dict[str, Any] = {}
    for prefix in PREFIXES:
        out[f"list {prefix!r}"] = await store.list(prefix, revision=revision)
        for limit in (1, 2, 5):
            pages: list[ListResult] = []
            start_after = ""
            while True:
                page = await store.list(prefix, revision=revision, limit=limit, start_after=start_after)
                pages.append(page)
                if not page.more:
                    break
                start_after = page.items[-1].key
            out[f"pages {prefix!r} {limit}"] = pages
        out[f"after {prefix!r}"] = await store.list(prefix, revision=revision, start_after=prefix + "a")
    for key in KEYS:
        try:
            out[f"get {key!r}"] = await store.get(key, revision)
        except KeyNotFound:
            out[f"get {key!r}"] = None
    return out


def expected_list(model: dict[str, KeyValue], prefix: str) -> list[KeyValue]:
    return [model[key] for key in sorted(model) if key.startswith(prefix)]


async def random_batch(store: SQLiteStore, rng: random.Random, model: dict[str, KeyValue], size: int) -> None:
    """One concurrent burst of writes on distinct keys (so each outcome is known), some meant to fail."""
    ops: list[tuple[str, str, bytes, Awaitable[Any]]] = []
    for key in rng.sample(KEYS, size):
        live = model.get(key)
        value = rng.randbytes(rng.randrange(0, 40))
        roll = rng.random()
        if live is None and roll < 0.15:
            ops.append(("update-missing", key, value, store.update(key, value, 1)))
        elif live is None:
            ops.append(("create", key, value, store.create(key, value)))
        elif roll < 0.1:
            ops.append(("create-existing", key, value, store.create(key, value)))
        elif roll < 0.2:
            ops.append(("update-stale", key, value, store.update(key, value, live.mod_revision - 1)))
        elif roll < 0.55:
            ops.append(("delete", key, value, store.delete(key, live.mod_revision if roll < 0.4 else 0)))
        else:
            ops.append(("update", key, value, store.update(key, value, live.mod_revision)))
    results = await asyncio.gather(*(write for *_, write in ops), return_exceptions=True)
    failures = {"update-missing": KeyNotFound, "create-existing": KeyExists, "update-stale": RevisionConflict}
    for (op, key, value, _), result in zip(ops, results, strict=True):
        if op == "create":
            assert isinstance(result, int), result
            model[key] = KeyValue(key, value, result, result)
        elif op == "update":
            assert isinstance(result, int), result
            model[key] = KeyValue(key, value, model[key].create_revision, result)
        elif op == "delete":
            assert isinstance(result, tuple), result
            assert result[0] == model.pop(key)
        else:
            assert isinstance(result, failures[op]), (op, result)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_reads_from_memory_equal_reads_from_sqlite_at_the_same_revision(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = str(tmp_path / "state.db")
    store = SQLiteStore(path, compact_min_retain=0)
    await store.start()
    model: dict[str, KeyValue] = {}
    # revision -> what the in-memory state answered while that revision was current
    from_memory: dict[int, dict[str, Any]] = {}
    try:
        for step in range(40):
            await random_batch(store, rng, model, rng.randrange(1, 7))
            current = await store.current_revision()
            seen = await read_all_ways(store, 0)
            assert seen == await read_all_ways(store, current)  # revision 0 and == current agree
            for prefix in PREFIXES:
                result: ListResult = seen[f"list {prefix!r}"]
                assert result.revision == current and not result.more
                assert result.items == expected_list(model, prefix), prefix
                assert await store.count(prefix) == len(result.items)
                for pages in [seen[f"pages {prefix!r} {limit}"] for limit in (1, 2, 5)]:
                    assert [kv for page in pages for kv in page.items] == result.items
                    for n, page in enumerate(pages):
                        later = sum(len(p.items) for p in pages[n + 1 :])
                        assert page.remaining == (later if page.more else 0)
            for key in KEYS:
                assert seen[f"get {key!r}"] == model.get(key)
            from_memory[current] = seen

            if step % 9 == 8:
                await store.compact(rng.choice(sorted(from_memory)[-4:]))
            compacted = await store.compacted_revision()
            # Every earlier revision is no longer current, so these reads are answered by SQLite.
            assert await store.current_revision() >= max(from_memory)
            for revision, remembered in from_memory.items():
                if revision == await store.current_revision():
                    continue
                if revision < compacted:
                    with pytest.raises(Compacted):
                        await store.list("/r/", revision=revision)
                    continue
                assert await read_all_ways(store, revision) == remembered, revision
        final = await read_all_ways(store, 0)
    finally:
        await store.close()

    # The state loaded at start, and SQLite alone, give the same answers as the state kept up by events.
    for cache_current in (True, False):
        reopened = SQLiteStore(path, cache_current=cache_current)
        await reopened.start()
        try:
            assert await read_all_ways(reopened, 0) == final
        finally:
            await reopened.close()


async def test_every_read_after_an_acknowledged_write_observes_it(store: SQLiteStore) -> None:
    """Writers check their own writes at once; readers check nobody ever reads older than what was seen."""
    high = 0  # the newest revision any task has been handed (ack, list, watch event, current_revision)
    writers_done = asyncio.Event()
    checks = {"own": 0, "monotonic": 0}

    def saw(revision: int) -> None:
        nonlocal high
        high = max(high, revision)

    async def writer(worker: int) -> None:
        rng = random.Random(worker)
        mine: dict[str, KeyValue] = {}
        for i in range(60):
            key = f"/rw/{worker}/{rng.randrange(6)}"
            live = mine.get(key)
            if live is None:
                rev = await store.create(key, f"{worker}-{i}".encode())
                mine[key] = KeyValue(key, f"{worker}-{i}".encode(), rev, rev)
            elif rng.random() < 0.3:
                _, rev = await store.delete(key, live.mod_revision)
                del mine[key]
            else:
                rev = await store.update(key, f"{worker}-{i}".encode(), live.mod_revision)
                mine[key] = KeyValue(key, f"{worker}-{i}".encode(), live.create_revision, rev)
            saw(rev)
            # Read-your-writes, through every current-revision read, before anything else can run.
            if key in mine:
                assert await store.get(key) == mine[key]
            else:
                with pytest.raises(KeyNotFound):
                    await store.get(key)
            listed = await store.list(f"/rw/{worker}/")
            assert listed.revision >= rev
            assert listed.items == [mine[k] for k in sorted(mine)]
            assert await store.count(f"/rw/{worker}/") == len(mine)
            checks["own"] += 1

    async def reader(n: int) -> None:
        rng = random.Random(100 + n)
        while not writers_done.is_set():
            floor = high
            result = await store.list("/rw/")
            assert result.revision >= floor, (result.revision, floor)
            assert all(kv.mod_revision <= result.revision for kv in result.items)
            saw(result.revision)
            current = await store.current_revision()
            assert current >= result.revision
            if n % 2 and current > 2:
                # An older revision goes to SQLite, whose snapshot may run ahead of the loop's callbacks.
                old = await store.list("/rw/", revision=rng.randrange(max(1, current - 5), current))
                assert old.revision < current
            checks["monotonic"] += 1
            await asyncio.sleep(0)  # reads from memory never suspend: give the writers their turn

    async def watcher() -> None:
        start = 0
        while True:
            try:
                async for event in store.watch("/rw/", start):
                    start = event.revision
                    saw(event.revision)
                    assert (await store.list("/rw/")).revision >= event.revision
                    if event.type is EventType.PUT:
                        try:
                            kv = await store.get(event.kv.key)
                        except KeyNotFound:
                            continue  # deleted since; the list above already proved the revision
                        assert kv.mod_revision >= event.revision
            except Compacted:  # fell behind the compactor: carry on from now
                start = await store.current_revision()

    async def compactor() -> None:
        while not writers_done.is_set():
            current = await store.current_revision()
            if current > 50:
                await store.compact(current - 50)
            await asyncio.sleep(0)

    async with asyncio.timeout(DEADLINE):
        watch = asyncio.create_task(watcher())
        background = [asyncio.create_task(reader(n)) for n in range(4)] + [asyncio.create_task(compactor())]
        await asyncio.gather(*(writer(w) for w in range(8)))
        writers_done.set()
        await asyncio.gather(*background)
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watch
    assert checks["own"] == 8 * 60 and checks["monotonic"] > 0


async def test_a_commit_seen_by_sqlite_before_its_callback_is_read_from_sqlite(store: SQLiteStore) -> None:
    """A reader thread can see a commit before the loop applies it; reads must then not go back in time."""
    older = await store.create("/f/0", b"0")
    first = await store.create("/f/first", b"1")
    assert store._writer is not None
    held: list[tuple[Any, ...]] = []
    deliver = store._writer._on_commit
    store._writer._on_commit = lambda *args: held.append(args)  # type: ignore[method-assign]
    pending = asyncio.ensure_future(store.create("/f/second", b"2"))
    async with asyncio.timeout(DEADLINE):
        # An old-revision read goes to SQLite, and so learns of the commit whose callback is held back.
        while await store.current_revision() == first:
            await store.list("/f/", revision=older)
    assert not pending.done() and held
    listed = await store.list("/f/")
    assert [kv.key for kv in listed.items] == ["/f/0", "/f/first", "/f/second"] and listed.revision == first + 1
    assert (await store.get("/f/second")).mod_revision == first + 1
    assert await store.count("/f/") == 3
    store._writer._on_commit = deliver  # type: ignore[method-assign]
    for args in held:
        deliver(*args)
    assert await pending == first + 1
    assert store._current_state(0) is not None  # caught up: memory serves again
    assert await store.list("/f/") == listed


async def test_reads_at_the_current_revision_do_not_touch_sqlite(store: SQLiteStore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    r1 = await store.create("/m/a", b"a")
    r2 = await store.create("/m/b", b"b")

    async def no_sqlite(fn: Any) -> Any:
        raise AssertionError("read went to SQLite")

    monkeypatch.setattr(store, "_read", no_sqlite)
    assert await store.get("/m/a") == KeyValue("/m/a", b"a", r1, r1)
    assert await store.get("/m/b", r2) == KeyValue("/m/b", b"b", r2, r2)
    with pytest.raises(KeyNotFound):
        await store.get("/m/c")
    assert await store.list("/m/", limit=1) == ListResult([KeyValue("/m/a", b"a", r1, r1)], r2, True, 1)
    assert await store.count("/m/") == 2
    with pytest.raises(AssertionError, match="SQLite"):
        await store.get("/m/a", r1)  # an older revision is SQLite's to answer


async def test_values_are_shared_not_copied_and_never_mutable(store: SQLiteStore) -> None:
    value = b"x" * 1000
    rev = await store.create("/v/shared", value)
    assert (await store.get("/v/shared")).value is value
    assert (await store.list("/v/")).items[0].value is value
    buffer = bytearray(b"mutable")
    await store.update("/v/shared", buffer, rev)  # type: ignore[arg-type]
    buffer[:] = b"changed"
    assert (await store.get("/v/shared")).value == b"mutable"


async def test_uncached_store_keeps_no_state(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "state.db"), cache_current=False)
    await store.start()
    try:
        await store.create("/u/a", b"a")
        assert store._cache is None
        assert [kv.key for kv in (await store.list("/u/")).items] == ["/u/a"]
    finally:
        await store.close()


# --- CurrentState on its own -------------------------------------------------------------------------------


def put(key: str, value: bytes, revision: int, prev: KeyValue | None) -> WatchEvent:
    create = prev.create_revision if prev is not None else revision
    return WatchEvent(EventType.PUT, KeyValue(key, value, create, revision), prev, revision)


def test_current_state_ranges_match_a_plain_filter_and_sort() -> None:
    rng = random.Random(5)
    alphabet = ["a", "b", "/", "é", "\U0010ffff", "\ud7ff", "\ue000", "z"]
    state = CurrentState([], 0)
    model: dict[str, KeyValue] = {}
    revision = 0
    for _ in range(2000):
        key = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 4)))
        revision += 1
        if key in model and rng.random() < 0.4:
            old = model.pop(key)
            state.apply([WatchEvent(EventType.DELETE, KeyValue(key, old.value, old.create_revision, revision), old,
                                    revision)], revision)
        else:
            event = put(key, str(revision).encode(), revision, model.get(key))
            model[key] = event.kv
            state.apply([event], revision)
        prefix = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 3)))
        start_after = rng.choice(["", prefix + "a", key])
        limit = rng.randrange(0, 4)
        want = [model[k] for k in sorted(model) if k.startswith(prefix) and k > start_after]
        got = state.list(prefix, limit, start_after)
        assert got.revision == revision
        assert got.items == (want[:limit] if limit else want)
        assert got.more == (0 < limit < len(want))
        assert got.remaining == (len(want) - limit if got.more else 0)
        assert state.count(prefix) == sum(k.startswith(prefix) for k in model)
        assert state.get(key) == model.get(key)
    assert len(state) == len(model)


def test_current_state_refuses_events_that_do_not_fit() -> None:
    first = put("/k", b"1", 1, None)
    state = CurrentState([], 0)
    state.apply([first], 1)
    with pytest.raises(StateDiverged):
        state.apply([put("/k", b"again", 2, None)], 2)  # a create of a live key
    with pytest.raises(StateDiverged):
        state.apply([put("/k", b"2", 3, KeyValue("/k", b"?", 1, 2))], 3)  # from a revision it never had
    with pytest.raises(StateDiverged):
        state.apply([put("/old", b"", 1, None)], 1)  # not newer than the state
    with pytest.raises(StateDiverged):
        CurrentState([KeyValue("/b", b"", 1, 1), KeyValue("/a", b"", 2, 2)], 2)
    assert issubclass(StateDiverged, StorageError)
