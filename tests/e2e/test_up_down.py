"""`pyk8s up` / `pyk8s down`: a background cluster whose kubeconfig the real kubectl uses without flags."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
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
        if os.geteuid() == 0:  # `up` started a real node with the demo Deployment: it serves, logs and execs
            _check_demo(kubectl, env, home)
    finally:
        down = subprocess.run([*pyk8s, "down", "--data-dir", str(data)], env=env, capture_output=True, text=True,
                              timeout=90)
    assert down.returncode == 0 and "stopped pyk8s server" in down.stdout, down.stdout + down.stderr
    assert not (data / "server.pid").exists()
    assert not (data / "network.json").exists()
    assert str(data) not in Path("/proc/self/mountinfo").read_text()
    assert "pyk8s-node-1" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def _check_demo(kubectl: str, env: dict[str, str], home: Path) -> None:
    def run(*args: str) -> str:
        res = subprocess.run([kubectl, f"--cache-dir={home}/cache", *args], env=env, capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0, res.stderr
        return res.stdout

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = [r.split() for r in run("get", "pods", "-l", "app=hello", "--no-headers").splitlines()]
        if len(rows) == 2 and all(r[1] == "1/1" for r in rows):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(run("get", "pods", "-o", "wide") + run("get", "events"))
    name = rows[0][0]
    assert run("exec", name, "--", "cat", "/etc/hostname").strip() == name
    page = run("exec", name, "--", "wget", "-qO-", "http://127.0.0.1:8080/")
    assert page.strip() == f"hello from {name}"
    assert "url:/" in run("logs", name)
