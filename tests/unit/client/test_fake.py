"""FakeClient keeps objects the way the apiserver does where components depend on it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import Action, FakeClient
from pyk8s.client.interface import WatchEvent
from pyk8s.client.kinds import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, NODES, PODS, REPLICA_SETS, SERVICE_ACCOUNTS


def pod(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}}}}


async def test_create_fills_system_metadata_and_returns_copies() -> None:
    fake = FakeClient()
    created = await fake.create(PODS, pod("a"))
    md = created["metadata"]
    assert md["uid"] and md["creationTimestamp"].endswith("Z")
    assert md["resourceVersion"] == "1" and md["generation"] == 1
    created["metadata"]["labels"]["app"] = "mutated"
    got = await fake.get(PODS, "a", "default")
    assert got["metadata"]["labels"] == {"app": "web"}
    second = await fake.create(PODS, pod("b"))
    assert int(second["metadata"]["resourceVersion"]) > int(md["resourceVersion"])
    assert fake.actions[0] == Action("create", "pods", "default", "a", "", pod("a"), "")


async def test_generate_name_already_exists_and_not_found() -> None:
    fake = FakeClient()
    obj = pod("")
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    created = await fake.create(PODS, obj)
    assert created["metadata"]["name"].startswith("web-") and len(created["metadata"]["name"]) == 9
    await fake.create(PODS, pod("x"))
    with pytest.raises(errors.AlreadyExists) as e:
        await fake.create(PODS, pod("x"))
    assert str(e.value) == 'pods "x" already exists'
    with pytest.raises(errors.NotFound) as nf:
        await fake.get(DEPLOYMENTS, "nope", "default")
    assert str(nf.value) == 'deployments.apps "nope" not found'
    with pytest.raises(errors.NotFound):
        await fake.delete(PODS, "nope", "default")


async def test_update_conflict_on_stale_resource_version() -> None:
    fake = FakeClient()
    d = await fake.create(DEPLOYMENTS, deployment("web"))
    d2 = dict(d, spec={**d["spec"], "replicas": 3})
    updated = await fake.update(DEPLOYMENTS, d2)
    assert updated["metadata"]["generation"] == 2
    with pytest.raises(errors.Conflict) as e:
        await fake.update(DEPLOYMENTS, d2)  # still carries the old resourceVersion
    assert str(e.value) == ('Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
                            'please apply your changes to the latest version and try again')


async def test_main_update_ignores_status_and_status_update_only_changes_status() -> None:
    fake = FakeClient()
    d = await fake.create(DEPLOYMENTS, deployment("web"))
    d["status"] = {"replicas": 5}
    d["metadata"]["labels"] = {"x": "y"}
    after = await fake.update(DEPLOYMENTS, d)
    assert "status" not in after and after["metadata"]["labels"] == {"x": "y"}
    assert after["metadata"]["generation"] == 1  # only metadata changed
    after["status"] = {"replicas": 2}
    after["spec"]["replicas"] = 9
    after["metadata"]["labels"] = {"changed": "no"}
    st = await fake.update(DEPLOYMENTS, after, subresource="status")
    assert st["status"] == {"replicas": 2}
    assert st["spec"]["replicas"] == 1 and st["metadata"]["labels"] == {"x": "y"}
    assert st["metadata"]["generation"] == 1


async def test_noop_update_keeps_resource_version() -> None:
    fake = FakeClient()
    cm = await fake.create(CONFIGMAPS, {"metadata": {"name": "c", "namespace": "default"}, "data": {"a": "1"}})
    again = await fake.update(CONFIGMAPS, cm)
    assert again["metadata"]["resourceVersion"] == cm["metadata"]["resourceVersion"]
    assert "generation" not in cm["metadata"]  # no status subresource: no generation


async def test_scale_subresource() -> None:
    fake = FakeClient()
    await fake.create(REPLICA_SETS, {"metadata": {"name": "rs", "namespace": "default"},
                                     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}}})
    scale = await fake.get(REPLICA_SETS, "rs", "default", subresource="scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"] == {"replicas": 0, "selector": "app=a"}
    scale["spec"]["replicas"] = 4
    out = await fake.update(REPLICA_SETS, scale, subresource="scale")
    assert out["spec"]["replicas"] == 4
    rs = await fake.get(REPLICA_SETS, "rs", "default")
    assert rs["spec"]["replicas"] == 4 and rs["metadata"]["generation"] == 2
    with pytest.raises(errors.Conflict):
        await fake.update(REPLICA_SETS, scale, subresource="scale")
    patched = await fake.patch(REPLICA_SETS, "rs", {"spec": {"replicas": 1}}, "default", subresource="scale")
    assert patched["spec"]["replicas"] == 1


async def test_patch_types() -> None:
    fake = FakeClient()
    await fake.create(PODS, pod("a"))
    p = await fake.patch(PODS, "a", {"metadata": {"labels": {"tier": "x"}}}, "default")
    assert p["metadata"]["labels"] == {"app": "web", "tier": "x"}
    p = await fake.patch(PODS, "a", [{"op": "remove", "path": "/metadata/labels/tier"}], "default",
                         patch_type="json")
    assert p["metadata"]["labels"] == {"app": "web"}
    p = await fake.patch(PODS, "a", {"spec": {"containers": [{"name": "d", "image": "x"}]}}, "default",
                         patch_type="strategic")
    assert [c["name"] for c in p["spec"]["containers"]] == ["d", "c"]
    p = await fake.patch(PODS, "a", {"status": {"phase": "Running"}}, "default", subresource="status")
    assert p["status"] == {"phase": "Running"}
    with pytest.raises(errors.Conflict):
        await fake.patch(PODS, "a", {"metadata": {"resourceVersion": "1"}}, "default")


async def test_finalizers_hold_deletion_until_removed() -> None:
    fake = FakeClient()
    cm = {"metadata": {"name": "c", "namespace": "default", "finalizers": ["example.com/x"]}}
    await fake.create(CONFIGMAPS, cm)
    held = await fake.delete(CONFIGMAPS, "c", "default")
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["deletionGracePeriodSeconds"] == 0
    with pytest.raises(errors.Invalid):
        await fake.patch(CONFIGMAPS, "c", {"metadata": {"finalizers": ["example.com/x", "new"]}}, "default")
    held["metadata"]["finalizers"] = []
    await fake.update(CONFIGMAPS, held)
    assert fake.objects(CONFIGMAPS) == []


async def test_propagation_policies_add_finalizers() -> None:
    fake = FakeClient()
    await fake.create(DEPLOYMENTS, deployment("fg"))
    await fake.create(DEPLOYMENTS, deployment("or"))
    fg = await fake.delete(DEPLOYMENTS, "fg", "default", propagation_policy="Foreground")
    assert fg["metadata"]["finalizers"] == ["foregroundDeletion"] and fg["metadata"]["generation"] == 2
    orphan = await fake.delete(DEPLOYMENTS, "or", "default", propagation_policy="Orphan")
    assert orphan["metadata"]["finalizers"] == ["orphan"]
    await fake.create(DEPLOYMENTS, deployment("bg"))
    status = await fake.delete(DEPLOYMENTS, "bg", "default")
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "bg" and status["details"]["group"] == "apps"


async def test_bound_pod_deletion_is_graceful() -> None:
    clock = FakeClock()
    fake = FakeClient(clock=clock)
    await fake.create(PODS, pod("unbound"))
    gone = await fake.delete(PODS, "unbound", "default")
    assert gone["metadata"]["name"] == "unbound" and "deletionTimestamp" not in gone["metadata"]
    await fake.create(PODS, pod("bound", nodeName="n1", terminationGracePeriodSeconds=10))
    marked = await fake.delete(PODS, "bound", "default")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 10
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:10Z"
    assert len(fake.objects(PODS)) == 1
    await fake.delete(PODS, "bound", "default", grace_period_seconds=0)
    assert fake.objects(PODS) == []
    await fake.create(PODS, pod("done", nodeName="n1"))
    await fake.patch(PODS, "done", {"status": {"phase": "Succeeded"}}, "default", subresource="status")
    await fake.delete(PODS, "done", "default")
    assert fake.objects(PODS) == []


async def test_delete_preconditions() -> None:
    fake = FakeClient()
    created = await fake.create(PODS, pod("a"))
    with pytest.raises(errors.Conflict) as e:
        await fake.delete(PODS, "a", "default", preconditions={"uid": "other"})
    assert "Precondition failed: UID in precondition: other, UID in object meta: " in str(e.value)
    with pytest.raises(errors.Conflict):
        await fake.delete(PODS, "a", "default", preconditions={"resourceVersion": "999"})
    await fake.delete(PODS, "a", "default", preconditions={"uid": created["metadata"]["uid"]})
    assert fake.objects(PODS) == []


async def test_namespace_lifecycle() -> None:
    fake = FakeClient()
    ns = await fake.create(NAMESPACES, {"metadata": {"name": "team"}})
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"] == {"phase": "Active"}
    marked = await fake.delete(NAMESPACES, "team")
    assert marked["status"]["phase"] == "Terminating"
    marked["spec"]["finalizers"] = []
    # upstream ShouldDeleteNamespaceDuringUpdate: emptying spec.finalizers of a terminating namespace removes it
    await fake.update(NAMESPACES, marked, subresource="finalize")
    assert fake.objects(NAMESPACES) == []


async def test_list_selectors_and_pagination() -> None:
    fake = FakeClient()
    for i in range(5):
        p = pod(f"p{i}", nodeName="n1" if i % 2 else "")
        p["metadata"]["labels"] = {"i": str(i)}
        await fake.create(PODS, p)
    await fake.create(PODS, pod("other", ns="kube-system"))
    everything = await fake.list(PODS)
    assert everything["kind"] == "PodList" and everything["apiVersion"] == "v1"
    assert everything["metadata"]["resourceVersion"] == fake.resource_version
    assert len(everything["items"]) == 6
    assert [p["metadata"]["name"] for p in (await fake.list(PODS, "default", label_selector="i in (1,2)"))["items"]] \
        == ["p1", "p2"]
    assert [p["metadata"]["name"] for p in (await fake.list(PODS, field_selector="spec.nodeName=n1"))["items"]] \
        == ["p1", "p3"]
    with pytest.raises(errors.BadRequest):
        await fake.list(PODS, field_selector="spec.bogus=1")
    names: list[str] = []
    page = await fake.list(PODS, "default", limit=2)
    while True:
        names += [p["metadata"]["name"] for p in page["items"]]
        cont = page["metadata"].get("continue")
        if not cont:
            break
        page = await fake.list(PODS, "default", limit=2, continue_=cont)
    assert names == ["p0", "p1", "p2", "p3", "p4"]


async def collect(it: Any, n: int) -> list[WatchEvent]:
    out: list[WatchEvent] = []
    async for ev in it:
        out.append(ev)
        if len(out) == n:
            break
    return out


async def test_watch_from_resource_version_and_selector_transitions() -> None:
    fake = FakeClient()
    a = await fake.create(PODS, pod("a"))
    rv = a["metadata"]["resourceVersion"]
    await fake.patch(PODS, "a", {"metadata": {"labels": {"app": "db"}}}, "default")
    await fake.create(PODS, pod("b"))
    await fake.delete(PODS, "b", "default")
    events = await asyncio.wait_for(collect(fake.watch(PODS, resource_version=rv), 3), 5)
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [("MODIFIED", "a"), ("ADDED", "b"),
                                                                       ("DELETED", "b")]
    assert events[2].object["metadata"]["resourceVersion"] == fake.resource_version
    filtered = await asyncio.wait_for(collect(fake.watch(PODS, resource_version=rv, label_selector="app=web"), 3), 5)
    assert [(e.type, e.object["metadata"]["name"]) for e in filtered] == [("DELETED", "a"), ("ADDED", "b"),
                                                                         ("DELETED", "b")]


async def test_watch_live_events_synthetic_adds_and_disconnect() -> None:
    fake = FakeClient()
    await fake.create(PODS, pod("a"))
    got: list[WatchEvent] = []

    async def consume() -> None:
        async for ev in fake.watch(PODS, "default"):
            got.append(ev)

    task = asyncio.create_task(consume())
    deadline = asyncio.get_running_loop().time() + 5
    while fake.open_watches() == 0:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0)
    await fake.create(PODS, pod("b"))
    await fake.create(PODS, pod("elsewhere", ns="other"))
    assert fake.disconnect_watches() == 1
    await asyncio.wait_for(task, 5)
    assert [(e.type, e.object["metadata"]["name"]) for e in got] == [("ADDED", "a"), ("ADDED", "b")]


async def test_watch_too_old_resource_version_is_expired() -> None:
    fake = FakeClient(history_limit=2)
    for i in range(4):
        await fake.create(CONFIGMAPS, {"metadata": {"name": f"c{i}", "namespace": "default"}})
    with pytest.raises(errors.Expired) as e:
        await collect(fake.watch(CONFIGMAPS, resource_version="1"), 1)
    assert e.value.code == 410 and str(e.value) == "too old resource version: 1 (2)"
    events = await collect(fake.watch(CONFIGMAPS, resource_version="2"), 2)
    assert [e.object["metadata"]["name"] for e in events] == ["c2", "c3"]
    fake.compact()
    with pytest.raises(errors.Expired):
        await collect(fake.watch(CONFIGMAPS, resource_version="3"), 1)


async def test_binding_and_eviction() -> None:
    fake = FakeClient()
    await fake.create(PODS, pod("a"))
    out = await fake.create_subresource(PODS, "a", "binding", {"target": {"kind": "Node", "name": "n1"}}, "default")
    assert out["status"] == "Success"
    bound = await fake.get(PODS, "a", "default")
    assert bound["spec"]["nodeName"] == "n1"
    assert bound["status"]["conditions"][0]["type"] == "PodScheduled"
    with pytest.raises(errors.Conflict) as e:
        await fake.create_subresource(PODS, "a", "binding", {"target": {"name": "n2"}}, "default")
    assert str(e.value) == 'Operation cannot be fulfilled on pods/binding "a": pod a is already assigned to node "n1"'
    await fake.create_subresource(PODS, "a", "eviction", {"deleteOptions": {"gracePeriodSeconds": 0}}, "default")
    assert fake.objects(PODS) == []


async def test_fail_next_seed_and_actions() -> None:
    fake = FakeClient()
    fake.fail_next("create", "pods", errors.Forbidden("no"))
    with pytest.raises(errors.Forbidden):
        await fake.create(PODS, pod("a"))
    assert fake.objects(PODS) == []
    await fake.create(PODS, pod("a"))  # only the next call fails
    fake.clear_actions()
    seeded = fake.seed(NODES, {"metadata": {"name": "n1"}, "status": {"phase": "Running"}})
    assert seeded["metadata"]["uid"] and seeded["kind"] == "Node" and fake.actions == []
    assert (await fake.get(NODES, "n1"))["status"] == {"phase": "Running"}
    assert [a.verb for a in fake.actions] == ["get"]
    with pytest.raises(errors.NotFound):
        await fake.create_subresource(SERVICE_ACCOUNTS, "missing", "token", {}, "default")


async def test_server_side_apply_creates_then_updates() -> None:
    fake = FakeClient()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}}
    with pytest.raises(errors.Invalid):
        await fake.patch(CONFIGMAPS, "c", cm, "d", patch_type="apply")  # fieldManager is required
    created = await fake.patch(CONFIGMAPS, "c", cm, "d", patch_type="apply", field_manager="me")
    assert created["data"] == {"a": "1"} and created["metadata"]["uid"]
    updated = await fake.patch(CONFIGMAPS, "c", {**cm, "data": {"b": "2"}}, "d", patch_type="apply", field_manager="me")
    assert updated["data"] == {"b": "2"}  # the field this manager stopped applying is removed


async def test_deployment_annotation_change_bumps_generation() -> None:
    fake = FakeClient()
    d = await fake.create(DEPLOYMENTS, deployment("web"))
    d["metadata"]["annotations"] = {"note": "x"}
    assert (await fake.update(DEPLOYMENTS, d))["metadata"]["generation"] == 2
