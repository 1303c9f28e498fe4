"""The raw hijack of an aiohttp server connection after a 101 answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from pyk8s.apiserver.hijack import hijack


async def _echo(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() != "spdy/3.1":
        return web.Response(status=400, text="no upgrade")
    conn = await hijack(request, [("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", "v4.channel.k8s.io")])
    while True:
        data = await conn.read()
        if not data:
            break
        await conn.write(data.upper())
    conn.close()
    return web.Response()  # never sent: the connection is already switched


@pytest.fixture
async def server() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port
    finally:
        await runner.cleanup()


UPGRADE_REQUEST = (b"POST /exec/ns/p/c?command=ls HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                   b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n")


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


async def test_raw_bytes_flow_both_ways_after_101(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(UPGRADE_REQUEST)
    head = await _read_head(reader)
    assert head.startswith(b"HTTP/1.1 101 ")
    lower = head.lower()
    assert b"upgrade: spdy/3.1\r\n" in lower and b"connection: upgrade\r\n" in lower
    assert b"x-stream-protocol-version: v4.channel.k8s.io\r\n" in lower
    assert b"transfer-encoding" not in lower and b"content-length" not in lower
    for payload in (b"hello", b"\x80\x03\x00\x01 binary \r\n\r\n GET / HTTP/1.1\r\n\r\n", b"x" * 300_000):
        writer.write(payload)
        got = await asyncio.wait_for(reader.readexactly(len(payload)), 5)
        assert got == payload.upper()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed after our EOF
    writer.close()


async def test_client_disconnect_ends_the_relay(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(UPGRADE_REQUEST)
    await _read_head(reader)
    writer.close()
    await writer.wait_closed()
    # A fresh connection is still served: the server did not wedge.
    reader2, writer2 = await asyncio.open_connection("127.0.0.1", server)
    writer2.write(UPGRADE_REQUEST)
    await _read_head(reader2)
    writer2.write(b"ok")
    assert await asyncio.wait_for(reader2.readexactly(2), 5) == b"OK"
    writer2.close()
