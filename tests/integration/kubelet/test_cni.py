"""CNIPodNetwork with the real Debian CNI plugins, inside a node namespace of the test topology."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pyk8s.base import netns
from pyk8s.kubelet.cri.interface import CRIError, PortMapping
from pyk8s.kubelet.cri.runc.cni import POD_MASQ_CHAIN, CNIPodNetwork
from tests.node_sandbox import Node, NodeNetwork

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
needs_plugins = pytest.mark.skipif(not os.path.exists("/usr/lib/cni/bridge"), reason="needs containernetworking-plugins")


def _ours(suffix: str) -> tuple[list[str], list[str]]:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return [n for n in names.split() if suffix in n], links.splitlines()


@pytest.fixture
def node_net() -> Iterator[tuple[NodeNetwork, Node]]:
    links_before = _ours("")[1]
    net = NodeNetwork()
    try:
        net.start()
        yield net, net.add_node("n1")
    finally:
        net.close()
        leftover, links_after = _ours(net.suffix)
        assert leftover == []
        assert [line.split(":")[1] for line in links_after] == [line.split(":")[1] for line in links_before]


async def _http_get(netns_path: str, host: str, port: int, deadline: float) -> bytes:
    """GET / from inside a namespace, retrying refusals until the deadline (the server may still be starting)."""
    while True:
        try:
            reader, writer = await netns.open_connection_in_netns(netns_path, host, port)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
    writer.write(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    body = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return body


def _nat_rules(node: Node) -> str:
    return subprocess.run(node.argv(["iptables-save", "-t", "nat"]), capture_output=True, text=True,
                          check=True).stdout


def _masquerade_rules(rules: str) -> list[str]:
    return [line for line in rules.splitlines() if line.startswith(f"-A {POD_MASQ_CHAIN} ") and "MASQUERADE" in line]


@pytest.mark.root
@needs_root
@needs_plugins
@pytest.mark.timeout(60)
async def test_pods_reach_each_other_hostport_answers_and_teardown_cleans(
        node_net: tuple[NodeNetwork, Node], tmp_path: object) -> None:
    net, node = node_net
    data_dir = os.path.join(str(tmp_path), "cni")
    cni = CNIPodNetwork(pod_cidr=lambda: "10.244.1.0/24", data_dir=data_dir, plugin_netns=node.netns_path)
    pod_a = net.add_netns(f"{node.netns}-pa")
    pod_b = net.add_netns(f"{node.netns}-pb")
    ids = {"a": "sandbox-a-" + net.suffix, "b": "sandbox-b-" + net.suffix}
    ports = [PortMapping(container_port=8080, host_port=18080)]
    att_a = await cni.setup(sandbox_id=ids["a"], netns_path=pod_a, namespace="default", name="a", uid="uid-a",
                            port_mappings=[])
    att_b = await cni.setup(sandbox_id=ids["b"], netns_path=pod_b, namespace="default", name="b", uid="uid-b",
                            port_mappings=ports)
    assert att_a.gateway == att_b.gateway == "10.244.1.1"
    assert {att_a.ip, att_b.ip} == {"10.244.1.2", "10.244.1.3"}
    leased = os.path.join(cni.ipam_dir, "pyk8s")
    assert {att_a.ip, att_b.ip} <= set(os.listdir(leased))

    www = os.path.join(str(tmp_path), "www")
    os.makedirs(www)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("pod-b says hi\n")
    net.popen(pod_b, ["busybox", "httpd", "-f", "-p", "8080", "-h", www])
    deadline = time.monotonic() + 10

    # pod a → pod b by IP, across cni0
    assert (await _http_get(pod_a, att_b.ip, 8080, deadline)).endswith(b"pod-b says hi\n")
    wget = await asyncio.create_subprocess_exec(
        *net.argv(pod_a, ["busybox", "wget", "-qO-", f"http://{att_b.ip}:8080/"]), stdout=asyncio.subprocess.PIPE)
    assert (await asyncio.wait_for(wget.communicate(), 10))[0] == b"pod-b says hi\n"
    # the hostPort answers on the node address, from the switch namespace (another "machine")
    assert (await _http_get(net.switch_netns_path, node.ip, 18080, deadline)).endswith(b"pod-b says hi\n")
    rules = _nat_rules(node)
    assert ids["b"] in rules  # portmap's DNAT for pod b's hostPort
    assert ids["a"] not in rules  # no per-pod masquerade chain: the node has one rule for the pod CIDR
    assert _masquerade_rules(rules) == [f"-A {POD_MASQ_CHAIN} -s 10.244.1.0/24 ! -d 10.244.1.0/24 -m comment "
                                        '--comment "pyk8s: masquerade pod traffic leaving the pod network" '
                                        "-j MASQUERADE"]

    for key, path, att, pm in (("a", pod_a, att_a, []), ("b", pod_b, att_b, ports)):
        await cni.teardown(sandbox_id=ids[key], netns_path=path, namespace="default", name=key, uid=f"uid-{key}",
                           port_mappings=pm, attachment=att)
        await cni.teardown(sandbox_id=ids[key], netns_path=path, namespace="default", name=key, uid=f"uid-{key}",
                           port_mappings=pm, attachment=att)  # idempotent
    assert not ({att_a.ip, att_b.ip} & set(os.listdir(leased)))
    rules = _nat_rules(node)
    assert ids["a"] not in rules and ids["b"] not in rules and "CNI-DN-" not in rules
    assert len(_masquerade_rules(rules)) == 1  # the node's rule stays (it dies with the node's namespace)
    links = subprocess.run(node.argv(["ip", "-o", "link"]), capture_output=True, text=True, check=True).stdout
    assert "veth" not in links  # the pods' host-side veths are gone with their eth0
    assert os.listdir(cni.results_dir) == []


@pytest.mark.root
@needs_root
@needs_plugins
async def test_teardown_after_the_netns_is_gone_frees_the_address(node_net: tuple[NodeNetwork, Node],
                                                                  tmp_path: object) -> None:
    net, node = node_net
    cni = CNIPodNetwork(pod_cidr="10.244.1.0/24", data_dir=str(tmp_path), plugin_netns=node.netns_path)
    pod = net.add_netns(f"{node.netns}-pc")
    att = await cni.setup(sandbox_id="sandbox-c", netns_path=pod, namespace="ns", name="c", uid="uid-c",
                          port_mappings=[])
    assert att.ip in os.listdir(os.path.join(cni.ipam_dir, "pyk8s"))
    netns.unpin_netns(pod)
    await cni.teardown(sandbox_id="sandbox-c", netns_path=pod, namespace="ns", name="c", uid="uid-c",
                       port_mappings=[], attachment=att)
    assert att.ip not in os.listdir(os.path.join(cni.ipam_dir, "pyk8s"))
    assert not os.path.exists(os.path.join(cni.results_dir, "sandbox-c.json"))


@pytest.mark.root
@needs_root
@needs_plugins
@pytest.mark.timeout(60)
async def test_traffic_leaving_the_pod_network_comes_from_the_node_and_a_restart_adds_no_rule(
        node_net: tuple[NodeNetwork, Node], tmp_path: object) -> None:
    """A listener on the switch (another machine: no route to any pod CIDR) sees the node's address; a pod
    reaching another pod keeps its own. A second CNIPodNetwork (a kubelet restart) finds the rules in place."""
    net, node = node_net
    peers: list[str] = []

    async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        writer.write(b"hi\n")
        await writer.drain()
        writer.close()

    async def hello_from(pod: str, host: str, port: int) -> bytes:
        reader, writer = await asyncio.wait_for(netns.open_connection_in_netns(pod, host, port), 10)
        try:
            return await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()

    data_dir = str(tmp_path)
    pods = [net.add_netns(f"{node.netns}-m{i}") for i in range(2)]
    first = CNIPodNetwork(pod_cidr="10.244.3.0/24", data_dir=data_dir, plugin_netns=node.netns_path)
    att0 = await first.setup(sandbox_id="sandbox-m0", netns_path=pods[0], namespace="ns", name="m0", uid="u0",
                             port_mappings=[])
    restarted = CNIPodNetwork(pod_cidr="10.244.3.0/24", data_dir=data_dir, plugin_netns=node.netns_path)
    att1 = await restarted.setup(sandbox_id="sandbox-m1", netns_path=pods[1], namespace="ns", name="m1", uid="u1",
                                 port_mappings=[])
    outside = await netns.start_server_in_netns(hello, net.switch_netns_path, net.gateway, 0)
    inside = await netns.start_server_in_netns(hello, pods[1], att1.ip, 0)
    try:
        assert await hello_from(pods[0], net.gateway, outside.sockets[0].getsockname()[1]) == b"hi\n"
        assert await hello_from(pods[1], net.gateway, outside.sockets[0].getsockname()[1]) == b"hi\n"
        assert await hello_from(pods[0], att1.ip, inside.sockets[0].getsockname()[1]) == b"hi\n"
        assert peers == [node.ip, node.ip, att0.ip]
    finally:
        outside.close()
        inside.close()
    rules = _nat_rules(node)
    assert len(_masquerade_rules(rules)) == 1
    assert rules.count(f"-j {POD_MASQ_CHAIN}") == 1 and rules.count("-j RETURN") == 1
    await first.teardown(sandbox_id="sandbox-m0", netns_path=pods[0], namespace="ns", name="m0", uid="u0",
                         port_mappings=[], attachment=att0)
    await restarted.teardown(sandbox_id="sandbox-m1", netns_path=pods[1], namespace="ns", name="m1", uid="u1",
                             port_mappings=[], attachment=att1)
    assert os.listdir(os.path.join(data_dir, "results")) == []


# ---- fake plugins: the exact protocol (env, stdin, error handling, DEL order) without root -----------------------

FAKE = """#!/bin/sh
conf=$(cat)
printf '%s %s %s\\n' "$CNI_COMMAND" "$(basename "$0")" "$CNI_ARGS" >> "$LOG"
printf '%s\\n' "$conf" >> "$LOG.stdin"
if [ "$(basename "$0")" = bridge ] && [ "$CNI_COMMAND" = ADD ] && [ -n "$FAIL" ]; then
  printf '%s\\n' '{"cniVersion":"1.0.0","code":11,"msg":"boom","details":"line one\\nline two"}'; exit 1
