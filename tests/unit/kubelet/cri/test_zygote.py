"""The shim fork server: what a forked shim's process looks like, and who outlives whom.

The zygote is told to fork this module's `main` as its "shim" (it takes the module name on its command line), so
the forked child reports its own pid, session, fds, cwd and stdio over the sync fd, as a real shim reports its
container, and then waits for a `stop` file in its dir. This module imports only the standard library and the
zygote, because the zygote imports it under `python -S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pyk8s.kubelet.cri.runc.zygote import ZygoteClient, ZygoteError

REPO = Path(__file__).resolve().parents[4]


def main(argv: list[str]) -> int:
    """The "shim" forked in these tests."""
    container_dir, sync_fd = argv[0], int(argv[1])
    fds = []
    for fd in range(1024):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_GETFD)
            fds.append(fd)
    report = {"pid": os.getpid(), "sid": os.getsid(0), "ppid": os.getppid(), "fds": fds, "cwd": os.getcwd(),
              "stdio": [os.readlink(f"/proc/self/fd/{fd}") for fd in (0, 1, 2)],
              "sigchld_default": signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL}
    print("hello from the shim", flush=True)
    os.write(sync_fd, json.dumps(report).encode() + b"\n")
    os.close(sync_fd)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(container_dir, "stop")) and time.monotonic() < deadline:
        time.sleep(0.01)
    return 0


def proc_state(pid: int) -> str:
    """The state letter of a process, "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def alive(pid: int) -> bool:
    return proc_state(pid) not in ("", "Z")


async def until(pred: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Shims:
    """Zygote clients and the shims they forked; stops all of them at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.containers = tmp / "containers"
        self.containers.mkdir()
        self.clients: list[ZygoteClient] = []
        self.pids: dict[int, Path] = {}

    def client(self, *, python: str = sys.executable, module: str = __name__) -> ZygoteClient:
        zc = ZygoteClient(python=python, shim_module=module, containers_dir=str(self.containers),
                          log_path=str(self.tmp / "zygote.log"), env=dict(os.environ, PYTHONPATH=str(REPO)))
        self.clients.append(zc)
        return zc

    async def spawn(self, zc: ZygoteClient, name: str, parent: Path | None = None) -> tuple[int, dict[str, Any]]:
        cdir = (parent or self.containers) / name
        cdir.mkdir(parents=True)
        r, w = os.pipe()
        try:
            pid = await zc.spawn(str(cdir), w)
        finally:
            os.close(w)
        self.pids[pid] = cdir
        with os.fdopen(r, "rb") as f:
            line = await asyncio.wait_for(asyncio.to_thread(f.readline), 10)
        return pid, json.loads(line)

    def stop(self, pid: int) -> None:
        (self.pids[pid] / "stop").touch()

    async def cleanup(self) -> None:
        for zc in self.clients:
            await zc.close()
        for pid in self.pids:
            self.stop(pid)
        with contextlib.suppress(AssertionError):
            await until(lambda: not any(alive(p) for p in self.pids), "the shims to stop")
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def shims_in(tmp_path: Path) -> AsyncIterator[Shims]:
    s = Shims(tmp_path)
    try:
        yield s
    finally:
        await s.cleanup()


async def test_forked_shims_are_clean_session_leaders_and_get_reaped(tmp_path: Path) -> None:
    async with shims_in(tmp_path) as shims:
        zc = shims.client()
        first, report = await shims.spawn(zc, "a")
        second, report2 = await shims.spawn(zc, "b")  # the first one's pipe and dir are open in the zygote's past
        for pid, rep, name in ((first, report, "a"), (second, report2, "b")):
            log = str(shims.containers / name / "shim.log")
            assert rep["pid"] == pid and rep["sid"] == pid and rep["ppid"] == zc.pid
            assert rep["fds"] == [0, 1, 2, 3]  # no other container's fds, not the zygote's socket
            assert rep["stdio"] == ["/dev/null", log, log] and rep["cwd"] == "/" and rep["sigchld_default"]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            assert __name__.encode() in cmdline and str(shims.containers).encode() in cmdline
            assert Path(f"/proc/{pid}/comm").read_text().strip() == "pyk8s-shim"
        shims.stop(first)
        await until(lambda: proc_state(first) == "", "the zygote to reap the exited shim")
        assert "hello from the shim" in (shims.containers / "a" / "shim.log").read_text()
        assert alive(second)
        await zc.close()
        assert not alive(zc.pid) and alive(second)  # the zygote leaves when the runtime hangs up; shims stay


async def test_shims_survive_kill_9_of_the_zygote_which_is_then_given_up(tmp_path: Path) -> None:
    async with shims_in(tmp_path) as shims:
        zc = shims.client()
        pid, _ = await shims.spawn(zc, "a")
        os.kill(zc.pid, signal.SIGKILL)
        await until(lambda: not alive(zc.pid), "the zygote to die")
        assert alive(pid) and os.getsid(pid) == pid
        assert zc.usable
        try:
            await shims.spawn(zc, "b")
            raise AssertionError("spawn through a dead zygote succeeded")
        except ZygoteError as e:
            assert not e.sent  # it was never taken: the caller may exec a shim instead
        assert not zc.usable


async def test_zygote_that_cannot_start(tmp_path: Path) -> None:
    async with shims_in(tmp_path) as shims:
        for zc in (shims.client(python=str(tmp_path / "no-python")), shims.client(module="no.such.module")):
            try:
                await shims.spawn(zc, f"c{len(shims.pids)}-{id(zc)}")
                raise AssertionError("spawn without a zygote succeeded")
            except ZygoteError as e:
                assert not e.sent
            assert not zc.usable
        assert "ModuleNotFoundError" in (tmp_path / "zygote.log").read_text()


async def test_request_outside_the_containers_dir_is_declined(tmp_path: Path) -> None:
    async with shims_in(tmp_path) as shims:
        zc = shims.client()
        try:
            await shims.spawn(zc, "x", parent=tmp_path / "elsewhere")
            raise AssertionError("the zygote forked a shim for a dir outside its containers dir")
        except ZygoteError as e:
            assert not e.sent and "not a container dir" in str(e)
        assert zc.usable
        pid, report = await shims.spawn(zc, "ok")
        assert report["pid"] == pid
