"""Exec and attach streaming: the client's WebSocket channels or SPDY streams become a `StreamIO` for the runtime.

Upstream: kubernetes pkg/kubelet/cri/streaming/remotecommand (httpstream.go, websocket.go, exec.go). Query
parameters are `input`, `output`, `error`, `tty` (and `command`, repeated, for exec). With `tty` stderr is dropped
and stdout carries both. Over SPDY the client opens one stream per `streamtype` header (error, stdin, stdout,
stderr, resize) and the server waits for all it expects. The outcome goes to the error channel/stream: a Status
(Success, or Failure with reason NonZeroExitCode and an ExitCode cause) in v4/v5, only an error text before v4.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pyk8s.api.errors import BadRequest
from pyk8s.kubelet.cri.interface import CRIError, NotFoundError, StreamIO, TerminalSize
from pyk8s.kubelet.server import channels
from pyk8s.kubelet.server.spdy import SpdySession, SpdyStream
from pyk8s.kubelet.server.upgrade import is_spdy_upgrade, is_websocket_upgrade, negotiate, upgrade_to_spdy

log = logging.getLogger(__name__)

# What the upstream kubelet speaks over SPDY (v5 exists only for WebSockets).
SPDY_PROTOCOLS = [channels.V4, channels.V3, channels.V2, channels.V1]
STREAM_CREATION_TIMEOUT = 30.0
# After the status is written the client closes the connection itself; close it anyway after this long.
_PEER_CLOSE_GRACE = 2.0

NON_ZERO_EXIT_CODE = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"

# The runtime call: exec returns the exit code, attach returns None.
Runner = Callable[[StreamIO], Awaitable[int | None]]

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str, name: str) -> bool:
    """Go's strconv.ParseBool."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"invalid boolean value {value!r} for query parameter {name!r}")


def query_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return default
    return parse_bool(value, name)


@dataclass
class StreamOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> StreamOptions:
        opts = cls(stdin=query_bool(query, "input"), stdout=query_bool(query, "output"),
                   stderr=query_bool(query, "error"), tty=query_bool(query, "tty"))
        if opts.tty and opts.stderr:
            opts.stderr = False  # stdout carries both, as upstream
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise BadRequest("you must specify at least 1 of stdin, stdout, stderr")
        return opts


# ---- statuses ----

