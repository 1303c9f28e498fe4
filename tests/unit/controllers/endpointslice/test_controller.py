"""The EndpointSlice controller over the fake client and real informers: what it writes, when it does not."""

from __future__ import annotations

import pytest

from pyk8s.api import errors
from pyk8s.client.kinds import ENDPOINT_SLICES, NODES, PODS, SERVICES
from pyk8s.controllers.endpointslice import DESCRIPTOR, EndpointSliceController
from pyk8s.controllers.endpointslice.controller import SyncError
from pyk8s.controllers.endpointslice.tracker import StaleInformerCache
from tests.unit.controllers.builders import node, pod, service
from tests.unit.controllers.harness import Harness


async def started(world: Harness) -> EndpointSliceController:
    ctrl = EndpointSliceController(world.ctx)
    await world.start()
    await world.settle()
    return ctrl


def test_descriptor() -> None:
    assert DESCRIPTOR.name == "endpointslice"
    assert "endpointslice-controller" in DESCRIPTOR.aliases


async def test_service_gets_a_slice_and_a_second_sync_writes_nothing(world: Harness) -> None:
    world.client.seed(NODES, node("node-1", zone="z1"))
    svc = world.client.seed(SERVICES, service())
    world.client.seed(PODS, pod("a", ip="10.244.0.1"))
    world.client.seed(PODS, pod("b", ip="10.244.0.2", ready=False))
    world.client.seed(PODS, pod("other", ip="10.244.0.3", labels={"app": "db"}))
    ctrl = await started(world)
    await ctrl.reconcile("default/web")
    (slice_,) = world.client.objects(ENDPOINT_SLICES, "default")
    assert slice_["metadata"]["name"].startswith("web-")
    assert slice_["metadata"]["ownerReferences"][0]["uid"] == svc["metadata"]["uid"]
    assert slice_["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] == \
        svc["metadata"]["creationTimestamp"]
    got = {ep["targetRef"]["name"]: (ep["addresses"], ep["conditions"]["ready"], ep.get("zone"))
           for ep in slice_["endpoints"]}
    assert got == {"a": (["10.244.0.1"], True, "z1"), "b": (["10.244.0.2"], False, "z1")}

    await world.settle()
    world.client.clear_actions()
    await ctrl.reconcile("default/web")
    assert world.writes("endpointslices") == []


async def test_pod_events_queue_their_services_and_changes_update_in_place(world: Harness) -> None:
    world.client.seed(NODES, node())
    world.client.seed(SERVICES, service())
    p = world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    while len(ctrl.controller.queue):
        await ctrl.controller.process_next()
    await world.settle()
    name = world.client.objects(ENDPOINT_SLICES, "default")[0]["metadata"]["name"]

    p["status"]["conditions"][0]["status"] = "False"
    await world.client.update(PODS, p, subresource="status")
    await world.settle()
    assert len(ctrl.controller.queue) == 1
    world.client.clear_actions()
    await ctrl.controller.process_next()
    assert world.writes("endpointslices") == [("update", name)]
    (slice_,) = world.client.objects(ENDPOINT_SLICES, "default")
    assert slice_["endpoints"][0]["conditions"]["ready"] is False

    # A label change on an unrelated pod concerns no Service.
    other = world.client.seed(PODS, pod("x", labels={"app": "db"}))
    await world.settle()
    while len(ctrl.controller.queue):
        await ctrl.controller.process_next()
    other["metadata"]["labels"] = {"app": "cache"}
    await world.client.update(PODS, other)
    await world.settle()
    assert len(ctrl.controller.queue) == 0


async def test_services_without_selector_or_external_are_left_alone(world: Harness) -> None:
    world.client.seed(NODES, node())
    world.client.seed(SERVICES, service("manual", selector={}))
    world.client.seed(SERVICES, service("ext", type="ExternalName", externalName="example.com"))
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    await ctrl.reconcile("default/manual")
    await ctrl.reconcile("default/ext")
    await ctrl.reconcile("default/gone")
    assert world.client.objects(ENDPOINT_SLICES) == []


async def test_a_sync_on_a_cache_older_than_our_writes_is_retried(world: Harness) -> None:
    world.client.seed(NODES, node())
    world.client.seed(SERVICES, service())
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    await ctrl.reconcile("default/web")
    with pytest.raises(StaleInformerCache):
        await ctrl.reconcile("default/web")  # the created slice is not in the cache yet
    await world.settle()
    await ctrl.reconcile("default/web")
    assert len(world.client.objects(ENDPOINT_SLICES)) == 1


async def test_failed_write_is_reported_and_retried(world: Harness) -> None:
    world.client.seed(NODES, node())
    world.client.seed(SERVICES, service())
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    world.client.fail_next("create", "endpointslices", errors.InternalError("etcd is down"))
    with pytest.raises(SyncError):
        await ctrl.reconcile("default/web")
    assert await world.involved_events() == [(
        "Warning", "FailedToUpdateEndpointSlices",
        "Error updating Endpoint Slices for Service default/web: failed to create EndpointSlice for Service "
        "default/web: etcd is down", "Service/web")]
    assert world.recorders[0].component == "endpoint-slice-controller"


async def test_deleted_slice_of_ours_is_recreated(world: Harness) -> None:
    world.client.seed(NODES, node())
    world.client.seed(SERVICES, service())
    world.client.seed(PODS, pod("a"))
    ctrl = await started(world)
    await ctrl.reconcile("default/web")
    await world.settle()
    while len(ctrl.controller.queue):
        await ctrl.controller.process_next()
    (slice_,) = world.client.objects(ENDPOINT_SLICES)
    await world.client.delete(ENDPOINT_SLICES, slice_["metadata"]["name"], "default")
    await world.settle()
    await world.step(1.0)  # slice changes are synced after upstream's 1 s delay
    assert len(ctrl.controller.queue) == 1
    await ctrl.controller.process_next()
    (again,) = world.client.objects(ENDPOINT_SLICES)
    assert again["metadata"]["name"] != slice_["metadata"]["name"]
