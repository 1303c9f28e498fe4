"""Node IPAM: the CIDR set (rotation, occupy, release, exhaustion), dual stack, and the controller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import EVENTS, NODES
from pyk8s.controllers.framework import ControllerOptions
from pyk8s.controllers.nodeipam import DESCRIPTOR
from pyk8s.controllers.nodeipam.allocator import RangeAllocator, node_pod_cidrs
from pyk8s.controllers.nodeipam.cidrset import CIDRRangeNoCIDRsRemaining, CIDRSet, CIDRSetError
from pyk8s.controllers.nodeipam.controller import NodeIpamController
from tests.unit.controllers.harness import Harness, until


def test_cidrset_allocates_in_order_and_wraps_after_release() -> None:
    s = CIDRSet("10.0.0.0/22", 24)
    assert [str(s.allocate_next()) for _ in range(3)] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    s.release("10.0.1.0/24")
    assert str(s.allocate_next()) == "10.0.3.0/24"  # continues after the last one handed out
    assert str(s.allocate_next()) == "10.0.1.0/24"  # then wraps to the freed one
    with pytest.raises(CIDRRangeNoCIDRsRemaining,
                       match="there are no remaining CIDRs left to allocate in the accepted range"):
        s.allocate_next()
    assert s.allocated == 4


def test_cidrset_occupy_covers_ranges_and_rejects_outsiders() -> None:
    s = CIDRSet("10.0.0.0/16", 24)
    s.occupy("10.0.4.0/23")  # two subnets
    assert s.allocated == 2 and s.is_used("10.0.4.0/24") and s.is_used("10.0.5.0/24")
    s.occupy("10.0.4.0/24")  # already used: no double count
    assert s.allocated == 2
    with pytest.raises(CIDRSetError, match=r"is out the range of cluster cidr 10\.0\.0\.0/16"):
        s.occupy("192.168.0.0/24")
    s.release("10.0.4.0/23")
    assert s.allocated == 0
    whole = CIDRSet("10.0.0.0/30", 32)
    whole.occupy("10.0.0.0/8")  # a range containing the cluster range takes all of it
    assert whole.allocated == 4


def test_cidrset_remembers_parsed_texts_and_stays_exact() -> None:
    s = CIDRSet("10.0.0.0/16", 24)
    for _ in range(3):  # every node update occupies the node's podCIDRs again
        s.occupy("10.0.7.0/24")
    assert s.allocated == 1 and list(s._parsed) == ["10.0.7.0/24"]
    s.release("10.0.7.0/24")
    assert s.allocated == 0 and not s.is_used("10.0.7.0/24")
    s.occupy("10.0.7.0/24")  # healed by the next update after a release
    assert s.is_used("10.0.7.0/24")
    with pytest.raises(CIDRSetError):  # a bad text is rejected every time and never remembered
        s.occupy("192.168.0.0/24")
    assert "192.168.0.0/24" not in s._parsed


def test_ipv6_and_dual_stack() -> None:
    s = CIDRSet("fd00:10::/56", 64)
    assert str(s.allocate_next()) == "fd00:10::/64"
    assert str(s.allocate_next()) == "fd00:10:0:1::/64"
    with pytest.raises(CIDRSetError, match="too big"):
        CIDRSet("fd00::/32", 64)
    a = RangeAllocator.from_options("10.244.0.0/16,fd00:10::/56", 24, {})
    assert a.allocate() == ["10.244.0.0/24", "fd00:10::/64"]


def test_allocator_filters_service_range_and_releases_partial_allocations() -> None:
    a = RangeAllocator.from_options("10.0.0.0/23", 24, {"service_cluster_ip_range": "10.0.0.0/24"})
    assert a.allocate() == ["10.0.1.0/24"]
    with pytest.raises(CIDRSetError):
        a.allocate()
    dual = RangeAllocator(["10.1.0.0/24", "fd00::/120"], [24, 120])
    dual.sets[1].occupy("fd00::/120")
    with pytest.raises(CIDRSetError):
        dual.allocate()
    assert dual.sets[0].allocated == 0  # the IPv4 half was given back
    assert node_pod_cidrs({"spec": {"podCIDR": "10.0.0.0/24"}}) == ["10.0.0.0/24"]


class Env(Harness):
    def __init__(self, **opts: Any) -> None:
        super().__init__(ControllerOptions(**opts))

    async def start_controller(self) -> NodeIpamController:
        c = DESCRIPTOR.new(self.ctx)
        assert isinstance(c, NodeIpamController)
        await self.start()
        return c

    async def drain(self, c: NodeIpamController) -> None:
        while len(c.controller.queue):
            await c.controller.process_next()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    e = Env(cluster_cidr="10.0.0.0/23", node_cidr_mask_size=24)
    yield e
    await e.stop()


def cidr_of(fake: FakeClient, name: str) -> dict[str, Any]:
    return next(n for n in fake.objects(NODES) if n["metadata"]["name"] == name)["spec"]


async def test_allocation_occupies_existing_exhausts_and_reuses_released(env: Env) -> None:
    env.client.seed(NODES, {"metadata": {"name": "n0"}, "spec": {"podCIDR": "10.0.0.0/24", "podCIDRs": ["10.0.0.0/24"]}})
    env.client.seed(NODES, {"metadata": {"name": "n1"}, "spec": {}})
    c = await env.start_controller()
    await env.drain(c)
    assert cidr_of(env.client, "n1") == {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24"]}
    patch = next(a for a in env.client.actions if a.verb == "patch")
    assert patch.body == {"spec": {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24"]}}
    await until(lambda: c.reserved == {})  # the watch echo turns the reservation into the node's own
    await c.reconcile("n1")  # a late duplicate key allocates nothing more
    assert c.allocator is not None and c.allocator.sets[0].allocated == 2

    await env.client.create(NODES, {"metadata": {"name": "n2"}, "spec": {}})
    await until(lambda: len(c.controller.queue) > 0)
    key = await c.controller.queue.get()
    with pytest.raises(RuntimeError, match="no remaining CIDRs"):
        await c.reconcile(key)
    c.controller.queue.done(key)
    await env.recorders[0].flush()
    events = env.client.objects(EVENTS)
    assert [(e["reason"], e["message"], e["source"]["component"], e["involvedObject"]["kind"]) for e in events] == [
        ("CIDRNotAvailable", "Node n2 status is now: CIDRNotAvailable", "cidrAllocator", "Node")]

    await env.client.delete(NODES, "n1")
    await until(lambda: c.allocator is not None and c.allocator.sets[0].allocated == 1)
    await c.reconcile("n2")
    assert cidr_of(env.client, "n2")["podCIDRs"] == ["10.0.1.0/24"]


async def test_failed_patch_releases_the_subnet(env: Env) -> None:
    env.client.seed(NODES, {"metadata": {"name": "n1"}, "spec": {}})
    c = await env.start_controller()
    for _ in range(3):
        env.client.fail_next("patch", "nodes", errors.Invalid("nope"))
    with pytest.raises(errors.Invalid):
        await c.reconcile("n1")
    assert c.allocator is not None and c.allocator.sets[0].allocated == 0 and c.reserved == {}
    await c.reconcile("n1")
    assert cidr_of(env.client, "n1")["podCIDR"] == "10.0.1.0/24"  # the set moves on; the freed one comes later


async def test_disabled_without_allocate_node_cidrs() -> None:
    e = Env(allocate_node_cidrs=False)
    try:
        e.client.seed(NODES, {"metadata": {"name": "n1"}, "spec": {}})
        c = await e.start_controller()
        await c.run()  # returns at once
        assert len(c.controller.queue) == 0 and c.allocator is None
    finally:
        await e.stop()
