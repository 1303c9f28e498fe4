"""Components started by hand: bad flags, a bad kubeconfig and a taken port end them with one line, non-zero."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver_process import APIServerProcess

REPO = Path(__file__).resolve().parents[2]


def pyk8s(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyk8s.cmd.main", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode != 0, res
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith(("Usage:", "Try "))]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_unknown_controller_is_refused(apiserver: APIServerProcess) -> None:
    res = pyk8s("controller-manager", "--kubeconfig", str(apiserver.kubeconfig), "--controllers", "*,bogus")
    assert res.returncode == 2
    assert '"bogus" is not in the list of known controllers' in one_line_error(res)


@pytest.mark.parametrize("component", ["controller-manager", "scheduler", "hollow-nodes"])
def test_malformed_kubeconfig_is_one_line(component: str, tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\nclusters: [}\n")
    extra = ["--count", "1"] if component == "hollow-nodes" else ["--secure-port", "0"]
    line = one_line_error(pyk8s(component, "--kubeconfig", str(bad), *extra))
    assert "kubeconfig" in line


@pytest.mark.parametrize("component", ["controller-manager", "scheduler"])
def test_taken_port_is_one_line(component: str, apiserver: APIServerProcess, taken_port: int) -> None:
    res = pyk8s(component, "--kubeconfig", str(apiserver.kubeconfig), "--secure-port", str(taken_port),
                "--leader-elect=false")
    assert f"cannot listen on 127.0.0.1:{taken_port}" in one_line_error(res)


@pytest.mark.parametrize(("args", "message"), [
    (["scheduler", "--leader-elect-renew-deadline", "20s"], "leaseDuration must be greater than renewDeadline"),
    (["controller-manager", "--leader-elect-retry-period", "9s"],
     "renewDeadline must be greater than retryPeriod*JitterFactor"),
    (["hollow-nodes", "--count", "1", "--heartbeat-interval", "0s"], "--heartbeat-interval: must be greater than zero"),
])
def test_bad_durations_are_one_line(args: list[str], message: str, apiserver: APIServerProcess) -> None:
    component, *rest = args
    assert message in one_line_error(pyk8s(component, "--kubeconfig", str(apiserver.kubeconfig), *rest))


@pytest.mark.timeout(90)
def test_server_with_a_component_flag_it_refuses_stops(tmp_path: Path) -> None:
    res = pyk8s("server", "--data-dir", str(tmp_path / "d"), "--secure-port", "0", "--bind-address", "127.0.0.1",
                "--kube-controller-manager-arg=bogus-flag=1", timeout=80)
    assert res.returncode != 0
    assert "controller-manager refused its flags" in res.stderr


def test_kubelet_bad_flags_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text("apiVersion: v1\nkind: Config\nclusters: [}\n")
    ca = tmp_path / "ca.crt"
    ca.write_text("")
    base = ["kubelet", "--kubeconfig", str(bad), "--root-dir", str(tmp_path / "root"),
            "--runtime-dir", str(tmp_path / "rt"), "--image-dir", str(tmp_path / "img")]
    assert "--client-ca-file is required" in one_line_error(pyk8s(*base))
    assert "not a network namespace" in one_line_error(pyk8s(*base, "--client-ca-file", str(ca),
                                                             "--netns", str(ca)))
    assert "must not be higher" in one_line_error(pyk8s(*base, "--client-ca-file", str(ca),
                                                        "--image-gc-high-threshold", "50",
                                                        "--image-gc-low-threshold", "60"))
    assert "kubelet: invalid kubeconfig" in one_line_error(pyk8s(*base, "--client-ca-file", str(ca)))
