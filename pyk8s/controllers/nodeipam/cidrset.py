"""A set of equal-sized subnets carved from one cluster CIDR: allocate the next free one, occupy, release.

Upstream's cidrset.CidrSet (pkg/controller/nodeipam/ipam/cidrset/cidr_set.go): a bitmap over the
2^(node mask - cluster mask) subnets; allocation starts after the last subnet handed out and wraps around,
so a released subnet is not reused at once. Occupy/Release accept any CIDR overlapping the cluster CIDR and
mark every subnet it covers (a service range inside the pod range is occupied this way).
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PARSED_CACHE_SIZE = 65536  # CIDR texts whose subnet indices are remembered
CLUSTER_SUBNET_MAX_DIFF = 16  # clusterSubnetMaxDiff: at most 2^16 subnets per IPv6 cluster CIDR


class CIDRSetError(ValueError):
    pass


class CIDRRangeNoCIDRsRemaining(CIDRSetError):
    def __init__(self) -> None:
        super().__init__("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")


class CIDRSet:
    def __init__(self, cluster_cidr: str | IPNetwork, node_mask_size: int) -> None:
        self.cluster: IPNetwork = (ipaddress.ip_network(cluster_cidr, strict=False)
                                   if isinstance(cluster_cidr, str) else cluster_cidr)
        bits = self.cluster.max_prefixlen
        if node_mask_size < self.cluster.prefixlen or node_mask_size > bits:
            raise CIDRSetError(f"node CIDR mask size {node_mask_size} does not fit cluster CIDR {self.cluster}")
        if self.cluster.version == 6 and node_mask_size - self.cluster.prefixlen > CLUSTER_SUBNET_MAX_DIFF:
            raise CIDRSetError("New CIDR set failed; the node CIDR size is too big")
        self.node_mask_size = node_mask_size
        self.max_cidrs = 1 << (node_mask_size - self.cluster.prefixlen)
        self._used = bytearray(self.max_cidrs)
        self._parsed: dict[str, range] = {}  # CIDR text -> subnet indices it covers
        self.allocated = 0
        self._next = 0

    def _block(self, index: int) -> IPNetwork:
        shift = self.cluster.max_prefixlen - self.node_mask_size
        base = int(self.cluster.network_address) | (index << shift)
        return ipaddress.ip_network((base, self.node_mask_size))

    def allocate_next(self) -> IPNetwork:
        if self.allocated == self.max_cidrs:
            raise CIDRRangeNoCIDRsRemaining()
        candidate = self._next
        for _ in range(self.max_cidrs):
            if not self._used[candidate]:
                break
            candidate = (candidate + 1) % self.max_cidrs
        self._next = (candidate + 1) % self.max_cidrs
        self._used[candidate] = 1
        self.allocated += 1
        return self._block(candidate)

    def _indices(self, cidr: str | IPNetwork) -> range:
        if isinstance(cidr, str):
            # Every update of every node occupies its podCIDRs again (as upstream): parse each text once.
            cached = self._parsed.get(cidr)
            if cached is None:
                cached = self._parse_indices(ipaddress.ip_network(cidr, strict=False))
                if len(self._parsed) >= PARSED_CACHE_SIZE:
                    self._parsed.clear()
                self._parsed[cidr] = cached
            return cached
        return self._parse_indices(cidr)

    def _parse_indices(self, net: IPNetwork) -> range:
        if net.version != self.cluster.version or not (net.overlaps(self.cluster)):
            raise CIDRSetError(f"cidr {net} is out the range of cluster cidr {self.cluster}")
        if net.prefixlen <= self.cluster.prefixlen:  # covers the whole cluster range
            return range(self.max_cidrs)
        shift = self.cluster.max_prefixlen - self.node_mask_size
        offset = int(self.cluster.network_address)
        first = (int(net.network_address) - offset) >> shift
        last = (int(net.broadcast_address) - offset) >> shift
        return range(first, last + 1)

    def occupy(self, cidr: str | IPNetwork) -> None:
        """Mark every subnet `cidr` covers as used (already used is fine)."""
        for i in self._indices(cidr):
            if not self._used[i]:
                self._used[i] = 1
                self.allocated += 1

    def release(self, cidr: str | IPNetwork) -> None:
        for i in self._indices(cidr):
            if self._used[i]:
                self._used[i] = 0
                self.allocated -= 1

    def is_used(self, cidr: str | IPNetwork) -> bool:
        return all(self._used[i] for i in self._indices(cidr))
