"""The Kubernetes WebSocket channel protocol (apimachinery wsstream, client-go remotecommand/websocket.go).

Every binary message is one channel byte followed by payload; `base64.channel.k8s.io` instead sends text messages
of an ASCII digit followed by base64. Exec/attach use channels 0 stdin, 1 stdout, 2 stderr, 3 error (a Status in
v4/v5, plain text before), 4 resize (v3+, JSON `{"Width","Height"}`). In v5 the client half-closes a channel with
the message [0xFF, channel] (kubectl sends [0xFF, 0] when its stdin ends). A normal close (1000) ends everything.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from typing import Any

from aiohttp import WSMsgType, web

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
# The order a server prefers them in when the client offers several.
EXEC_PROTOCOLS = [V5, V4, V3, V2, V1, V1_BASE64]

STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE = 255

_VERSIONS = {V5: 5, V4: 4, V3: 3, V2: 2, V1: 1, V1_BASE64: 1}


def protocol_version(protocol: str) -> int:
    """5, 4, 3, 2 or 1 (channel.k8s.io and base64.channel.k8s.io)."""
    return _VERSIONS[protocol]


def encode_message(protocol: str, channel: int, data: bytes) -> bytes | str:
    if protocol == V1_BASE64:
        return chr(ord("0") + channel) + base64.b64encode(data).decode()
    return bytes([channel]) + data


def decode_message(protocol: str, msg: bytes | str) -> tuple[int, bytes] | None:
    """(channel, payload) of one message; None for an empty or undecodable one."""
    if isinstance(msg, str):
        if not msg:
            return None
        try:
            return ord(msg[0]) - ord("0"), base64.b64decode(msg[1:]) if len(msg) > 1 else b""
        except ValueError:
            return None
    if not msg:
        return None
    return msg[0], bytes(msg[1:])


class ChannelConnection:
    """One accepted WebSocket, split into inbound channel queues (b"" marks a channel's end) and channel writes."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.version = protocol_version(protocol) if protocol in _VERSIONS else 4
        self._inbound: dict[int, asyncio.Queue[bytes]] = {}
        self._ended: set[int] = set()
        self._lock = asyncio.Lock()
        self.closed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    def inbound(self, channel: int) -> asyncio.Queue[bytes]:
        queue = self._inbound.get(channel)
        if queue is None:
            queue = self._inbound[channel] = asyncio.Queue()
            if self.closed.is_set():
                queue.put_nowait(b"")
        return queue

    async def read(self, channel: int) -> bytes:
        """Next payload on `channel`; b"" once the client closed it or the connection."""
        if channel in self._ended and self.inbound(channel).empty():
            return b""
        data = await self.inbound(channel).get()
        if not data:
            self._ended.add(channel)
        return data

    def start(self) -> None:
        self._reader = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                decoded = decode_message(self.protocol, msg.data)
                if decoded is None:
                    continue
                channel, payload = decoded
                if channel == CLOSE and self.version >= 5:
                    if payload:
                        self._end(payload[0])
                    continue
                if payload and channel not in self._ended:
                    self.inbound(channel).put_nowait(payload)
        finally:
            self.closed.set()
            for ch in list(self._inbound):
                self._end(ch)

    def _end(self, channel: int) -> None:
        queue = self.inbound(channel)
        if channel not in self._ended:
            queue.put_nowait(b"")

    async def write(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            raise ConnectionResetError("websocket closed")
        msg = encode_message(self.protocol, channel, data)
        async with self._lock:
            if isinstance(msg, str):
                await self.ws.send_str(msg)
            else:
                await self.ws.send_bytes(msg)

    async def close(self, code: int = 1000) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self.ws.close(code=code)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await self._reader


async def accept(request: web.Request, protocols: list[str]) -> ChannelConnection | None:
    """Complete the WebSocket handshake with the first of `protocols` the client offered (in server order).

    None when the client offered none of them: the caller must answer with a non-101 status, which is what makes
    client-go fall back to SPDY. A client that offers no subprotocol at all gets `channel.k8s.io`, as upstream.
    """
    offered = [p.strip() for h in request.headers.getall("Sec-WebSocket-Protocol", []) for p in h.split(",")]
    offered = [p for p in offered if p]
    if offered:
        chosen = next((p for p in protocols if p in offered), None)
        if chosen is None:
            return None
    else:
        chosen = None
    ws = web.WebSocketResponse(protocols=[chosen] if chosen else (), autoping=True, max_msg_size=0)
    if not ws.can_prepare(request).ok:
        return None
    await ws.prepare(request)
    conn = ChannelConnection(ws, chosen or V1)
    conn.start()
    return conn


def status_json(status: dict[str, Any]) -> bytes:
    return json.dumps(status, separators=(",", ":")).encode()
