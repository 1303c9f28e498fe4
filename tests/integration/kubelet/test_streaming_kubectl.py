"""The kubelet streaming server driven by the real kubectl binaries and the official Python client.

An in-process fake "apiserver" on 127.0.0.1 (plain HTTP: kubectl talks http to `server: http://...`) serves the
pod and discovery, and mounts the kubelet's own exec/attach/portforward/log handlers at the apiserver paths,
translating the query the way the apiserver relay does. The runtime is a fake: exec runs the command as a host
subprocess, attach echoes, port-forward dials a local echo server.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from pyk8s.api.errors import StatusError
from pyk8s.kubelet.cri.interface import (
    ANNOTATION_RESTART_COUNT,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerMetadata,
    ContainerStatus,
    PodSandboxMetadata,
    PodSandboxStatus,
    StreamIO,
)
from pyk8s.kubelet.server.app import build_kubelet_app

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
pytestmark = pytest.mark.skipif(not (KUBECTL_DIR / "kubectl.1.33").exists(), reason="kubectl binaries not installed")

NS, POD, CTR, UID = "default", "p", "c", "uid-1"
LABELS = {LABEL_POD_NAMESPACE: NS, LABEL_POD_NAME: POD, LABEL_POD_UID: UID}


class FakeStreamingRuntime:
    """Just enough RuntimeService for streaming: one running pod with one container."""

    def __init__(self, log_path: str, echo_port: int) -> None:
        self.log_path = log_path
        self.echo_port = echo_port
        self.running = True
        self.dialed: list[int] = []

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [PodSandboxStatus(id="sb1", metadata=PodSandboxMetadata(POD, NS, UID), state="SANDBOX_READY",
                                 created_at=1, labels=dict(LABELS))]

    def _container(self) -> ContainerStatus:
        return ContainerStatus(id="c1", pod_sandbox_id="sb1", metadata=ContainerMetadata(CTR), image="img",
                               image_ref="sha256:0", created_at=1,
                               state="CONTAINER_RUNNING" if self.running else "CONTAINER_EXITED",
                               labels={**LABELS, LABEL_CONTAINER_NAME: CTR},
                               annotations={ANNOTATION_RESTART_COUNT: "0"}, log_path=self.log_path)

    async def list_containers(self) -> list[ContainerStatus]:
        return [self._container()]

    async def container_status(self, container_id: str) -> ContainerStatus:
        return self._container()

    async def exec(self, container_id: str, cmd: list[str], io: StreamIO) -> int:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE if io.stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)

        async def feed() -> None:
            assert io.stdin is not None and proc.stdin is not None
            async for data in io.stdin:
                proc.stdin.write(data)
                await proc.stdin.drain()
            proc.stdin.close()

        async def copy(src: asyncio.StreamReader | None, dst: Callable[[bytes], Awaitable[None]] | None) -> None:
            assert src is not None
            while data := await src.read(4096):
                if dst is not None:
                    await dst(data)

        feeder = asyncio.ensure_future(feed()) if io.stdin else None
        try:
            await asyncio.gather(copy(proc.stdout, io.stdout), copy(proc.stderr, io.stdout if io.tty else io.stderr))
            return await proc.wait()
        finally:
            if feeder is not None:
                feeder.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def attach(self, container_id: str, io: StreamIO) -> None:
        assert io.stdin is not None and io.stdout is not None
        async for data in io.stdin:
            await io.stdout(b"echo:" + data)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.dialed.append(port)
        if port != 80:
            raise ConnectionRefusedError(f"dial tcp 127.0.0.1:{port}: connect: connection refused")
        return await asyncio.open_connection("127.0.0.1", self.echo_port)


async def fake_read_logs(path: str, *, follow: bool, tail_lines: int | None, since_time: int | None,
                         limit_bytes: int | None, timestamps: bool,
                         is_running: Callable[[], Awaitable[bool]]) -> AsyncIterator[bytes]:
    """Stand-in for pyk8s.kubelet.cri.logs.read_logs over a plain text file."""
    pos = 0
    while True:
        data = Path(path).read_bytes()
        if pos == 0 and tail_lines is not None:
            lines = data.splitlines(keepends=True)
            pos = len(data) - sum(len(x) for x in lines[-tail_lines:]) if tail_lines else len(data)
        if len(data) > pos:
            yield data[pos:]
            pos = len(data)
        if not follow or not await is_running():
            return
        await asyncio.sleep(0.05)


def pod_json() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": POD, "namespace": NS, "uid": UID, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": CTR, "image": "img"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": CTR, "ready": True, "restartCount": 0, "image": "img", "imageID": "", "started": True,
                 "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}}]}}


_BOOL_PARAMS = {"stdin": "input", "stdout": "output", "stderr": "error", "tty": "tty"}


def build_fake_apiserver(kubelet: web.Application, seen: list[list[Any]]) -> web.Application:
    """Discovery + the pod + the pod subresources relayed in-process to the kubelet app's handlers.

    `seen` records (kubelet path kind, upgrade protocol, response status) of every relayed request."""

    async def relay(request: web.Request, kubelet_path: str, query: list[tuple[str, str]]) -> web.StreamResponse:
        clone = request.clone(rel_url=URL(kubelet_path).with_query(query))
        match = await kubelet.router.resolve(clone)
        clone._match_info = match  # test-only: dispatch to the kubelet's handler without a network hop
        upgrade = request.headers.get("Upgrade", "")
        if upgrade.lower() == "websocket":
            upgrade += "/" + request.headers.get("Sec-WebSocket-Protocol", "")
        entry = [kubelet_path.split("/")[1], upgrade, 0]
        seen.append(entry)
        try:
            resp = await match.handler(clone)
        except StatusError as e:
            resp = web.json_response(e.status(), status=e.code, headers=e.headers)
        entry[2] = resp.status
        return resp

    async def exec_or_attach(request: web.Request) -> web.StreamResponse:
        q = request.query
        out: list[tuple[str, str]] = [("command", c) for c in q.getall("command", [])]
        for api_name, kubelet_name in _BOOL_PARAMS.items():
            if q.get(api_name, "false").lower() in ("true", "1"):
                out.append((kubelet_name, "1"))
        kind = request.match_info["sub"]
        return await relay(request, f"/{kind}/{NS}/{POD}/{q.get('container', CTR)}", out)

    async def portforward(request: web.Request) -> web.StreamResponse:
        return await relay(request, f"/portForward/{NS}/{POD}", list(request.query.items()))

    async def log(request: web.Request) -> web.StreamResponse:
        q = [(k, v) for k, v in request.query.items() if k != "container"]
        return await relay(request, f"/containerLogs/{NS}/{POD}/{request.query.get('container', CTR)}", q)

    async def api(request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})

    async def apis(request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    async def api_v1(request: web.Request) -> web.Response:
        sub = [{"name": f"pods/{s}", "singularName": "", "namespaced": True, "kind": k, "verbs": v}
               for s, k, v in [("exec", "PodExecOptions", ["create", "get"]),
                               ("attach", "PodAttachOptions", ["create", "get"]),
                               ("portforward", "PodPortForwardOptions", ["create", "get"]),
                               ("log", "Pod", ["get"])]]
        return web.json_response({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list"],
             "shortNames": ["po"]}, *sub]})

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"major": "1", "minor": "33", "gitVersion": "v1.33.0"})

    async def get_pod(request: web.Request) -> web.Response:
        return web.json_response(pod_json())

    app = web.Application()
    r = app.router
    r.add_get("/version", version)
    r.add_get("/api", api)
    r.add_get("/apis", apis)
    r.add_get("/api/v1", api_v1)
    r.add_get("/api/v1/namespaces/{ns}/pods/{pod}", get_pod)
    r.add_route("*", "/api/v1/namespaces/{ns}/pods/{pod}/{sub:exec|attach}", exec_or_attach)
    r.add_route("*", "/api/v1/namespaces/{ns}/pods/{pod}/portforward", portforward)
    r.add_get("/api/v1/namespaces/{ns}/pods/{pod}/log", log)
    return app


class Env:
    def __init__(self, tmp: Path, port: int, runtime: FakeStreamingRuntime) -> None:
        self.tmp = tmp
        self.port = port
        self.runtime = runtime
        self.seen: list[list[Any]] = []
        self.kubeconfig = tmp / "kubeconfig"
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            "users: [{name: u, user: {}}]\n"
            "contexts: [{name: c, context: {cluster: c, user: u, namespace: default}}]\ncurrent-context: c\n")

    def argv(self, version: str, *args: str) -> list[str]:
        return [str(KUBECTL_DIR / f"kubectl.{version}"), "--kubeconfig", str(self.kubeconfig),
                "--cache-dir", str(self.tmp / f"cache-{version}"), *args]

    async def kubectl(self, version: str, *args: str, stdin: bytes | None = None, timeout: float = 20
                      ) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(version, *args), stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    echo_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    echo_port = echo_server.sockets[0].getsockname()[1]
    log_path = tmp_path / "0.log"
    log_path.write_text("line one\nline two\n")
    runtime = FakeStreamingRuntime(str(log_path), echo_port)
    kubelet = build_kubelet_app(runtime, node_name="n1", read_logs=fake_read_logs, stats_interval=None)  # type: ignore[arg-type]
    seen: list[list[Any]] = []
    runner = web.AppRunner(build_fake_apiserver(kubelet, seen))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        e = Env(tmp_path, port, runtime)
        e.seen = seen
        yield e
    finally:
        await runner.cleanup()
        echo_server.close()
        await echo_server.wait_closed()


@pytest.mark.parametrize("version", ["1.29", "1.33"])
async def test_exec_output_stdin_and_exit_code(env: Env, version: str) -> None:
    rc, out, err = await env.kubectl(version, "exec", POD, "--", "echo", "hi")
    assert (rc, out) == (0, "hi\n"), err
    rc, out, err = await env.kubectl(version, "exec", "-i", POD, "--", "cat", stdin=b"from stdin\n")
    assert (rc, out) == (0, "from stdin\n"), err
    rc, out, err = await env.kubectl(version, "exec", POD, "--", "sh", "-c", "echo oops >&2; exit 3")
    assert rc == 3, err
    assert "oops" in err and "command terminated with exit code 3" in err
    expected = ("exec", "SPDY/3.1", 101) if version == "1.29" else ("exec", "websocket/v5.channel.k8s.io", 101)
    assert env.seen == [list(expected)] * 3


async def test_attach_echoes_stdin(env: Env) -> None:
    rc, out, err = await env.kubectl("1.33", "attach", "-i", POD, stdin=b"hello\n")
    assert rc == 0, err
    assert "echo:hello" in out


@pytest.mark.parametrize("version", ["1.30", "1.33"])
async def test_port_forward(env: Env, version: str) -> None:
    proc = await asyncio.create_subprocess_exec(*env.argv(version, "port-forward", POD, ":80"),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode()
        m = re.search(r"127\.0\.0\.1:(\d+) -> 80", line)
        assert m, line
        for attempt in range(2):  # two connections over the same session
            reader, writer = await asyncio.open_connection("127.0.0.1", int(m.group(1)))
            writer.write(f"ping {attempt}\n".encode())
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), 10) == f"ping {attempt}\n".encode()
            writer.close()
        assert env.runtime.dialed[:2] == [80, 80]
        upgrade = "SPDY/3.1" if version == "1.30" else "websocket/SPDY/3.1+portforward.k8s.io"
        assert env.seen[0][:2] == ["portForward", upgrade]
    finally:
        proc.kill()
        await proc.wait()


async def test_logs_and_follow(env: Env) -> None:
    rc, out, err = await env.kubectl("1.33", "logs", POD)
    assert (rc, out) == (0, "line one\nline two\n"), err
    rc, out, err = await env.kubectl("1.29", "logs", "--tail=1", POD)
    assert (rc, out) == (0, "line two\n"), err

    proc = await asyncio.create_subprocess_exec(*env.argv("1.33", "logs", "-f", POD),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"line one\n"
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"line two\n"
        with open(env.runtime.log_path, "a") as f:
            f.write("line three\n")
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"line three\n"
        env.runtime.running = False  # the container stops: follow ends and kubectl exits 0
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_exec_unknown_container_is_404(env: Env) -> None:
    rc, _, err = await env.kubectl("1.33", "exec", POD, "-c", "nope", "--", "true")
    assert rc != 0
    assert 'container not found ("nope")' in err


async def test_python_client_exec(env: Env) -> None:
    from kubernetes import client
    from kubernetes.stream import stream

    def run() -> tuple[str, int | None]:
        cfg = client.Configuration()
        cfg.host = f"http://127.0.0.1:{env.port}"
        api = client.CoreV1Api(client.ApiClient(cfg))
        resp = stream(api.connect_get_namespaced_pod_exec, POD, NS, command=["sh", "-c", "echo out; exit 4"],
                      stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
        resp.run_forever(timeout=10)
        out = resp.read_stdout()
        code = resp.returncode
        resp.close()
        return out, code

    out, code = await asyncio.wait_for(asyncio.to_thread(run), 20)
    assert out == "out\n"
    assert code == 4
    # client 37 offers v5 and v4 (older ones only v4; test_channels covers v4 itself).
    assert env.seen == [["exec", "websocket/v5.channel.k8s.io,v4.channel.k8s.io", 101]]

