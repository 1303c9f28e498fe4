"""Hollow nodes against a real apiserver through RESTClient: nodes Ready, leases renewed, pods run and finish."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client.informer import SharedInformerFactory
from pyk8s.client.kinds import LEASES, NAMESPACES, NODES, PODS, SERVICE_ACCOUNTS
from pyk8s.client.kubeconfig import load_client_config
from pyk8s.client.rest import RESTClient
from pyk8s.kubelet.hollow import ANNOTATION_HEARTBEAT, NODE_LEASE_NAMESPACE, HollowNodes
from tests.apiserver_process import APIServerProcess

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


async def eventually(check: Any, timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll the async `check` until it returns something truthy (API errors count as not yet)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                result = await check()
            except errors.StatusError:
                result = None
            if result:
                return result
            await asyncio.sleep(0.05)


@dataclass
class Cluster:
    client: RESTClient
    hollow: HollowNodes
    ns: str

    @property
    def names(self) -> list[str]:
        return self.hollow.names

    async def phase(self, pod: str) -> str:
        return str(((await self.client.get(PODS, pod, self.ns)).get("status") or {}).get("phase", ""))


@pytest.fixture
async def cluster(apiserver: APIServerProcess) -> AsyncIterator[Cluster]:
    client = RESTClient(load_client_config(apiserver.kubeconfig), user_agent="pyk8s/hollow-test")
    ns = f"hn-{uuid.uuid4().hex[:10]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    # what the serviceaccount controller would make: pods need their account (ServiceAccount admission)
    await client.create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                           "metadata": {"name": "default"}}, ns)
    factory = SharedInformerFactory(client)
    hollow = HollowNodes(client, count=3, name_prefix=f"{ns}-", informers=factory, heartbeat_interval=0.5,
                         status_update_frequency=1.0, pod_run_seconds=0.5)
    task = asyncio.create_task(hollow.run())
    try:
        async with asyncio.timeout(20):
            await hollow.registered.wait()
        yield Cluster(client, hollow, ns)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await factory.stop()
        for name in hollow.names:
            for res, n in ((NODES, ""), (LEASES, NODE_LEASE_NAMESPACE)):
                try:
                    await client.delete(res, name, n)
                except errors.StatusError:
                    pass
        await client.delete(NAMESPACES, ns)
        await client.close()


def pod(name: str, *, node: str | None = None, restart: str = "Always") -> Obj:
    spec: Obj = {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}],
                 "terminationGracePeriodSeconds": 30}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_nodes_register_ready_with_leases(cluster: Cluster) -> None:
    c = cluster.client
    for name in cluster.names:
        node = await c.get(NODES, name)
        assert node["metadata"]["labels"]["node.pyk8s.io/hollow"] == "true"
        ready = next(x for x in node["status"]["conditions"] if x["type"] == "Ready")
        assert ready["status"] == "True" and ready["reason"] == "KubeletReady"
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.33.0+pyk8s"
        lease = await c.get(LEASES, name, NODE_LEASE_NAMESPACE)
        assert lease["spec"]["holderIdentity"] == name
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    first = (await c.get(LEASES, cluster.names[0], NODE_LEASE_NAMESPACE))["spec"]["renewTime"]

    async def renewed() -> bool:
        lease = await c.get(LEASES, cluster.names[0], NODE_LEASE_NAMESPACE)
        return bool(lease["spec"]["renewTime"] != first)

    await eventually(renewed, what="lease renewal")


async def test_pods_run_complete_and_delete(cluster: Cluster) -> None:
    c, ns, node = cluster.client, cluster.ns, cluster.names[0]
    await c.patch(NODES, node, {"spec": {"podCIDR": "10.99.3.0/24", "podCIDRs": ["10.99.3.0/24"]}})
    # bound at creation, and bound through pods/binding as the scheduler does
    await c.create(PODS, pod("direct", node=node), ns)
    await c.create(PODS, pod("scheduled"), ns)
    await c.create_subresource(PODS, "scheduled", "binding", {
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "scheduled", "namespace": ns},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}}, ns)
    for name in ("direct", "scheduled"):
        async def running(name: str = name) -> bool:
            return await cluster.phase(name) == "Running"
        await eventually(running, what=f"{name} Running")
    ips = sorted([(await c.get(PODS, n, ns))["status"]["podIP"] for n in ("direct", "scheduled")])
    assert ips == ["10.99.3.2", "10.99.3.3"]
    got = await c.get(PODS, "direct", ns)
    assert got["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    assert next(x for x in got["status"]["conditions"] if x["type"] == "Ready")["status"] == "True"

    await c.create(PODS, pod("batch", node=node, restart="Never"), ns)

    async def succeeded() -> bool:
        return await cluster.phase("batch") == "Succeeded"

    await eventually(succeeded, what="batch Succeeded")

    await c.delete(PODS, "direct", ns)  # graceful: the hollow kubelet confirms with grace period 0

    async def removed() -> bool:
        try:
            await c.get(PODS, "direct", ns)
        except errors.NotFound:
            return True
        return False

    await eventually(removed, what="pod removed")


async def test_stopped_heartbeat_stops_the_lease(cluster: Cluster) -> None:
    c = cluster.client
    dead, alive = cluster.names[1], cluster.names[2]
    await c.patch(NODES, dead, {"metadata": {"annotations": {ANNOTATION_HEARTBEAT: "stopped"}}})

    async def annotation_seen() -> bool:
        return cluster.hollow.heartbeat_stopped(dead)

    await eventually(annotation_seen, what="annotation seen")
    alive_seen: list[str] = []
    dead_seen: list[str] = []

    async def alive_renewed_thrice() -> bool:
        a = (await c.get(LEASES, alive, NODE_LEASE_NAMESPACE))["spec"]["renewTime"]
        d = (await c.get(LEASES, dead, NODE_LEASE_NAMESPACE))["spec"]["renewTime"]
        if not alive_seen or alive_seen[-1] != a:
            alive_seen.append(a)
            dead_seen.append(d)
        return len(alive_seen) >= 4

    await eventually(alive_renewed_thrice, what="live node renewals")
    # a renewal already in flight when the annotation arrived may land once; after that the lease stays put
    assert len(set(dead_seen[1:])) == 1, dead_seen
    await c.patch(NODES, dead, {"metadata": {"annotations": {ANNOTATION_HEARTBEAT: None}}})

    async def resumed() -> bool:
        t = (await c.get(LEASES, dead, NODE_LEASE_NAMESPACE))["spec"]["renewTime"]
        return bool(t != dead_seen[-1])

    await eventually(resumed, what="lease resumes")