fi
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.7/24","gateway":"10.9.0.1"},{"address":"fd00::7/64"}]}'
fi
"""


@pytest.fixture
def fake_plugins(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> str:
    plugin_dir = os.path.join(str(tmp_path), "plugins")
    os.makedirs(plugin_dir)
    for name in ("loopback", "bridge", "portmap"):
        path = os.path.join(plugin_dir, name)
        with open(path, "w") as f:
            f.write(FAKE)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    monkeypatch.setenv("LOG", os.path.join(str(tmp_path), "log"))
    return plugin_dir


def _log(tmp_path: object) -> list[str]:
    with open(os.path.join(str(tmp_path), "log")) as f:
        return [" ".join(line.split()[:2]) for line in f]


async def test_fake_chain_add_then_del_in_reverse(fake_plugins: str, tmp_path: object) -> None:
    cni = CNIPodNetwork(pod_cidr="10.9.0.0/24", data_dir=os.path.join(str(tmp_path), "d"), plugin_dir=fake_plugins,
                        masquerade=False)  # no iptables in the test's own namespace
    att = await cni.setup(sandbox_id="s1", netns_path="/nonexistent", namespace="ns", name="p", uid="u",
                          port_mappings=[PortMapping(80, 8080, "TCP")])
    assert (att.ip, att.gateway, att.additional_ips) == ("10.9.0.7", "10.9.0.1", ["fd00::7"])
    await cni.teardown(sandbox_id="s1", netns_path="/nonexistent", namespace="ns", name="p", uid="u",
                       port_mappings=[], attachment=att)
    log = _log(tmp_path)
    assert sorted(log[:2]) == ["ADD bridge", "ADD loopback"]  # the two networks are set up at once
    assert log[2:] == ["ADD portmap", "DEL portmap", "DEL bridge", "DEL loopback"]
    with open(os.path.join(str(tmp_path), "log")) as f:
        assert f.readline().split()[2] == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;"
                                           "K8S_POD_INFRA_CONTAINER_ID=s1;K8S_POD_UID=u")
    with open(os.path.join(str(tmp_path), "log.stdin")) as f:
        confs = [json.loads(line) for line in f]
    bridge_add = next(c for c in confs[:2] if c["type"] == "bridge")
    portmap_add, portmap_del = confs[2], confs[3]
    assert portmap_add["runtimeConfig"]["portMappings"] == [{"hostPort": 8080, "containerPort": 80,
                                                             "protocol": "tcp"}]
    assert portmap_add["prevResult"]["ips"][0]["address"] == "10.9.0.7/24"
    assert portmap_del["runtimeConfig"] == portmap_add["runtimeConfig"]  # from the cache, not the DEL caller
    assert bridge_add["ipam"]["ranges"] == [[{"subnet": "10.9.0.0/24"}]] and "prevResult" not in bridge_add
    assert bridge_add["ipMasq"] is False  # the node masquerades the pod CIDR once, not the plugin per pod
    # a second teardown has nothing left to do
    await cni.teardown(sandbox_id="s1", netns_path="/nonexistent", namespace="ns", name="p", uid="u",
                       port_mappings=[], attachment=None)
    assert len(_log(tmp_path)) == 6


async def test_fake_plugin_error_is_a_one_line_crierror_and_undoes_the_chain(
        fake_plugins: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL", "1")
    cni = CNIPodNetwork(pod_cidr="10.9.0.0/24", data_dir=os.path.join(str(tmp_path), "d"), plugin_dir=fake_plugins,
                        masquerade=False)  # no iptables in the test's own namespace
    with pytest.raises(CRIError) as err:
        await cni.setup(sandbox_id="s2", netns_path="/x", namespace="ns", name="p", uid="u", port_mappings=[])
    assert str(err.value) == ('failed to set up network for sandbox "s2": plugin type="bridge" failed (add): '
                              "boom: line one line two")
    log = _log(tmp_path)
    assert sorted(log[:2]) == ["ADD bridge", "ADD loopback"] and log[2:] == ["DEL bridge", "DEL loopback"]
    assert os.listdir(cni.results_dir) == []


async def test_no_pod_cidr_yet(tmp_path: object) -> None:
    cni = CNIPodNetwork(pod_cidr=lambda: None, data_dir=str(tmp_path))
    with pytest.raises(CRIError, match="podCIDR"):
        await cni.setup(sandbox_id="s", netns_path="/x", namespace="ns", name="p", uid="u", port_mappings=[])


AS_KUBELET = """
import asyncio, dataclasses, json, sys
from pyk8s.kubelet.cri.runc.cni import CNIPodNetwork
from pyk8s.kubelet.cri.runc.seams import PodNetworkAttachment
command, data_dir, pod, attachment = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
cni = CNIPodNetwork(pod_cidr="10.244.7.0/24", data_dir=data_dir)
kw = dict(sandbox_id="sandbox-k", netns_path=pod, namespace="ns", name="k", uid="uid-k", port_mappings=[])
if command == "setup":
    print(json.dumps(dataclasses.asdict(asyncio.run(cni.setup(**kw)))))
