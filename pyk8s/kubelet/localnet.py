"""Nodes on one machine, each in its own network namespace behind a switch namespace (plan §5).

    pyk8s-sw-<suffix>:       bridge br0 10.250.0.254/24, `unreachable default`, ip_forward=1
      vethN  <-veth->  pyk8s-<suffix>-<node>: eth0 10.250.0.N/24, default via .254, ip_forward=1

Nothing is ever added to the root namespace: the veth pairs are created with both ends already inside the
new namespaces, and no address or route for the cluster ranges exists outside them. Node processes run with
`nsenter --net=<netns file>` (not `ip netns exec`, which also makes a mount namespace and remounts /sys), so
they share the root mount namespace. The pods' CNI bridges, veths and iptables rules live inside the node
namespaces and die with them.

`pyk8s up` and `pyk8s down` are different processes, so a network can keep its state in a JSON file (written
after every change): `NodeNetwork.load(path).close()` kills the processes it started and unpins every namespace
it made, also after a crash part-way. `forward_port` lets the host's 127.0.0.1 reach a node address (a
kubelet, a pod's hostPort) without any route into the cluster ranges.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.base import netns

NETNS_DIR = "/run/netns"
_SUFFIX = re.compile(r"[a-z0-9]{1,16}")
STATE_VERSION = 1


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


def _write_sysctl_in(netns_path: str, name: str, value: str) -> None:
    """Set a per-namespace sysctl from a thread inside the namespace (/proc/sys/net follows the opener)."""
    path = "/proc/sys/" + name.replace(".", "/")

    def write() -> None:
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write(value)
    netns.run_in_netns(netns_path, write)


def _process_start_time(pid: int) -> int | None:
    """The start time (clock ticks since boot) of a live process, or None if gone or a zombie. Together with the
    pid it names one process for good, so a recorded pid that was reused is never killed."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@dataclass(frozen=True)
class RecordedProcess:
    """A process started by a network, as a later process can find it again."""

    pid: int
    start_time: int
    argv: list[str]

    def alive(self) -> bool:
        return _process_start_time(self.pid) == self.start_time


@dataclass
class Node:
    name: str
    netns: str  # name under /run/netns
    ip: str
    index: int

    @property
    def netns_path(self) -> str:
        return f"{NETNS_DIR}/{self.netns}"

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """`cmd` run inside this node's network namespace (root mount namespace kept)."""
        return ["nsenter", f"--net={self.netns_path}", "--", *cmd]


