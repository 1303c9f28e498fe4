"""The service account controller against the fakes: "default" in every active namespace, re-created."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import NAMESPACES, SERVICE_ACCOUNTS
from pyk8s.controllers.serviceaccount import DESCRIPTOR
from pyk8s.controllers.serviceaccount.controller import ServiceAccountsController
from tests.unit.controllers.harness import Harness, until


@pytest.fixture
async def env() -> AsyncIterator[tuple[Harness, ServiceAccountsController]]:
    h = Harness()
    ctrl = ServiceAccountsController(h.ctx)
    await h.start()
    yield h, ctrl
    await h.stop()


def namespace(name: str, phase: str = "Active") -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": phase}}


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "serviceaccount" and DESCRIPTOR.new is ServiceAccountsController


async def test_creates_default_in_active_namespaces_only(env: tuple[Harness, ServiceAccountsController]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("team-a"))
    h.client.seed(NAMESPACES, namespace("leaving", phase="Terminating"))
    h.client.seed(NAMESPACES, namespace("has-one"))
    h.client.seed(SERVICE_ACCOUNTS, {"metadata": {"name": "default", "namespace": "has-one"}})
    await h.settle()
    for key in ("team-a", "leaving", "has-one", "missing"):
        assert await ctrl.reconcile(key) is None
    (create,) = h.actions("create", "serviceaccounts")
    assert create.namespace == "team-a"
    assert create.body == {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "default", "namespace": "team-a"}}


async def test_recreates_a_deleted_default(env: tuple[Harness, ServiceAccountsController]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("team-b"))
    h.client.seed(SERVICE_ACCOUNTS, {"metadata": {"name": "default", "namespace": "team-b"}})
    await h.settle()
    while len(ctrl.controller.queue):  # drain the initial adds
        await ctrl.controller.process_next()
    await h.client.delete(SERVICE_ACCOUNTS, "default", "team-b")
    await h.settle()
    await until(lambda: len(ctrl.controller.queue) > 0)
    assert await ctrl.controller.process_next()
    assert h.get(SERVICE_ACCOUNTS, "default", "team-b") is not None


async def test_terminating_namespace_errors_are_ignored(env: tuple[Harness, ServiceAccountsController]) -> None:
    h, ctrl = env
    h.client.seed(NAMESPACES, namespace("racing"))
    await h.settle()
    h.client.fail_next("create", "serviceaccounts", errors.Forbidden(
        "serviceaccounts \"default\" is forbidden: unable to create new content in namespace racing because it is "
        "being terminated", details={"causes": [{"reason": "NamespaceTerminating"}]}))
    assert await ctrl.reconcile("racing") is None
    h.client.fail_next("create", "serviceaccounts", errors.InternalError("boom"))
    with pytest.raises(errors.InternalError):
        await ctrl.reconcile("racing")