else:
    asyncio.run(cni.teardown(attachment=PodNetworkAttachment(**json.loads(attachment)), **kw))
"""


@pytest.mark.root
@needs_root
@needs_plugins
async def test_plugins_inherit_the_namespace_of_a_kubelet_living_in_the_node(node_net: tuple[NodeNetwork, Node],
                                                                             tmp_path: object) -> None:
    """The production shape: no plugin_netns; the kubelet process itself runs under nsenter --net=<node>."""
    net, node = node_net
    pod = net.add_netns(f"{node.netns}-pk")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

    async def kubelet(command: str, attachment: str = "") -> str:
        proc = await asyncio.create_subprocess_exec(
            *node.argv([sys.executable, "-c", AS_KUBELET, command, str(tmp_path), pod, attachment]),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": repo})
        out, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    attachment = await kubelet("setup")
    assert json.loads(attachment)["ip"] == "10.244.7.2"
    node_links = subprocess.run(node.argv(["ip", "-o", "link"]), capture_output=True, text=True).stdout
    root_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert " cni0:" in node_links and " cni0:" not in root_links
    assert await _pod_reaches_gateway(pod, "10.244.7.1")
    await kubelet("teardown", attachment)
    assert "10.244.7.2" not in os.listdir(os.path.join(str(tmp_path), "ipam", "pyk8s"))


async def _pod_reaches_gateway(netns_path: str, host: str) -> bool:
    """The pod reaches its gateway (the node side of cni0): a closed port answers with a refusal, not a timeout."""
    try:
        _, writer = await asyncio.wait_for(netns.open_connection_in_netns(netns_path, host, 1), 5)
    except ConnectionRefusedError:
        return True
    writer.close()
    return True
