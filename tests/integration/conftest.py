from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.apiserver_process import APIServerProcess
from tests.integration.http import AdminHTTP, make_default_service_account


@pytest.fixture(scope="session")
def api(apiserver: APIServerProcess) -> AdminHTTP:
    return AdminHTTP(apiserver.kubeconfig)


@pytest.fixture
def ns(api: AdminHTTP) -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:10]}"
    r = api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status == 201, r.body
    make_default_service_account(api, name)
    yield name
    api.request("DELETE", f"/api/v1/namespaces/{name}")
