"""The Store contract (pyk8s.storage.interface), checked rule by rule against every backend."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from pyk8s.storage.errors import Compacted, FutureRevision, KeyExists, KeyNotFound, RevisionConflict
from pyk8s.storage.interface import EventType, KeyValue, Store, WatchEvent
from pyk8s.storage.sqlite import SQLiteStore

DEADLINE = 10.0


async def take(events: AsyncIterator[WatchEvent], n: int) -> list[WatchEvent]:
    """The next `n` events, failing (not hanging) if they do not all arrive before the deadline."""
    got: list[WatchEvent] = []
    async with asyncio.timeout(DEADLINE):
        while len(got) < n:
            got.append(await anext(events))
    return got


async def take_until(events: AsyncIterator[WatchEvent], revision: int) -> list[WatchEvent]:
    """Events up to and including `revision` (the last one must be exactly that revision)."""
    got: list[WatchEvent] = []
    async with asyncio.timeout(DEADLINE):
        while not got or got[-1].revision < revision:
            got.append(await anext(events))
    assert got[-1].revision == revision
    return got


def summary(events: list[WatchEvent]) -> list[tuple[str, str, bytes, int]]:
    return [(e.type.value, e.kv.key, e.kv.value, e.revision) for e in events]


# --- revisions -------------------------------------------------------------------------------------------


async def test_every_write_gets_a_new_higher_revision(store: Store) -> None:
    seen = [await store.current_revision()]
    seen.append(await store.create("/rev/a", b"1"))
    seen.append(await store.create("/rev/b", b"1"))
    seen.append(await store.update("/rev/a", b"2", seen[1]))
    seen.append((await store.delete("/rev/b"))[1])
    seen.append(await store.create("/rev/b", b"again"))
    assert seen == sorted(set(seen)), seen
    assert await store.current_revision() == seen[-1]


async def test_failed_writes_do_not_move_the_revision(store: Store) -> None:
    rev = await store.create("/rev/x", b"1")
    with pytest.raises(KeyExists):
        await store.create("/rev/x", b"2")
    with pytest.raises(RevisionConflict):
        await store.update("/rev/x", b"2", rev + 100)
    with pytest.raises(KeyNotFound):
        await store.delete("/rev/missing")
    assert await store.current_revision() == rev
    assert await store.create("/rev/y", b"1") == rev + 1


# --- create / get ----------------------------------------------------------------------------------------


async def test_create_fails_while_the_key_exists_and_works_again_after_delete(store: Store) -> None:
    first = await store.create("/c/key", b"one")
    assert await store.get("/c/key") == KeyValue("/c/key", b"one", first, first)
    with pytest.raises(KeyExists) as exc:
        await store.create("/c/key", b"two")
    assert exc.value.key == "/c/key"
    assert (await store.get("/c/key")).value == b"one"
    await store.delete("/c/key")
    second = await store.create("/c/key", b"three")
    assert second > first
    assert await store.get("/c/key") == KeyValue("/c/key", b"three", second, second)


async def test_get_at_a_revision_sees_that_revision(store: Store) -> None:
    r1 = await store.create("/g/k", b"v1")
    r2 = await store.update("/g/k", b"v2", r1)
    _, r3 = await store.delete("/g/k")
    r4 = await store.create("/g/k", b"v3")
    await store.create("/g/other", b"x")
    assert await store.get("/g/k", r1) == KeyValue("/g/k", b"v1", r1, r1)
    assert await store.get("/g/k", r2) == KeyValue("/g/k", b"v2", r1, r2)
    with pytest.raises(KeyNotFound):
        await store.get("/g/k", r3)
    assert await store.get("/g/k", r4) == KeyValue("/g/k", b"v3", r4, r4)
    assert await store.get("/g/k") == KeyValue("/g/k", b"v3", r4, r4)
    with pytest.raises(KeyNotFound):
        await store.get("/g/never")
    with pytest.raises(KeyNotFound):
        await store.get("/g/other", r4)


async def test_reads_beyond_the_current_revision_are_future(store: Store) -> None:
    await store.create("/f/k", b"v")
    current = await store.current_revision()
    with pytest.raises(FutureRevision) as exc:
        await store.get("/f/k", current + 1)
    assert (exc.value.requested, exc.value.current) == (current + 1, current)
    with pytest.raises(FutureRevision):
        await store.list("/f/", revision=current + 5)
    assert (await store.get("/f/k", current)).value == b"v"


async def test_empty_values_round_trip(store: Store) -> None:
    rev = await store.create("/e/empty", b"")
    assert await store.get("/e/empty") == KeyValue("/e/empty", b"", rev, rev)
    rev2 = await store.update("/e/empty", b"x", rev)
    assert (await store.update("/e/empty", b"", rev2)) > rev2


# --- list ------------------------------------------------------------------------------------------------


async def test_list_returns_live_keys_under_the_prefix_in_key_order(store: Store) -> None:
    for key in ["/l/a/3", "/l/a/1", "/l/ab/1", "/l/a/2", "/l/b/1", "/l/a/9"]:
        await store.create(key, key.encode())
    await store.delete("/l/a/9")
    result = await store.list("/l/a/")
    assert [kv.key for kv in result.items] == ["/l/a/1", "/l/a/2", "/l/a/3"]
    assert [kv.value for kv in result.items] == [b"/l/a/1", b"/l/a/2", b"/l/a/3"]
    assert result.revision == await store.current_revision()
    assert result.more is False
    assert await store.count("/l/a/") == 3
    assert await store.count("/l/") == 5
    assert (await store.list("/l/none/")).items == []
    assert await store.count("/l/none/") == 0


async def test_list_limit_and_start_after_page_through_keys(store: Store) -> None:
    keys = [f"/p/k{i:02d}" for i in range(7)]
    for key in reversed(keys):
        await store.create(key, b"v")
    first = await store.list("/p/", limit=3)
    assert [kv.key for kv in first.items] == keys[:3] and first.more and first.remaining == 4
    await store.delete(keys[6])  # after the page's revision: the remaining count stays a snapshot
    second = await store.list("/p/", revision=first.revision, limit=3, start_after=first.items[-1].key)
    assert [kv.key for kv in second.items] == keys[3:6] and second.more and second.remaining == 1
    third = await store.list("/p/", revision=first.revision, limit=3, start_after=second.items[-1].key)
    assert [kv.key for kv in third.items] == keys[6:] and not third.more
    exact = await store.list("/p/", revision=first.revision, limit=7)
    assert len(exact.items) == 7 and not exact.more


async def change(store: Store, key: str) -> None:
    try:
        kv = await store.get(key)
        await store.update(key, b"changed between pages", kv.mod_revision)
    except (KeyNotFound, RevisionConflict):
        pass


async def test_pages_at_a_fixed_revision_are_one_snapshot_while_writes_happen(store: Store) -> None:
    keys = [f"/snap/k{i:03d}" for i in range(60)]
    for key in keys:
        await store.create(key, b"orig-" + key.encode())
    snapshot = {kv.key: kv for kv in (await store.list("/snap/")).items}

    async def churn() -> None:
        rng = random.Random(7)
        for n in range(150):
            key = rng.choice(keys)
            try:
                kv = await store.get(key)
                if n % 3 == 0:
                    await store.delete(key, kv.mod_revision)
                else:
                    await store.update(key, b"changed", kv.mod_revision)
            except KeyNotFound:
                await store.create(key, b"recreated")
            except RevisionConflict:  # `change` got there first
                pass
            await store.create(f"/snap/k{rng.randrange(60):03d}x{n}", b"new")

    page = await store.list("/snap/", limit=7)
    revision, collected = page.revision, list(page.items)
    churner = asyncio.create_task(churn())
    while page.more:
        await change(store, keys[len(collected) % 60])  # a key the next page shows, changed after R
        page = await store.list("/snap/", revision=revision, limit=7, start_after=collected[-1].key)
        assert page.revision == revision
        collected.extend(page.items)
    await churner
    assert [kv.key for kv in collected] == sorted(snapshot)
    assert {kv.key: kv for kv in collected} == snapshot
    assert await store.current_revision() > revision


async def test_list_at_an_old_revision_sees_the_old_state(store: Store) -> None:
    r_a = await store.create("/old/a", b"a1")
    await store.create("/old/b", b"b1")
    old = await store.current_revision()
    await store.update("/old/a", b"a2", r_a)
    await store.delete("/old/b")
    await store.create("/old/c", b"c1")
    then = await store.list("/old/", revision=old)
    assert [(kv.key, kv.value) for kv in then.items] == [("/old/a", b"a1"), ("/old/b", b"b1")]
    assert then.revision == old
    now = await store.list("/old/")
    assert [(kv.key, kv.value) for kv in now.items] == [("/old/a", b"a2"), ("/old/c", b"c1")]


# --- update / delete -------------------------------------------------------------------------------------


async def test_update_is_compare_and_swap_on_mod_revision(store: Store) -> None:
    created = await store.create("/u/k", b"v1")
    updated = await store.update("/u/k", b"v2", created)
    assert await store.get("/u/k") == KeyValue("/u/k", b"v2", created, updated)
    with pytest.raises(RevisionConflict) as exc:
        await store.update("/u/k", b"stale", created)
    assert (exc.value.key, exc.value.expected, exc.value.actual) == ("/u/k", created, updated)
    assert (await store.get("/u/k")).value == b"v2"
    with pytest.raises(KeyNotFound):
        await store.update("/u/absent", b"v", 1)
    await store.delete("/u/k")
    with pytest.raises(KeyNotFound):
        await store.update("/u/k", b"v3", updated)


async def test_delete_with_and_without_expected_revision(store: Store) -> None:
    r1 = await store.create("/d/a", b"a")
    deleted, rev = await store.delete("/d/a")
    assert deleted == KeyValue("/d/a", b"a", r1, r1) and rev > r1
    with pytest.raises(KeyNotFound):
        await store.get("/d/a")
    with pytest.raises(KeyNotFound):
        await store.delete("/d/a")

    r2 = await store.create("/d/b", b"b1")
    r3 = await store.update("/d/b", b"b2", r2)
    with pytest.raises(RevisionConflict) as exc:
        await store.delete("/d/b", expected_revision=r2)
    assert exc.value.actual == r3
    assert (await store.get("/d/b")).value == b"b2"
    deleted, rev = await store.delete("/d/b", expected_revision=r3)
    assert deleted == KeyValue("/d/b", b"b2", r2, r3)
    assert await store.current_revision() == rev


async def test_a_failed_write_in_a_concurrent_burst_fails_only_itself(store: Store) -> None:
    base = await store.create("/mix/u", b"v")
    await store.create("/mix/dup", b"v")
    results = await asyncio.gather(
        store.create("/mix/a", b"a"),
        store.create("/mix/dup", b"again"),
        store.update("/mix/u", b"v2", base + 1000),
        store.create("/mix/b", b"b"),
        store.update("/mix/u", b"v2", base),
        store.delete("/mix/missing"),
        store.create("/mix/c", b"c"),
        return_exceptions=True,
    )
    kinds = [type(r).__name__ if isinstance(r, Exception) else "ok" for r in results]
    assert kinds == ["ok", "KeyExists", "RevisionConflict", "ok", "ok", "KeyNotFound", "ok"]
    revisions = [r for r in results if isinstance(r, int)]
    assert len(set(revisions)) == 4
    assert [kv.key for kv in (await store.list("/mix/")).items] == ["/mix/a", "/mix/b", "/mix/c", "/mix/dup", "/mix/u"]


# --- concurrency -----------------------------------------------------------------------------------------


async def test_fifty_concurrent_creates_of_one_key_have_one_winner(store: Store) -> None:
    results = await asyncio.gather(*(store.create("/race/one", str(i).encode()) for i in range(50)),
                                   return_exceptions=True)
    winners = [i for i, r in enumerate(results) if isinstance(r, int)]
    assert len(winners) == 1
    assert all(isinstance(r, KeyExists) for r in results if not isinstance(r, int))
    kv = await store.get("/race/one")
    assert kv.value == str(winners[0]).encode() and kv.mod_revision == results[winners[0]]


async def test_cas_racers_on_one_base_revision_have_one_winner(store: Store) -> None:
    base = await store.create("/race/cas", b"0")
    results = await asyncio.gather(*(store.update("/race/cas", str(i).encode(), base) for i in range(20)),
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1
    assert sum(isinstance(r, RevisionConflict) for r in results) == 19


async def test_read_modify_write_counter_with_retries_counts_every_success(store: Store) -> None:
    await store.create("/race/counter", b"0")
    successes: list[tuple[int, int]] = []  # (base revision, new revision)

    async def incrementer(times: int) -> None:
        done = 0
        while done < times:
            kv = await store.get("/race/counter")
            try:
                rev = await store.update("/race/counter", str(int(kv.value) + 1).encode(), kv.mod_revision)
            except RevisionConflict:
                continue
            successes.append((kv.mod_revision, rev))
            done += 1

    await asyncio.gather(*(incrementer(25) for _ in range(8)))
    final = await store.get("/race/counter")
    assert int(final.value) == len(successes) == 200
    bases = [base for base, _ in successes]
    assert len(set(bases)) == len(bases), "two writers won from the same base revision"
    assert len({rev for _, rev in successes}) == 200


# --- watch -----------------------------------------------------------------------------------------------


async def test_watch_replays_history_with_prev_values_then_follows(store: Store) -> None:
    start = await store.current_revision()
    r1 = await store.create("/w/k", b"v1")
    r2 = await store.update("/w/k", b"v2", r1)
    _, r3 = await store.delete("/w/k")
    r4 = await store.create("/w/k", b"v3")
    events = store.watch("/w/", start)
    history = await take(events, 4)
    assert summary(history) == [("PUT", "/w/k", b"v1", r1), ("PUT", "/w/k", b"v2", r2),
                                ("DELETE", "/w/k", b"v2", r3), ("PUT", "/w/k", b"v3", r4)]
    assert history[0].is_create and history[0].kv == KeyValue("/w/k", b"v1", r1, r1)
    assert history[1].prev == KeyValue("/w/k", b"v1", r1, r1) and not history[1].is_create
    assert history[1].kv == KeyValue("/w/k", b"v2", r1, r2)
    assert history[2].type is EventType.DELETE and history[2].kv.mod_revision == r3
    assert history[2].prev == KeyValue("/w/k", b"v2", r1, r2)
    assert history[3].is_create and history[3].kv.create_revision == r4
    r5 = await store.update("/w/k", b"v4", r4)
    (live,) = await take(events, 1)
    assert live.revision == r5 and live.prev == KeyValue("/w/k", b"v3", r4, r4)


async def test_watch_from_a_revision_skips_older_events(store: Store) -> None:
    r1 = await store.create("/ws/a", b"1")
    r2 = await store.create("/ws/b", b"1")
    events = store.watch("/ws/", r1)
    (first,) = await take(events, 1)
    assert first.revision == r2


async def test_watch_of_a_prefix_sees_only_that_prefix(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/wp/a/", start)
    await store.create("/wp/a/1", b"")
    await store.create("/wp/ab", b"")
    await store.create("/wp/b/1", b"")
    await store.create("/wp/a/2", b"")
    await store.delete("/wp/ab")
    last = await store.create("/wp/a/3", b"")
    got = await take_until(events, last)
    assert [e.kv.key for e in got] == ["/wp/a/1", "/wp/a/2", "/wp/a/3"]


async def test_watch_from_a_future_revision_waits_for_it(store: Store) -> None:
    now = await store.current_revision()
    events = store.watch("/wf/", now + 3)
    revisions = [await store.create(f"/wf/{i}", b"") for i in range(6)]
    got = await take_until(events, revisions[-1])
    assert [e.revision for e in got] == [r for r in revisions if r > now + 3]


async def test_watches_started_during_a_write_burst_miss_and_repeat_nothing(store: Store) -> None:
    """The seam between replaying history and going live: every watcher sees exactly the acked writes."""
    start = await store.current_revision()
    acked: list[int] = []
    watchers: list[asyncio.Task[list[int]]] = []

    async def writer(worker: int) -> None:
        for i in range(60):
            key = f"/burst/{worker}/{i % 7}"
            try:
                kv = await store.get(key)
                acked.append(await store.update(key, str(i).encode(), kv.mod_revision))
            except KeyNotFound:
                acked.append(await store.create(key, b"0"))

    async def watcher() -> list[int]:
        revisions: list[int] = []
        async with asyncio.timeout(DEADLINE):
            async for event in store.watch("/burst/", start):
                revisions.append(event.revision)
                if event.kv.key == "/burst/end":
                    break
        return revisions

    async def spawn_watchers() -> None:
        while len(acked) < 300:
            if len(acked) >= 40 * len(watchers):
                watchers.append(asyncio.create_task(watcher()))
            await asyncio.sleep(0)  # let the writers run; this interleaves, it does not synchronise

    spawner = asyncio.create_task(spawn_watchers())
    await asyncio.gather(*(writer(w) for w in range(5)))
    await spawner
    end = await store.create("/burst/end", b"")
    results = await asyncio.gather(*watchers)
    assert len(acked) == 300 and len(watchers) >= 5
    for revisions in results:
        assert revisions == [*sorted(acked), end]


async def test_a_watcher_that_stops_reading_blocks_no_writer_and_loses_nothing(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/slow/", start)
    first = await store.create("/slow/first", b"")
    assert (await take(events, 1))[0].revision == first
    async with asyncio.timeout(DEADLINE):  # the writes complete although nobody reads the watch
        revisions = [await store.create(f"/slow/{i:04d}", b"x" * 100) for i in range(1000)]
    got = await take_until(events, revisions[-1])
    assert [e.revision for e in got] == revisions


async def test_watch_ends_when_the_store_closes(store: Store) -> None:
    events = store.watch("/close/", await store.current_revision())
    rev = await store.create("/close/k", b"")
    assert (await take(events, 1))[0].revision == rev
    waiting: asyncio.Future[WatchEvent] = asyncio.ensure_future(anext(events))
    await store.close()
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(StopAsyncIteration):
            await waiting


# --- compaction ------------------------------------------------------------------------------------------


async def test_compaction_keeps_state_at_and_after_the_point_and_refuses_older(store: Store) -> None:
    r1 = await store.create("/cp/k1", b"v1")
    r2 = await store.update("/cp/k1", b"v2", r1)
    r3 = await store.create("/cp/k2", b"x")
    _, r4 = await store.delete("/cp/k2")
    r5 = await store.create("/cp/k3", b"y")
    r6 = await store.update("/cp/k1", b"v3", r2)
    before_at_r5 = await store.list("/cp/", revision=r5)
    before_now = await store.list("/cp/")

    await store.compact(r5)
    assert await store.compacted_revision() == r5
    assert await store.current_revision() == r6
    for revision in (r1, r3, r4):
        with pytest.raises(Compacted) as exc:
            await store.get("/cp/k1", revision)
        assert (exc.value.requested, exc.value.compacted) == (revision, r5)
        with pytest.raises(Compacted):
            await store.list("/cp/", revision=revision)
    assert await store.list("/cp/", revision=r5) == before_at_r5
    assert await store.list("/cp/") == before_now
    assert await store.get("/cp/k1", r5) == KeyValue("/cp/k1", b"v2", r1, r2)
    with pytest.raises(KeyNotFound):
        await store.get("/cp/k2", r5)
    assert await store.count("/cp/") == 2

    with pytest.raises(Compacted):
        await anext(store.watch("/cp/", r4))
    replay = store.watch("/cp/", r5)
    (event,) = await take(replay, 1)
    assert event.revision == r6 and event.prev == KeyValue("/cp/k1", b"v2", r1, r2)

    await store.compact(r3)  # never moves backwards; idempotent
    await store.compact(r5)
    assert await store.compacted_revision() == r5
    with pytest.raises(FutureRevision):
        await store.compact(r6 + 10)


async def test_compacting_away_a_trailing_delete_keeps_the_revision(store: Store) -> None:
    r1 = await store.create("/ct/k", b"v")
    await store.update("/ct/k", b"v2", r1)
    _, deleted_at = await store.delete("/ct/k")
    await store.compact(deleted_at)
    assert await store.current_revision() == deleted_at
    assert await store.compacted_revision() == deleted_at
    assert (await store.list("/ct/")).items == []
    with pytest.raises(KeyNotFound):
        await store.get("/ct/k")
    again = await store.create("/ct/k", b"new")
    assert again > deleted_at
    assert await store.get("/ct/k") == KeyValue("/ct/k", b"new", again, again)


async def test_a_watch_that_falls_behind_compaction_gets_everything_or_compacted(store: Store) -> None:
    start = await store.current_revision()
    events = store.watch("/cw/", start)
    first = await store.create("/cw/first", b"")
    assert (await take(events, 1))[0].revision == first
    revisions = [await store.create(f"/cw/{i}", b"") for i in range(600)]
    await store.compact(revisions[-1])
    delivered: list[int] = []
    ended_compacted = False
    try:
        async with asyncio.timeout(DEADLINE):
            while not delivered or delivered[-1] < revisions[-1]:
                delivered.append((await anext(events)).revision)
    except Compacted:
        ended_compacted = True
    # Never a gap: what arrived is the start of the history, complete unless the watch ended Compacted.
    assert delivered == revisions[: len(delivered)]
    assert ended_compacted or delivered == revisions
    if isinstance(store, SQLiteStore):  # 600 events overflow its 256-event buffer: it had to catch up
        assert ended_compacted
