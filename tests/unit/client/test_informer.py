"""Informers over FakeClient: list + watch, re-watch, relist after 410, backoff on connection errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.informer import SharedInformer, SharedInformerFactory
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import NODES, PODS


def pod(name: str, ns: str = "default", app: str = "web") -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app": app}}, "spec": {"containers": []}}


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
    fake, _, factory = setup
    inf = factory.informer(PODS)
    rec = Recorder()
    rec.attach(inf)
    for name in ("keep", "change", "gone"):
        await fake.create(PODS, pod(name))
    factory.start()
    await factory.wait_for_sync(5)
    await until(lambda: fake.open_watches() == 1)
    rec.events.clear()
    # The watch breaks; while it is down the history the informer would resume from is compacted away.
    fake.disconnect_watches()
    await fake.delete(PODS, "gone", "default")
    await fake.patch(PODS, "change", {"metadata": {"labels": {"v": "2"}}}, "default")
    await fake.create(PODS, pod("new"))
    fake.compact()
    await until(lambda: verbs(fake, "list") == 2)
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
    fake.disconnect_watches(ConnectionError("reset"))
    await fake.create(NODES, {"metadata": {"name": "n2"}})
    await until(lambda: clock.has_sleepers())
    clock.step(0.8)
    await until(lambda: inf.lister.get("n2") is not None)
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
