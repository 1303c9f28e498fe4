"""e2e fixtures: the real kubectl binaries of every version on the machine, against a real apiserver."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apiserver_process import APIServerProcess
from tests.conftest import SDK_BIN, Kubectl, kubectl_versions


def _binaries() -> list[str]:
    found = [str(SDK_BIN / name) for name in kubectl_versions()]
    default = shutil.which("kubectl")
    if default:
        found.append(default)
    return found


@pytest.fixture(params=_binaries() or ["missing"], ids=lambda p: Path(p).name)
def any_kubectl(request: pytest.FixtureRequest, apiserver: APIServerProcess, tmp_path: Path) -> Kubectl:
    if request.param == "missing":
        pytest.skip("no kubectl binary on this machine")
    return Kubectl(request.param, apiserver.kubeconfig, tmp_path)


@pytest.fixture
def any_namespace(any_kubectl: Kubectl) -> Iterator[str]:
    with any_kubectl.temp_namespace() as name:
        yield name
