"""The CRI container log format, and reading it back the way `kubectl logs` expects.

A log file holds lines `<RFC3339Nano> <stdout|stderr> <P|F> <content>\\n`; P marks a piece of a longer line
(its newline dropped), F the full line or last piece. `read_logs` follows upstream kuberuntime/logs: tail from
the file end, since-time filter, byte limit, optional timestamps (RFC3339Nano with fixed 9 digits), and follow
(polling the file, with a 1 s check of whether the container still runs; a recreated file is reopened).
"""

from __future__ import annotations

import asyncio
import calendar
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

_TS = re.compile(rb"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
FOLLOW_POLL = 0.1
RUNNING_CHECK = 1.0


class LogFormatError(ValueError):
    """A line that is not in the CRI log format."""


@dataclass
class LogLine:
    timestamp: int  # Unix ns
    stream: str  # stdout | stderr
    partial: bool
    content: bytes  # without the trailing newline


def parse_timestamp(raw: bytes) -> int:
    """RFC3339(Nano) → Unix ns."""
    m = _TS.match(raw)
    if not m:
        raise LogFormatError(f"bad timestamp {raw[:40]!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or b"").ljust(9, b"0")
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    tz = m.group(8)
    if tz != b"Z":
        sign = 1 if tz[:1] == b"+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs * 1_000_000_000 + int(frac)


def format_timestamp(ns: int) -> str:
    """RFC3339Nano with a fixed 9-digit fraction (upstream's RFC3339NanoFixed), in UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_line(line: bytes) -> LogLine:
    """One CRI log line (with or without its trailing newline)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise LogFormatError(f"unexpected log line {line[:60]!r}")
    ts, stream, tag = parts[0], parts[1], parts[2]
    content = parts[3] if len(parts) == 4 else b""
    if stream not in (b"stdout", b"stderr"):
        raise LogFormatError(f"unexpected stream type {stream[:20]!r}")
    if tag not in (b"P", b"F"):
        raise LogFormatError(f"unexpected tag {tag[:20]!r}")
    return LogLine(timestamp=parse_timestamp(ts), stream=stream.decode(), partial=tag == b"P", content=content)


def format_line(ns: int, stream: str, partial: bool, content: bytes) -> bytes:
    return f"{format_timestamp(ns)} {stream} {'P' if partial else 'F'} ".encode() + content + b"\n"


def tail_offset(f: int, lines: int, *, block: int = 8192) -> int:
    """Offset in the file (fd) where the last `lines` lines start (a final unterminated line counts)."""
    size = os.fstat(f).st_size
    if lines <= 0:
        return size
    pos = size
    count = 0
    # a trailing newline ends the last line; it does not start another
    skip_last = True
    while pos > 0:
        start = max(0, pos - block)
        chunk = os.pread(f, pos - start, start)
        for i in range(len(chunk) - 1, -1, -1):
            if chunk[i] == 0x0A:
                if skip_last and start + i == size - 1:
                    continue
                count += 1
                if count == lines:
                    return start + i + 1
        skip_last = False
        pos = start
    return 0


async def read_logs(path: str, *, follow: bool = False, tail_lines: int | None = None,
                    since_time: int | None = None, limit_bytes: int | None = None, timestamps: bool = False,
                    is_running: Callable[[], Awaitable[bool]] | None = None,
                    streams: tuple[str, ...] = ("stdout", "stderr")) -> AsyncIterator[bytes]:
    """Yield the container's output from a CRI log file, chunk by chunk (each chunk one line or piece).

    `tail_lines` counts file lines from the end (None: all), `since_time` (Unix ns) drops older lines,
    `limit_bytes` stops once that many bytes are out, `timestamps` prefixes each line with its time.
    With `follow`, waits for more until the container is no longer running (asked every second) and EOF."""
    remaining = limit_bytes if limit_bytes is not None and limit_bytes > 0 else None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        offset = tail_offset(fd, tail_lines) if tail_lines is not None and tail_lines >= 0 else 0
        buf = b""
        in_partial: dict[str, bool] = {}
        last_check = time.monotonic()
        stopping = False
        while True:
            chunk = os.pread(fd, 65536, offset)
            if chunk:
                offset += len(chunk)
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    try:
                        line = parse_line(raw)
                    except LogFormatError:
                        continue
                    if line.stream not in streams:
                        continue
                    if since_time is not None and line.timestamp < since_time:
                        continue
                    out = line.content if line.partial else line.content + b"\n"
                    if timestamps and not in_partial.get(line.stream):
                        out = format_timestamp(line.timestamp).encode() + b" " + out
                    in_partial[line.stream] = line.partial
                    if remaining is not None:
                        out = out[:remaining]
                        remaining -= len(out)
                    if out:
                        yield out
                    if remaining is not None and remaining <= 0:
                        return
                continue
            # EOF
            if not follow or stopping:
                return
            await asyncio.sleep(FOLLOW_POLL)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_ino != os.fstat(fd).st_ino or st.st_size < offset):
                # rotated or recreated: continue with the new file from its start
                os.close(fd)
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                offset, buf = 0, b""
                continue
            if st is not None and st.st_size > offset:
                last_check = time.monotonic()
                continue
            if time.monotonic() - last_check >= RUNNING_CHECK:
                last_check = time.monotonic()
                if is_running is None or not await is_running():
                    stopping = True  # one last read, then stop at EOF
    finally:
        os.close(fd)
