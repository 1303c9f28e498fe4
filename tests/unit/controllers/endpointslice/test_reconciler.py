"""The pure part of the EndpointSlice controller: Pod -> endpoint, port resolution, slice planning."""

from __future__ import annotations

from typing import Any

from pyk8s.api import meta
from pyk8s.controllers.endpointslice.reconciler import plan_endpoint_slices
from pyk8s.controllers.endpointslice.slices import CONTROLLER_NAME, endpoint_ports, pod_to_endpoint
from pyk8s.controllers.endpointslice.tracker import SliceTracker
from tests.unit.controllers.builders import node, pod, service

Obj = dict[str, Any]
NODES = {"node-1": node("node-1", zone="zone-a"), "node-2": node("node-2")}


def svc(**kw: Any) -> Obj:
    s = service(**kw)
    s["metadata"]["uid"] = "svc-uid"
    return s


def pods(n: int, **kw: Any) -> list[Obj]:
    out = []
    for i in range(n):
        p = pod(f"p{i:03d}", ip=f"10.244.{i // 250}.{i % 250 + 1}", **kw)
        p["metadata"]["uid"] = f"uid-{i}"
        out.append(p)
    return out


def plan(service_: Obj, pods_: list[Obj], existing: list[Obj] | None = None, max_per_slice: int = 100) -> Any:
    return plan_endpoint_slices(service_, pods_, NODES.get, existing or [], max_per_slice)


def stored(slices: list[Obj]) -> list[Obj]:
    """Slices as the API would return them after the writes (names for generated names)."""
    out = []
    for i, s in enumerate(slices):
        s = meta.copy(s)
        if not s["metadata"].get("name"):
            s["metadata"]["name"] = f"{s['metadata']['generateName']}gen{i}"
        out.append(s)
    return out


def addresses(slice_: Obj) -> list[str]:
    return sorted(a for ep in slice_["endpoints"] for a in ep["addresses"])


# ---- one Pod, one endpoint ----
def test_endpoint_of_a_ready_pod() -> None:
    p = pod("a", hostname="a", subdomain="web")
    p["metadata"]["uid"] = "u1"
    ep = pod_to_endpoint(p, NODES["node-1"], svc(), "IPv4")
    assert ep == {"addresses": ["10.244.0.1"], "conditions": {"ready": True, "serving": True, "terminating": False},
                  "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "u1"},
                  "nodeName": "node-1", "zone": "zone-a", "hostname": "a"}


def test_terminating_and_unready_conditions() -> None:
    going = pod("a")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert pod_to_endpoint(going, None, svc(), "IPv4")["conditions"] == \
        {"ready": False, "serving": True, "terminating": True}
    assert pod_to_endpoint(going, None, svc(publishNotReadyAddresses=True), "IPv4")["conditions"]["ready"] is True
    unready = pod("b", ready=False)
    assert pod_to_endpoint(unready, None, svc(), "IPv4")["conditions"] == \
        {"ready": False, "serving": False, "terminating": False}
    assert "zone" not in pod_to_endpoint(pod("c", node="node-2"), NODES["node-2"], svc(), "IPv4")


