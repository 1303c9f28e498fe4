"""The CRI log format and its reader (upstream kuberuntime/logs semantics)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyk8s.kubelet.cri.logs import (
    LogFormatError,
    format_line,
    format_timestamp,
    parse_line,
    parse_timestamp,
    read_logs,
    tail_offset,
)

T0 = parse_timestamp(b"2016-10-06T00:17:09.669794202Z")


def write(path: Path, *lines: tuple[int, str, bool, bytes]) -> None:
    with open(path, "ab") as f:
        for ns, stream, partial, content in lines:
            f.write(format_line(ns, stream, partial, content))


async def collect(path: Path, **kw: object) -> bytes:
    return b"".join([chunk async for chunk in read_logs(str(path), **kw)])  # type: ignore[arg-type]


def test_parse_line_and_timestamps() -> None:
    line = parse_line(b"2016-10-06T00:17:09.669794202Z stdout F hello world\n")
    assert (line.timestamp, line.stream, line.partial, line.content) == (T0, "stdout", False, b"hello world")
    assert T0 == 1475713029_669794202
    assert parse_line(b"2016-10-06T00:17:09Z stderr P ").content == b""
    assert parse_timestamp(b"2016-10-06T02:17:09.5+02:00") == 1475713029_500000000
    assert format_timestamp(T0) == "2016-10-06T00:17:09.669794202Z"
    assert format_timestamp(1475713029_000000000) == "2016-10-06T00:17:09.000000000Z"
    for bad in (b"nonsense", b"2016-10-06T00:17:09Z stdin F x", b"2016-10-06T00:17:09Z stdout X x",
                b"yesterday stdout F x"):
        with pytest.raises(LogFormatError):
            parse_line(bad)


async def test_partial_lines_joined_and_timestamps_once(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    write(p, (T0, "stdout", True, b"hel"), (T0 + 1, "stdout", False, b"lo"), (T0 + 2, "stderr", False, b"err"))
    assert await collect(p) == b"hello\nerr\n"
    assert await collect(p, timestamps=True) == (
        b"2016-10-06T00:17:09.669794202Z hello\n2016-10-06T00:17:09.669794204Z err\n")
    assert await collect(p, streams=("stderr",)) == b"err\n"


async def test_tail_since_and_limit(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    write(p, *[(T0 + i * 1_000_000_000, "stdout", False, f"line {i}".encode()) for i in range(10)])
    assert await collect(p, tail_lines=2) == b"line 8\nline 9\n"
    assert await collect(p, tail_lines=0) == b""
    assert await collect(p, tail_lines=100) == b"".join(f"line {i}\n".encode() for i in range(10))
    assert await collect(p, since_time=T0 + 7_000_000_000) == b"line 7\nline 8\nline 9\n"
    assert await collect(p, limit_bytes=10) == b"line 0\nlin"
    assert await collect(p, tail_lines=3, limit_bytes=8) == b"line 7\nl"


def test_tail_offset_without_final_newline(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"a\nb\nc")
    import os

    fd = os.open(p, os.O_RDONLY)
    try:
        assert tail_offset(fd, 1) == 4
        assert tail_offset(fd, 2) == 2
        assert tail_offset(fd, 5, block=1) == 0
    finally:
        os.close(fd)


class Follower:
    """read_logs(follow=True) of `path` in a task while `running`; collects what it yields."""

    def __init__(self, path: Path) -> None:
        self.running = True
        self.got: list[bytes] = []
        self.deadline = time.monotonic() + 5
        self.task = asyncio.create_task(self._read(path))

    async def _is_running(self) -> bool:
        return self.running

    async def _read(self, path: Path) -> None:
        async for chunk in read_logs(str(path), follow=True, is_running=self._is_running):
            self.got.append(chunk)

    async def until(self, done: Callable[[list[bytes]], bool]) -> None:
        while not done(self.got):
            assert time.monotonic() < self.deadline
            await asyncio.sleep(0.01)


async def test_follow_until_container_stops(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    write(p, (T0, "stdout", False, b"first"))
    f = Follower(p)
    await f.until(lambda got: got == [b"first\n"])
    write(p, (T0 + 1, "stdout", True, b"sec"), (T0 + 2, "stdout", False, b"ond"))
    await f.until(lambda got: got[-1:] == [b"ond\n"])
    assert not f.task.done()
    f.running = False
    write(p, (T0 + 3, "stderr", False, b"last words"))
    await asyncio.wait_for(f.task, 5)
    assert b"".join(f.got) == b"first\nsecond\nlast words\n"


async def test_follow_reopens_recreated_file(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    write(p, (T0, "stdout", False, b"old"))
    f = Follower(p)
    await f.until(bool)
    p.rename(tmp_path / "0.log.1")
    write(p, (T0 + 5, "stdout", False, b"new"))
    await f.until(lambda got: got[-1:] == [b"new\n"])
    f.running = False
    await asyncio.wait_for(f.task, 5)
