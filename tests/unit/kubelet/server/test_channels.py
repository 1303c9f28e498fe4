"""The WebSocket channel protocol of the kubelet server (v5, v4, base64), driven by an aiohttp WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from pyk8s.kubelet.cri.interface import (
    ANNOTATION_RESTART_COUNT,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    ContainerMetadata,
    ContainerStatus,
    PodSandboxMetadata,
    PodSandboxStatus,
    StreamIO,
    TerminalSize,
)
from pyk8s.kubelet.server import channels
from pyk8s.kubelet.server.app import build_kubelet_app

LABELS = {LABEL_POD_NAMESPACE: "ns", LABEL_POD_NAME: "p"}


class Runtime:
    def __init__(self) -> None:
        self.sizes: list[TerminalSize] = []

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [PodSandboxStatus("sb", PodSandboxMetadata("p", "ns", "u"), "SANDBOX_READY", 1, labels=LABELS)]

    async def list_containers(self) -> list[ContainerStatus]:
        return [ContainerStatus(f"c{n}", "sb", ContainerMetadata("c", n), "CONTAINER_RUNNING", n, "i", "i",
                                labels={**LABELS, LABEL_CONTAINER_NAME: "c"},
                                annotations={ANNOTATION_RESTART_COUNT: str(n)}) for n in (0, 1)]

    async def exec(self, container_id: str, cmd: list[str], io: StreamIO) -> int:
        if io.resize is not None:
            async def sizes() -> None:
                assert io.resize is not None
                async for size in io.resize:
                    self.sizes.append(size)
            task = asyncio.ensure_future(sizes())
        data = b""
        if io.stdin is not None:
            async for chunk in io.stdin:
                data += chunk
        assert io.stdout is not None
        await io.stdout(f"{container_id}:{' '.join(cmd)}:".encode() + data)
        if io.stderr is not None:
            await io.stderr(b"err")
        if io.resize is not None:
            task.cancel()
        return int(cmd[-1])


@pytest.fixture
async def base_url() -> AsyncIterator[tuple[str, Runtime]]:
    rt = Runtime()
    runner = web.AppRunner(build_kubelet_app(rt, stats_interval=None))  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", rt
    finally:
        await runner.cleanup()


async def collect(ws: aiohttp.ClientWebSocketResponse, protocol: str) -> tuple[dict[int, bytes], int | None]:
    got: dict[int, bytes] = {}
    async with asyncio.timeout(5):
        async for msg in ws:
            decoded = channels.decode_message(protocol, msg.data)
            assert decoded is not None
            got[decoded[0]] = got.get(decoded[0], b"") + decoded[1]
    return got, ws.close_code


def test_message_codec() -> None:
    assert channels.encode_message(channels.V4, 1, b"hi") == b"\x01hi"
    assert channels.encode_message(channels.V1_BASE64, 2, b"hi") == "2aGk="
    assert channels.decode_message(channels.V1_BASE64, "2aGk=") == (2, b"hi")
    assert channels.decode_message(channels.V5, b"\xff\x00") == (255, b"\x00")
    assert channels.decode_message(channels.V5, b"") is None


async def test_v5_stdin_close_and_exit_code(base_url: tuple[str, Runtime]) -> None:
    url, _ = base_url
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{url}/exec/ns/p/c?command=run&command=3&input=1&output=1&error=1",
            protocols=[channels.V5]) as ws:
        assert ws.protocol == channels.V5
        await ws.send_bytes(b"\x00abc")
        await ws.send_bytes(b"\xff\x00")  # close stdin
        got, code = await collect(ws, channels.V5)
    # The highest restart count is the current instance.
    assert got[channels.STDOUT] == b"c1:run 3:abc"
    assert got[channels.STDERR] == b"err"
    status = json.loads(got[channels.ERROR])
    assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert code == 1000


async def test_v4_success_status_and_tty_resize(base_url: tuple[str, Runtime]) -> None:
    url, rt = base_url
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{url}/exec/ns/p/c?command=run&command=0&output=true&error=True&tty=t",
            protocols=[channels.V4]) as ws:
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 80, "Height": 24}).encode())
        got, _ = await collect(ws, channels.V4)
    assert json.loads(got[channels.ERROR]) == {"metadata": {}, "status": "Success"}
    assert channels.STDERR not in got  # tty: stderr is dropped
    assert rt.sizes in ([], [TerminalSize(80, 24)])


async def test_base64_protocol(base_url: tuple[str, Runtime]) -> None:
    url, _ = base_url
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{url}/exec/ns/p/c?command=run&command=0&output=1", protocols=[channels.V1_BASE64]) as ws:
        got, _ = await collect(ws, channels.V1_BASE64)
    assert got[channels.STDOUT] == b"c1:run 0:"
    assert got.get(channels.ERROR, b"") == b""  # v1: nothing on success


async def test_refusals(base_url: tuple[str, Runtime]) -> None:
    url, _ = base_url
    async with aiohttp.ClientSession() as s:
        # An unknown subprotocol is refused with a non-101 so client-go falls back to SPDY.
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await s.ws_connect(f"{url}/exec/ns/p/c?command=x&output=1", protocols=["v9.channel.k8s.io"])
        assert e.value.status == 400
        async with s.post(f"{url}/exec/ns/p/c?command=x&output=1", headers={
                "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v5.channel.k8s.io"}) as r:
            assert r.status == 403
            assert "v4.channel.k8s.io" in r.headers["X-Accepted-Stream-Protocol-Versions"]
        async with s.get(f"{url}/exec/ns/p/nope?command=x&output=1") as r:
            body: dict[str, Any] = await r.json()
            assert (r.status, body["message"]) == (404, 'container not found ("nope")')
        async with s.get(f"{url}/exec/ns/other/c?command=x&output=1") as r:
            assert r.status == 404
        async with s.get(f"{url}/exec/ns/p/c?command=x&output=maybe") as r:
            assert r.status == 400
