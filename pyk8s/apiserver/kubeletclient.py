"""How the apiserver reaches a node's kubelet (upstream pkg/kubelet/client: NodeConnectionInfoGetter).

The address is the Node's preferred status address (InternalIP, then ExternalIP, then Hostname, the order
kubeadm passes as --kubelet-preferred-address-types) and the port its
``status.daemonEndpoints.kubeletEndpoint.Port`` (10250 when unset), over HTTPS. The apiserver presents its
kubelet-client certificate and, as upstream does without --kubelet-certificate-authority, does not verify
the kubelet's serving certificate. With ``netns`` set, connections are made from inside that network
namespace (the test topology's switch namespace, where the node IPs are reachable).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp

from pyk8s.api import errors

Obj = dict[str, Any]
DEFAULT_KUBELET_PORT = 10250
PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")


@dataclass(frozen=True, slots=True)
class KubeletEndpoint:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


def kubelet_endpoint(node: Obj) -> KubeletEndpoint:
    """Where ``node``'s kubelet listens; 400 when the Node publishes no usable address."""
    status = node.get("status") or {}
    addresses = [a for a in status.get("addresses") or [] if isinstance(a, dict)]
    host = ""
    for kind in PREFERRED_ADDRESS_TYPES:
        host = next((str(a.get("address") or "") for a in addresses if a.get("type") == kind and a.get("address")), "")
        if host:
            break
    name = (node.get("metadata") or {}).get("name", "")
    if not host:
        raise errors.BadRequest(f'no preferred addresses found; known addresses: {_known(addresses)}',
                                details={"name": name, "kind": "nodes"})
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or DEFAULT_KUBELET_PORT
    return KubeletEndpoint(host, int(port))


def _known(addresses: list[Obj]) -> str:
    return "[" + " ".join("{" + f"{a.get('type', '')} {a.get('address', '')}" + "}" for a in addresses) + "]"


class KubeletClient:
    """TLS settings and connections for every request the apiserver makes to kubelets."""

    def __init__(self, cert_file: str | None, key_file: str | None, *, netns: str | None = None) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert_file and key_file:
            ctx.load_cert_chain(cert_file, key_file)
        self.ssl = ctx
        self.netns = netns
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """A shared HTTP client for kubelet requests (created on first use, in the running loop)."""
        if self._session is None or self._session.closed:
            kw: Obj = {"ssl": self.ssl, "limit": 0}
            if self.netns:
                from pyk8s.base.netns import tcp_connector_in_netns

                connector = tcp_connector_in_netns(self.netns, **kw)
            else:
                connector = aiohttp.TCPConnector(**kw)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                                  timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def open_raw(self, endpoint: KubeletEndpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TLS byte stream to the kubelet (for hand-written SPDY upgrade requests)."""
        if self.netns:
            from pyk8s.base.netns import open_connection_in_netns

            return await asyncio.wait_for(open_connection_in_netns(self.netns, endpoint.host, endpoint.port,
                                                                   ssl=self.ssl, server_hostname=""), 10)
        return await asyncio.wait_for(asyncio.open_connection(endpoint.host, endpoint.port, ssl=self.ssl,
                                                              server_hostname=""), 10)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
