"""RESTClient against a real apiserver: CRUD, patch types, subresources, errors, pagination, watch, config."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.client.interface import Client, WatchEvent
from pyk8s.client.kinds import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, PODS, SERVICE_ACCOUNTS
from pyk8s.client.kubeconfig import ClientConfig, ClientConfigError, in_cluster_config, load_client_config
from pyk8s.client.rest import RESTClient, resource_path
from pyk8s.client.watch import LineSplitter, event_from_line
from pyk8s.pki.kubeconfig import load_kubeconfig
from tests.apiserver_process import APIServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[RESTClient]:
    async with RESTClient(load_client_config(apiserver.kubeconfig), user_agent="pyk8s/test-rest") as c:
        yield c


@pytest.fixture
async def ns(client: RESTClient) -> AsyncIterator[str]:
    name = f"rc-{uuid.uuid4().hex[:10]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    # what the serviceaccount controller would make: pods need their account (ServiceAccount admission)
    await client.create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                           "metadata": {"name": "default"}}, name)
    yield name
    try:
        await client.delete(NAMESPACES, name)
    except errors.StatusError:
        pass


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": dict(data)}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_rest_client_is_a_client() -> None:
    c: Client = RESTClient(ClientConfig(server="https://127.0.0.1:1"))
    assert c is not None


def test_resource_path_layout() -> None:
    assert resource_path(PODS, "ns1", "p", "status") == "/api/v1/namespaces/ns1/pods/p/status"
    assert resource_path(PODS) == "/api/v1/pods"
    assert resource_path(DEPLOYMENTS, "d") == "/apis/apps/v1/namespaces/d/deployments"
    assert resource_path(NAMESPACES, "ignored", "x") == "/api/v1/namespaces/x"


def test_line_splitter_reassembles_split_lines() -> None:
    s = LineSplitter()
    line = b'{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a"}}}'
    assert s.feed(line[:10]) == []
    assert s.feed(line[10:] + b"\n" + line[:5]) == [line]
    assert s.feed(line[5:] + b"\n\n") == [line]
    assert event_from_line(line) == WatchEvent("ADDED", {"kind": "ConfigMap", "metadata": {"name": "a"}})
    gone = b'{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","code":410,' \
           b'"reason":"Expired","message":"too old resource version: 1 (5)"}}'
    with pytest.raises(errors.Expired):
        event_from_line(gone)


async def test_create_get_list_update_delete(client: RESTClient, ns: str) -> None:
    created = await client.create(CONFIGMAPS, cm("a", k="1"), ns)
    assert created["metadata"]["namespace"] == ns and created["metadata"]["uid"]
    got = await client.get(CONFIGMAPS, "a", ns)
    assert got["data"] == {"k": "1"}
    # namespace taken from the object when the argument is empty
    other = cm("b")
    other["metadata"]["namespace"] = ns
    await client.create(CONFIGMAPS, other)
    listed = await client.list(CONFIGMAPS, ns)
    assert listed["kind"] == "ConfigMapList" and listed["metadata"]["resourceVersion"]
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == ["a", "b"]
    got["data"]["k"] = "2"
    updated = await client.update(CONFIGMAPS, got)
    assert updated["data"] == {"k": "2"}
    assert int(updated["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    # dry run creates nothing
    await client.create(CONFIGMAPS, cm("dry"), ns, dry_run=True)
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "dry", ns)
    status = await client.delete(CONFIGMAPS, "a", ns)
    assert status["kind"] in ("Status", "ConfigMap")
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "a", ns)


async def test_label_and_field_selectors(client: RESTClient, ns: str) -> None:
    a = cm("sel-a")
    a["metadata"]["labels"] = {"tier": "web", "env": "prod"}
    b = cm("sel-b")
    b["metadata"]["labels"] = {"tier": "db"}
    await client.create(CONFIGMAPS, a, ns)
    await client.create(CONFIGMAPS, b, ns)
    web = await client.list(CONFIGMAPS, ns, label_selector="tier in (web, cache),env=prod")
    assert [i["metadata"]["name"] for i in web["items"]] == ["sel-a"]
    by_name = await client.list(CONFIGMAPS, ns, field_selector="metadata.name=sel-b")
    assert [i["metadata"]["name"] for i in by_name["items"]] == ["sel-b"]


async def test_patch_types(client: RESTClient, ns: str) -> None:
    await client.create(CONFIGMAPS, cm("p", a="1"), ns)
    merged = await client.patch(CONFIGMAPS, "p", {"data": {"b": "2"}}, ns)
    assert merged["data"] == {"a": "1", "b": "2"}
    jsonp = await client.patch(CONFIGMAPS, "p", [{"op": "remove", "path": "/data/a"}], ns, patch_type="json")
    assert jsonp["data"] == {"b": "2"}
    strategic = await client.patch(CONFIGMAPS, "p", {"metadata": {"labels": {"x": "y"}}}, ns,
                                   patch_type="strategic")
    assert strategic["metadata"]["labels"] == {"x": "y"}
    applied = await client.patch(CONFIGMAPS, "applied", cm("applied", z="9"), ns, patch_type="apply",
                                 field_manager="test-rest")
    assert applied["data"] == {"z": "9"}
    managers = [m["manager"] for m in applied["metadata"]["managedFields"]]
    assert "test-rest" in managers
    # a second manager taking over a field conflicts unless forced
    with pytest.raises(errors.Conflict):
        await client.patch(CONFIGMAPS, "applied", cm("applied", z="10"), ns, patch_type="apply",
                           field_manager="other")
    forced = await client.patch(CONFIGMAPS, "applied", cm("applied", z="10"), ns, patch_type="apply",
                                field_manager="other", force=True)
    assert forced["data"] == {"z": "10"}


async def test_status_subresource(client: RESTClient, ns: str) -> None:
    created = await client.create(PODS, pod("s"), ns)
    created["status"] = {"phase": "Running", "podIP": "10.1.2.3"}
    created["spec"]["activeDeadlineSeconds"] = 5  # ignored by the status endpoint
    after = await client.update(PODS, created, subresource="status")
    assert after["status"]["phase"] == "Running" and after["status"]["podIP"] == "10.1.2.3"
    assert "activeDeadlineSeconds" not in after["spec"]
    patched = await client.patch(PODS, "s", {"status": {"phase": "Succeeded"}}, ns, subresource="status")
    assert patched["status"]["phase"] == "Succeeded"
    got = await client.get(PODS, "s", ns, subresource="status")
    assert got["status"]["phase"] == "Succeeded"


async def test_errors(client: RESTClient, ns: str) -> None:
    with pytest.raises(errors.NotFound) as nf:
        await client.get(CONFIGMAPS, "missing", ns)
    assert nf.value.code == 404 and nf.value.message == 'configmaps "missing" not found'
    first = await client.create(CONFIGMAPS, cm("dup"), ns)
    with pytest.raises(errors.AlreadyExists) as ae:
        await client.create(CONFIGMAPS, cm("dup"), ns)
    assert ae.value.code == 409
    await client.patch(CONFIGMAPS, "dup", {"data": {"x": "1"}}, ns)
    with pytest.raises(errors.Conflict) as cf:
        await client.update(CONFIGMAPS, first)  # stale resourceVersion
    assert errors.OPTIMISTIC_LOCK_MESSAGE in cf.value.message
    with pytest.raises(errors.Invalid) as inv:
        await client.create(CONFIGMAPS, cm("Bad_Name"), ns)
    causes = (inv.value.details or {}).get("causes") or []
    assert any(c.get("field") == "metadata.name" for c in causes), inv.value.details
    with pytest.raises(errors.Conflict):
        await client.delete(CONFIGMAPS, "dup", ns, preconditions={"uid": "not-the-uid"})
    # a body that is not a Status (a path outside the API) still maps to the class of its code
    with pytest.raises(errors.NotFound):
        await client.get_path("/no-such-path-at-all")


async def test_list_pagination(client: RESTClient, ns: str) -> None:
    for i in range(5):
        await client.create(CONFIGMAPS, cm(f"page-{i}"), ns)
    names: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await client.list(CONFIGMAPS, ns, limit=2, continue_=token)
        pages += 1
        assert len(page["items"]) <= 2
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert pages == 3 and names == [f"page-{i}" for i in range(5)]


async def test_watch_sees_create_modify_delete_in_order(client: RESTClient, ns: str) -> None:
    start = (await client.list(CONFIGMAPS, ns))["metadata"]["resourceVersion"]
    await client.create(CONFIGMAPS, cm("w", v="0"), ns)
    await client.patch(CONFIGMAPS, "w", {"data": {"v": "1"}}, ns)
    await client.delete(CONFIGMAPS, "w", ns)
    seen: list[tuple[str, str]] = []
    stream = client.watch(CONFIGMAPS, ns, resource_version=start, allow_bookmarks=False, timeout_seconds=30)
    async with asyncio.timeout(15):
        async for ev in stream:
            seen.append((ev.type, ev.object["data"]["v"]))
            if len(seen) == 3:
                break
    await stream.aclose()  # type: ignore[attr-defined]
    assert seen == [("ADDED", "0"), ("MODIFIED", "1"), ("DELETED", "1")]


async def test_watch_live_events_and_close_releases_connection(client: RESTClient, ns: str) -> None:
    start = (await client.list(CONFIGMAPS, ns))["metadata"]["resourceVersion"]
    got: list[WatchEvent] = []

    async def consume() -> None:
        async for ev in client.watch(CONFIGMAPS, ns, resource_version=start):
            if ev.type != "BOOKMARK":
                got.append(ev)

    task = asyncio.create_task(consume())
    await client.create(CONFIGMAPS, cm("live"), ns)
    async with asyncio.timeout(15):
        while not got:
            await asyncio.sleep(0.02)
    assert got[0].type == "ADDED" and got[0].object["metadata"]["name"] == "live"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the client still works after a cancelled watch
    assert (await client.get(CONFIGMAPS, "live", ns))["metadata"]["name"] == "live"


async def test_pod_binding(client: RESTClient, ns: str) -> None:
    await client.create(PODS, pod("b"), ns)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b", "namespace": ns},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    await client.create_subresource(PODS, "b", "binding", binding, ns)
    bound = await client.get(PODS, "b", ns)
    assert bound["spec"]["nodeName"] == "node-1"
    with pytest.raises(errors.Conflict):
        await client.create_subresource(PODS, "b", "binding", binding, ns)


async def test_graceful_pod_delete_options(client: RESTClient, ns: str) -> None:
    await client.create(PODS, pod("g"), ns)
    p = await client.get(PODS, "g", ns)
    gone = await client.delete(PODS, "g", ns, grace_period_seconds=0, propagation_policy="Background",
                               preconditions={"uid": p["metadata"]["uid"]})
    assert gone["metadata"]["name"] == "g"
    with pytest.raises(errors.NotFound):
        await client.get(PODS, "g", ns)
    with pytest.raises(errors.Invalid):
        await client.delete(CONFIGMAPS, "x", ns, propagation_policy="Sideways")


async def test_connection_refused_is_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with RESTClient(ClientConfig(server=f"https://127.0.0.1:{port}", ssl_context=ssl.create_default_context(),
                                       timeout=5)) as c:
        with pytest.raises(ConnectionError):
            await c.get(NAMESPACES, "default")
        with pytest.raises(ConnectionError):
            async for _ in c.watch(NAMESPACES):
                pass


async def test_bad_token_is_unauthorized(apiserver: APIServerProcess) -> None:
    info = load_kubeconfig(apiserver.kubeconfig)
    cfg = load_client_config(apiserver.kubeconfig)
    ctx = ssl.create_default_context(cadata=info.ca_pem.decode() if info.ca_pem else None)
    bad = ClientConfig(server=cfg.server, ssl_context=ctx, token="not-a-token")
    async with RESTClient(bad) as c:
        with pytest.raises(errors.Unauthorized):
            await c.list(NAMESPACES)


def test_kubeconfig_errors_are_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n  - {name: x\n")
    with pytest.raises(ClientConfigError) as e:
        load_client_config(broken)
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(ClientConfigError, match="unable to read kubeconfig"):
        load_client_config(tmp_path / "missing")


def test_kubeconfig_context_and_namespace(apiserver: APIServerProcess) -> None:
    cfg = load_client_config(apiserver.kubeconfig)
    assert cfg.server == apiserver.url and cfg.namespace == "default"
    assert cfg.ssl_context is not None and cfg.ssl_context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ClientConfigError, match='context "nope" does not exist'):
        load_client_config(apiserver.kubeconfig, context="nope")


def test_in_cluster_config(tmp_path: Path, apiserver: APIServerProcess) -> None:
    info = load_kubeconfig(apiserver.kubeconfig)
    assert info.ca_pem
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "ca.crt").write_bytes(info.ca_pem)
    (tmp_path / "namespace").write_text("kube-system")
    cfg = in_cluster_config(root=tmp_path, environ={"KUBERNETES_SERVICE_HOST": "fd00::1",
                                                    "KUBERNETES_SERVICE_PORT": "443"})
    assert cfg.server == "https://[fd00::1]:443" and cfg.token == "tok" and cfg.namespace == "kube-system"
    assert cfg.token_file == str(tmp_path / "token")
    with pytest.raises(ClientConfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_config(root=tmp_path, environ={})


# ---------------------------------------------------------------- 410 on a compacted revision (own apiserver)
@pytest.fixture(scope="module")
def compacting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    server = APIServerProcess(Path(tmp_path_factory.mktemp("rest-compacting")),
                              extra_args=["--etcd-compaction-interval=1s"])
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_watch_from_compacted_revision_raises_expired(compacting: APIServerProcess) -> None:
    async with RESTClient(load_client_config(compacting.kubeconfig)) as c:
        name = f"cp-{uuid.uuid4().hex[:10]}"
        await c.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        old = (await c.create(CONFIGMAPS, cm("old", v="0"), name))["metadata"]["resourceVersion"]
        for i in range(3):
            await c.patch(CONFIGMAPS, "old", {"data": {"v": str(i + 1)}}, name)
        # a direct 410 answer (exact-revision list) maps to Expired too; poll until compaction passed `old`
        path = f"{resource_path(CONFIGMAPS, name)}?resourceVersion={old}&resourceVersionMatch=Exact"
        async with asyncio.timeout(20):
            while True:
                try:
                    await c.get_path(path)
                except errors.Expired:
                    break
                await asyncio.sleep(0.1)
        with pytest.raises((errors.Expired, errors.Gone)) as e:
            async with asyncio.timeout(15):
                async for _ in c.watch(CONFIGMAPS, name, resource_version=old):
                    pass
        assert e.value.code == 410 and "too old resource version" in e.value.message


def test_no_temp_key_files_left(apiserver: APIServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    load_client_config(apiserver.kubeconfig)
    assert os.listdir(tmp_path) == []
