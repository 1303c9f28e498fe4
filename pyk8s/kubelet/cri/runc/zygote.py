"""The shim fork server ("zygote"): container shims forked from a warm Python instead of exec'd afresh.

Starting a Python interpreter and importing the shim costs tens of milliseconds of CPU per container. The
runtime instead starts this module once (on its first container create) as
`python -S -m pyk8s.kubelet.cri.runc.zygote <control fd> <shim module> <containers dir>`; it imports the shim
module, then serves requests on the control socket (one end of a SOCK_SEQPACKET socketpair, one message per
request and per reply): a request is {"dir": <container dir>} with the shim's sync fd passed alongside
(SCM_RIGHTS); the zygote forks, and the child does what an exec'd shim's start does (new session, stdin
/dev/null, stdout and stderr to <container dir>/shim.log, the sync fd as fd 3, every other fd closed, cwd /)
and runs the shim's main. The reply is {"pid": <shim pid>} or {"error": ...}. The first message the zygote sends
is {"ready": true}.

Forked shims have the zygote's command line, which names the shim module and the containers dir, so tools that
find shims by their command line find these too. A shim is its own session leader, so it outlives the zygote
and the kubelet; the zygote exits (leaving its shims running) when the runtime's end of the socket closes, as it
does when the kubelet dies. The server side is standard library only and single-threaded (it forks).
`ZygoteClient` is the runtime's side; it imports asyncio where it uses it, so that the zygote (which runs this
module) does not load asyncio into itself and every shim.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib  # noqa: F401  (warm: the shim imports it to name its attach socket)
import importlib
import json
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import asyncio

ZYGOTE_MODULE = "pyk8s.kubelet.cri.runc.zygote"
MAX_MESSAGE = 64 * 1024
SHIM_SYNC_FD = 3
PR_SET_NAME = 15
ZYGOTE_START_TIMEOUT = 30.0
SPAWN_TIMEOUT = 30.0


def _set_process_name(name: bytes) -> None:
    """The comm name `ps` and /proc/<pid>/stat show (the command line stays the zygote's)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


def _reap_children(*_: Any) -> None:
    """SIGCHLD: collect exited shims (their CPU time then counts as the zygote's children's)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_shim(control: socket.socket, container_dir: str, sync_fd: int,
                 shim_main: Callable[[list[str]], int]) -> NoReturn:
    """In the forked child: set up the process as the exec'd shim would have it, run the shim, exit."""
    code = 1
    try:
        control.detach()  # closed below with every other fd; the object must never close a reused number
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # as a fresh interpreter has it
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        log = os.open(os.path.join(container_dir, "shim.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        sync = os.dup(sync_fd)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        if sync != SHIM_SYNC_FD:
            os.dup2(sync, SHIM_SYNC_FD)
        # Nothing of the zygote's (its socket, other containers' sync pipes) may leak into a shim or its container.
        os.closerange(SHIM_SYNC_FD + 1, max(SHIM_SYNC_FD + 2, resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
        os.chdir("/")
        _set_process_name(b"pyk8s-shim")
        code = shim_main([container_dir, str(SHIM_SYNC_FD)])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        with contextlib.suppress(BaseException):
            import traceback  # only on this path: the shim does not need it otherwise

            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _fork_shim(control: socket.socket, request: bytes, fds: list[int], containers_dir: str,
               shim_main: Callable[[list[str]], int]) -> dict[str, Any]:
    try:
        container_dir = str(json.loads(request)["dir"])
    except (ValueError, KeyError, TypeError):
        return {"error": "bad request"}
    if len(fds) != 1:
        return {"error": f"expected 1 fd, got {len(fds)}"}
    if os.path.dirname(os.path.abspath(container_dir)) != containers_dir:
        return {"error": f"{container_dir} is not a container dir under {containers_dir}"}
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    try:
        pid = os.fork()
    except OSError as e:
        return {"error": f"fork: {e}"}
    if pid == 0:
        _become_shim(control, container_dir, fds[0], shim_main)
    return {"pid": pid}


def serve(control: socket.socket, containers_dir: str, shim_main: Callable[[list[str]], int]) -> None:
    """Answer requests until the runtime hangs up."""
    control.send(b'{"ready": true}')
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(control, MAX_MESSAGE, 4)
        except OSError:
            return
        if not msg and not fds:
            return  # the runtime's end is closed: the kubelet is gone or done with us
        try:
            reply = _fork_shim(control, msg, fds, containers_dir, shim_main)
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        try:
            control.send(json.dumps(reply).encode())
        except OSError:
            return


def main(argv: list[str]) -> int:
    control_fd, shim_module, containers_dir = argv
    shim_main = importlib.import_module(shim_module).main
    control = socket.socket(fileno=int(control_fd))
    signal.signal(signal.SIGCHLD, _reap_children)  # no other signal is touched: the shims inherit the rest
    _set_process_name(b"pyk8s-zygote")
    gc.freeze()  # what is imported now stays shared with every shim: keep the collector from touching it
    serve(control, os.path.abspath(containers_dir), shim_main)
    return 0


# --- the runtime's side ----------------------------------------------------------------------------------------


class ZygoteError(Exception):
    """The zygote could not be used. `sent`: the request reached it, so a shim may have been forked."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class ZygoteClient:
    """Starts the zygote on first use and asks it for shims, one request at a time. Once it failed (could not
    start, died, misbehaved) it stays failed: `usable` is False and the caller execs shims itself."""

    def __init__(self, *, python: str, shim_module: str, containers_dir: str, log_path: str,
                 env: dict[str, str]) -> None:
        self.python = python
        self.shim_module = shim_module
        self.containers_dir = containers_dir
        self.log_path = log_path
        self.env = env
        self.usable = True
        self.pid = 0
        self._sock: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._lock: asyncio.Lock | None = None

    async def spawn(self, container_dir: str, sync_fd: int) -> int:
        """Fork a shim for `container_dir` reporting on `sync_fd` (the caller keeps and closes its copy); the shim's
        pid. Raises ZygoteError; unless the zygote only declined this one request, the client is no longer usable.
        A cancelled caller does not cancel the exchange (the reply must be read, or the next caller would get it)."""
        import asyncio

        if self._lock is None:
            self._lock = asyncio.Lock()
        task = asyncio.ensure_future(self._spawn(self._lock, container_dir, os.dup(sync_fd)))
        task.add_done_callback(_consume)
        return await asyncio.shield(task)

    async def _spawn(self, lock: asyncio.Lock, container_dir: str, sync_fd: int) -> int:
        import asyncio

        async with lock:
            sent = False
            try:
                if not self.usable:
                    raise ZygoteError("the zygote failed earlier", sent=False)
                if self._sock is None:
                    await self._start()
                assert self._sock is not None
                await self._send(self._sock, json.dumps({"dir": container_dir}).encode(), [sync_fd])
                sent = True
                os.close(sync_fd)
                sync_fd = -1
                reply = await asyncio.wait_for(self._recv(self._sock), SPAWN_TIMEOUT)
                if "pid" not in reply:  # it forked nothing (say, fork failed) and is still fine
                    raise ZygoteError(f"zygote: {reply.get('error', reply)}", sent=False)
                return int(reply["pid"])
            except (OSError, ValueError, TypeError, KeyError, TimeoutError, EOFError) as e:
                self._fail()
                raise ZygoteError(f"zygote: {type(e).__name__}: {e}", sent=sent) from None
            finally:
                if sync_fd >= 0:
                    os.close(sync_fd)

    async def _start(self) -> None:
        import asyncio

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with open(self.log_path, "ab") as log:
                self._proc = await asyncio.create_subprocess_exec(
                    self.python, "-S", "-m", ZYGOTE_MODULE, str(theirs.fileno()), self.shim_module,
                    self.containers_dir, pass_fds=(theirs.fileno(),), start_new_session=True,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd="/", env=self.env)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.pid = self._proc.pid
        ours.setblocking(False)
        self._sock = ours
        hello = await asyncio.wait_for(self._recv(ours), ZYGOTE_START_TIMEOUT)
        if hello != {"ready": True}:
            raise ValueError(f"unexpected greeting {hello!r}")

    @staticmethod
    async def _send(sock: socket.socket, payload: bytes, fds: list[int]) -> None:
        import asyncio

        loop = asyncio.get_running_loop()
        while True:
            try:
                socket.send_fds(sock, [payload], fds)
                return
            except BlockingIOError:
                ready: asyncio.Future[None] = loop.create_future()
                loop.add_writer(sock.fileno(), _wake, ready)
                try:
                    await ready
                finally:
                    loop.remove_writer(sock.fileno())

    @staticmethod
    async def _recv(sock: socket.socket) -> dict[str, Any]:
        import asyncio

        data = await asyncio.get_running_loop().sock_recv(sock, MAX_MESSAGE)
        if not data:
            raise EOFError("the zygote hung up")
        reply = json.loads(data)
        if not isinstance(reply, dict):
            raise ValueError(f"unexpected reply {reply!r}")
        return reply

    def _fail(self) -> None:
        """Give up on the zygote: stop it (its shims are in their own sessions and stay)."""
        self.usable = False
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()

    async def close(self, timeout: float = 5.0) -> None:
        """Hang up; the zygote exits and its shims keep running."""
        import asyncio

        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self.usable = False
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            if self._proc is not None:
                try:
                    await asyncio.wait_for(self._proc.wait(), timeout)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        self._proc.kill()
                    await self._proc.wait()


def _consume(task: asyncio.Future[int]) -> None:
    """Retrieve the outcome of an exchange whose caller was cancelled (so nothing logs it as lost)."""
    if not task.cancelled():
        task.exception()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
