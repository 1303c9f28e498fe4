"""base/netns.py against real network namespaces: sockets belong to the namespace they were made in."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from pyk8s.base import netns

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def fresh_netns() -> Iterator[str]:
    path = f"/run/netns/pyk8s-t-{uuid.uuid4().hex[:8]}"
    try:
        netns.pin_new_netns(path)
        subprocess.run(["ip", "-n", os.path.basename(path), "link", "set", "lo", "up"], check=True)
        yield path
    finally:
        netns.unpin_netns(path)
    assert not os.path.exists(path)


async def _root_listener() -> tuple[asyncio.Server, int, list[bytes]]:
    got: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.read(100))
        writer.write(b"root")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], got


def test_pin_and_unpin(fresh_netns: str) -> None:
    assert netns.is_netns(fresh_netns)
    assert os.path.basename(fresh_netns) in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                           text=True, check=True).stdout
    with pytest.raises(FileExistsError):
        netns.pin_new_netns(fresh_netns)
    # a new namespace has only lo
    links = subprocess.run(["ip", "-n", os.path.basename(fresh_netns), "-o", "link"], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    other = fresh_netns + "-b"
    netns.pin_netns(fresh_netns, other)  # a second name for the same namespace
    try:
        assert os.stat(other).st_ino == os.stat(fresh_netns).st_ino
    finally:
        netns.unpin_netns(other)
        netns.unpin_netns(other)  # idempotent
    assert not os.path.exists(other) and netns.is_netns(fresh_netns)


async def test_socket_in_fresh_netns_cannot_reach_root_loopback(fresh_netns: str) -> None:
    server, port, got = await _root_listener()
    try:
        with pytest.raises(ConnectionRefusedError):
            await netns.open_connection_in_netns(fresh_netns, "127.0.0.1", port)
        # the same call without a namespace reaches it, so the refusal above is the namespace's doing
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello")
        assert await reader.read() == b"root"
        writer.close()
        assert got == [b"hello"]
    finally:
        server.close()
        await server.wait_closed()


async def test_listener_inside_netns_is_reached_only_from_inside(fresh_netns: str) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"in:" + await reader.read(100))
        await writer.drain()
        writer.close()

    server = await netns.start_server_in_netns(echo, fresh_netns, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await netns.open_connection_in_netns(fresh_netns, "127.0.0.1", port)
        writer.write(b"ping")
        assert await reader.read() == b"in:ping"
        writer.close()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
    finally:
        server.close()
        await server.wait_closed()


async def test_aiohttp_connector_in_netns(fresh_netns: str) -> None:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="from the namespace")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = netns.listening_socket_in_netns(fresh_netns, "127.0.0.1", 0)
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    try:
        async with aiohttp.ClientSession(connector=netns.tcp_connector_in_netns(fresh_netns)) as session:
            async with session.get(f"http://127.0.0.1:{port}/") as resp:
                assert resp.status == 200
                assert await resp.text() == "from the namespace"
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.ClientConnectionError):
                await session.get(f"http://127.0.0.1:{port}/")
    finally:
        await runner.cleanup()


CHILD = """
import asyncio, socket, sys
from pyk8s.base import netns
root, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection(("127.0.0.1", port), timeout=5)
    print("plain:connected")
except ConnectionRefusedError:
    print("plain:refused")
async def main():
    reader, writer = await netns.open_connection_in_netns(root, "127.0.0.1", port)
    writer.write(b"from-child")
    print("netns:" + (await reader.read()).decode())
asyncio.run(main())
"""


async def test_process_in_another_netns_reaches_root_loopback(fresh_netns: str) -> None:
    """The reverse trick: a process living in a node namespace makes its sockets in ours."""
    server, port, got = await _root_listener()
    try:
        proc = await asyncio.create_subprocess_exec(
            "nsenter", f"--net={fresh_netns}", "--", sys.executable, "-c", CHILD, f"/proc/{os.getpid()}/ns/net",
            str(port), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
            env={**os.environ, "PYTHONPATH": REPO})
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        assert out.decode().split() == ["plain:refused", "netns:root"]
        assert got == [b"from-child"]
    finally:
        server.close()
        await server.wait_closed()
