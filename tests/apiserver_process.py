"""Start a real `pyk8s apiserver` subprocess on 127.0.0.1:0 with a temporary store (StartTestServer's idea)."""

from __future__ import annotations

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
REPO = Path(__file__).resolve().parent.parent


@dataclass
class APIServerProcess:
    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    requested_port: int = 0   # 0: any free port
    port: int = 0             # the port it listens on once started
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    def start(self, timeout: float = 30.0) -> APIServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "apiserver.log"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0  # a restart appends
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyk8s.cmd.main", "apiserver", "--data-dir", str(self.data_dir),
             "--secure-port", str(self.requested_port), "--bind-address", "127.0.0.1", *self.extra_args],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            m = LISTEN_RE.search(text)
            if m:
                self.port = int(m.group(2))
                if self.ready():
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"apiserver not ready in {timeout}s:\n{self.log_path.read_bytes()[offset:][-3000:]!r}")

    def ready(self) -> bool:
        return readyz_ok(self.url)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)
