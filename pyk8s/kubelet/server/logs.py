"""GET /containerLogs/{ns}/{pod}/{container}: a container's CRI log file as plain text, optionally followed.

Query parameters are those of PodLogOptions (follow, tailLines, timestamps, sinceSeconds, sinceTime, limitBytes,
previous); the apiserver relays kubectl's `pods/log` request here unchanged. The file format and the reading
(tail, since, limit, follow until the container stops) belong to `pyk8s.kubelet.cri.logs.read_logs`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from pyk8s.api.errors import BadRequest
from pyk8s.kubelet.server.remotecommand import query_bool


class LogReader(Protocol):
    def __call__(self, path: str, *, follow: bool, tail_lines: int | None, since_time: int | None,
                 limit_bytes: int | None, timestamps: bool,
                 is_running: Callable[[], Awaitable[bool]]) -> AsyncIterator[bytes]: ...


@dataclass
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_time: int | None = None  # Unix ns, as read_logs takes it
    limit_bytes: int | None = None


def _int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"invalid value {value!r} for {name}: must be an integer") from None
    if n < minimum:
        raise BadRequest(f"{name}: Invalid value: {n}: must be greater than or equal to {minimum}")
    return n


def parse_rfc3339(value: str) -> datetime.datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python's fromisoformat takes at most 6 fractional digits; Go sends up to 9.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"invalid sinceTime {value!r}: must be RFC3339") from None
    return t if t.tzinfo else t.replace(tzinfo=datetime.UTC)


def parse_log_options(query: Mapping[str, str], now: datetime.datetime | None = None) -> LogOptions:
    opts = LogOptions(follow=query_bool(query, "follow"), previous=query_bool(query, "previous"),
                      timestamps=query_bool(query, "timestamps"), tail_lines=_int(query, "tailLines", 0),
                      limit_bytes=_int(query, "limitBytes", 1))
    since_seconds = _int(query, "sinceSeconds", 1)
    since_time = query.get("sinceTime")
    if since_seconds is not None and since_time:
        raise BadRequest("at most one of sinceTime or sinceSeconds may be specified")
    since: datetime.datetime | None = None
    if since_seconds is not None:
        since = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(seconds=since_seconds)
    elif since_time:
        since = parse_rfc3339(since_time)
    if since is not None:
        delta = since - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        opts.since_time = (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    return opts


async def stream_logs(request: web.Request, path: str, opts: LogOptions, read_logs: LogReader,
                      is_running: Callable[[], Awaitable[bool]]) -> web.StreamResponse:
    """Send the log as `200 text/plain`, chunked, flushing every piece so `follow` is live.

    A log file that does not exist (yet) reads as empty."""
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    if not path or not os.path.exists(path):
        await resp.write_eof()
        return resp
    async for chunk in read_logs(path, follow=opts.follow, tail_lines=opts.tail_lines, since_time=opts.since_time,
                                 limit_bytes=opts.limit_bytes, timestamps=opts.timestamps, is_running=is_running):
        if chunk:
            await resp.write(chunk)
    await resp.write_eof()
    return resp
