"""WatchedObjects: the kubelet's ConfigMaps and Secrets read once, then kept current by a watch of each object."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import CONFIGMAPS, SECRETS, SERVICE_ACCOUNTS
from pyk8s.kubelet.objectcache import WatchedObjects


def configmap(name: str, value: str, namespace: str = "ns") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"k": value}}


async def until(pred: Callable[[], Awaitable[bool]], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.01)


async def _true(value: bool) -> bool:
    return value


def reads(fake: FakeClient) -> list[tuple[str, str, str]]:
    return [(a.verb, a.resource, a.namespace) for a in fake.actions if a.verb in ("get", "list", "watch")]


async def test_first_read_lists_and_watches_one_object_later_reads_come_from_memory() -> None:
    fake = FakeClient()
    fake.seed(CONFIGMAPS, configmap("kube-root-ca.crt", "ca-1"))
    fake.seed(CONFIGMAPS, configmap("other", "x"))
    objects = WatchedObjects(fake)
    try:
        for _ in range(3):
            got = await objects.get(CONFIGMAPS, "kube-root-ca.crt", "ns")
            assert got["data"] == {"k": "ca-1"}
        await until(lambda: _true(fake.open_watches() == 1), "the watch is open")
        assert [r for r in reads(fake) if r[0] == "get"] == []
        lists = [a for a in fake.actions if a.verb == "list"]
        assert len(lists) == 1 and lists[0].namespace == "ns"
        assert objects.watched() == [("configmaps", "ns", "kube-root-ca.crt")]

        await fake.patch(CONFIGMAPS, "kube-root-ca.crt", {"data": {"k": "ca-2"}}, "ns")

        async def updated() -> bool:
            return (await objects.get(CONFIGMAPS, "kube-root-ca.crt", "ns"))["data"] == {"k": "ca-2"}

        await until(updated, "the watch delivers the change")
    finally:
        await objects.close()
    assert fake.open_watches() == 0


async def test_a_missing_object_is_not_found_until_it_is_created() -> None:
    fake = FakeClient()
    objects = WatchedObjects(fake)
    try:
        with pytest.raises(errors.NotFound):
            await objects.get(SECRETS, "creds", "ns")
        await fake.create(SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                    "data": {"p": "cHc="}}, "ns")

        async def found() -> bool:
            try:
                return (await objects.get(SECRETS, "creds", "ns"))["data"] == {"p": "cHc="}
            except errors.NotFound:
                return False

        await until(found, "the created secret")
    finally:
        await objects.close()


async def test_other_resources_are_plain_reads() -> None:
    fake = FakeClient()
    fake.seed(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": "default", "namespace": "ns"}})
    objects = WatchedObjects(fake)
    await objects.get(SERVICE_ACCOUNTS, "default", "ns")
    await objects.get(SERVICE_ACCOUNTS, "default", "ns")
    assert reads(fake) == [("get", "serviceaccounts", "ns")] * 2
    assert objects.watched() == []


async def test_objects_nobody_read_for_a_while_stop_being_watched() -> None:
    fake = FakeClient()
    clock = FakeClock()
    fake.seed(CONFIGMAPS, configmap("a", "1"))
    fake.seed(CONFIGMAPS, configmap("b", "2"))
    objects = WatchedObjects(fake, clock=clock, idle_seconds=300)
    try:
        await objects.get(CONFIGMAPS, "a", "ns")
        clock.step(200)
        await objects.get(CONFIGMAPS, "b", "ns")
        clock.step(200)  # a: 400 s unread, b: 200 s
        await objects.get(CONFIGMAPS, "b", "ns")
        assert objects.watched() == [("configmaps", "ns", "b")]
        await until(lambda: _true(fake.open_watches() == 1), "a's watch is closed")
        assert (await objects.get(CONFIGMAPS, "a", "ns"))["data"] == {"k": "1"}  # read again: watched again
        assert objects.watched() == [("configmaps", "ns", "a"), ("configmaps", "ns", "b")]
    finally:
        await objects.close()


async def test_an_object_the_kubelet_may_not_list_is_read_with_get() -> None:
    fake = FakeClient()
    clock = FakeClock()  # the informer's retry back-off never ends: it stays unsynced
    fake.seed(CONFIGMAPS, configmap("cm", "v"))
    fake.fail_next("list", "configmaps", errors.Forbidden("configmaps is forbidden: cannot list"))
    objects = WatchedObjects(fake, clock=clock, sync_timeout=0.05)
    try:
        assert (await objects.get(CONFIGMAPS, "cm", "ns"))["data"] == {"k": "v"}
        assert ("get", "configmaps", "ns") in reads(fake)
        objects.sync_timeout = 3600  # later reads must not wait for the informer again
        for _ in range(3):
            got = await asyncio.wait_for(objects.get(CONFIGMAPS, "cm", "ns"), 5)
            assert got["data"] == {"k": "v"}
        assert reads(fake).count(("get", "configmaps", "ns")) == 4
    finally:
        await objects.close()
