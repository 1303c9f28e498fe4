"""A whole control plane for e2e tests: `pyk8s server` (apiserver + controller-manager + scheduler) and
`pyk8s hollow-nodes`, each a real subprocess on 127.0.0.1 with a temporary data dir.

Stopping is by PID only: the server and hollow-nodes processes we started, and, as a safety net, the
component PIDs the server reported starting ("started <name> (pid N)").
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyk8s.cmd.up import readyz_ok

LISTEN_RE = re.compile(r"listening on https://([\d.]+):(\d+)")
CHILD_RE = re.compile(r"started ([\w-]+) \(pid (\d+)\)")
REPO = Path(__file__).resolve().parent.parent


def _spawn(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "pyk8s.cmd.main", *args], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        log.close()


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@dataclass
class ClusterProcess:
    data_dir: Path
    server_args: list[str] = field(default_factory=list)
    hollow_nodes: int = 3
    hollow_args: list[str] = field(default_factory=list)
    server: subprocess.Popen[bytes] | None = None
    hollow: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def server_log(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 60.0) -> ClusterProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.server = _spawn(["server", "--data-dir", str(self.data_dir), "--secure-port", "0",
                              "--bind-address", "127.0.0.1", "--disable-agent", *self.server_args], self.server_log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(self.server_log.read_text(errors="replace"))
            if m and readyz_ok(f"https://127.0.0.1:{m.group(2)}"):
                self.port = int(m.group(2))
                break
            if self.server.poll() is not None:
                raise RuntimeError(f"pyk8s server exited:\n{self.server_log.read_text()[-3000:]}")
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"pyk8s server not ready:\n{self.server_log.read_text()[-3000:]}")
        if self.hollow_nodes:
            self.start_hollow_nodes()
        return self

    def start_hollow_nodes(self) -> None:
        self.hollow = _spawn(["hollow-nodes", "--kubeconfig", str(self.kubeconfig), "--count", str(self.hollow_nodes),
                              *self.hollow_args], self.data_dir / "hollow.log")

    def component_pids(self) -> dict[str, int]:
        """The latest PID the server reported for each component."""
        text = self.server_log.read_text(errors="replace") if self.server_log.exists() else ""
        return {name: int(pid) for name, pid in CHILD_RE.findall(text)}

    def stop(self) -> None:
        _stop(self.hollow)
        pids = self.component_pids()
        _stop(self.server)
        for pid in pids.values():  # the server stops its children; this only catches a leftover
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if _is_ours(pid):
                    os.kill(pid, signal.SIGKILL)

    def logs(self) -> str:
        parts = [self.server_log.read_text(errors="replace")[-4000:] if self.server_log.exists() else ""]
        hollow_log = self.data_dir / "hollow.log"
        if hollow_log.exists():
            parts.append(hollow_log.read_text(errors="replace")[-2000:])
        return "\n---\n".join(parts)


def _is_ours(pid: int) -> bool:
    """A leftover component is still a pyk8s process (the PID was not reused by something else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"pyk8s.cmd.main" in cmdline
