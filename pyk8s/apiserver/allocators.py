"""Service ClusterIP and NodePort allocation, with the repair pass upstream runs at start.

The store is the truth: at start the allocators are rebuilt from every stored Service (upstream's
repair loops), then each create reserves under a lock so two Services never share an address or port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random

from pyk8s.api import errors

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)


class ClusterIPAllocator:
    def __init__(self, cidr: str = DEFAULT_SERVICE_CIDR) -> None:
        self.network = ipaddress.ip_network(cidr)
        self.used: set[str] = set()
        self.lock = asyncio.Lock()
        # The first usable address belongs to the `kubernetes` Service; upstream never hands it out randomly.
        self.first = str(self.network.network_address + 1)

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in self.network
        except ValueError:
            return False

    def reserve(self, ip: str) -> None:
        """Mark an address used (repair and explicit spec.clusterIP); raises if taken or out of range."""
        if not self.contains(ip) or ip in (str(self.network.network_address), str(self.network.broadcast_address)):
            raise errors.Invalid(f"failed to allocate IP {ip}: provided IP is not in the valid range. "
                                 f"The range of valid IPs is {self.network}")
        if ip in self.used:
            raise errors.Invalid(f"failed to allocate IP {ip}: provided IP is already allocated")
        self.used.add(ip)

    def allocate_next(self) -> str:
        size = self.network.num_addresses
        if len(self.used) >= size - 3:
            raise errors.InternalError("failed to allocate a serviceIP: range is full")
        # Random probing like upstream's bitmap allocator (skip network, first, broadcast).
        for _ in range(size * 2):
            offset = random.randrange(2, size - 1)
            ip = str(self.network.network_address + offset)
            if ip not in self.used:
                self.used.add(ip)
                return ip
        for offset in range(2, size - 1):
            ip = str(self.network.network_address + offset)
            if ip not in self.used:
                self.used.add(ip)
                return ip
        raise errors.InternalError("failed to allocate a serviceIP: range is full")

    def release(self, ip: str) -> None:
        self.used.discard(ip)


class NodePortAllocator:
    def __init__(self, port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE) -> None:
        self.low, self.high = port_range
        self.used: set[int] = set()
        self.lock = asyncio.Lock()

    def contains(self, port: int) -> bool:
        return self.low <= port <= self.high

    def reserve(self, port: int) -> None:
        if not self.contains(port):
            raise errors.Invalid(f"provided port is not in the valid range. The range of valid ports is "
                                 f"{self.low}-{self.high}")
        if port in self.used:
            raise errors.Invalid("provided port is already allocated")
        self.used.add(port)

    def allocate_next(self) -> int:
        free = (self.high - self.low + 1) - len(self.used)
        if free <= 0:
            raise errors.InternalError("range is full")
        for _ in range(64):
            port = random.randint(self.low, self.high)
            if port not in self.used:
                self.used.add(port)
                return port
        for port in range(self.low, self.high + 1):
            if port not in self.used:
                self.used.add(port)
                return port
        raise errors.InternalError("range is full")

    def release(self, port: int) -> None:
        self.used.discard(port)
