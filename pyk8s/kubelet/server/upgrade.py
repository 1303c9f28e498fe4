"""Turning an aiohttp request into a streaming connection: SPDY/3.1 over a hijacked TCP (or TLS) connection, SPDY
tunnelled in WebSocket binary messages, and the stream-protocol negotiation both use.

The SPDY upgrade follows apimachinery's httpstream.Handshake and spdy/upgrade.go: the client POSTs with
`Connection: Upgrade`, `Upgrade: SPDY/3.1` and its `X-Stream-Protocol-Version` offers; the server picks the first
offer it supports, answers 101 and from then on the connection carries raw SPDY frames. aiohttp only knows
WebSocket upgrades, so after sending the 101 the handler installs its own payload parser on the connection (what
aiohttp's WebSocketResponse does) and stays running for as long as the SPDY session lives.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from pyk8s.api.errors import BadRequest, Forbidden
from pyk8s.kubelet.server.spdy import SpdySession

HEADER_PROTOCOL_VERSION = "X-Stream-Protocol-Version"
HEADER_ACCEPTED_PROTOCOL_VERSIONS = "X-Accepted-Stream-Protocol-Versions"
SPDY_31 = "SPDY/3.1"
WEBSOCKET_SPDY_PORTFORWARD = "SPDY/3.1+portforward.k8s.io"
_DRAIN_THRESHOLD = 256 * 1024


def is_spdy_upgrade(request: web.BaseRequest) -> bool:
    return request.headers.get("Upgrade", "").lower() == SPDY_31.lower()


def is_websocket_upgrade(request: web.BaseRequest) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def client_protocols(request: web.BaseRequest, header: str = HEADER_PROTOCOL_VERSION) -> list[str]:
    """All offered values, whether repeated headers or one comma-separated header."""
    out: list[str] = []
    for value in request.headers.getall(header, []):
        out.extend(p.strip() for p in value.split(",") if p.strip())
    return out


def negotiate(request: web.BaseRequest, supported: list[str]) -> str:
    """The first client offer the server supports; 400 without offers, 403 (with the accepted list) without a match."""
    offered = client_protocols(request)
    if not offered:
        raise BadRequest(f"unable to upgrade: {HEADER_PROTOCOL_VERSION} is required")
    for proto in offered:
        if proto in supported:
            return proto
    raise Forbidden(
        f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server accepts {supported}",
        headers={HEADER_ACCEPTED_PROTOCOL_VERSIONS: ", ".join(supported)},
    )


class _SessionFeeder:
    """Plays aiohttp's payload-parser role for the hijacked connection: every byte goes into the SPDY session."""

    def __init__(self, session: SpdySession) -> None:
        self._session = session

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._session.feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self._session.feed_eof()


async def upgrade_to_spdy(request: web.Request, protocol: str) -> tuple[SpdySession, web.StreamResponse]:
    """Send the 101 for `protocol` and take over the connection; the caller runs the session, then returns the
    response object from its handler."""
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("connection already closed")
    resp = web.StreamResponse(status=101, reason="Switching Protocols", headers={
        "Connection": "Upgrade", "Upgrade": SPDY_31, HEADER_PROTOCOL_VERSION: protocol,
    })
    await resp.prepare(request)
    handler: Any = request.protocol

    async def send(data: bytes) -> None:
        if transport.is_closing():
            raise ConnectionResetError("connection closed")
        transport.write(data)
        drain = getattr(handler, "_drain_helper", None)
        if drain is not None and transport.get_write_buffer_size() > _DRAIN_THRESHOLD:
            await drain()

    async def close() -> None:
        transport.close()

    session = SpdySession(send, close)
    handler.keep_alive(False)
    handler.set_parser(_SessionFeeder(session))
    return session, resp


async def websocket_spdy(request: web.Request) -> tuple[SpdySession, web.WebSocketResponse, asyncio.Task[None]] | None:
    """Accept a WebSocket carrying `SPDY/3.1+portforward.k8s.io` (kubectl >= 1.31 port-forward); None when the
    client offered no such subprotocol (the caller must then answer with a non-101 so kubectl falls back)."""
    ws = web.WebSocketResponse(protocols=[WEBSOCKET_SPDY_PORTFORWARD], autoping=True, max_msg_size=0)
    ready = ws.can_prepare(request)
    if not ready.ok or ready.protocol != WEBSOCKET_SPDY_PORTFORWARD:
        return None
    await ws.prepare(request)

    async def send(data: bytes) -> None:
        await ws.send_bytes(data)

    async def close() -> None:
        await ws.close(code=1000)

    session = SpdySession(send, close)

    async def pump() -> None:
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    session.feed(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    session.feed(msg.data.encode())
        finally:
            session.feed_eof()

    task = asyncio.ensure_future(pump())
    return session, ws, task


async def finish_tunnel(ws: web.WebSocketResponse, task: asyncio.Task[None]) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        await ws.close(code=1000)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
        await task
