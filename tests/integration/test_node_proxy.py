"""pods/log, pods/exec (WebSocket and SPDY upgrades) and nodes/proxy relayed by a real apiserver to a fake kubelet."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.apiserver_process import APIServerProcess
from tests.conftest import Kubectl
from tests.integration.fake_kubelet import FakeKubelet, node_object
from tests.integration.http import AdminHTTP


@pytest.fixture(scope="module")
def kubelet(apiserver: APIServerProcess, api: AdminHTTP) -> Iterator[tuple[FakeKubelet, str]]:
    fake = FakeKubelet(apiserver.data_dir / "pki" / "ca.crt").start()
    node = f"fake-{uuid.uuid4().hex[:8]}"
    r = api.request("POST", "/api/v1/nodes", node_object(node, fake.port))
    assert r.status == 201, r.body
    status = r.json()
    status["status"] = node_object(node, fake.port)["status"]
    r = api.request("PUT", f"/api/v1/nodes/{node}/status", status)
    assert r.status == 200, r.body
    try:
        yield fake, node
    finally:
        api.request("DELETE", f"/api/v1/nodes/{node}")
        fake.stop()


@pytest.fixture
def kubectl(apiserver: APIServerProcess, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", apiserver.kubeconfig, tmp_path)


def _pod(api: AdminHTTP, ns: str, name: str, containers: list[str], node: str = "",
         annotations: dict[str, str] | None = None) -> None:
    spec: dict[str, object] = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if node:
        spec["nodeName"] = node
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations or {}},
            "spec": spec}
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", body)
    assert r.status == 201, r.body


def _last(fake: FakeKubelet, prefix: str) -> tuple[str, dict[str, list[str]], str, list[str]]:
    seen = [s for s in fake.requests if s.path.startswith(prefix)]
    assert seen, f"the kubelet saw no request under {prefix}: {[s.path for s in fake.requests]}"
    s = seen[-1]
    query: dict[str, list[str]] = {}
    for k, v in s.query:
        query.setdefault(k, []).append(v)
    return s.path, query, s.client_cn, s.client_groups


def test_logs_go_through_the_kubelet_with_the_apiserver_client_certificate(
        api: AdminHTTP, ns: str, kubelet: tuple[FakeKubelet, str], kubectl: Kubectl) -> None:
    fake, node = kubelet
    _pod(api, ns, "web", ["main"], node)
    out = kubectl("logs", "web", "-n", ns)
    assert out == "main log line 1\nmain log line 2\nmain log line 3\n"
    path, query, cn, groups = _last(fake, "/containerLogs/")
    assert path == f"/containerLogs/{ns}/web/main"
    assert (cn, groups) == ("kube-apiserver-kubelet-client", ["system:masters"])
    kubectl("logs", "web", "-n", ns, "--tail=2", "--timestamps", "--limit-bytes=100", "--since=5m")
    _, query, _, _ = _last(fake, "/containerLogs/")
    assert query == {"tailLines": ["2"], "timestamps": ["true"], "limitBytes": ["100"], "sinceSeconds": ["300"]}


def test_logs_follow_streams_each_chunk_as_it_comes(
        api: AdminHTTP, ns: str, kubelet: tuple[FakeKubelet, str], kubectl: Kubectl) -> None:
    fake, node = kubelet
    _pod(api, ns, "tail", ["main"], node)
    proc = subprocess.Popen([kubectl.binary, f"--cache-dir={kubectl.cache}", "logs", "-f", "tail", "-n", ns],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl.env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "main first\n"  # arrives while the kubelet still holds the stream
        fake.release_follow()
        assert proc.stdout.readline() == "main second\n"
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.wait()
    _, query, _, _ = _last(fake, "/containerLogs/")
    assert query == {"follow": ["true"]}


def test_log_and_exec_errors_are_upstreams(api: AdminHTTP, ns: str, kubelet: tuple[FakeKubelet, str]) -> None:
    _, node = kubelet
    _pod(api, ns, "two", ["a", "b"], node)
    _pod(api, ns, "unbound", ["main"])
    base = f"/api/v1/namespaces/{ns}/pods"
    r = api.request("GET", f"{base}/two/log")
    assert (r.status, r.json()["message"]) == (400, "a container name must be specified for pod two, "
                                                    "choose one of: [a b]")
    r = api.request("GET", f"{base}/two/log?container=c")
    assert (r.status, r.json()["message"]) == (400, "container c is not valid for pod two")
    r = api.request("GET", f"{base}/missing/log")
    assert (r.status, r.json()["message"]) == (404, 'pods "missing" not found')
    r = api.request("GET", f"{base}/two/log?container=a&tailLines=-1")
    assert r.status == 422
    assert r.json()["message"] == ('PodLogOptions "two" is invalid: tailLines: Invalid value: -1: '
                                   "must be greater than or equal to 0")
    r = api.request("GET", f"{base}/two/log?container=a&sinceSeconds=0&limitBytes=0")
    assert r.status == 422 and [c["field"] for c in r.json()["details"]["causes"]] == ["limitBytes", "sinceSeconds"]
    r = api.request("GET", f"{base}/two/log?container=a&follow=maybe")
    assert r.status == 400
    r = api.request("GET", f"{base}/unbound/log")  # upstream: an empty log until the pod has a node
    assert (r.status, r.body) == (200, b"")
    r = api.request("POST", f"{base}/unbound/exec?command=ls&stdout=true",
                    headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                             "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
    assert (r.status, r.json()["message"]) == (400, "pod unbound does not have a host assigned")
    r = api.request("POST", f"{base}/two/exec?command=ls&stdout=true",
                    headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1"})
    assert r.status == 400 and r.json()["message"].startswith("a container name must be specified for pod two")


def test_kubectl_exec_over_websocket(api: AdminHTTP, ns: str, kubelet: tuple[FakeKubelet, str],
                                     kubectl: Kubectl) -> None:
    fake, node = kubelet
    _pod(api, ns, "sh", ["main"], node)
    assert kubectl("exec", "sh", "-n", ns, "--", "echo", "hi there") == "ran: echo hi there\n"
    path, query, _, _ = _last(fake, "/exec/")
    assert path == f"/exec/{ns}/sh/main"
    assert query == {"command": ["echo", "hi there"], "output": ["1"], "error": ["1"]}
    assert kubectl("exec", "-i", "sh", "-n", ns, "--", "cat", input="hello\n") == "you said: hello\n"
    _, query, _, _ = _last(fake, "/exec/")
    assert query["input"] == ["1"]


def _client_ssl(api: AdminHTTP) -> ssl.SSLContext:
    return api.cert_ctx


async def _ws_messages(api: AdminHTTP, path: str) -> list[bytes]:
    url = f"https://{api.host}:{api.port}{path}"
    async with aiohttp.ClientSession() as s, s.ws_connect(url, protocols=["v4.channel.k8s.io"],
                                                           ssl=_client_ssl(api)) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        await ws.send_bytes(b"\x00ping")
        got = []
        async for msg in ws:
            got.append(msg.data)
            if len(got) == 1:
                await ws.send_bytes(b"\x00bye")
        assert ws.close_code == 1000
        return got


def test_websocket_messages_pass_both_ways_for_the_v4_client(api: AdminHTTP, ns: str,
                                                             kubelet: tuple[FakeKubelet, str]) -> None:
    _, node = kubelet
    _pod(api, ns, "py", ["main"], node)
    got = asyncio.run(_ws_messages(api, f"/api/v1/namespaces/{ns}/pods/py/exec?command=cat&stdin=True&stdout=1"))
    assert got[:2] == [b"\x01you said: ping", b"\x01you said: bye"]
    assert got[-1] == b'\x03{"metadata":{},"status":"Success"}'


async def _refused_then_spdy(api: AdminHTTP, path: str) -> tuple[int, bytes, bytes]:
    url = f"https://{api.host}:{api.port}{path}"
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.ws_connect(url, protocols=["v5.channel.k8s.io"], ssl=_client_ssl(api))
    reader, writer = await asyncio.open_connection(api.host, api.port, ssl=_client_ssl(api), server_hostname="")
    try:
        writer.write((f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                      "X-Stream-Protocol-Version: v5.channel.k8s.io\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                      "Content-Length: 0\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.write(b"\x80\x03\x00\x01raw spdy bytes")
        echoed = await asyncio.wait_for(reader.readexactly(18), 10)
        return refused.value.status, head, echoed
    finally:
        writer.close()


def test_refused_websocket_is_non_101_and_the_spdy_retry_is_spliced(api: AdminHTTP, ns: str,
                                                                   kubelet: tuple[FakeKubelet, str]) -> None:
    _, node = kubelet
    _pod(api, ns, "old", ["spdy-only"], node)
    status, head, echoed = asyncio.run(_refused_then_spdy(
        api, f"/api/v1/namespaces/{ns}/pods/old/exec?command=sh&stdin=true&stdout=true"))
    assert status == 400
    assert head.startswith(b"HTTP/1.1 101 ")
    lower = head.lower()
    assert b"x-stream-protocol-version: v4.channel.k8s.io\r\n" in lower and b"upgrade: spdy/3.1\r\n" in lower
    assert echoed == b"\x80\x03\x00\x01RAW SPDY BYTES"


def test_nodes_proxy_reaches_the_kubelet(api: AdminHTTP, kubelet: tuple[FakeKubelet, str]) -> None:
    _, node = kubelet
    r = api.request("GET", f"/api/v1/nodes/{node}/proxy/healthz")
    assert (r.status, r.body) == (200, b"ok")
    r = api.request("GET", "/api/v1/nodes/no-such-node/proxy/healthz")
    assert r.status == 404
