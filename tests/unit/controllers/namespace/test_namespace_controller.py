"""The namespace controller against the fakes: a terminating namespace is emptied (pods first, waiting for
their graceful deletion), its conditions kept current, then finalized and gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pyk8s.client.interface import Obj
from pyk8s.client.kinds import CONFIGMAPS, EVENTS, NAMESPACES, PODS, SECRETS, SERVICES
from pyk8s.controllers.namespace import DESCRIPTOR
from pyk8s.controllers.namespace.conditions import CONDITION_TYPES, ConditionUpdater
from pyk8s.controllers.namespace.controller import NamespaceController
from pyk8s.controllers.namespace.resources import deletable_resources
from tests.unit.controllers.harness import Harness

NS = "doomed"


@pytest.fixture
async def env() -> AsyncIterator[tuple[Harness, NamespaceController]]:
    h = Harness(namespace_deletion_grace_period=0)
    ctrl = NamespaceController(h.ctx)
    await h.start()
    yield h, ctrl
    await h.stop()


def conditions(ns: Obj) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in ns["status"].get("conditions") or ()}


async def seed_namespace(h: Harness, *, finalizers: list[str] | None = None) -> None:
    h.client.seed(NAMESPACES, {"metadata": {"name": NS}, "spec": {"finalizers": finalizers or ["kubernetes"]},
                               "status": {"phase": "Active"}})


async def sync(h: Harness, ctrl: NamespaceController) -> Any:
    await h.settle()
    return await ctrl.reconcile(NS)


def test_descriptor_and_resources() -> None:
    assert DESCRIPTOR.name == "namespace"
    plurals = [f"{r.plural}.{r.group}" for r in deletable_resources()]
    assert plurals[0] == "pods."
    assert plurals.count("events.") == 1 and "events.events.k8s.io" not in plurals
    assert plurals.count("horizontalpodautoscalers.autoscaling") == 1
    assert "namespaces." not in plurals and "bindings." not in plurals and "nodes." not in plurals


def test_condition_updater_messages() -> None:
    import datetime

    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    u = ConditionUpdater(now=now)
    u.content_totals({("pods", ""): 2, ("deployments", "apps"): 1}, {"example.com/hold": 1})
    status: Obj = {}
    assert u.update(status)
    got = {c["type"]: c for c in status["conditions"]}
    assert list(got) == list(CONDITION_TYPES)
    assert got["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances")
    assert got["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    assert got["NamespaceDeletionDiscoveryFailure"]["reason"] == "ResourcesDiscovered"
    assert not ConditionUpdater(now=now, conditions=list(u.conditions)).update(status), "no change, no write"


async def test_namespace_deletion_empties_and_finalizes(env: tuple[Harness, NamespaceController]) -> None:
    h, ctrl = env
    await seed_namespace(h)
    h.client.seed(PODS, {"metadata": {"name": "web", "namespace": NS},
                         "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 30,
                                  "containers": [{"name": "c", "image": "nginx"}]},
                         "status": {"phase": "Running"}})
    h.client.seed(CONFIGMAPS, {"metadata": {"name": "settings", "namespace": NS}, "data": {"a": "b"}})
    h.client.seed(SECRETS, {"metadata": {"name": "token", "namespace": NS}})
    h.client.seed(SERVICES, {"metadata": {"name": "web", "namespace": NS}, "spec": {"ports": [{"port": 80}]}})
    h.client.seed(EVENTS, {"metadata": {"name": "e1", "namespace": NS}, "reason": "Hello"})
    h.client.seed(CONFIGMAPS, {"metadata": {"name": "elsewhere", "namespace": "default"}})
    # Nothing happens to a namespace that is not being deleted.
    assert await sync(h, ctrl) is None
    assert h.actions("delete", "configmaps") == []

    await h.client.delete(NAMESPACES, NS)
    result = await sync(h, ctrl)
    # Pods first: the pod is terminating (its node has 30s), nothing else is touched yet.
    assert result.requeue_after == 16.0
    pod = h.get(PODS, "web", NS)
    assert pod is not None and pod["metadata"].get("deletionTimestamp")
    assert h.get(CONFIGMAPS, "settings", NS) is not None
    assert h.actions("delete", "configmaps") == []
    ns = h.get(NAMESPACES, NS)
    assert ns is not None
    assert ns["status"]["phase"] == "Terminating"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert conditions(ns)["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain", "Some resources are remaining: pods. has 1 resource instances")
    assert conditions(ns)["NamespaceDeletionContentFailure"] == (
        "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization")

    # The kubelet confirms the pod is gone; then everything else goes and the namespace is released.
    await h.client.delete(PODS, "web", NS, grace_period_seconds=0)
    assert await sync(h, ctrl) is None
    assert h.client.objects(CONFIGMAPS, NS) == [] and h.client.objects(SECRETS, NS) == []
    assert h.client.objects(SERVICES, NS) == [] and h.client.objects(EVENTS, NS) == []
    assert h.get(CONFIGMAPS, "elsewhere", "default") is not None
    (finalize,) = [a for a in h.client.actions if a.verb == "update" and a.subresource == "finalize"]
    assert finalize.body["spec"].get("finalizers", []) == []
    assert h.get(NAMESPACES, NS) is None, "with no finalizer left the namespace is deleted"


async def test_objects_held_by_finalizers_are_waited_for(env: tuple[Harness, NamespaceController]) -> None:
    h, ctrl = env
    await seed_namespace(h, finalizers=["kubernetes", "example.com/other"])
    h.client.seed(CONFIGMAPS, {"metadata": {"name": "held", "namespace": NS, "finalizers": ["example.com/hold"]}})
    await h.client.delete(NAMESPACES, NS)
    result = await sync(h, ctrl)
    assert result.requeue_after == 8.0  # 15s finalizer estimate / 2 + 1
    ns = h.get(NAMESPACES, NS)
    assert ns is not None
    assert conditions(ns)["NamespaceFinalizersRemaining"] == (
        "True", "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")

    held = h.get(CONFIGMAPS, "held", NS)
    assert held is not None
    held["metadata"]["finalizers"] = []
    await h.client.update(CONFIGMAPS, held)
    assert await sync(h, ctrl) is None
    ns = h.get(NAMESPACES, NS)
    assert ns is not None, "another finalizer still holds the namespace"
    assert ns["spec"]["finalizers"] == ["example.com/other"]
    assert conditions(ns)["NamespaceFinalizersRemaining"][0] == "False"


async def test_a_failing_delete_is_reported_and_retried(env: tuple[Harness, NamespaceController]) -> None:
    h, ctrl = env
    from pyk8s.api import errors

    await seed_namespace(h)
    h.client.seed(SECRETS, {"metadata": {"name": "s", "namespace": NS}})
    await h.client.delete(NAMESPACES, NS)
    h.client.fail_next("delete", "secrets", errors.Forbidden("secrets \"s\" is forbidden"))
    await h.settle()
    with pytest.raises(errors.StatusError):
        await ctrl.reconcile(NS)
    ns = h.get(NAMESPACES, NS)
    assert ns is not None
    assert conditions(ns)["NamespaceDeletionContentFailure"] == (
        "True", "ContentDeletionFailed", 'Failed to delete all resource types, 1 remaining: secrets "s" is forbidden')
    assert await sync(h, ctrl) is None
    assert h.get(NAMESPACES, NS) is None
