"""SPDY/3.1 as Kubernetes streaming uses it: frame codec, header-block compression and a server-side session.

The kubelet speaks SPDY for exec/attach (kubectl <= 1.29 and the fallback of newer ones) and for port-forward
(directly, or tunnelled in WebSocket binary messages by kubectl >= 1.31). Only what moby/spdystream (client-go's
peer) needs is implemented: the server accepts streams the client opens, answers each with SYN_REPLY before any
data, moves DATA both ways, echoes PINGs, honours RST_STREAM and GOAWAY, and ignores SETTINGS and WINDOW_UPDATE
(spdystream does no flow-control accounting). Bytes come in through `SpdySession.feed` in arbitrary slices, and go
out through an async `send` callable, so the same session runs over a hijacked TCP connection or inside a
WebSocket tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

VERSION = 3

# Control frame types (SPDY/3 §2.6).
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes.
RST_PROTOCOL_ERROR = 1
RST_INVALID_STREAM = 2
RST_REFUSED_STREAM = 3
RST_CANCEL = 5
RST_INTERNAL_ERROR = 6

MAX_DATA_LENGTH = 0xFFFFFF

# The zlib dictionary of SPDY draft 3 §2.6.10.1: length-prefixed header names and values, then a run of raw text.
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin",
)
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
HEADER_DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICTIONARY_WORDS) + _DICTIONARY_TAIL.encode()

Headers = dict[str, list[str]]


class SpdyProtocolError(Exception):
    """The peer sent bytes that are not valid SPDY/3.1; the session ends with GOAWAY(PROTOCOL_ERROR)."""


# ---- frames ----

@dataclass
class ControlFrame:
    type: int
    flags: int
    payload: bytes


@dataclass
class DataFrame:
    stream_id: int
    flags: int
    data: bytes


Frame = ControlFrame | DataFrame


def encode_control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_DATA_LENGTH:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def encode_data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    if len(data) > MAX_DATA_LENGTH:
        raise ValueError("data frame too large")
    return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data


class FrameDecoder:
    """Splits a byte stream fed in arbitrary slices into frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            word0, word1 = struct.unpack_from(">II", self._buf)
            length = word1 & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = word1 >> 24
            if word0 & 0x80000000:
                version = (word0 >> 16) & 0x7FFF
                if version != VERSION:
                    raise SpdyProtocolError(f"unsupported SPDY version {version}")
                frames.append(ControlFrame(word0 & 0xFFFF, flags, payload))
            else:
                frames.append(DataFrame(word0, flags, payload))
        return frames


# ---- header blocks ----

def encode_header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block: count, then length-prefixed lower-case names and NUL-joined values."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        n = name.lower().encode()
        v = b"\x00".join(x.encode() for x in values)
        out.append(struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v)
    return b"".join(out)


def decode_header_block(block: bytes) -> Headers:
    try:
        (count,) = struct.unpack_from(">I", block)
        pos = 4
        headers: Headers = {}
        for _ in range(count):
            (nlen,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + nlen].decode()
            pos += 4 + nlen
            (vlen,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + vlen].decode()
            pos += 4 + vlen
            if not name or name != name.lower() or name in headers:
                raise SpdyProtocolError(f"invalid header name {name!r}")
            headers[name] = value.split("\x00")
    except (struct.error, UnicodeDecodeError) as e:
        raise SpdyProtocolError(f"malformed header block: {e}") from e
    return headers


