"""A stand-in kubelet for apiserver relay tests: an aiohttp HTTPS server on 127.0.0.1 in a background thread.

It serves the kubelet URLs the apiserver relays to, with its own self-signed serving certificate, and
requires a client certificate signed by the cluster CA (as a real kubelet with --client-ca-file does):

- ``/containerLogs/{ns}/{pod}/{ctr}``: ``log line 1..3`` (``follow=true``: one line, then a second once
  ``release_follow()`` is called, then the end);
- ``/exec|/attach/{ns}/{pod}/{ctr}`` over WebSocket (v5/v4.channel.k8s.io): stdout ``you said: <stdin>`` for
  every stdin message, or at once ``ran: <command>`` with no stdin; then a Success Status and close 1000.
  Container ``spdy-only`` refuses WebSocket with 400; its SPDY POST upgrade answers 101 and echoes raw
  bytes upper-cased (no real SPDY);
- ``/stats/summary``: ``self.summary``; ``/healthz``: ``ok``.

Every request is recorded (method, path, query, client certificate subject) in ``self.requests``.
"""

from __future__ import annotations

import asyncio
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from pyk8s.apiserver.hijack import hijack
from pyk8s.pki.certs import new_ca, new_serving_cert

Obj = dict[str, Any]


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    client_cn: str
    client_groups: list[str]
    headers: dict[str, str] = field(default_factory=dict)


class FakeKubelet:
    def __init__(self, cluster_ca_file: Path) -> None:
        self.cluster_ca_file = cluster_ca_file
        self.requests: list[Seen] = []
        self.summary: Obj = {}
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._follow_release: asyncio.Event | None = None
        self._tmp = tempfile.TemporaryDirectory()

    # ---- lifecycle ----
    def start(self) -> FakeKubelet:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._tmp.cleanup()

    def release_follow(self) -> None:
        def release() -> None:
            assert self._follow_release is not None
            self._follow_release.set()
        self._loop.call_soon_threadsafe(release)

    async def _start(self) -> None:
        self._follow_release = asyncio.Event()
        own_ca = new_ca("fake-kubelet-ca")
        serving = new_serving_cert(own_ca, "fake-kubelet", ["localhost"], ["127.0.0.1"])
        cert, key = Path(self._tmp.name) / "k.crt", Path(self._tmp.name) / "k.key"
        cert.write_bytes(serving.cert_pem)
        key.write_bytes(serving.key_pem)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(str(self.cluster_ca_file))
        ctx.verify_mode = ssl.CERT_REQUIRED
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/containerLogs/{ns}/{pod}/{ctr}", self._logs)
        app.router.add_route("*", "/exec/{ns}/{pod}/{ctr}", self._exec)
        app.router.add_route("*", "/attach/{ns}/{pod}/{ctr}", self._exec)
        app.router.add_get("/stats/summary", self._summary)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    # ---- handlers ----
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        cn, groups = "", []
        ssl_obj = request.transport.get_extra_info("ssl_object") if request.transport else None
        if ssl_obj is not None:
            for rdn in (ssl_obj.getpeercert() or {}).get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        cn = v
                    elif k == "organizationName":
                        groups.append(v)
        self.requests.append(Seen(request.method, request.path, list(request.query.items()), cn, groups,
                                  dict(request.headers)))
        resp: web.StreamResponse = await handler(request)
        return resp

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        ctr = request.match_info["ctr"]
        if request.query.get("follow") == "true":
            await resp.write(f"{ctr} first\n".encode())
            assert self._follow_release is not None
            await self._follow_release.wait()
            self._follow_release.clear()
            await resp.write(f"{ctr} second\n".encode())
        else:
            for i in (1, 2, 3):
                await resp.write(f"{ctr} log line {i}\n".encode())
        await resp.write_eof()
        return resp

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        ctr = request.match_info["ctr"]
        if ctr == "spdy-only":
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                          "message": "websocket not supported here", "code": 400}, status=400)
            versions = ",".join(request.headers.getall("X-Stream-Protocol-Version", []))
            chosen = "v4.channel.k8s.io" if "v4.channel.k8s.io" in versions else "portforward.k8s.io"
            conn = await hijack(request, [("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", chosen)])
            while data := await conn.read():
                await conn.write(data.upper())
            conn.close()
            return conn.response
        ws = web.WebSocketResponse(protocols=["v5.channel.k8s.io", "v4.channel.k8s.io"])
        await ws.prepare(request)
        command = " ".join(request.query.getall("command", []))
        if request.query.get("input") != "1":
            await ws.send_bytes(b"\x01" + f"ran: {command}\n".encode())
        else:
            async for msg in ws:
                if not isinstance(msg.data, bytes) or not msg.data:
                    continue
                if msg.data[0] == 0:
                    await ws.send_bytes(b"\x01you said: " + msg.data[1:])
                if msg.data[0] == 0xFF or msg.data[1:] == b"bye":
                    break
        await ws.send_bytes(b"\x03" + orjson.dumps({"metadata": {}, "status": "Success"}))
        await ws.close(code=1000)
        return ws

    async def _summary(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.summary)

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")


def node_object(name: str, port: int, labels: dict[str, str] | None = None) -> Obj:
    """A Ready Node whose kubelet is the fake one on 127.0.0.1:port."""
    return {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
        "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok"}],
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        },
    }
