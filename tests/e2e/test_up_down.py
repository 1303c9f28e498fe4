"""`pyk8s up` / `pyk8s down`: a background cluster whose kubeconfig the real kubectl uses without flags."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_then_kubectl_then_down(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl on PATH")
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "data"
    port = str(free_port())
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("KUBECONFIG", None)
    pyk8s = [sys.executable, "-m", "pyk8s.cmd.main"]
    try:
        up = subprocess.run([*pyk8s, "up", "--data-dir", str(data), "--secure-port", port],
                            env=env, capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert (home / ".kube" / "config").exists()
        again = subprocess.run([*pyk8s, "up", "--data-dir", str(data), "--secure-port", port],
                               env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "already running" in again.stdout
        got = subprocess.run([kubectl, "get", "ns", f"--cache-dir={home}/cache"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        assert "kube-system" in got.stdout
    finally:
        down = subprocess.run([*pyk8s, "down", "--data-dir", str(data)], env=env, capture_output=True, text=True,
                              timeout=60)
    assert down.returncode == 0 and "stopped pyk8s server" in down.stdout, down.stdout + down.stderr
    assert not (data / "server.pid").exists()
