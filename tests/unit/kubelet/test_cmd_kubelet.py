"""pyk8s.cmd.kubelet: subprocess exits are watched through pidfds (no thread per child on Python 3.11)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator

import pytest

from pyk8s.cmd.kubelet import watch_children_with_pidfds


@pytest.fixture
def restore_child_watcher() -> Iterator[None]:
    yield
    if sys.version_info < (3, 12):
        asyncio.set_child_watcher(None)  # the next loop gets a default watcher of its own again


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 picks pidfds itself")
async def test_subprocess_exits_are_seen_without_a_thread_per_child(restore_child_watcher: None) -> None:
    if not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd_open")
    assert watch_children_with_pidfds()
    threads = threading.active_count()
    procs = [await asyncio.create_subprocess_exec("sh", "-c", f"sleep 0.2; exit {n}") for n in range(5)]
    assert threading.active_count() == threads  # the default watcher would run one thread per child
    assert await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 10) == [0, 1, 2, 3, 4]
    proc = await asyncio.create_subprocess_exec("sh", "-c", "echo out", stdout=asyncio.subprocess.PIPE)
    assert await asyncio.wait_for(proc.communicate(), 10) == (b"out\n", None)
    assert proc.returncode == 0
