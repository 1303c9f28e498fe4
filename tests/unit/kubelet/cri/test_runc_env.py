"""The environment runc runs with: one Go processor unless the operator chose otherwise."""

from __future__ import annotations

from pyk8s.kubelet.cri.runc.runc import runc_env


def test_runc_gets_one_go_processor_by_default() -> None:
    assert runc_env({"PATH": "/usr/bin"}) == {"PATH": "/usr/bin", "GOMAXPROCS": "1"}


def test_an_operators_gomaxprocs_is_kept() -> None:
    assert runc_env({"GOMAXPROCS": "4"})["GOMAXPROCS"] == "4"
