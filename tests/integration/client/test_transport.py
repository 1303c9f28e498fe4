"""The client's transport against a real apiserver: watches outside the connection pool, the leader election
client electing and releasing over its own connections, and an informer over RESTClient."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest

from pyk8s.api import errors
from pyk8s.client.informer import SharedInformerFactory
from pyk8s.client.kinds import CONFIGMAPS, LEASES, NAMESPACES
from pyk8s.client.kubeconfig import load_client_config
from pyk8s.client.leaderelection import LeaderElector, leader_election_client
from pyk8s.client.rest import RESTClient
from tests.apiserver_process import APIServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def ns(apiserver: APIServerProcess) -> AsyncIterator[str]:
    name = f"tr-{uuid.uuid4().hex[:10]}"
    async with RESTClient(load_client_config(apiserver.kubeconfig)) as c:
        await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        yield name
        try:
            await c.delete(NAMESPACES, name)
        except errors.StatusError:
            pass


async def test_open_watches_leave_the_one_connection_pool_to_requests(apiserver: APIServerProcess, ns: str) -> None:
    config = dataclasses.replace(load_client_config(apiserver.kubeconfig), max_connections=1, timeout=10)
    async with RESTClient(config) as c:
        start = (await c.list(CONFIGMAPS, ns))["metadata"]["resourceVersion"]
        streams = [c.watch(CONFIGMAPS, ns, resource_version=start, timeout_seconds=60) for _ in range(3)]
        readers = [asyncio.ensure_future(anext(s)) for s in streams]  # type: ignore[arg-type]
        try:
            # Requests run while three watches are open on their own connections.
            for i in range(3):
                await c.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}},
                               ns)
            async with asyncio.timeout(10):
                events = await asyncio.gather(*readers)
            assert all(ev.type == "ADDED" and ev.object["metadata"]["name"] == "c0" for ev in events)
        finally:
            for r in readers:
                r.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            for s in streams:
                await s.aclose()  # type: ignore[attr-defined]


async def test_leader_election_client_elects_and_releases(apiserver: APIServerProcess, ns: str) -> None:
    config = load_client_config(apiserver.kubeconfig, user_agent="pyk8s-test")
    config.qps, config.burst = 0.001, 1  # the workload's limiter would stall renewals; the elector's has none
    leading = asyncio.Event()

    async def lead() -> None:
        leading.set()
        await asyncio.Event().wait()

    async with leader_election_client(config, renew_deadline=4) as le_client, RESTClient(config) as workload:
        assert le_client.config.timeout == 2 and le_client.user_agent == "pyk8s-test/leader-election"
        elector = LeaderElector(le_client, ns, "transport-test", "me", lease_duration=6, renew_deadline=4,
                                retry_period=0.5)
        task = asyncio.create_task(elector.run(lead))
        try:
            async with asyncio.timeout(10):
                await leading.wait()
            lease = await workload.get(LEASES, "transport-test", ns)
            assert lease["spec"]["holderIdentity"] == "me"
            first_renew = lease["spec"]["renewTime"]
            async with asyncio.timeout(10):  # renewals go through although the workload limiter is exhausted
                while (await le_client.get(LEASES, "transport-test", ns))["spec"]["renewTime"] == first_renew:
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        released = await le_client.get(LEASES, "transport-test", ns)
        assert released["spec"]["holderIdentity"] == "" and released["spec"]["leaseDurationSeconds"] == 1


async def test_informer_over_rest_client_follows_changes(apiserver: APIServerProcess, ns: str) -> None:
    async with RESTClient(load_client_config(apiserver.kubeconfig)) as c:
        await c.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before"}}, ns)
        factory = SharedInformerFactory(c)
        inf = factory.informer(CONFIGMAPS, namespace=ns)
        factory.start()
        try:
            assert await factory.wait_for_sync(10)
            assert inf.lister.get(f"{ns}/before") is not None
            await c.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}}, ns)
            async with asyncio.timeout(10):
                while inf.lister.get(f"{ns}/after") is None:
                    await asyncio.sleep(0.02)
        finally:
            await factory.stop()
