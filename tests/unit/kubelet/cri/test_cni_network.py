"""CNIPodNetwork without root or real plugins: the concurrency cap, loopback and bridge at once, what the result
cache holds during and after ADD, DEL from an older cache, and the node masquerade rules (with a fake iptables)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Callable
from typing import Any

import pytest

from pyk8s.kubelet.cri.interface import CRIError, PortMapping
from pyk8s.kubelet.cri.runc.cni import POD_MASQ_CHAIN, CNIPodNetwork, pod_masquerade_rules

RESULT = {"cniVersion": "1.0.0", "ips": [{"address": "10.9.0.7/24", "gateway": "10.9.0.1"}]}


class GatedNetwork(CNIPodNetwork):
    """Plugins replaced by an in-process stand-in: records every call and holds ADDs until `gate` opens."""

    def __init__(self, data_dir: str, **kw: Any) -> None:
        super().__init__(pod_cidr="10.9.0.0/24", data_dir=data_dir, masquerade=False, **kw)
        self.gate = asyncio.Event()
        self.calls: list[tuple[str, str, str]] = []  # (command, plugin type, sandbox)
        self.running: list[tuple[str, str, str]] = []
        self.most_sandboxes = 0

    async def _exec(self, conf: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
        call = (env["CNI_COMMAND"], str(conf["type"]), env["CNI_CONTAINERID"])
        self.calls.append(call)
        self.running.append(call)
        self.most_sandboxes = max(self.most_sandboxes, len({c[2] for c in self.running}))
        try:
            if call[0] == "ADD":
                await self.gate.wait()
            return dict(RESULT) if call[0] == "ADD" else {}
        finally:
            self.running.remove(call)


async def _until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


def _setup(net: CNIPodNetwork, sid: str, ports: list[PortMapping] | None = None) -> Any:
    return net.setup(sandbox_id=sid, netns_path="/nonexistent", namespace="ns", name=sid, uid=f"uid-{sid}",
                     port_mappings=ports or [])


def _teardown(net: CNIPodNetwork, sid: str) -> Any:
    return net.teardown(sandbox_id=sid, netns_path="/nonexistent", namespace="ns", name=sid, uid=f"uid-{sid}",
                        port_mappings=[], attachment=None)


async def test_at_most_max_concurrent_sandboxes_run_plugins_and_teardown_queues_too(tmp_path: object) -> None:
    net = GatedNetwork(str(tmp_path), max_concurrent=3)
    setups = [asyncio.create_task(_setup(net, f"s{i}")) for i in range(10)]
    await _until(lambda: len({c[2] for c in net.running}) == 3, "three sandboxes in ADD")
    teardown = asyncio.create_task(_teardown(net, "s-other"))
    for _ in range(50):  # let every queued task run as far as it can
        await asyncio.sleep(0)
    assert {c[2] for c in net.calls} == {"s0", "s1", "s2"}
    assert not teardown.done()
    # loopback and bridge of one sandbox are in ADD at the same time
    assert sorted(c[1] for c in net.running if c[2] == "s0") == ["bridge", "loopback"]
    net.gate.set()
    attachments = await asyncio.gather(*setups)
    await teardown
    assert [a.ip for a in attachments] == ["10.9.0.7"] * 10
    assert net.most_sandboxes == 3
    assert len([c for c in net.calls if c[0] == "ADD"]) == 20


def test_max_concurrent_must_be_positive(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CNIPodNetwork(pod_cidr="10.9.0.0/24", data_dir=str(tmp_path), max_concurrent=0)


async def test_cache_is_written_twice_and_a_crash_mid_add_leaves_every_plugin_to_del(tmp_path: object) -> None:
    net = GatedNetwork(str(tmp_path))
    ports = [PortMapping(container_port=80, host_port=8080)]
    adding = asyncio.create_task(_setup(net, "s1", ports))
    await _until(lambda: len(net.running) == 2, "loopback and bridge in ADD")
    with open(os.path.join(net.results_dir, "s1.json")) as f:
        during = json.load(f)
    assert [(n["name"], n["added"], n["result"]) for n in during["networks"]] == [
        ("cni-loopback", 1, None), ("pyk8s", 2, None)]

    # "the kubelet crashed here": another instance tears down from the cache alone, every plugin, last first
    after_crash = GatedNetwork(str(tmp_path))
    await _teardown(after_crash, "s1")
    assert after_crash.calls == [("DEL", "portmap", "s1"), ("DEL", "bridge", "s1"), ("DEL", "loopback", "s1")]
    assert not os.path.exists(os.path.join(net.results_dir, "s1.json"))

    net.gate.set()
    await adding
    with open(os.path.join(net.results_dir, "s1.json")) as f:
        done = json.load(f)
    assert [(n["added"], n["result"]) for n in done["networks"]] == [(1, RESULT), (2, RESULT)]
    assert done["networks"][1]["plugins"][0]["ipMasq"] is False


async def test_failed_add_undoes_only_what_ran(tmp_path: object) -> None:
    class FailingBridge(GatedNetwork):
        async def _exec(self, conf: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
            if conf["type"] == "bridge" and env["CNI_COMMAND"] == "ADD":
                self.calls.append(("ADD", "bridge", env["CNI_CONTAINERID"]))
                raise CRIError('plugin type="bridge" failed (add): no')
            return await super()._exec(conf, env)

    net = FailingBridge(str(tmp_path))
    net.gate.set()
    with pytest.raises(CRIError, match=r'^failed to set up network for sandbox "s1": plugin type="bridge"'):
        await _setup(net, "s1", [PortMapping(container_port=80, host_port=8080)])
    assert sorted(net.calls[:2]) == [("ADD", "bridge", "s1"), ("ADD", "loopback", "s1")]
    assert net.calls[2:] == [("DEL", "bridge", "s1"), ("DEL", "loopback", "s1")]  # portmap never ran
    assert os.listdir(net.results_dir) == []


async def test_teardown_reads_a_cache_of_the_older_format(tmp_path: object) -> None:
    net = GatedNetwork(str(tmp_path))
    old = net.networks("10.9.0.0/24", [PortMapping(container_port=80, host_port=8080)])
    for n in old:
        del n["added"]
    os.makedirs(net.results_dir)
    with open(os.path.join(net.results_dir, "s1.json"), "w") as f:
        json.dump({"netns": "/nonexistent", "networks": old, "added": 2}, f)  # loopback and bridge attempted
    await _teardown(net, "s1")
    assert net.calls == [("DEL", "bridge", "s1"), ("DEL", "loopback", "s1")]


# ---- the node masquerade rules, with a fake iptables keeping its nat table in a file -------------------------------

FAKE_IPTABLES = """#!/bin/sh
printf '%s\\n' "$*" >> "$IPT_LOG"
[ "$1 $2 $3" = "-w -t nat" ] || { echo "unexpected: $*" >&2; exit 2; }
shift 3
op=$1; shift
touch "$IPT_RULES"
case $op in
  -N) if grep -qxF -- "-N $1" "$IPT_RULES"; then echo "iptables: Chain already exists." >&2; exit 1; fi
      echo "-N $1" >> "$IPT_RULES";;
  -C) grep -qxF -- "-A $*" "$IPT_RULES" || { echo "iptables: Bad rule." >&2; exit 1; };;
  -A) [ -z "$IPT_FAIL_ADD" ] || { echo "iptables: No chain/target/match by that name." >&2; exit 1; }
      echo "-A $*" >> "$IPT_RULES";;
  *) exit 2;;
