"""Take over an aiohttp server connection after a ``101 Switching Protocols`` answer, as raw bytes.

The apiserver relays SPDY/3.1 upgrades (``POST`` + ``Upgrade: SPDY/3.1``) to a kubelet without
understanding SPDY: once both sides have switched protocols it only copies bytes. aiohttp has no public
hijack; this does what its WebSocketResponse does: write the 101 head through a StreamResponse that adds
no body framing, stop HTTP keep-alive, and install a payload "parser" on the connection's protocol that
receives every later byte. Writes go through the prepared response, so aiohttp's write flow control
applies. The handler must keep running until the relay is over: when it returns, aiohttp closes the
connection.

aiohttp's HTTP parser treats only ``websocket``/``tcp`` upgrades as upgrades, so bytes a client pipelines
behind the request head before it has read the 101 are parsed as HTTP and lost. SPDY clients (client-go's
SpdyRoundTripper) read the 101 before they write anything, so this does not happen with them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiohttp import web

# Pause reading from the client once this much is buffered and unread.
READ_HIGH_WATER = 1 << 20


class _UpgradeResponse(web.StreamResponse):
    """A response with a status line and headers only: no Content-Length, no chunked framing."""

    _length_check = False


class _RawFeed:
    """Stands in for aiohttp's payload parser: collects every byte the client sends after the upgrade."""

    def __init__(self, transport: asyncio.BaseTransport | None) -> None:
        self._transport = transport
        self._buffer = bytearray()
        self._eof = False
        self._ready = asyncio.Event()
        self._paused = False

    # -- the interface RequestHandler.data_received / connection_lost call --
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._buffer += data
        self._ready.set()
        if len(self._buffer) > READ_HIGH_WATER and not self._paused and isinstance(self._transport,
                                                                                    asyncio.ReadTransport):
            self._transport.pause_reading()
            self._paused = True
        return False, b""

    def feed_eof(self) -> None:
        self._eof = True
        self._ready.set()

    # -- the reading side --
    async def read(self) -> bytes:
        while not self._buffer and not self._eof:
            self._ready.clear()
            await self._ready.wait()
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._paused and isinstance(self._transport, asyncio.ReadTransport) and not self._transport.is_closing():
            self._transport.resume_reading()
            self._paused = False
        return data


class HijackedConnection:
    """Both directions of a switched-protocol client connection."""

    def __init__(self, request: web.Request, response: web.StreamResponse, feed: _RawFeed) -> None:
        self._request = request
        self._response = response
        self._feed = feed

    @property
    def response(self) -> web.StreamResponse:
        """The prepared 101 response: what the handler returns once the relay is over."""
        return self._response

    async def read(self) -> bytes:
        """The next bytes from the client; b"" once it has closed its side."""
        return await self._feed.read()

    async def write(self, data: bytes) -> None:
        if data:
            await self._response.write(data)

    def close(self) -> None:
        """Close the TCP (TLS) connection to the client."""
        transport = self._request.transport
        if transport is not None and not transport.is_closing():
            transport.close()


async def hijack(request: web.Request, headers: Iterable[tuple[str, str]], status: int = 101,
                 reason: str | None = None) -> HijackedConnection:
    """Answer ``request`` with ``status`` and ``headers`` and return the raw connection.

    ``headers`` should carry ``Connection: Upgrade`` and ``Upgrade: ...``; aiohttp adds Date and Server.
    """
    response = _UpgradeResponse(status=status, reason=reason)
    for name, value in headers:
        response.headers.add(name, value)
    response.headers.setdefault("Connection", "Upgrade")
    response.force_close()
    feed = _RawFeed(request.transport)
    # Installed before the 101 goes out, so every byte the client sends after reading it reaches the feed.
    request.protocol.set_parser(feed)  # type: ignore[arg-type]  # duck-typed like aiohttp's WebSocketReader
    request.protocol.keep_alive(False)
    await response.prepare(request)
    return HijackedConnection(request, response, feed)
