"""pyk8s.kubelet.localnet: the node topology survives in a state file, another process removes all of it, and
forward_port reaches a node address from the host's 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from pyk8s.base import netns
from pyk8s.kubelet.localnet import NodeNetwork, forward_port

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _netns_names() -> list[str]:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()


def _root_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def _root_addresses() -> str:
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout


def _holders(inodes: set[int]) -> list[str]:
    """Threads still inside any of these namespaces (a namespace with none and no pin is gone, veths and all)."""
    found = []
    for task in os.listdir("/proc"):
        if not task.isdigit():
            continue
        try:
            for tid in os.listdir(f"/proc/{task}/task"):
                if os.stat(f"/proc/{task}/task/{tid}/ns/net").st_ino in inodes:
                    found.append(f"{task}/{tid}")
        except OSError:
            continue
    return found


async def _get_through(port: int, deadline: float) -> bytes:
    """GET / on 127.0.0.1:port; an empty answer means the target was not listening yet, so retry."""
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        body = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        if body or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


@pytest.mark.timeout(60)
async def test_two_nodes_saved_forwarded_and_removed_by_another_process(tmp_path: object) -> None:
    links_before, addrs_before = _root_links(), _root_addresses()
    state = os.path.join(str(tmp_path), "state", "network.json")
    net = NodeNetwork(state_path=state)
    try:
        n1, n2 = net.add_node("n1"), net.add_node("n2")
        assert (n1.ip, n2.ip, n1.netns, net.switch_netns) == (
            "10.250.0.1", "10.250.0.2", f"pyk8s-{net.suffix}-n1", f"pyk8s-sw-{net.suffix}")
        pod = net.add_netns(f"{n2.netns}-pod")
        with open(state) as f:
            saved = json.load(f)
        assert saved["suffix"] == net.suffix and saved["subnet"] == "10.250.0.0/24"
        assert [(n["name"], n["index"], n["ip"], n["netns"]) for n in saved["nodes"]] == [
            ("n1", 1, "10.250.0.1", n1.netns), ("n2", 2, "10.250.0.2", n2.netns)]
        assert saved["netns"] == [net.switch_netns_path, n1.netns_path, n2.netns_path, pod]
        assert {net.switch_netns, n1.netns, n2.netns} <= set(_netns_names())
        assert _root_links() == links_before and "10.250." not in _root_addresses()

        # node 1 reaches node 2 across the switch: a closed port answers with a refusal, not silence
        with pytest.raises(ConnectionRefusedError):
            await asyncio.wait_for(netns.open_connection_in_netns(n1.netns_path, n2.ip, 1), 5)

        www = os.path.join(str(tmp_path), "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("node n2 says hi\n")
        httpd = net.popen(n2, ["busybox", "httpd", "-f", "-p", "8080", "-h", www])
        with open(state) as f:
            assert [p["pid"] for p in json.load(f)["processes"]] == [httpd.pid]
        server = await forward_port("127.0.0.1", 0, net.switch_netns_path, n2.ip, 8080)
        try:
            port = server.sockets[0].getsockname()[1]
            body = await _get_through(port, time.monotonic() + 10)
            assert body.startswith(b"HTTP/1.") and body.endswith(b"node n2 says hi\n")
        finally:
            server.close()
            await server.wait_closed()
        # nothing the forwarder did shows in the root namespace
        assert _root_links() == links_before and "10.250." not in _root_addresses()

        inodes = {os.stat(p).st_ino for p in (net.switch_netns_path, n1.netns_path, n2.netns_path, pod)}
        netns.unpin_netns(n1.netns_path)  # a piece already gone must not stop `down`
        netns.release_netns(net.switch_netns_path)  # our forwarder's thread would keep the switch alive
        down = subprocess.run(
            [sys.executable, "-c", "import sys; from pyk8s.kubelet.localnet import NodeNetwork; "
                                   "NodeNetwork.load(sys.argv[1]).close()", state],
            capture_output=True, text=True, timeout=30, cwd=REPO, env={**os.environ, "PYTHONPATH": REPO})
        assert down.returncode == 0, down.stderr
        assert httpd.wait(timeout=10) == -9  # killed by the other process, by recorded pid + start time
        assert [n for n in _netns_names() if net.suffix in n] == []
        assert not os.path.exists(state)
        assert _holders(inodes) == []
        assert _root_links() == links_before and _root_addresses() == addrs_before
    finally:
        net.close()  # tolerant of everything being gone already
        net.close()
    assert [n for n in _netns_names() if net.suffix in n] == []


def test_load_close_tolerates_missing_pieces_and_never_kills_a_reused_pid(tmp_path: object) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        state = os.path.join(str(tmp_path), "network.json")
        suffix = os.urandom(3).hex()
        with open(state, "w") as f:
            json.dump({"version": 1, "suffix": suffix, "subnet": "10.250.0.0/24", "started": True,
                       "nodes": [{"name": "a", "index": 1, "ip": "10.250.0.1", "netns": f"pyk8s-{suffix}-a"}],
                       "netns": [f"/run/netns/pyk8s-sw-{suffix}", f"/run/netns/pyk8s-{suffix}-a"],
                       "processes": [{"pid": bystander.pid, "startTime": 1, "argv": ["sleep", "60"]}]}, f)
        # a pod namespace named after the node, made by someone else (a kubelet), is swept with it
        stray = f"/run/netns/pyk8s-{suffix}-a-pod"
        netns.pin_new_netns(stray)
        net = NodeNetwork.load(state)
        assert net.nodes["a"].netns_path == f"/run/netns/pyk8s-{suffix}-a"
        net.close()
        net.close()
        assert not os.path.exists(stray) and not os.path.exists(state)
        assert bystander.poll() is None  # same pid, different start time: not ours
    finally:
        bystander.kill()
        bystander.wait()


def test_suffix_must_not_cover_another_network() -> None:
    with pytest.raises(ValueError, match="suffix"):
        NodeNetwork(suffix="demo-2")


async def test_forward_port_passes_half_close_and_closes_refused_connections() -> None:
    async def upper_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # until the client's EOF arrives through the forwarder
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    target = await asyncio.start_server(upper_echo, "127.0.0.1", 0)
    target_port = target.sockets[0].getsockname()[1]
    here = f"/proc/{os.getpid()}/ns/net"
    server = await forward_port("127.0.0.1", 0, here, "127.0.0.1", target_port)
    refused = await forward_port("127.0.0.1", 0, here, "127.0.0.1", 1)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(b"hello ")
        writer.write(b"there")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), 10) == b"HELLO THERE"
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", refused.sockets[0].getsockname()[1])
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    finally:
        for s in (server, refused, target):
            s.close()
            await s.wait_closed()
        netns.release_netns(here)
