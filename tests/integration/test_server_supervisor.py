"""`pyk8s server` runs each component as its own process, with its own identity, and never leaves one behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.cluster_process import ClusterProcess


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def wait_components(cluster: ClusterProcess) -> dict[str, int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = cluster.component_pids()
        if {"apiserver", "controller-manager", "scheduler"} <= pids.keys():
            return pids
        time.sleep(0.1)
    raise AssertionError(f"components not started:\n{cluster.logs()}")


@pytest.mark.timeout(120)
def test_components_have_their_own_identity_and_a_double_sigterm_stops_them_all(tmp_path: Path) -> None:
    cluster = ClusterProcess(tmp_path / "srv", hollow_nodes=0).start()
    try:
        pids = wait_components(cluster)
        assert len(set(pids.values())) == 3
        for name in ("kube-controller-manager", "kube-scheduler"):
            text = (cluster.data_dir / f"{name}.kubeconfig").read_text()
            assert f"system:{name}" in text and f"https://127.0.0.1:{cluster.port}" in text
        assert cluster.server is not None
        cluster.server.send_signal(signal.SIGTERM)
        # A second signal while the shutdown is under way (one component already gone) must not orphan the rest.
        deadline = time.monotonic() + 30
        while all(alive(p) for p in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        cluster.server.send_signal(signal.SIGTERM)
        cluster.server.wait(timeout=60)
        leftovers = {n: p for n, p in pids.items() if alive(p)}
        assert not leftovers, f"components left running: {leftovers}"
    finally:
        cluster.stop()
