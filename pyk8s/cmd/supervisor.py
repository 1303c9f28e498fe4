"""`pyk8s server`: the control plane as separate processes, supervised.

The apiserver starts first (its listen line tells us the port when --secure-port is 0); then the
controller-manager and the scheduler each get their own client certificate and kubeconfig
(D/kube-controller-manager.kubeconfig, D/kube-scheduler.kubeconfig) and start. A child that exits is
restarted after a back-off (1 s doubling to 30 s, reset after 60 s of good running); the apiserver comes
back on the same port; a child that refuses its flags (exit 2) ends the server instead. SIGTERM stops the
components, then the apiserver (SIGTERM, then SIGKILL after a timeout), and exits; children also get SIGTERM
if the supervisor itself dies (PR_SET_PDEATHSIG), so none is ever orphaned.
Children's output goes to our stdout/stderr unchanged (the apiserver's, which we read, all to stdout).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import re
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("pyk8s.server")

LISTEN_RE = re.compile(rb"listening on https://([\d.]+):(\d+)")
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
USAGE_EXIT_CODE = 2  # click's exit code for bad flags: restarting cannot help


@dataclass
class Child:
    """One supervised component: `argv()` is called at each (re)start so flags can follow the apiserver's port."""

    name: str
    argv: Callable[[], list[str]]
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    on_line: Callable[[bytes], None] | None = None
    _pump: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        pipe = asyncio.subprocess.PIPE if self.on_line else None
        merged = asyncio.subprocess.STDOUT if self.on_line else None  # the listen line is on stderr
        self.proc = await asyncio.create_subprocess_exec(*self.argv(), stdout=pipe, stderr=merged,
                                                         stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                                                         preexec_fn=_die_with_parent)
        if self.on_line is not None:
            self._pump = asyncio.create_task(self._forward())
        print(f"pyk8s server: started {self.name} (pid {self.proc.pid})", flush=True)

    async def _forward(self) -> None:
        """Copy the child's output to ours and show each line to `on_line`. Reads chunks, not lines, so an
        overlong line can never stop the draining (a full pipe would block the child's logging)."""
        assert self.proc is not None and self.proc.stdout is not None and self.on_line is not None
        pending = b""
        while chunk := await self.proc.stdout.read(65536):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()[-4096:]
            for line in lines:
                self.on_line(line)

    async def stop(self) -> None:
        p = self.proc
        if p is None or p.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(p.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            await p.wait()
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pump, 2)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM us if the supervisor dies (even by SIGKILL), so nothing is orphaned."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_local_port() -> int:
    """A port free on 127.0.0.1 now (components' health ports; several clusters may share a machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _python_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pyk8s.cmd.main", *args]


@dataclass
class ServerConfig:
    data_dir: Path
    apiserver_args: list[str]          # flags for `pyk8s apiserver` except --secure-port
    secure_port: int
    controller_manager_args: list[str] = field(default_factory=list)
    scheduler_args: list[str] = field(default_factory=list)
    components: Sequence[str] = ("controller-manager", "scheduler")
    ready_timeout: float = 60.0


async def run_server(cfg: ServerConfig) -> None:
    from pyk8s.pki.bootstrap import ensure_component_identity

    port = cfg.secure_port
    listening = asyncio.Event()

    def on_apiserver_line(line: bytes) -> None:
        nonlocal port
        m = LISTEN_RE.search(line)
        if m:
            port = int(m.group(2))
            listening.set()

    apiserver = Child("apiserver", lambda: _python_argv("apiserver", *cfg.apiserver_args, "--secure-port", str(port)),
                      on_line=on_apiserver_line)
    children = [apiserver]
    try:
        await apiserver.start()
        await _wait_listening(apiserver, listening, cfg.ready_timeout)
        url = f"https://127.0.0.1:{port}"
        identities = {
            "controller-manager": ("kube-controller-manager", "system:kube-controller-manager", cfg.controller_manager_args),
            "scheduler": ("kube-scheduler", "system:kube-scheduler", cfg.scheduler_args),
        }
        for component in cfg.components:
            file_name, cn, extra = identities[component]
            kubeconfig = ensure_component_identity(cfg.data_dir, file_name, cn, (), server_url=url)
            children.append(Child(component, functools.partial(
                _python_argv, component, "--kubeconfig", str(kubeconfig), *extra)))
        for child in children[1:]:
            await child.start()
        print(f"pyk8s server: control plane running (apiserver {url})", flush=True)
        async with asyncio.TaskGroup() as tg:
            for child in children:
                tg.create_task(_supervise(child, listening))
    finally:
        await _stop_all(children)


async def _stop_all(children: list[Child]) -> None:
    """Stop the components, then the apiserver (so they can still release their leases), even when another
    SIGTERM arrives meanwhile: that must not leave orphans behind."""

    async def in_order() -> None:
        await asyncio.gather(*(c.stop() for c in children if c.name != "apiserver"), return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in children if c.name == "apiserver"), return_exceptions=True)

    stopping = asyncio.ensure_future(in_order())
    while not stopping.done():
        try:
            await asyncio.shield(stopping)
        except asyncio.CancelledError:
            continue


async def _wait_listening(apiserver: Child, listening: asyncio.Event, timeout: float) -> None:
    assert apiserver.proc is not None
    waiter = asyncio.create_task(listening.wait())
    exited = asyncio.create_task(apiserver.proc.wait())
    done, _ = await asyncio.wait({waiter, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    exited.cancel()
    if waiter not in done:
        code = apiserver.proc.returncode
        raise SystemExit(f"pyk8s server: apiserver {'exited with ' + str(code) if code is not None else 'did not start'}")


async def _supervise(child: Child, listening: asyncio.Event) -> None:
    backoff = 1.0
    loop = asyncio.get_running_loop()
    while True:
        assert child.proc is not None
        started = loop.time()
        code = await child.proc.wait()
        if code == USAGE_EXIT_CODE:
            raise SystemExit(f"pyk8s server: {child.name} refused its flags (see its error above)")
        if loop.time() - started > 60:
            backoff = 1.0
        print(f"pyk8s server: {child.name} exited with {code}; restarting in {backoff:.0f}s", flush=True)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 30.0)
        child.restarts += 1
        if child.name == "apiserver":
            listening.clear()
        await child.start()