class HeaderCompressor:
    """One zlib stream per direction for the whole connection, each block ended by a sync flush."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(9, zdict=HEADER_DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._z.compress(encode_header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=HEADER_DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data)
        except zlib.error as e:
            raise SpdyProtocolError(f"header decompression failed: {e}") from e
        return decode_header_block(block)


# ---- session ----

@dataclass
class SpdyStream:
    """A stream the client opened. `read` returns b"" at the client's FIN or a reset."""

    session: SpdySession
    id: int
    headers: Headers
    _incoming: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    remote_closed: bool = False
    local_closed: bool = False
    reset: bool = False

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    async def read(self) -> bytes:
        if self._incoming.empty() and (self.remote_closed or self.reset):
            return b""
        return await self._incoming.get()

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset:
            raise ConnectionResetError(f"stream {self.id} is closed")
        view = memoryview(data)
        while view:
            chunk, view = view[:MAX_DATA_LENGTH], view[MAX_DATA_LENGTH:]
            await self.session.send_raw(encode_data(self.id, bytes(chunk)))

    async def close_write(self) -> None:
        """Half-close: an empty DATA frame with FIN."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        with contextlib.suppress(ConnectionError):
            await self.session.send_raw(encode_data(self.id, b"", fin=True))

    async def send_reset(self, status: int = RST_CANCEL) -> None:
        if self.reset:
            return
        self._mark_reset()
        with contextlib.suppress(ConnectionError):
            await self.session.send_raw(encode_control(RST_STREAM, 0, struct.pack(">II", self.id, status)))

    def _deliver(self, data: bytes, fin: bool) -> None:
        if self.remote_closed or self.reset:
            return
        if data:
            self._incoming.put_nowait(data)
        if fin:
            self.remote_closed = True
            self._incoming.put_nowait(b"")

    def _mark_reset(self) -> None:
        if not self.reset:
            self.reset = True
            self._incoming.put_nowait(b"")


Sender = Callable[[bytes], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]


class SpdySession:
    """The server side of a SPDY/3.1 connection.

    Feed incoming bytes with `feed`/`feed_eof`; take client-opened streams with `accept` (each already answered
    with SYN_REPLY); `close` sends GOAWAY and closes the transport.
    """

    def __init__(self, send: Sender, close: Closer) -> None:
        self._send = send
        self._close_transport = close
        self._decoder = FrameDecoder()
        self._compressor = HeaderCompressor()
        self._decompressor = HeaderDecompressor()
        self._lock = asyncio.Lock()
        self._streams: dict[int, SpdyStream] = {}
        self._accepted: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._last_good_id = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = asyncio.Event()
        self._goaway_sent = False

    # -- output --

    async def send_raw(self, data: bytes) -> None:
        if self.closed.is_set():
            raise ConnectionResetError("SPDY connection closed")
        async with self._lock:
            await self._send(data)

    async def _send_syn_reply(self, stream: SpdyStream) -> None:
        async with self._lock:
            # Compress inside the lock: the zlib stream must see blocks in the order they go on the wire.
            payload = struct.pack(">I", stream.id) + self._compressor.compress({})
            if not self.closed.is_set():
                await self._send(encode_control(SYN_REPLY, 0, payload))

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except (ConnectionError, OSError) as e:
                log.debug("spdy send failed: %s", e)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- input --

    def feed(self, data: bytes) -> None:
        if self.closed.is_set():
            return
        try:
            for frame in self._decoder.feed(data):
                self._handle(frame)
        except SpdyProtocolError as e:
            log.info("spdy protocol error: %s", e)
            self._spawn(self.close(status=RST_PROTOCOL_ERROR))

    def feed_eof(self) -> None:
        self._shutdown()

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is None:
                return
            stream._deliver(frame.data, bool(frame.flags & FLAG_FIN))
            return
        p = frame.payload
        if frame.type == SYN_STREAM:
            if len(p) < 10:
                raise SpdyProtocolError("short SYN_STREAM")
            stream_id = struct.unpack_from(">I", p)[0] & 0x7FFFFFFF
            headers = self._decompressor.decompress(p[10:])
            if stream_id in self._streams or stream_id % 2 == 0:
                self._spawn(self._reset_unknown(stream_id, RST_PROTOCOL_ERROR))
                return
            stream = SpdyStream(self, stream_id, headers)
            if frame.flags & FLAG_FIN:
                stream.remote_closed = True
                stream._incoming.put_nowait(b"")
            if frame.flags & FLAG_UNIDIRECTIONAL:
                stream.local_closed = True
            self._streams[stream_id] = stream
            self._last_good_id = max(self._last_good_id, stream_id)
            self._spawn(self._send_syn_reply(stream))
            self._accepted.put_nowait(stream)
        elif frame.type == HEADERS:
            # Header blocks must still pass through the decompressor to keep the zlib stream in step.
            if len(p) >= 4:
                self._decompressor.decompress(p[4:])
        elif frame.type == SYN_REPLY:
            if len(p) >= 4:
                self._decompressor.decompress(p[4:])
        elif frame.type == RST_STREAM:
            if len(p) == 8:
                sid = struct.unpack_from(">I", p)[0] & 0x7FFFFFFF
                stream = self._streams.get(sid)
                if stream is not None:
                    stream._mark_reset()
        elif frame.type == PING:
            if len(p) == 4 and struct.unpack(">I", p)[0] % 2 == 1:
                self._spawn(self.send_raw(encode_control(PING, 0, p)))
        elif frame.type == GOAWAY:
            self._shutdown()
        # SETTINGS, WINDOW_UPDATE and unknown control frames are ignored.

    async def _reset_unknown(self, stream_id: int, status: int) -> None:
        await self.send_raw(encode_control(RST_STREAM, 0, struct.pack(">II", stream_id, status)))

    # -- streams and lifecycle --

    async def accept(self) -> SpdyStream | None:
        """The next stream the client opened, or None once the connection is gone."""
        if self.closed.is_set() and self._accepted.empty():
            return None
        stream = await self._accepted.get()
        if stream is None:
            self._accepted.put_nowait(None)
        return stream

    def _shutdown(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in self._streams.values():
            stream._mark_reset()
        self._accepted.put_nowait(None)

    async def close(self, status: int = 0) -> None:
        """GOAWAY(last good id, status), then close the transport. Idempotent."""
        if not self._goaway_sent and not self.closed.is_set():
            self._goaway_sent = True
            with contextlib.suppress(ConnectionError, OSError):
                await self.send_raw(encode_control(GOAWAY, 0, struct.pack(">II", self._last_good_id, status)))
        self._shutdown()
        with contextlib.suppress(ConnectionError, OSError):
            await self._close_transport()
