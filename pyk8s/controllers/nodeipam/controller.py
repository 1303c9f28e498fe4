"""Node IPAM: gives every Node a pod subnet (spec.podCIDR / spec.podCIDRs) from --cluster-cidr.

Upstream's node-ipam-controller with the RangeAllocator (pkg/controller/nodeipam/ipam/range_allocator.go),
active only with --allocate-node-cidrs. Subnets already on nodes are occupied as the informer delivers them
(before any worker runs, since workers start after the cache has synced); a node without one is queued,
gets the next free subnet of each cluster CIDR, and is patched. A deleted node's subnets are released.
When the range is full the node gets the event "CIDRNotAvailable" ("Node <name> status is now:
CIDRNotAvailable", source cidrAllocator) and the key is retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging

from pyk8s.api import errors, meta
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import NODES
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.nodeipam.allocator import RangeAllocator, node_pod_cidrs
from pyk8s.controllers.nodeipam.cidrset import CIDRSetError

log = logging.getLogger("pyk8s.controllers.nodeipam")

COMPONENT = "cidrAllocator"  # upstream's event source for the range allocator
CIDR_UPDATE_RETRIES = 3  # cidrUpdateRetries
WORKERS = 30  # cidrUpdateWorkers


def node_ref(node: Obj) -> Obj:
    md = node.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": md.get("name", ""), "uid": md.get("uid", "")}}


class NodeIpamController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.enabled = ctx.options.allocate_node_cidrs
        self.nodes = ctx.informers.informer(NODES)
        self.recorder = ctx.recorder(COMPONENT)
        self.controller = Controller("nodeipam", self, workers=WORKERS, clock=ctx.clock, informers=[self.nodes])
        # node name -> subnets taken for it whose patch has not been confirmed
        self.reserved: dict[str, list[str]] = {}
        self.allocator: RangeAllocator | None = None
        if not self.enabled:
            return
        self.allocator = RangeAllocator.from_options(ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size,
                                                     ctx.options.extra)
        self.nodes.add_handler(on_add=self._on_add, on_update=lambda old, new: self._on_add(new),
                               on_delete=self._on_delete)

    async def run(self) -> None:
        if self.allocator is None:
            log.info("--allocate-node-cidrs is false: node IPAM controller not started")
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.recorder.run())
            tg.create_task(self.controller.run())

    # ---- handlers: occupy/release at once (pure, fast), queue nodes that need a subnet ----
    def _on_add(self, node: Obj) -> None:
        assert self.allocator is not None
        cidrs = node_pod_cidrs(node)
        if not cidrs:
            self.controller.enqueue(meta.name_of(node))
            return
        try:
            self.allocator.occupy(cidrs)
        except (CIDRSetError, ValueError) as e:
            log.error("node %s: cannot occupy pod CIDRs %s: %s", meta.name_of(node), cidrs, e)
        if self.reserved.get(meta.name_of(node)) == cidrs:
            del self.reserved[meta.name_of(node)]  # our patch is visible: the reservation is now the node's
        elif meta.name_of(node) in self.reserved:
            self._drop_reservation(meta.name_of(node))  # assigned by someone else

    def _on_delete(self, node: Obj) -> None:
        assert self.allocator is not None
        name = meta.name_of(node)
        cidrs = node_pod_cidrs(node)
        if cidrs:
            log.info("releasing pod CIDRs %s of deleted node %s", cidrs, name)
            self.allocator.release(cidrs)
        reserved = self.reserved.pop(name, None)
        if reserved and reserved != cidrs:
            self.allocator.release(reserved)

    def _drop_reservation(self, key: str) -> None:
        """Give back what was taken for `key`, once (a delete handler may have done it already)."""
        reserved = self.reserved.pop(key, None)
        if reserved and self.allocator is not None:
            self.allocator.release(reserved)

    # ---- worker ----
    async def reconcile(self, key: str) -> Result | None:
        allocator = self.allocator
        if allocator is None:
            return None
        node = self.nodes.lister.get(key)
        if node is None:
            return None  # the delete handler released its subnets
        current = node_pod_cidrs(node)
        if current:
            # Assigned (by us: the watch caught up, or by someone else: give ours back).
            reserved = self.reserved.pop(key, None)
            if reserved and reserved != current:
                allocator.release(reserved)
            return None
        # Still none in the cache. A reservation is reused (a patch that already landed is repeated harmlessly);
        # otherwise take the next subnets.
        cidrs = self.reserved.get(key)
        if cidrs is None:
            try:
                cidrs = allocator.allocate()
            except CIDRSetError as e:
                self.recorder.event(node_ref(node), "Normal", "CIDRNotAvailable",
                                    f"Node {key} status is now: CIDRNotAvailable")
                raise RuntimeError(f"failed to allocate cidr from cluster cidr: {e}") from e
            self.reserved[key] = cidrs
        patch = {"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}}
        err: Exception | None = None
        for _ in range(CIDR_UPDATE_RETRIES):
            try:
                await self.client.patch(NODES, key, patch, patch_type="strategic")
            except errors.NotFound:
                self._drop_reservation(key)
                return None
            except Exception as e:
                err = e
                continue
            # Kept reserved until the informer shows the node with these subnets.
            log.info("set node %s PodCIDR to %s", key, cidrs)
            return None
        assert err is not None
        log.error("failed to update node %s PodCIDR to %s after %d attempts: %s", key, cidrs, CIDR_UPDATE_RETRIES, err)
        self.recorder.event(node_ref(node), "Normal", "CIDRAssignmentFailed",
                            f"Node {key} status is now: CIDRAssignmentFailed")
        if not isinstance(err, errors.ServerTimeout | errors.Timeout):
            # the write surely did not land: give the subnets back (after a timeout we cannot know, so keep them)
            self._drop_reservation(key)
        raise err