esac
"""


@pytest.fixture
def fake_iptables(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> str:
    path = os.path.join(str(tmp_path), "iptables")
    with open(path, "w") as f:
        f.write(FAKE_IPTABLES)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    monkeypatch.setenv("IPT_LOG", os.path.join(str(tmp_path), "ipt.log"))
    monkeypatch.setenv("IPT_RULES", os.path.join(str(tmp_path), "ipt.rules"))
    return path


def _lines(tmp_path: object, name: str) -> list[str]:
    try:
        with open(os.path.join(str(tmp_path), name)) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


class MasqueradingNetwork(GatedNetwork):
    def __init__(self, data_dir: str, iptables: str) -> None:
        super().__init__(data_dir, iptables=iptables)
        self.masquerade = True
        self.gate.set()


async def test_node_masquerade_rules_are_installed_once_and_never_twice(fake_iptables: str, tmp_path: object) -> None:
    net = MasqueradingNetwork(os.path.join(str(tmp_path), "d"), fake_iptables)
    await asyncio.gather(_setup(net, "s1"), _setup(net, "s2"))
    await _setup(net, "s3")
    rules = [" ".join(r) for r in pod_masquerade_rules("10.9.0.0/24")]
    assert _lines(tmp_path, "ipt.rules") == [f"-N {POD_MASQ_CHAIN}", *(f"-A {r}" for r in rules)]
    log = _lines(tmp_path, "ipt.log")
    assert [line.split()[3] for line in log] == ["-N", "-C", "-A", "-C", "-A", "-C", "-A"]  # once, for 3 pods
    assert rules[1] == (f"{POD_MASQ_CHAIN} -s 10.9.0.0/24 ! -d 10.9.0.0/24 -m comment --comment "
                        "pyk8s: masquerade pod traffic leaving the pod network -j MASQUERADE")
    assert rules[2].startswith("POSTROUTING ") and rules[2].endswith(f"-j {POD_MASQ_CHAIN}")
    await _teardown(net, "s1")
    assert len(_lines(tmp_path, "ipt.log")) == 7  # DEL leaves the node's rules alone

    restarted = MasqueradingNetwork(os.path.join(str(tmp_path), "d"), fake_iptables)
    await _setup(restarted, "s4")
    assert [line.split()[3] for line in _lines(tmp_path, "ipt.log")[7:]] == ["-N", "-C", "-C", "-C"]
    assert len(_lines(tmp_path, "ipt.rules")) == 4


async def test_masquerade_failure_fails_the_setup_before_any_plugin(fake_iptables: str, tmp_path: object,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPT_FAIL_ADD", "1")
    net = MasqueradingNetwork(os.path.join(str(tmp_path), "d"), fake_iptables)
    with pytest.raises(CRIError, match=(rf'^failed to set up network for sandbox "s1": cannot add the pod '
                                        f"masquerade rule to {POD_MASQ_CHAIN}: iptables: No chain")):
        await _setup(net, "s1")
    assert net.calls == []
    assert not os.path.exists(os.path.join(net.results_dir, "s1.json"))
    monkeypatch.delenv("IPT_FAIL_ADD")
    assert (await _setup(net, "s1")).ip == "10.9.0.7"  # not remembered as done: the next pod tries again


def test_ipv6_pod_cidr_keeps_ipv6_multicast_unmasqueraded() -> None:
    assert pod_masquerade_rules("fd00:10::/64")[0][4] == "ff00::/8"
