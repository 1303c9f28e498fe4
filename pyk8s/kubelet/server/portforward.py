"""Port-forward streaming: client connections become TCP connections inside the pod's network namespace.

Upstream: kubernetes pkg/kubelet/cri/streaming/portforward (httpstream.go, websocket.go). Over SPDY (a plain
`Upgrade: SPDY/3.1` POST, or SPDY tunnelled in the WebSocket subprotocol `SPDY/3.1+portforward.k8s.io`) each
forwarded connection is a pair of client-opened streams with headers `streamtype` (error|data), `port` and
`requestid`; bytes flow both ways on the data stream and a failure is written as text on the error stream. The
older WebSocket protocol (`v4.channel.k8s.io` with `?port=N` repeated) gives each port a data channel 2i and an
error channel 2i+1, each starting with the port as two little-endian bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from pyk8s.api.errors import BadRequest
from pyk8s.kubelet.server import channels
from pyk8s.kubelet.server.spdy import SpdySession, SpdyStream
from pyk8s.kubelet.server.upgrade import (
    finish_tunnel,
    is_spdy_upgrade,
    is_websocket_upgrade,
    negotiate,
    upgrade_to_spdy,
    websocket_spdy,
)

log = logging.getLogger(__name__)

PORTFORWARD_PROTOCOL = "portforward.k8s.io"
WEBSOCKET_PROTOCOLS = [channels.V4]
_COPY_CHUNK = 32 * 1024

# The runtime call: open a connection to `port` inside the pod.
Dialer = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


@dataclass
class _Pair:
    request_id: str
    data: SpdyStream | None = None
    error: SpdyStream | None = None


def error_message(port: int, pod: str, uid: str, err: object) -> str:
    return f"error forwarding port {port} to pod {pod}, uid {uid}: {err}"


async def serve(request: web.Request, dial: Dialer, pod: str, uid: str = "") -> web.StreamResponse:
    """Upgrade (SPDY, WebSocket-tunnelled SPDY, or the v4 channel protocol) and forward until the client leaves.

    `pod` and `uid` only appear in error messages (upstream's CRI streaming server names the sandbox id there).
    """
    if is_websocket_upgrade(request):
        offered = request.headers.get("Sec-WebSocket-Protocol", "")
        if "SPDY/3.1+portforward.k8s.io" in offered:
            tunnel = await websocket_spdy(request)
            if tunnel is None:
                raise BadRequest("unable to upgrade connection")
            session, ws, pump = tunnel
            try:
                await _serve_spdy(session, dial, pod, uid)
            finally:
                await finish_tunnel(ws, pump)
            return ws
        return await _serve_channels(request, dial, pod, uid)
    if is_spdy_upgrade(request):
        negotiate(request, [PORTFORWARD_PROTOCOL])
        session, resp = await upgrade_to_spdy(request, PORTFORWARD_PROTOCOL)
        try:
            await _serve_spdy(session, dial, pod, uid)
        finally:
            await session.close()
        return resp
    raise BadRequest("Upgrade request required")


def _request_id(stream: SpdyStream) -> str:
    rid = stream.header("requestid")
    if rid:
        return rid
    # Old clients send no requestid: the error stream is opened first, its data stream two ids later.
    return str(stream.id - 2 if stream.header("streamtype") == "data" else stream.id)


async def _serve_spdy(session: SpdySession, dial: Dialer, pod: str, uid: str) -> None:
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.accept()) is not None:
            kind = stream.header("streamtype")
            if kind not in ("data", "error"):
                await stream.send_reset()
                continue
            rid = _request_id(stream)
            pair = pairs.setdefault(rid, _Pair(rid))
            if kind == "data":
                pair.data = stream
            else:
                pair.error = stream
            if pair.data is not None and pair.error is not None:
                del pairs[rid]
                task = asyncio.ensure_future(_forward_pair(pair.data, pair.error, dial, pod, uid))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _forward_pair(data: SpdyStream, error: SpdyStream, dial: Dialer, pod: str, uid: str) -> None:
    port_text = data.header("port")
    try:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        await _report(error, f"invalid port {port_text!r}")
        await data.send_reset()
        return
    try:
        reader, writer = await dial(port)
    except Exception as e:  # every dial failure goes back to the client as text
        await _report(error, error_message(port, pod, uid, e))
        await data.close_write()
        return
    try:
        await _pump_both(data.read, data.write, data.close_write, reader, writer)
    except Exception as e:
        await _report(error, error_message(port, pod, uid, e))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
        await data.close_write()
        await error.close_write()


async def _report(error: SpdyStream, message: str) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        await error.write(message.encode())
    await error.close_write()


async def _pump_both(client_read: Callable[[], Awaitable[bytes]], client_write: Callable[[bytes], Awaitable[None]],
                     client_close: Callable[[], Awaitable[None]],
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy both ways; ends when the pod side has finished (the client's half-close only half-closes the socket)."""

    async def upstream() -> None:
        while data := await client_read():
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()

    up = asyncio.ensure_future(upstream())
    try:
        while data := await reader.read(_COPY_CHUNK):
            await client_write(data)
        await client_close()
    finally:
        up.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await up


# ---- the old WebSocket channel protocol ----

async def _serve_channels(request: web.Request, dial: Dialer, pod: str, uid: str) -> web.StreamResponse:
    ports: list[int] = []
    for value in request.query.getall("port", []):
        try:
            port = int(value)
        except ValueError:
            raise BadRequest(f"unable to parse {value!r} as a port") from None
        if not 0 < port < 65536:
            raise BadRequest(f"port {port} must be > 0 and < 65536")
        ports.append(port)
    if not ports:
        raise BadRequest("query parameter \"port\" is required")
    conn = await channels.accept(request, WEBSOCKET_PROTOCOLS)
    if conn is None:
        raise BadRequest("unable to upgrade connection: unsupported WebSocket subprotocol")
    try:
        for i, port in enumerate(ports):
            prefix = struct.pack("<H", port)
            await conn.write(2 * i, prefix)
            await conn.write(2 * i + 1, prefix)
        tasks = [asyncio.ensure_future(_forward_channel(conn, i, port, dial, pod, uid)) for i, port in enumerate(ports)]
        gone = asyncio.ensure_future(conn.closed.wait())
        await asyncio.wait([gone, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if not gone.done():
            await asyncio.wait([gone, *tasks], return_when=asyncio.ALL_COMPLETED)
        for t in (gone, *tasks):
            t.cancel()
    finally:
        await conn.close(1000)
    return conn.ws


async def _forward_channel(conn: channels.ChannelConnection, index: int, port: int, dial: Dialer,
                           pod: str, uid: str) -> None:
    data_ch, error_ch = 2 * index, 2 * index + 1
    try:
        reader, writer = await dial(port)
    except Exception as e:
        with contextlib.suppress(ConnectionError, OSError):
            await conn.write(error_ch, error_message(port, pod, uid, e).encode())
        return

    async def read() -> bytes:
        return await conn.read(data_ch)

    async def write(data: bytes) -> None:
        await conn.write(data_ch, data)

    async def close() -> None:
        return None

    try:
        await _pump_both(read, write, close, reader, writer)
    except Exception as e:
        with contextlib.suppress(ConnectionError, OSError):
            await conn.write(error_ch, error_message(port, pod, uid, e).encode())
    finally:
        writer.close()
