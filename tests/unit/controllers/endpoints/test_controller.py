"""The Endpoints controller over the fake client and real informers."""

from __future__ import annotations

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import ENDPOINTS, PODS, SERVICES
from pyk8s.controllers.endpoints import DESCRIPTOR, EndpointsController
from pyk8s.controllers.endpoints.tracker import StaleEndpointsCache
from tests.unit.controllers.builders import pod, service
from tests.unit.controllers.harness import Harness


async def started(world: Harness) -> EndpointsController:
    ctrl = EndpointsController(world.ctx)
    await world.start()
    await world.settle()
    return ctrl


def test_descriptor() -> None:
    assert (DESCRIPTOR.name, DESCRIPTOR.aliases) == ("endpoint", ("endpoints-controller",))


async def test_endpoints_are_written_once(world: Harness) -> None:
    svc = world.client.seed(SERVICES, service(labels={"app": "web"}))
    world.client.seed(PODS, pod("a", ip="10.0.0.1"))
    world.client.seed(PODS, pod("b", ip="10.0.0.2", ready=False))
    ctrl = await started(world)
    await ctrl.reconcile("default/web")
    ep = await world.client.get(ENDPOINTS, "web", "default")
    assert ep["metadata"]["labels"] == {"app": "web", "endpoints.kubernetes.io/managed-by": "endpoint-controller"}
    assert ep["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": svc["metadata"]["creationTimestamp"]}
    (subset,) = ep["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

    await world.settle()
    world.client.clear_actions()
    await ctrl.reconcile("default/web")
    assert world.writes("endpoints") == []


async def test_update_then_stale_cache_is_retried(world: Harness) -> None:
    world.client.seed(SERVICES, service(cluster_ip="None"))
    p = world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    await ctrl.reconcile("default/web")
    await world.settle()
    assert (await world.client.get(ENDPOINTS, "web", "default"))["metadata"]["labels"][
        "service.kubernetes.io/headless"] == ""
    p["status"]["conditions"][0]["status"] = "False"
    await world.client.update(PODS, p, subresource="status")
    await world.settle()
    await ctrl.reconcile("default/web")
    assert world.writes("endpoints")[-1] == ("update", "web")
    with pytest.raises(StaleEndpointsCache):
        await ctrl.reconcile("default/web")  # the cache still shows the version our update replaced
    await world.settle()
    world.client.clear_actions()
    await ctrl.reconcile("default/web")
    assert world.writes("endpoints") == []


async def test_deleted_service_takes_its_endpoints(world: Harness) -> None:
    world.client.seed(SERVICES, service())
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    await ctrl.reconcile("default/web")
    await world.client.delete(SERVICES, "web", "default")
    await world.settle()
    assert len(ctrl.controller.queue) >= 1
    while len(ctrl.controller.queue):
        await ctrl.controller.process_next()
    assert world.client.objects(ENDPOINTS) == []
    await ctrl.reconcile("default/web")  # already gone: fine


async def test_selectorless_external_and_kubernetes_services_are_left_alone(world: Harness) -> None:
    world.client.seed(SERVICES, service("kubernetes"))
    world.client.seed(SERVICES, service("manual", selector={}))
    world.client.seed(SERVICES, service("ext", type="ExternalName", externalName="example.com"))
    world.client.seed(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": "manual", "namespace": "default"},
                                "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]})
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    assert len(ctrl.controller.queue) == 3
    while len(ctrl.controller.queue):  # the three Services' add events
        await ctrl.controller.process_next()
    assert world.writes("endpoints") == []
    ctrl.enqueue_leftovers()
    assert len(ctrl.controller.queue) == 0  # not ours


async def test_leftover_endpoints_of_ours_are_removed(world: Harness) -> None:
    world.client.seed(ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": "old", "namespace": "default",
                                             "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"}}})
    ctrl = await started(world)
    ctrl.enqueue_leftovers()
    await ctrl.controller.process_next()
    assert world.client.objects(ENDPOINTS) == []


async def test_failed_create_is_an_event(world: Harness) -> None:
    world.client.seed(SERVICES, service())
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    world.client.fail_next("create", "endpoints", errors.InternalError("boom"))
    with pytest.raises(errors.InternalError):
        await ctrl.reconcile("default/web")
    assert await world.involved_events() == [("Warning", "FailedToCreateEndpoint",
                                     "Failed to create endpoint for service default/web: boom", "Endpoints/web")]
