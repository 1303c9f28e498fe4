"""Pod CIDR bookkeeping for nodes: one CIDRSet per cluster CIDR (two for dual stack), no I/O.

Upstream's rangeAllocator state (pkg/controller/nodeipam/ipam/range_allocator.go): a node gets one subnet
from each cluster CIDR, in the order the cluster CIDRs are given; spec.podCIDRs[i] belongs to cluster CIDR i.
Service ranges that overlap a cluster CIDR are occupied up front so no node is handed service addresses.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pyk8s.controllers.nodeipam.cidrset import CIDRSet, CIDRSetError

Obj = dict[str, Any]

DEFAULT_IPV6_MASK = 64  # --node-cidr-mask-size-ipv6 default


def node_pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or () if c]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [str(spec["podCIDR"])]
    return cidrs


class RangeAllocator:
    def __init__(self, cluster_cidrs: list[str], mask_sizes: list[int], service_cidrs: list[str] | None = None) -> None:
        if not cluster_cidrs:
            raise CIDRSetError("no cluster CIDR given")
        if len(cluster_cidrs) != len(mask_sizes):
            raise CIDRSetError("one node CIDR mask size is needed per cluster CIDR")
        self.sets = [CIDRSet(c, m) for c, m in zip(cluster_cidrs, mask_sizes, strict=True)]
        for svc in service_cidrs or ():
            net = ipaddress.ip_network(svc, strict=False)
            for s in self.sets:
                if s.cluster.version == net.version and s.cluster.overlaps(net):
                    s.occupy(net)

    @classmethod
    def from_options(cls, cluster_cidr: str, node_cidr_mask_size: int, extra: dict[str, Any]) -> RangeAllocator:
        """Build from --cluster-cidr (comma-separated for dual stack), --node-cidr-mask-size[-ipv4|-ipv6] and
        --service-cluster-ip-range (all but the first two read from ControllerOptions.extra)."""
        cidrs = [c.strip() for c in cluster_cidr.split(",") if c.strip()]
        masks = []
        for c in cidrs:
            if ipaddress.ip_network(c, strict=False).version == 4:
                masks.append(int(extra.get("node_cidr_mask_size_ipv4") or node_cidr_mask_size))
            elif extra.get("node_cidr_mask_size_ipv6"):
                masks.append(int(extra["node_cidr_mask_size_ipv6"]))
            elif len(cidrs) == 1 and node_cidr_mask_size > 32:
                masks.append(node_cidr_mask_size)
            else:
                masks.append(DEFAULT_IPV6_MASK)
        services = [s.strip() for s in str(extra.get("service_cluster_ip_range") or "").split(",") if s.strip()]
        return cls(cidrs, masks, services)

    def allocate(self) -> list[str]:
        """One subnet from every cluster CIDR; nothing stays taken when any set is full (raises)."""
        taken: list[str] = []
        try:
            for s in self.sets:
                taken.append(str(s.allocate_next()))
        except CIDRSetError:
            self.release(taken)
            raise
        return taken

    def occupy(self, cidrs: list[str]) -> None:
        if len(cidrs) > len(self.sets):
            raise CIDRSetError(f"allocated cidr {cidrs[len(self.sets)]} at index {len(self.sets)} does not exist in "
                               "cluster cidrs configuration")
        for s, c in zip(self.sets, cidrs, strict=False):
            s.occupy(c)

    def release(self, cidrs: list[str]) -> None:
        for s, c in zip(self.sets, cidrs, strict=False):
            try:
                s.release(c)
            except (CIDRSetError, ValueError):
                continue
