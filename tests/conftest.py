"""Shared fixtures: a real apiserver subprocess per test session, and a kubectl runner."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver_process import APIServerProcess

SDK_BIN = Path("/usr/lib/google-cloud-sdk/bin")


def kubectl_versions() -> list[str]:
    """Every versioned kubectl binary on the machine (1.27 ... 1.33)."""
    return sorted(p.name for p in SDK_BIN.glob("kubectl.1.*")) if SDK_BIN.exists() else []


@pytest.fixture(scope="session")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    server = APIServerProcess(tmp_path_factory.mktemp("apiserver")).start()
    try:
        yield server
    finally:
        server.stop()


# stderr lines the real kubectl prints on its own against any real cluster (not caused by the server's answers).
EXPECTED_STDERR = (
    re.compile(r"^WARNING: version difference between client \(1\.\d+\) and server \(1\.33\) exceeds the supported "
               r"minor version skew of \+/-1$"),
    # kubectl 1.27's own notice on `kubectl version`
    re.compile(r"^WARNING: This version information is deprecated and will be replaced with the output from kubectl "
               r"version --short\.  Use --output=yaml\|json to get the full version\.$"),
    # kubectl 1.30-1.33's WebSocket exec starts reading before it has registered its streams, so the empty first
    # stdout message every server sends (the kubelet and the apiserver's stream translator alike) can arrive too
    # early and be dropped with this line; client-go fixed it in 1.34 (streams created before the read loop)
    re.compile(r"^E\d{4} [\d:.]+\s+\d+ websocket\.go:\d+\] Unknown stream id 1, discarding message$"),
)


def unexpected_stderr(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if line.strip() and not any(p.match(line) for p in EXPECTED_STDERR)]


class Kubectl:
    def __init__(self, binary: str, kubeconfig: Path, home: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(kubeconfig)}
        self.cache = home / "cache"

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60,
            env: dict[str, str] | None = None, allow_stderr: bool = False) -> subprocess.CompletedProcess[str]:
        """Run kubectl; with `check`, a non-zero exit or any stderr line upstream would not print fails the test."""
        cmd = [self.binary, f"--cache-dir={self.cache}", *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                             env={**self.env, **(env or {})})
        if check and res.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        if check and not allow_stderr and unexpected_stderr(res.stderr):
            raise AssertionError(f"kubectl {' '.join(args)} printed to stderr:\n{res.stderr}")
        return res

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]

    @contextlib.contextmanager
    def temp_namespace(self, prefix: str = "t") -> Iterator[str]:
        """A fresh namespace for one test, deleted afterwards (without waiting: there is no namespace
        controller yet to empty it)."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self("create", "namespace", name)
        # What the serviceaccount controller makes: pods need their account (ServiceAccount admission), and
        # against a lone apiserver no controller-manager runs. With one, it may have been quicker.
        made = self.run("create", "serviceaccount", "default", "-n", name, check=False)
        if made.returncode != 0 and "already exists" not in made.stderr:
            raise AssertionError(f"kubectl create serviceaccount failed:\n{made.stdout}\n{made.stderr}")
        try:
            yield name
        finally:
            self.run("delete", "namespace", name, "--wait=false", check=False)
