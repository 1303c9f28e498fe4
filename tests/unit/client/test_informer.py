"""Informers over FakeClient: list + watch, re-watch, relist after 410, backoff on connection errors, very short
watches and unexpected errors; the Indexer's lookups."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.informer import Indexer, SharedInformer, SharedInformerFactory
from pyk8s.client.interface import NAMESPACE_INDEX, Obj, WatchEvent
from pyk8s.client.kinds import NODES, PODS


def pod(name: str, ns: str = "default", app: str = "web") -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app": app}}, "spec": {"containers": []}}


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.updates: list[tuple[Obj, Obj]] = []
        self.deleted: list[Obj] = []

    def attach(self, inf: SharedInformer) -> None:
        inf.add_handler(self.on_add, self.on_update, self.on_delete)

    def on_add(self, obj: Obj) -> None:
        self.events.append(("add", obj["metadata"]["name"]))

    def on_update(self, old: Obj, new: Obj) -> None:
        self.events.append(("update", new["metadata"]["name"]))
        self.updates.append((old, new))

    def on_delete(self, obj: Obj) -> None:
        self.events.append(("delete", obj["metadata"]["name"]))
        self.deleted.append(obj)


@pytest.fixture
async def setup() -> AsyncIterator[tuple[FakeClient, FakeClock, SharedInformerFactory]]:
    fake = FakeClient()
    clock = FakeClock()
    factory = SharedInformerFactory(fake, clock=clock, page_size=2)
    yield fake, clock, factory
    await factory.stop()


def verbs(fake: FakeClient, verb: str) -> int:
    return sum(1 for a in fake.actions if a.verb == verb)


async def test_initial_paged_list_fills_cache_and_handlers(setup: Any) -> None:
    fake, _, factory = setup
    for i in range(5):
        await fake.create(PODS, pod(f"p{i}", ns="a" if i < 3 else "b"))
    inf = factory.informer(PODS)
    assert factory.informer(PODS) is inf  # shared
    rec = Recorder()
    rec.attach(inf)
    inf.add_indexers({"app": lambda o: [o["metadata"]["labels"]["app"]]})
    factory.start()
    assert await factory.wait_for_sync(5)
    assert inf.has_synced()
    assert sorted(rec.events) == [("add", f"p{i}") for i in range(5)]
    assert verbs(fake, "list") == 3  # pages of 2
    lister = inf.lister
    assert sorted(lister.keys()) == ["a/p0", "a/p1", "a/p2", "b/p3", "b/p4"]
    assert [o["metadata"]["name"] for o in lister.list("b")] == ["p3", "p4"]
    assert len(lister.list()) == 5
    assert lister.get("a/p1") is not None and lister.get("a/zzz") is None
    assert len(lister.by_index("app", "web")) == 5
    with pytest.raises(KeyError):
        lister.by_index("nope", "x")
    assert inf.last_sync_resource_version() == fake.resource_version


async def test_watch_events_reach_handlers_in_order(setup: Any) -> None:
    fake, _, factory = setup
    inf = factory.informer(PODS, namespace="default")
    rec = Recorder()
    rec.attach(inf)
    factory.start()
    assert await factory.wait_for_sync(5)
    await until(lambda: fake.open_watches() == 1)
    await fake.create(PODS, pod("a"))
    await fake.patch(PODS, "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    await fake.create(PODS, pod("other", ns="kube-system"))
    await fake.delete(PODS, "a", "default")
    await until(lambda: len(rec.events) == 3)
    assert rec.events == [("add", "a"), ("update", "a"), ("delete", "a")]
    old, new = rec.updates[0]
    assert "x" not in old["metadata"]["labels"] and new["metadata"]["labels"]["x"] == "1"
    assert inf.lister.keys() == []


async def test_stream_end_rewatches_from_last_resource_version(setup: Any) -> None:
    fake, _, factory = setup
    inf = factory.informer(PODS)
    rec = Recorder()
    rec.attach(inf)
    factory.start()
    await factory.wait_for_sync(5)
    await until(lambda: fake.open_watches() == 1)
    await fake.create(PODS, pod("a"))
    await until(lambda: rec.events == [("add", "a")])
    fake.disconnect_watches()
    await fake.create(PODS, pod("b"))  # happens while no watch is open
    await until(lambda: rec.events == [("add", "a"), ("add", "b")])
    await until(lambda: fake.open_watches() == 1)
    assert verbs(fake, "list") == 1  # no relist: the new watch resumed from the last resourceVersion
    watches = [a for a in fake.actions if a.verb == "watch"]
    assert len(watches) == 2


async def test_relist_after_410_emits_missed_deletion_and_changes(setup: Any) -> None:
    fake, clock, factory = setup
    inf = factory.informer(PODS)
    rec = Recorder()
    rec.attach(inf)
    for name in ("keep", "change", "gone"):
        await fake.create(PODS, pod(name))
    factory.start()
    await factory.wait_for_sync(5)
    await until(lambda: fake.open_watches() == 1)
    rec.events.clear()
    # The watch ends after a healthy second; while it is down the history it would resume from is compacted.
    clock.step(1.0)
    fake.disconnect_watches()
    await fake.delete(PODS, "gone", "default")
    await fake.patch(PODS, "change", {"metadata": {"labels": {"v": "2"}}}, "default")
    await fake.create(PODS, pod("new"))
    fake.compact()
    # The re-watch gets 410; the relist waits for the backoff first.
    lists = verbs(fake, "list")  # the pages of the first list
    await until(lambda: verbs(fake, "watch") == 2 and clock.has_sleepers())
    assert verbs(fake, "list") == lists
    clock.step(0.79)
    await settle()
    assert verbs(fake, "list") == lists
    clock.step(0.01)
    await until(lambda: verbs(fake, "list") > lists)
    await until(lambda: len(rec.events) == 3)
    assert sorted(rec.events) == [("add", "new"), ("delete", "gone"), ("update", "change")]
    assert rec.deleted[0]["metadata"]["name"] == "gone"  # the last known state
    assert sorted(inf.lister.keys()) == ["default/change", "default/keep", "default/new"]
    await until(lambda: fake.open_watches() == 1)
    await fake.create(PODS, pod("after"))
    await until(lambda: ("add", "after") in rec.events)


async def test_connection_error_backs_off_on_the_clock(setup: Any) -> None:
    fake, clock, factory = setup
    fake.fail_next("list", "nodes", ConnectionError("refused"))
    fake.fail_next("list", "nodes", ConnectionError("refused"))
    inf = factory.informer(NODES)
    factory.start()
    await until(lambda: clock.has_sleepers())
    assert not inf.has_synced()
    clock.step(0.79)
    await asyncio.sleep(0)
    assert verbs(fake, "list") == 1
    clock.step(0.01)
    await until(lambda: verbs(fake, "list") == 2)
    await until(lambda: clock.has_sleepers())
    clock.step(1.5)  # the second wait is 1.6 s
    await asyncio.sleep(0)
    assert verbs(fake, "list") == 2
    clock.step(0.1)
    assert await factory.wait_for_sync(5)
    # A watch broken by a connection error resumes (after the backoff) without a relist.
    await fake.create(NODES, {"metadata": {"name": "n1"}})
    await until(lambda: inf.lister.get("n1") is not None)
    # The backoff was not reset by the successful list: the next wait is 3.2 s.
    fake.disconnect_watches(ConnectionError("reset"))
    await fake.create(NODES, {"metadata": {"name": "n2"}})
    await until(lambda: clock.has_sleepers())
    clock.step(3.1)
    await settle()
    assert inf.lister.get("n2") is None
    clock.step(0.1)
    await until(lambda: inf.lister.get("n2") is not None)
    assert verbs(fake, "list") == 3
    # Two minutes without trouble reset it to 0.8 s.
    await until(lambda: fake.open_watches() == 1)
    clock.step(121)
    fake.disconnect_watches(ConnectionError("reset"))
    await fake.create(NODES, {"metadata": {"name": "n3"}})
    await until(lambda: clock.has_sleepers())
    clock.step(0.8)
    await until(lambda: inf.lister.get("n3") is not None)
    assert verbs(fake, "list") == 3


async def test_handler_added_after_sync_gets_synthetic_adds_and_failures_are_contained(setup: Any) -> None:
    fake, _, factory = setup
    await fake.create(PODS, pod("a"))
    inf = factory.informer(PODS)

    def broken(obj: Obj) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(on_add=broken)
    factory.start()
    await factory.wait_for_sync(5)
    rec = Recorder()
    rec.attach(inf)
    assert rec.events == [("add", "a")]


async def test_selector_informer_sees_objects_leave_and_bookmarks_move_rv(setup: Any) -> None:
    fake, _, factory = setup
    await fake.create(PODS, pod("a"))
    inf = factory.informer(PODS, label_selector="app=web")
    rec = Recorder()
    rec.attach(inf)
    factory.start()
    await factory.wait_for_sync(5)
    await until(lambda: fake.open_watches() == 1)
    await fake.patch(PODS, "a", {"metadata": {"labels": {"app": "db"}}}, "default")
    await until(lambda: rec.events == [("add", "a"), ("delete", "a")])
    await fake.create(PODS, pod("b", app="db"))
    fake.bookmark(PODS)
    await until(lambda: inf.last_sync_resource_version() == fake.resource_version)
    assert inf.lister.keys() == []


async def test_informer_requested_after_start_is_started(setup: Any) -> None:
    fake, _, factory = setup
    factory.start()
    await fake.create(NODES, {"metadata": {"name": "n1"}})
    late = factory.informer(NODES)
    assert await factory.wait_for_sync(5)
    assert late.lister.get("n1") is not None


async def test_wait_for_sync_times_out(setup: Any) -> None:
    fake, _, factory = setup
    fake.fail_next("list", "pods", ConnectionError("down"))
    factory.informer(PODS)
    factory.start()
    assert await factory.wait_for_sync(0.05) is False


class ExpiringContinueClient(FakeClient):
    """Answers the first request that carries a continue token with 410, like a compacted apiserver."""

    expired_once = False

    async def list(self, resource: Any, namespace: str = "", **kw: Any) -> Obj:
        if kw.get("continue_") and not self.expired_once:
            self.expired_once = True
            raise errors.expired("The provided continue parameter is too old to display a consistent list result.")
        return await super().list(resource, namespace, **kw)


async def test_expired_continue_token_falls_back_to_a_full_list() -> None:
    fake = ExpiringContinueClient()
    factory = SharedInformerFactory(fake, page_size=2)
    for i in range(5):
        await fake.create(PODS, pod(f"p{i}"))
    inf = factory.informer(PODS)
    factory.start()
    try:
        assert await factory.wait_for_sync(5)
        assert fake.expired_once
        assert sorted(inf.lister.keys()) == [f"default/p{i}" for i in range(5)]
        assert [a.verb for a in fake.actions].count("list") == 2  # page 1, then one unpaged list
    finally:
        await factory.stop()


class EmptyWatchClient(FakeClient):
    """Every watch ends at once without an event (a proxy or server that closes streams immediately)."""

    def __init__(self) -> None:
        super().__init__()
        self.watch_calls = 0
        self.timeouts: list[int] = []

    async def watch(self, resource: Any, namespace: str = "", **kw: Any) -> AsyncIterator[WatchEvent]:
        self.watch_calls += 1
        self.timeouts.append(kw["timeout_seconds"])
        return
        yield  # an async generator that yields nothing


async def test_very_short_watch_backs_off_and_relists_instead_of_spinning() -> None:
    fake = EmptyWatchClient()
    clock = FakeClock()
    factory = SharedInformerFactory(fake, clock=clock)
    factory.informer(PODS)
    factory.start()
    try:
        assert await factory.wait_for_sync(5)
        await until(clock.has_sleepers)
        await settle()
        assert fake.watch_calls == 1 and verbs(fake, "list") == 1
        for n, delay in ((2, 0.8), (3, 1.6), (4, 3.2)):  # each relist waits for the growing backoff
            clock.step(delay - 0.01)
            await settle()
            assert fake.watch_calls == n - 1
            clock.step(0.01)
            await until(lambda n=n: fake.watch_calls == n and clock.has_sleepers())  # type: ignore[misc]
            assert verbs(fake, "list") == n
        # Each watch asks the server to end it after 5-10 minutes, as client-go's reflector does.
        assert all(300 <= t <= 600 for t in fake.timeouts) and len(fake.timeouts) == 4
    finally:
        await factory.stop()


class CrashingWatchClient(FakeClient):
    """watch() itself fails once with a programming error (outside any stream)."""

    crashes = 1

    def watch(  # type: ignore[override]
            self, resource: Any, namespace: str = "", **kw: Any) -> AsyncIterator[WatchEvent]:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("bug in watch()")
        return super().watch(resource, namespace, **kw)


async def test_unexpected_error_is_logged_and_retried_after_backoff(caplog: pytest.LogCaptureFixture) -> None:
    fake = CrashingWatchClient()
    clock = FakeClock()
    factory = SharedInformerFactory(fake, clock=clock)
    inf = factory.informer(PODS)
    factory.start()
    try:
        with caplog.at_level(logging.ERROR, "pyk8s.client.informer"):
            assert await factory.wait_for_sync(5)
            await until(clock.has_sleepers)
        [record] = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
        assert record.exc_info is not None and "bug in watch()" in str(record.exc_info[1])
        clock.step(0.8)
        await until(lambda: fake.open_watches() == 1)
        await fake.create(PODS, pod("after-crash"))
        await until(lambda: inf.lister.get("default/after-crash") is not None)
        assert verbs(fake, "list") == 2
    finally:
        await factory.stop()


class ExpiredStreamFailingClose:
    """A stream that reports 410 and then fails to close."""

    def __aiter__(self) -> ExpiredStreamFailingClose:
        return self

    async def __anext__(self) -> WatchEvent:
        raise errors.expired("too old resource version: 1 (2)")

    async def aclose(self) -> None:
        raise RuntimeError("close failed")


class BadCloseClient(FakeClient):
    broken = 1

    def watch(  # type: ignore[override]
            self, resource: Any, namespace: str = "", **kw: Any) -> AsyncIterator[WatchEvent]:
        if self.broken:
            self.broken -= 1
            return ExpiredStreamFailingClose()
        return super().watch(resource, namespace, **kw)


async def test_failing_close_does_not_hide_the_410() -> None:
    fake = BadCloseClient()
    clock = FakeClock()
    factory = SharedInformerFactory(fake, clock=clock)
    inf = factory.informer(PODS)
    factory.start()
    try:
        assert await factory.wait_for_sync(5)
        await until(clock.has_sleepers)
        await fake.create(PODS, pod("missed"))
        clock.step(0.8)
        await until(lambda: inf.lister.get("default/missed") is not None)  # seen by the relist
        assert verbs(fake, "list") == 2
    finally:
        await factory.stop()


async def test_unexpected_exit_of_an_informer_task_is_logged(setup: Any, caplog: pytest.LogCaptureFixture) -> None:
    _, _, factory = setup
    inf = factory.informer(PODS)

    async def broken_run() -> None:
        raise SystemError("informer loop bug")

    inf.run = broken_run  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, "pyk8s.client.informer"):
        factory.start()
        await until(lambda: any("stopped" in r.getMessage() for r in caplog.records))
    assert "informer loop bug" in caplog.text and "no longer follows the server" in caplog.text


def test_index_lookups_keep_insertion_order_without_sorting() -> None:
    idx = Indexer()
    for name in ("c", "a", "b"):
        idx.put(f"ns/{name}", {"metadata": {"name": name, "namespace": "ns"}})
    assert idx.index_keys(NAMESPACE_INDEX, "ns") == ["ns/c", "ns/a", "ns/b"]
    assert [o["metadata"]["name"] for o in idx.by_index(NAMESPACE_INDEX, "ns")] == ["c", "a", "b"]
    idx.delete("ns/c")
    idx.put("ns/c", {"metadata": {"name": "c", "namespace": "ns"}})
    assert idx.index_keys(NAMESPACE_INDEX, "ns") == ["ns/a", "ns/b", "ns/c"]
    idx.delete("ns/a")
    idx.delete("ns/b")
    idx.delete("ns/c")
    assert idx.index_keys(NAMESPACE_INDEX, "ns") == [] and idx.by_index(NAMESPACE_INDEX, "ns") == []


async def test_transform_strips_managed_fields_from_listed_and_watched_objects() -> None:
    from pyk8s.client.informer import strip_managed_fields

    fake = FakeClient()
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
    listed = pod("listed")
    listed["metadata"]["managedFields"] = managed
    await fake.create(PODS, listed)
    factory = SharedInformerFactory(fake, clock=FakeClock(), transform=strip_managed_fields)
    try:
        inf = factory.informer(PODS)
        factory.start()
        assert await factory.wait_for_sync(5)
        watched = pod("watched")
        watched["metadata"]["managedFields"] = managed
        await fake.create(PODS, watched)
        await until(lambda: inf.lister.get("default/watched") is not None)
        for name in ("listed", "watched"):
            cached = inf.lister.get(f"default/{name}")
            assert cached is not None and "managedFields" not in cached["metadata"]
        stored = await fake.get(PODS, "listed", "default")
        assert stored["metadata"]["managedFields"] == managed  # only the cache is trimmed
    finally:
        await factory.stop()