@dataclass
class NodeNetwork:
    """The switch and node namespaces of one test or demo cluster. Use as a context manager or call close().
    With `state_path`, every change is saved there and `NodeNetwork.load(state_path)` rebuilds the network."""

    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    subnet: str = "10.250.0.0/24"
    state_path: str | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    _netns: list[str] = field(default_factory=list)  # every namespace made, in creation order
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)  # started by this object
    _recorded: list[RecordedProcess] = field(default_factory=list)  # every process started, also by others
    _started: bool = False

    def __post_init__(self) -> None:
        if not _SUFFIX.fullmatch(self.suffix):  # no '-': one network's name prefix never covers another's
            raise ValueError(f"node network suffix must match {_SUFFIX.pattern}: {self.suffix!r}")

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def switch_netns(self) -> str:
        return f"pyk8s-sw-{self.suffix}"

    @property
    def switch_netns_path(self) -> str:
        return f"{NETNS_DIR}/{self.switch_netns}"

    @property
    def node_netns_prefix(self) -> str:
        """Every node namespace name starts with this (and so should names derived from them, e.g. pods')."""
        return f"pyk8s-{self.suffix}-"

    @property
    def gateway(self) -> str:
        return str(self.network.broadcast_address - 1)

    # ---- persistence ---------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to find and remove what this network made, as JSON-ready data."""
        return {
            "version": STATE_VERSION,
            "suffix": self.suffix,
            "subnet": self.subnet,
            "started": self._started,
            "switch": {"netns": self.switch_netns, "bridge": "br0", "ip": self.gateway},
            "nodes": [{"name": n.name, "index": n.index, "ip": n.ip, "netns": n.netns} for n in self.nodes.values()],
            "netns": list(self._netns),
            "processes": [{"pid": p.pid, "startTime": p.start_time, "argv": p.argv} for p in self._recorded],
        }

    def save(self, path: str | None = None) -> None:
        """Write the state atomically to `path` (default `state_path`, which `path` then becomes)."""
        if path is not None:
            self.state_path = path
        if self.state_path is None:
            raise ValueError("no state path")
        directory = os.path.dirname(os.path.abspath(self.state_path))
        os.makedirs(directory, exist_ok=True)
        tmp = f"{self.state_path}.tmp.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.state(), f, indent=2)
            f.write("\n")
        os.replace(tmp, self.state_path)

    def _autosave(self) -> None:
        if self.state_path is not None:
            self.save()

    @classmethod
    def load(cls, path: str) -> NodeNetwork:
        """The network saved at `path` (by this or another process); its close() removes what was made."""
        with open(path) as f:
            data = json.load(f)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: unsupported node network state version {data.get('version')!r}")
        net = cls(suffix=data["suffix"], subnet=data["subnet"], state_path=path)
        net._started = bool(data.get("started"))
        for n in data.get("nodes", []):
            net.nodes[n["name"]] = Node(name=n["name"], netns=n["netns"], ip=n["ip"], index=int(n["index"]))
        net._netns = [str(p) for p in data.get("netns", [])]
        net._recorded = [RecordedProcess(pid=int(p["pid"]), start_time=int(p["startTime"]), argv=list(p["argv"]))
                         for p in data.get("processes", [])]
        return net

    # ---- building --------------------------------------------------------------------------------------------

    def _add_netns(self, name: str) -> str:
        path = f"{NETNS_DIR}/{name}"
        netns.pin_new_netns(path)  # FileExistsError for a name someone else holds: never recorded as ours
        self._netns.append(path)
        self._autosave()
        return path

    def start(self) -> NodeNetwork:
        """Create the switch namespace with its bridge."""
        if self._started:
            return self
        self._started = True
        sw = self.switch_netns
        self._add_netns(sw)
        _ip("-n", sw, "link", "set", "lo", "up")
        _ip("-n", sw, "link", "add", "br0", "type", "bridge")
        _ip("-n", sw, "addr", "add", f"{self.gateway}/{self.network.prefixlen}", "dev", "br0")
        _ip("-n", sw, "link", "set", "br0", "up")
        _ip("-n", sw, "route", "add", "unreachable", "default")
        _write_sysctl_in(self.switch_netns_path, "net.ipv4.ip_forward", "1")
        return self

    def add_node(self, name: str) -> Node:
        """A node namespace joined to the switch, with the next free address (10.250.0.1, .2, ...)."""
        if name in self.nodes:
            raise ValueError(f"node {name!r} already exists")
        self.start()
        index = max((n.index for n in self.nodes.values()), default=0) + 1
        if index >= self.network.num_addresses - 2:
            raise ValueError(f"no free address left in {self.subnet}")
        ip = str(self.network.network_address + index)
        node = Node(name=name, netns=f"{self.node_netns_prefix}{name}", ip=ip, index=index)
        path = self._add_netns(node.netns)
        # both ends are born inside their namespaces: nothing ever appears in the root namespace
        _ip("link", "add", "name", "eth0", "netns", node.netns, "type", "veth",
            "peer", "name", f"veth{index}", "netns", self.switch_netns)
        _ip("-n", self.switch_netns, "link", "set", f"veth{index}", "master", "br0", "up")
        _ip("-n", node.netns, "link", "set", "lo", "up")
        _ip("-n", node.netns, "addr", "add", f"{ip}/{self.network.prefixlen}", "dev", "eth0")
        _ip("-n", node.netns, "link", "set", "eth0", "up")
        _ip("-n", node.netns, "route", "add", "default", "via", self.gateway)
        _write_sysctl_in(path, "net.ipv4.ip_forward", "1")
        _write_sysctl_in(path, "net.bridge.bridge-nf-call-iptables", "1")
        netns.release_netns(path)
        self.nodes[name] = node
        self._autosave()
        return node

    def add_netns(self, name: str) -> str:
        """Pin an extra namespace (e.g. a pod's) that close() removes too; returns its path."""
        return self._add_netns(name)

    def argv(self, where: Node | str | None, cmd: Sequence[str]) -> list[str]:
        """`cmd` run in a node's namespace, a namespace path, or the switch's (None)."""
        path = where.netns_path if isinstance(where, Node) else where or self.switch_netns_path
        return ["nsenter", f"--net={path}", "--", *cmd]

    def popen(self, where: Node | str | None, cmd: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start `cmd` in a node's namespace, a namespace path, or the switch's (None); close() kills it, also
        from another process after load()."""
        argv = self.argv(where, cmd)
        proc: subprocess.Popen[bytes] = subprocess.Popen(argv, **kw)
        self._procs.append(proc)
        start_time = _process_start_time(proc.pid)
        if start_time is not None:  # None: already gone, nothing to kill later
            self._recorded.append(RecordedProcess(pid=proc.pid, start_time=start_time, argv=argv))
            self._autosave()
        return proc

    def names(self) -> list[str]:
        """Every namespace name this network made (for leak assertions)."""
        return [os.path.basename(p) for p in self._netns]

    # ---- tearing down ----------------------------------------------------------------------------------------

    def _kill_recorded(self, deadline: float) -> list[RecordedProcess]:
        """SIGKILL every recorded process that is still the same process; the ones that outlive the deadline."""
        left = []
        for rec in self._recorded:
            if rec.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rec.pid, signal.SIGKILL)
                left.append(rec)
        while left and time.monotonic() < deadline:
            left = [rec for rec in left if rec.alive()]
            if left:
                time.sleep(0.02)
        return left

    def close(self) -> None:
        """Kill the processes started here (also by the process that saved the state), then unpin every namespace
        (newest first) and any left under `node_netns_prefix`. Idempotent and best effort: pieces already gone
        are fine; the first error is raised after trying everything, and what failed stays in the state file.
        With nothing left, the state file is removed."""
        errors: list[BaseException] = []
        for proc in reversed(self._procs):
            try:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
            except BaseException as e:
                errors.append(e)
        self._procs.clear()
        survivors = self._kill_recorded(time.monotonic() + 10)
        if survivors:
            errors.append(RuntimeError(f"processes still alive after SIGKILL: {[p.pid for p in survivors]}"))
        self._recorded = survivors
        derived: list[str] = []
        with contextlib.suppress(FileNotFoundError):
            derived = [f"{NETNS_DIR}/{n}" for n in sorted(os.listdir(NETNS_DIR)) if n.startswith(self.node_netns_prefix)]
        failed: list[str] = []
        for path in [*[p for p in derived if p not in self._netns], *reversed(self._netns)]:
            try:
                netns.unpin_netns(path)
            except BaseException as e:
                errors.append(e)
                failed.append(path)
        self._netns = list(reversed(failed))
        self.nodes.clear()
        self._started = False
        if self.state_path is not None:
            if self._netns or self._recorded:
                self.save()
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.state_path)
        if errors:
            raise errors[0]

    def __enter__(self) -> NodeNetwork:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- reaching a namespace address from the host ----------------------------------------------------------------

async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then pass the EOF on (half-close), so request/response protocols finish normally."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def forward_port(listen_host: str, listen_port: int, netns_path: str, target_host: str,
                       target_port: int) -> asyncio.Server:
    """Listen on listen_host:listen_port here (port 0 picks one) and relay each connection to target_host:
    target_port dialled inside `netns_path` (e.g. host 127.0.0.1 → a node IP from the switch namespace).
    A connection the target refuses is closed at once. Close the returned server to stop accepting."""
    tasks: set[asyncio.Task[None]] = set()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await netns.open_connection_in_netns(netns_path, target_host, target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(_pipe(client_reader, target_writer), _pipe(target_reader, client_writer))
        finally:
            for w in (target_writer, client_writer):
                w.close()

    def on_connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(relay(client_reader, client_writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return await asyncio.start_server(on_connect, listen_host, listen_port)
