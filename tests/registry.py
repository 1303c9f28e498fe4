"""A real registry for tests: /usr/bin/docker-registry (distribution 2.8) on 127.0.0.1, storing in a temp dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY_BINARY = "/usr/bin/docker-registry"
_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {data}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
"""


@dataclass
class Registry:
    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        """host:port, the registry part of image references (127.0.0.1:PORT/library/busybox:tag)."""
        return self.url.removeprefix("http://")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def start_registry(tmpdir: str | Path, *, deadline_seconds: float = 15.0) -> Iterator[Registry]:
    """Run docker-registry until the block ends (skips the test when the binary is missing)."""
    if not os.path.exists(REGISTRY_BINARY):
        pytest.skip(f"{REGISTRY_BINARY} is not installed")
    base = Path(tmpdir) / "registry"
    (base / "data").mkdir(parents=True, exist_ok=True)
    log = open(base / "registry.log", "wb")  # closed in finally
    process: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(3):  # the free port can be taken between probing and binding
            port = _free_port()
            config = base / "config.yml"
            config.write_text(_CONFIG.format(data=base / "data", port=port))
            process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + deadline_seconds
            while time.monotonic() < deadline and process.poll() is None and not _healthy(url):
                time.sleep(0.05)
            if process.poll() is None and _healthy(url):
                break
            _stop(process)
        else:
            raise RuntimeError(f"docker-registry did not start: {(base / 'registry.log').read_text()[-2000:]}")
        assert process is not None
        yield Registry(url=url, process=process)
    finally:
        if process is not None:
            _stop(process)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