def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int, command: list[str] | None) -> dict[str, Any]:
    detail = f"error executing command {command}, exit code {code}" if command else f"exit code {code}"
    return {
        "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: {detail}",
        "reason": NON_ZERO_EXIT_CODE,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def failure_status(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500}


async def _run(run: Runner, io: StreamIO, command: list[str] | None, closed: asyncio.Event) -> dict[str, Any] | None:
    """Run the runtime call; None when the client went away first (the call is cancelled)."""
    task = asyncio.ensure_future(run(io))
    gone = asyncio.ensure_future(closed.wait())
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None
    try:
        code = task.result()
    except (NotFoundError, CRIError) as e:
        return failure_status(str(e))
    except Exception as e:  # whatever failed, the client must hear about it on the error stream
        log.exception("streaming runtime call failed")
        return failure_status(f"internal error: {e}")
    if code:
        return exit_code_status(code, command)
    return success_status()


def _status_bytes(status: dict[str, Any], version: int) -> bytes:
    """v4+: the Status JSON always; before v4: the message, only on failure."""
    if version >= 4:
        return json.dumps(status, separators=(",", ":")).encode()
    return b"" if status.get("status") == "Success" else str(status.get("message", "")).encode()


def _parse_resize(buf: bytearray) -> list[TerminalSize]:
    """Pop complete JSON values off `buf` (the resize stream is a sequence of them)."""
    out: list[TerminalSize] = []
    decoder = json.JSONDecoder()
    text = buf.decode(errors="replace")
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        pos = end
        if isinstance(value, dict):
            out.append(TerminalSize(width=int(value.get("Width", 0)), height=int(value.get("Height", 0))))
    del buf[:len(text[:pos].encode())]
    return out


# ---- entry point ----

async def serve(request: web.Request, opts: StreamOptions, run: Runner, command: list[str] | None = None
                ) -> web.StreamResponse:
    """Upgrade the request (WebSocket channels or SPDY) and stream until the runtime call ends."""
    if is_websocket_upgrade(request):
        conn = await channels.accept(request, channels.EXEC_PROTOCOLS)
        if conn is None:
            # A non-101 answer is what makes client-go retry over SPDY.
            raise BadRequest("unable to upgrade connection: unsupported WebSocket subprotocol")
        await _serve_websocket(conn, opts, run, command)
        return conn.ws
    if is_spdy_upgrade(request):
        protocol = negotiate(request, SPDY_PROTOCOLS)
        session, resp = await upgrade_to_spdy(request, protocol)
        await _serve_spdy(session, channels.protocol_version(protocol), opts, run, command)
        return resp
    raise BadRequest("Upgrade request required")


async def _serve_websocket(conn: channels.ChannelConnection, opts: StreamOptions, run: Runner,
                           command: list[str] | None) -> None:
    try:
        # An empty message on the lowest writable channel tells the client the streams are ready (upstream does so).
        first = channels.STDOUT if opts.stdout else channels.STDERR if opts.stderr else channels.ERROR
        await conn.write(first, b"")

        async def stdin() -> AsyncIterator[bytes]:
            while data := await conn.read(channels.STDIN):
                yield data

        async def resize() -> AsyncIterator[TerminalSize]:
            buf = bytearray()
            while data := await conn.read(channels.RESIZE):
                buf += data
                for size in _parse_resize(buf):
                    yield size

        async def out(data: bytes) -> None:
            await conn.write(channels.STDOUT, data)

        async def err(data: bytes) -> None:
            await conn.write(channels.STDERR, data)

        io = StreamIO(stdin=stdin() if opts.stdin else None, stdout=out if opts.stdout else None,
                      stderr=err if opts.stderr else None, tty=opts.tty,
                      resize=resize() if opts.tty and conn.version >= 3 else None)
        status = await _run(run, io, command, conn.closed)
        if status is not None:
            payload = _status_bytes(status, conn.version)
            if payload:
                with contextlib.suppress(ConnectionError, OSError):
                    await conn.write(channels.ERROR, payload)
    finally:
        await conn.close(1000)


async def _collect_streams(session: SpdySession, expected: int, timeout: float) -> dict[str, SpdyStream]:
    streams: dict[str, SpdyStream] = {}

    async def collect() -> None:
        while len(streams) < expected:
            stream = await session.accept()
            if stream is None:
                raise ConnectionResetError("connection closed while waiting for streams")
            kind = stream.header("streamtype")
            if kind in ("error", "stdin", "stdout", "stderr", "resize"):
                streams[kind] = stream
            else:
                await stream.send_reset()

    await asyncio.wait_for(collect(), timeout)
    return streams


async def _serve_spdy(session: SpdySession, version: int, opts: StreamOptions, run: Runner,
                      command: list[str] | None) -> None:
    expected = 1 + opts.stdin + opts.stdout + opts.stderr + (1 if opts.tty and version >= 3 else 0)
    try:
        try:
            streams = await _collect_streams(session, expected, STREAM_CREATION_TIMEOUT)
        except (TimeoutError, ConnectionResetError) as e:
            log.info("exec/attach: streams not created: %s", e)
            return
        stdin_s, stdout_s, stderr_s = streams.get("stdin"), streams.get("stdout"), streams.get("stderr")
        resize_s, error_s = streams.get("resize"), streams.get("error")

        async def stdin() -> AsyncIterator[bytes]:
            assert stdin_s is not None
            while data := await stdin_s.read():
                yield data

        async def resize() -> AsyncIterator[TerminalSize]:
            assert resize_s is not None
            buf = bytearray()
            while data := await resize_s.read():
                buf += data
                for size in _parse_resize(buf):
                    yield size

        io = StreamIO(stdin=stdin() if stdin_s is not None else None,
                      stdout=stdout_s.write if stdout_s is not None else None,
                      stderr=stderr_s.write if stderr_s is not None and not opts.tty else None,
                      tty=opts.tty, resize=resize() if resize_s is not None else None)
        status = await _run(run, io, command, session.closed)
        for s in (stdout_s, stderr_s):
            if s is not None:
                await s.close_write()
        if status is not None and error_s is not None:
            payload = _status_bytes(status, version)
            with contextlib.suppress(ConnectionError, OSError):
                if payload:
                    await error_s.write(payload)
            await error_s.close_write()
            # The client closes the connection once it has read everything; do not cut it off before that.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(session.closed.wait(), _PEER_CLOSE_GRACE)
    finally:
        await session.close()