def test_ports_resolve_numbers_and_names() -> None:
    named = [{"name": "http", "containerPort": 9090, "protocol": "TCP"},
             {"name": "dns", "containerPort": 53, "protocol": "UDP"}]
    p = pod("a", ports=named)
    s = svc(ports=[{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"},
                   {"name": "missing", "port": 81, "targetPort": "nope", "protocol": "TCP"}])
    assert endpoint_ports(s, p) == [{"name": "web", "protocol": "TCP", "port": 9090}]
    assert endpoint_ports(svc(ports=[], cluster_ip="None"), p) == []


# ---- planning ----
def test_new_service_gets_one_slice() -> None:
    s = svc(labels={"tier": "front"})
    result = plan(s, pods(3))
    assert not result.update and not result.delete and not result.errors
    (created,) = result.create
    assert created["metadata"]["generateName"] == "web-"
    assert created["metadata"]["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                                             "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert created["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                       "uid": "svc-uid", "controller": True,
                                                       "blockOwnerDeletion": True}]
    assert created["addressType"] == "IPv4"
    assert created["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    assert addresses(created) == ["10.244.0.1", "10.244.0.2", "10.244.0.3"]


def test_headless_service_is_labelled() -> None:
    created = plan(svc(cluster_ip="None"), pods(1)).create[0]
    assert created["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_no_pods_means_one_placeholder_that_is_kept() -> None:
    result = plan(svc(), [])
    (placeholder,) = result.create
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []
    assert plan(svc(), [], stored(result.create)).empty()


def test_unchanged_pods_write_nothing() -> None:
    s = svc()
    first = stored(plan(s, pods(5)).create)
    assert plan(s, pods(5), first).empty()


def test_max_endpoints_per_slice() -> None:
    result = plan(svc(), pods(250))
    assert sorted(len(s["endpoints"]) for s in result.create) == [50, 100, 100]


def test_pods_whose_named_ports_differ_go_to_different_slices() -> None:
    s = svc(ports=[{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    a = pods(2, ports=[{"name": "http", "containerPort": 8080}])
    b = pod("z", ip="10.244.9.9", ports=[{"name": "http", "containerPort": 9090}])
    result = plan(s, [*a, b])
    by_port = {sl["ports"][0]["port"]: addresses(sl) for sl in result.create}
    assert by_port == {8080: ["10.244.0.1", "10.244.0.2"], 9090: ["10.244.9.9"]}


def test_a_changed_endpoint_is_updated_in_place() -> None:
    s = svc()
    existing = stored(plan(s, pods(3)).create)
    now = pods(3)
    now[1]["status"]["conditions"][0]["status"] = "False"
    result = plan(s, now, existing)
    assert not result.create and not result.delete
    (updated,) = result.update
    assert updated["metadata"]["name"] == existing[0]["metadata"]["name"]
    ready = {ep["targetRef"]["name"]: ep["conditions"]["ready"] for ep in updated["endpoints"]}
    assert ready == {"p000": True, "p001": False, "p002": True}
    assert existing[0]["endpoints"][1]["conditions"]["ready"] is True  # the cached slice is untouched


def test_leftover_endpoints_fill_the_unchanged_slice_they_fit_best() -> None:
    s = svc()
    all_pods = pods(151)
    existing = stored(plan(s, all_pods[:150]).create)  # 100 + 50
    result = plan(s, all_pods, existing)
    assert not result.create and not result.delete
    (updated,) = result.update
    assert len(updated["endpoints"]) == 51


def test_emptied_slice_is_reused_for_new_endpoints() -> None:
    s = svc()
    old = stored(plan(s, pods(2)).create)
    newcomers = [pod("n1", ip="10.250.0.1"), pod("n2", ip="10.250.0.2")]
    result = plan(s, newcomers, old)
    assert not result.create and not result.delete
    (reused,) = result.update
    assert reused["metadata"]["name"] == old[0]["metadata"]["name"]
    assert addresses(reused) == ["10.250.0.1", "10.250.0.2"]


def test_service_label_change_updates_slices() -> None:
    existing = stored(plan(svc(), pods(1)).create)
    result = plan(svc(labels={"new": "label"}), pods(1), existing)
    (updated,) = result.update
    assert updated["metadata"]["labels"]["new"] == "label"


def test_pod_on_an_unknown_node_is_skipped_with_an_error() -> None:
    lost = pod("lost", node="gone")
    result = plan(svc(), [lost, *pods(1)])
    assert result.errors == ["skipping Pod lost for Service default/web: Node gone Not Found"]
    assert addresses(result.create[0]) == ["10.244.0.1"]
    published = plan(svc(publishNotReadyAddresses=True), [lost])
    assert not published.errors and addresses(published.create[0]) == ["10.244.0.1"]


def test_pods_without_ip_or_finished_are_left_out() -> None:
    result = plan(svc(), [pod("noip", ip=None), pod("done", phase="Succeeded"), *pods(1)])
    assert [ep["targetRef"]["name"] for ep in result.create[0]["endpoints"]] == ["p000"]


def test_slices_of_someone_else_or_of_a_dropped_family_are_deleted() -> None:
    s = svc()
    foreign = stored(plan(s, pods(1)).create)[0]
    foreign["metadata"]["ownerReferences"][0]["uid"] = "old-service"
    v6 = stored(plan(s, pods(1)).create)[0]
    v6["metadata"]["name"] = "web-v6"
    v6["addressType"] = "IPv6"
    result = plan(s, pods(1), [foreign, v6])
    assert [x["metadata"]["name"] for x in result.delete] == [foreign["metadata"]["name"]]
    assert [x["metadata"]["name"] for x in result.delete_unsupported] == ["web-v6"]
    assert len(result.create) == 1  # a foreign slice is never reused


# ---- trackers ----
def test_slice_tracker_detects_a_lagging_cache() -> None:
    t = SliceTracker()
    s = svc()
    created = stored(plan(s, pods(1)).create)[0]
    created["metadata"].update({"uid": "s1", "generation": 1})
    assert not t.stale_slices(s, [])
    t.update(created)
    assert t.stale_slices(s, [])  # our create is not in the cache yet
    assert not t.stale_slices(s, [created])
    assert not t.should_sync(created)  # our own write: no new sync
    newer = meta.copy(created)
    newer["metadata"]["generation"] = 2
    assert t.should_sync(newer)  # someone else changed it
    t.expect_deletion(created)
    assert t.stale_slices(s, [created])
    assert t.handle_deletion(created)
    assert not t.stale_slices(s, [])
