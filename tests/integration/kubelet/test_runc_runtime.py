"""RuncRuntime against the real runc: lifecycle, exit codes, logs, stop signals, OOM, exec, adoption.

The rootfs is a directory holding a static busybox; the image store and the pod network are doubles (one
layer dir; a network that only brings `lo` up). Every test cleans up containers, mounts, netns and cgroups
even when it fails, and asserts that nothing is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pyk8s.base import netns
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.cri.runc import cgroups
from pyk8s.kubelet.cri.runc import runtime as runtime_mod
from pyk8s.kubelet.cri.runc.runtime import RuncRuntime
from pyk8s.kubelet.cri.runc.seams import ImageConfig, PodNetworkAttachment
from pyk8s.kubelet.cri.runc.shim import MAX_LINE, LogWriter

RUNC = shutil.which("runc") or ""
BUSYBOX = "/usr/bin/busybox"
pytestmark = [
    pytest.mark.skipif(not RUNC, reason="runc is not installed"),
    pytest.mark.skipif(not os.path.exists(BUSYBOX), reason="busybox-static is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="runc containers need root"),
]

APPLETS = ["sh", "sleep", "cat", "echo", "hostname", "httpd", "wget", "yes", "head", "tail", "true", "ls", "id"]
IMAGE_ID = "sha256:" + "ab" * 32
REPO = Path(__file__).resolve().parents[3]


def build_rootfs(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    (path / "etc").mkdir()
    (path / "tmp").mkdir(mode=0o1777)
    shutil.copy(BUSYBOX, path / "bin/busybox")
    for name in APPLETS:
        os.symlink("busybox", path / "bin" / name)
    (path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    (path / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return path


class OneLayerStore:
    def __init__(self, layer: str, stop_signal: str = "") -> None:
        self.layer = layer
        self.stop_signal = stop_signal

    def layer_dirs(self, image_id: str) -> list[str]:
        return [self.layer]

    def image_config(self, image_id: str) -> ImageConfig:
        return ImageConfig(cmd=["sh"], env=["PATH=/bin"], stop_signal=self.stop_signal)

    def resolve(self, ref: str) -> str | None:
        return IMAGE_ID


class LoopbackNetwork:
    async def setup(self, *, sandbox_id: str, netns_path: str, namespace: str, name: str, uid: str,
                    port_mappings: list[cri.PortMapping]) -> PodNetworkAttachment:
        proc = await asyncio.create_subprocess_exec("nsenter", f"--net={netns_path}", "ip", "link", "set", "lo", "up")
        assert await proc.wait() == 0
        return PodNetworkAttachment(ip="127.0.0.1")

    async def teardown(self, **kw: Any) -> None:
        return None


class Node:
    """Dirs of one test node and the cleanup that must leave nothing behind."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.layer = str(build_rootfs(tmp / "layer"))
        self.state_dir = str(tmp / "state")
        self.runc_root = str(tmp / "runc")
        self.log_dir = tmp / "logs"
        self.cgroup_root = f"/pyk8s-test-{uuid.uuid4().hex[:8]}"
        self.runtimes: list[RuncRuntime] = []

    def runtime(self, stop_signal: str = "") -> RuncRuntime:
        rt = RuncRuntime(state_dir=self.state_dir, runc_root=self.runc_root, cgroup_root=self.cgroup_root,
                         layers=OneLayerStore(self.layer, stop_signal), network=LoopbackNetwork())
        if hasattr(self, "runtimes"):
            self.runtimes.append(rt)
        return rt

    def sandbox_config(self, name: str = "web") -> cri.PodSandboxConfig:
        uid = str(uuid.uuid4())
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name=name, namespace="default", uid=uid), hostname=name,
            log_directory=str(self.log_dir / f"default_{name}_{uid}"), cgroup_parent=f"pod{uid}")

    def runc_ids(self) -> list[str]:
        out = subprocess.run([RUNC, "--root", self.runc_root, "list", "-q"], capture_output=True, text=True)
        return out.stdout.split()

    def mounts(self) -> list[str]:
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f]
        return [p for p in points if p.startswith(str(self.tmp))]

    def cgroup_dirs(self) -> list[str]:
        return [d for d in cgroups.controller_dirs(self.cgroup_root) if os.path.exists(d)]

    def netns(self) -> list[str]:
        found = []
        for sid in os.listdir(os.path.join(self.state_dir, "sandboxes")) if os.path.isdir(
                os.path.join(self.state_dir, "sandboxes")) else []:
            path = f"/run/netns/pyk8s-{sid[:12]}"
            if os.path.exists(path):
                found.append(path)
        return found

    def force_cleanup(self) -> None:
        """Whatever a failed test left: kill containers and shims, unmount, unpin, remove cgroups."""
        for cid in self.runc_ids():
            subprocess.run([RUNC, "--root", self.runc_root, "kill", cid, "KILL"], capture_output=True)
        deadline = time.monotonic() + 10
        for cid in self.runc_ids():
            while time.monotonic() < deadline:
                st = subprocess.run([RUNC, "--root", self.runc_root, "state", cid], capture_output=True, text=True)
                if st.returncode != 0 or json.loads(st.stdout)["status"] == "stopped":
                    break
                time.sleep(0.05)
            subprocess.run([RUNC, "--root", self.runc_root, "delete", cid], capture_output=True)
        for path in self.netns():
            subprocess.run(["umount", "-l", path], capture_output=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for point in sorted(self.mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True)
        cgroups.remove_tree(self.cgroup_root)

    def assert_clean(self) -> None:
        assert self.runc_ids() == []
        assert self.mounts() == []
        assert self.netns() == []
        assert self.cgroup_dirs() == []


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    n = Node(tmp_path)
    try:
        yield n
        # the test's own runtime cleanup: remove every sandbox it knows about
        rt = n.runtime()
        for sb in await rt.list_pod_sandboxes():
            await rt.remove_pod_sandbox(sb.id)
        # pod cgroups are gone; only the node's cgroup root (shared by pods) is left for the node to remove
        assert [os.listdir(d) for d in n.cgroup_dirs() if any(
            os.path.isdir(os.path.join(d, e)) for e in os.listdir(d))] == []
        assert cgroups.remove_tree(n.cgroup_root) == []
        n.assert_clean()
    finally:
        for rt in n.runtimes:
            await rt.close()
        n.force_cleanup()
    n.assert_clean()


def container(name: str, command: list[str], **kw: Any) -> cri.ContainerConfig:
    return cri.ContainerConfig(metadata=cri.ContainerMetadata(name=name), image="busybox", command=command,
                               log_path=f"{name}/0.log", **kw)


async def wait_for(pred: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def run(rt: RuncRuntime, node: Node, cfg: cri.ContainerConfig) -> tuple[str, str, cri.PodSandboxConfig]:
    sbc = node.sandbox_config()
    sid = await rt.run_pod_sandbox(sbc)
    cid = await rt.create_container(sid, cfg, sbc)
    await rt.start_container(cid)
    return sid, cid, sbc


async def exited(rt: RuncRuntime, cid: str) -> cri.ContainerStatus:
    async def done() -> bool:
        return (await rt.container_status(cid)).state == "CONTAINER_EXITED"

    await wait_for(done)
    return await rt.container_status(cid)


def log_lines(path: str) -> list[tuple[str, str, str]]:
    out = []
    for line in Path(path).read_text().splitlines():
        ts, stream, tag, text = line.split(" ", 3)
        assert ts.endswith("Z") and "T" in ts
        out.append((stream, tag, text))
    return out


async def test_exit_code_logs_and_status(node: Node) -> None:
    rt = node.runtime()
    cfg = container("main", ["sh", "-c", "echo out; echo err >&2; hostname; echo bye > /dev/termination-log; exit 3"])
    sid, cid, sbc = await run(rt, node, cfg)
    st = await exited(rt, cid)
    assert (st.exit_code, st.reason, st.message) == (3, "Error", "bye\n")
    assert st.started_at and st.finished_at >= st.started_at
    assert st.log_path == os.path.join(sbc.log_directory, "main/0.log")
    lines = log_lines(st.log_path)
    assert ("stdout", "F", "out") in lines and ("stderr", "F", "err") in lines and ("stdout", "F", "web") in lines
    assert [c.id for c in await rt.list_containers()] == [cid]
    assert (await rt.pod_sandbox_status(sid)).state == "SANDBOX_READY"
    await rt.remove_container(cid)
    await rt.remove_container(cid)  # idempotent
    with pytest.raises(cri.NotFoundError):
        await rt.container_status(cid)
    assert os.path.exists(st.log_path)  # logs stay with the pod


async def test_rootfs_overlay_lives_only_in_the_containers_mount_namespace(node: Node) -> None:
    rt = node.runtime()
    cfg = container("main", ["sh", "-c", "echo hi > /made-here; grep ' / / ' /proc/self/mountinfo; sleep 60"])
    sid, cid, _ = await run(rt, node, cfg)
    cdir = os.path.join(node.state_dir, "containers", cid)

    async def wrote() -> bool:
        return os.path.exists(os.path.join(cdir, "upper", "made-here"))

    await wait_for(wrote)  # the container's writes land in its own upper dir ...
    assert Path(cdir, "upper", "made-here").read_text() == "hi\n"
    assert not os.path.ismount(os.path.join(cdir, "rootfs"))  # ... yet the node's mount table has no overlay
    assert not [p for p in node.mounts() if p.startswith(cdir)]
    log = (await rt.container_status(cid)).log_path

    async def logged() -> bool:
        return " overlay " in Path(log).read_text()

    await wait_for(logged)  # the container's "/" is the overlay
    await rt.stop_container(cid, 0)
    await rt.remove_pod_sandbox(sid)
    assert not os.path.exists(cdir)


async def test_an_overlay_that_cannot_be_mounted_fails_the_create_with_the_reason(node: Node) -> None:
    rt = node.runtime()
    rt.layers = OneLayerStore(str(node.tmp / "no-such-layer"))
    sbc = node.sandbox_config()
    sid = await rt.run_pod_sandbox(sbc)
    with pytest.raises(cri.CRIError, match=r"mount the container's overlay on .*: No such file or directory"):
        await rt.create_container(sid, container("main", ["true"]), sbc)
    assert not node.runc_ids()
    await rt.remove_pod_sandbox(sid)


async def test_runc_runs_with_one_go_processor_which_the_container_does_not_see(node: Node) -> None:
    rt = node.runtime()
    assert rt.runc.env["GOMAXPROCS"] == "1"
    sid, cid, _ = await run(rt, node, container("main", ["sh", "-c", "env; echo done"]))
    st = await exited(rt, cid)
    texts = [text for _, _, text in log_lines(st.log_path)]
    assert "done" in texts and not [t for t in texts if t.startswith("GOMAXPROCS=")]
    await rt.remove_pod_sandbox(sid)


async def test_completed_and_long_lines(node: Node) -> None:
    rt = node.runtime()
    _sid, cid, _ = await run(rt, node, container("long", ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' a; echo"]))
    st = await exited(rt, cid)
    assert (st.exit_code, st.reason) == (0, "Completed")
    lines = log_lines(st.log_path)
    assert [tag for _s, tag, _t in lines] == ["P", "P", "F"]
    assert sum(len(t) for _s, _tag, t in lines) == 40000


async def test_stop_term_honoured_and_kill_after_timeout(node: Node) -> None:
    rt = node.runtime()
    sbc = node.sandbox_config()
    sid = await rt.run_pod_sandbox(sbc)
    # PID 1 gets no default signal actions, so a TERM-honouring container has to handle TERM itself
    plain = await rt.create_container(
        sid, container("plain", ["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"]), sbc)
    stubborn = await rt.create_container(
        sid, container("stubborn", ["sh", "-c", "trap 'echo got TERM' TERM; while true; do sleep 0.1; done"]), sbc)
    for cid in (plain, stubborn):
        await rt.start_container(cid)
        assert (await rt.container_status(cid)).state == "CONTAINER_RUNNING"
    t0 = time.monotonic()
    await rt.stop_container(plain, 10)
    assert time.monotonic() - t0 < 5
    st = await rt.container_status(plain)
    assert (st.state, st.exit_code, st.reason) == ("CONTAINER_EXITED", 143, "Error")
    t0 = time.monotonic()
    await rt.stop_container(stubborn, 1)
    assert 0.9 <= time.monotonic() - t0 < 8
    st = await rt.container_status(stubborn)
    assert (st.state, st.exit_code) == ("CONTAINER_EXITED", 137)
    assert ("stdout", "F", "got TERM") in log_lines(st.log_path)
    await rt.stop_container(stubborn, 1)  # idempotent
    await rt.stop_pod_sandbox(sid)
    assert (await rt.pod_sandbox_status(sid)).state == "SANDBOX_NOTREADY"


async def test_oom_killed(node: Node) -> None:
    rt = node.runtime()
    cfg = container("hog", ["sh", "-c", "head -c 64m /dev/zero | tail > /dev/null"],
                    resources=cri.LinuxContainerResources(memory_limit_in_bytes=16 << 20))
    _sid, cid, _ = await run(rt, node, cfg)
    st = await exited(rt, cid)
    assert (st.exit_code, st.reason) == (137, "OOMKilled")


async def test_guaranteed_pod_with_cpu_quota_runs_capped(node: Node) -> None:
    """Pod- and container-level CPU quota and memory limit, as a Guaranteed pod of 200m / 32Mi gets them."""
    rt = node.runtime()
    sbc = node.sandbox_config("capped")
    sbc.cpu_shares, sbc.cpu_quota, sbc.cpu_period, sbc.memory_limit_in_bytes = 204, 20000, 100000, 32 << 20
    sid = await rt.run_pod_sandbox(sbc)
    cfg = container("spin", ["sh", "-c", "while true; do :; done"], resources=cri.LinuxContainerResources(
        cpu_shares=204, cpu_quota=20000, cpu_period=100000, memory_limit_in_bytes=32 << 20, oom_score_adj=-997))
    cid = await rt.create_container(sid, cfg, sbc)
    await rt.start_container(cid)
    first = await rt.container_stats(cid)
    await asyncio.sleep(1.0)  # a measurement window, not synchronisation
    second = await rt.container_stats(cid)
    used = (second.cpu_usage_core_nanoseconds - first.cpu_usage_core_nanoseconds) / \
        ((second.timestamp - first.timestamp) or 1)
    assert 0.05 < used < 0.3, used  # the busy loop is held near 200m by the quota
    await rt.stop_container(cid, 1)


async def test_exec_sync_exec_with_stdin_and_stats(node: Node) -> None:
    rt = node.runtime()
    _sid, cid, _ = await run(rt, node, container("svc", ["sleep", "1000"]))
    res = await rt.exec_sync(cid, ["sh", "-c", "echo hi; echo oops >&2; exit 7"], 10)
    assert (res.stdout, res.stderr, res.exit_code, res.timed_out) == (b"hi\n", b"oops\n", 7, False)
    t0 = time.monotonic()
    res = await rt.exec_sync(cid, ["sleep", "100"], 0.3)
    assert res.timed_out and time.monotonic() - t0 < 5

    async def stdin() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world\n"

    out: list[bytes] = []

    async def collect(b: bytes) -> None:
        out.append(b)

    code = await rt.exec(cid, ["sh", "-c", "cat; exit 4"], cri.StreamIO(stdin=stdin(), stdout=collect, stderr=collect))
    assert (code, b"".join(out)) == (4, b"hello world\n")
    stats = await rt.container_stats(cid)
    assert stats.memory_working_set_bytes > 0 and stats.cpu_usage_core_nanoseconds > 0
    assert [s.id for s in await rt.list_container_stats()] == [cid]


ADOPT_SCRIPT = """
import asyncio, json, sys
sys.path.insert(0, {repo!r})
from tests.integration.kubelet.test_runc_runtime import Node, container
from pathlib import Path

async def main():
    node = Node.__new__(Node)
    node.__dict__.update(json.loads(sys.argv[1]))
    node.tmp, node.log_dir = Path(node.tmp), Path(node.log_dir)
    rt = node.runtime()
    sbc = node.sandbox_config()
    sid = await rt.run_pod_sandbox(sbc)
    cfg = container("ticker", ["sh", "-c", "trap 'exit 143' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done"])
    cfg.labels = {{"io.kubernetes.container.name": "ticker"}}
    cfg.annotations = {{"io.kubernetes.container.restartCount": "0"}}
    cid = await rt.create_container(sid, cfg, sbc)
    await rt.start_container(cid)
    print(json.dumps({{"sid": sid, "cid": cid, "zygote": rt._zygote.pid}}), flush=True)
    await asyncio.sleep(1000)

asyncio.run(main())
"""


async def test_adoption_after_kubelet_kill_9(node: Node) -> None:
    state = {"tmp": node.tmp, "layer": node.layer, "state_dir": node.state_dir, "runc_root": node.runc_root,
             "log_dir": node.log_dir, "cgroup_root": node.cgroup_root}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ADOPT_SCRIPT.format(repo=str(REPO)), json.dumps({k: str(v) for k, v in state.items()}),
        stdout=asyncio.subprocess.PIPE, cwd=str(REPO))
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        ids = json.loads(line)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
    rt = node.runtime()  # the restarted kubelet
    [st] = await rt.list_containers()
    assert (st.id, st.pod_sandbox_id, st.state) == (ids["cid"], ids["sid"], "CONTAINER_RUNNING")
    assert st.labels == {"io.kubernetes.container.name": "ticker"}
    assert st.annotations == {"io.kubernetes.container.restartCount": "0"}
    shim_pid = int(Path(node.state_dir, "containers", st.id, "shim.pid").read_text())
    assert os.getsid(shim_pid) == shim_pid  # its own session: the kubelet's death did not take it along
    await wait_for(lambda: _async(not alive(ids["zygote"])))  # the zygote left with the kubelet; the shim stayed
    assert alive(shim_pid)
    size = os.path.getsize(st.log_path)

    async def grew() -> bool:
        return os.path.getsize(st.log_path) > size + 100

    await wait_for(grew)
    await rt.stop_container(st.id, 2)
    st = await rt.container_status(st.id)
    assert (st.state, st.exit_code) == ("CONTAINER_EXITED", 143)


async def test_created_container_removed_without_start(node: Node) -> None:
    rt = node.runtime()
    sbc = node.sandbox_config()
    sid = await rt.run_pod_sandbox(sbc)
    cid = await rt.create_container(sid, container("never", ["sleep", "1000"]), sbc)
    assert (await rt.container_status(cid)).state == "CONTAINER_CREATED"
    await rt.remove_container(cid)
    assert await rt.list_containers() == []
    with pytest.raises(cri.CRIError):
        await rt.create_container(sid, container("bad", ["/no/such/binary"]), sbc)
    assert await rt.list_containers() == []


async def test_attach_with_stdin_and_tty_exec(node: Node) -> None:
    rt = node.runtime()
    cfg = container("reader", ["sh", "-c", "read line; echo got $line; echo to-err >&2; sleep 0.2; exit 5"],
                    stdin=True, stdin_once=True)
    _sid, cid, _ = await run(rt, node, cfg)

    async def stdin() -> AsyncIterator[bytes]:
        yield b"abc\n"

    out: list[bytes] = []
    err: list[bytes] = []

    async def on_out(b: bytes) -> None:
        out.append(b)

    async def on_err(b: bytes) -> None:
        err.append(b)

    await asyncio.wait_for(rt.attach(cid, cri.StreamIO(stdin=stdin(), stdout=on_out, stderr=on_err)), 10)
    assert (b"".join(out), b"".join(err)) == (b"got abc\n", b"to-err\n")
    st = await exited(rt, cid)
    assert st.exit_code == 5
    assert ("stdout", "F", "got abc") in log_lines(st.log_path)

    tty_cfg = container("term", ["sleep", "1000"])
    sbc = node.sandbox_config("term")
    sid2 = await rt.run_pod_sandbox(sbc)
    cid2 = await rt.create_container(sid2, tty_cfg, sbc)
    await rt.start_container(cid2)
    tty_out: list[bytes] = []

    async def on_tty(b: bytes) -> None:
        tty_out.append(b)

    async def sizes() -> AsyncIterator[cri.TerminalSize]:
        yield cri.TerminalSize(width=100, height=30)

    code = await asyncio.wait_for(rt.exec(cid2, ["sh", "-c", "sleep 0.3; tty; stty size; exit 2"], cri.StreamIO(
        stdout=on_tty, tty=True, resize=sizes())), 10)
    text = b"".join(tty_out).decode()
    assert code == 2 and "/dev/pts/" in text and "30 100" in text


async def test_tty_container_logs_and_attach(node: Node) -> None:
    rt = node.runtime()
    cfg = container("tty", ["sh", "-c", "tty; read x; echo got $x"], tty=True, stdin=True, stdin_once=True)
    _sid, cid, _ = await run(rt, node, cfg)

    async def stdin() -> AsyncIterator[bytes]:
        yield b"hi\n"

    out: list[bytes] = []

    async def on_out(b: bytes) -> None:
        out.append(b)

    await asyncio.wait_for(rt.attach(cid, cri.StreamIO(stdin=stdin(), stdout=on_out, tty=True)), 10)
    assert b"got hi" in b"".join(out)
    st = await exited(rt, cid)
    assert st.exit_code == 0
    lines = log_lines(st.log_path)
    assert ("stdout", "F", "got hi") in lines
    assert any(text.startswith("/dev/pts/") for _s, _t, text in lines)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def _async(value: bool) -> bool:
    return value


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def test_zygote_forks_shims_and_exec_takes_over_when_it_dies(node: Node) -> None:
    rt = node.runtime()
    _sid, forked, sbc = await run(rt, node, container("forked", ["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"]))
    assert rt._zygote is not None and rt._zygote.pid
    zygote = rt._zygote.pid
    forked_shim = rt._containers[forked].shim_pid
    assert parent_of(forked_shim) == zygote and os.getsid(forked_shim) == forked_shim
    os.kill(zygote, signal.SIGKILL)
    await wait_for(lambda: _async(not alive(zygote)))
    assert (await rt.container_status(forked)).state == "CONTAINER_RUNNING" and alive(forked_shim)
    exec_cid = await rt.create_container(_sid, container("execd", ["sleep", "1000"]), sbc)
    await rt.start_container(exec_cid)
    exec_shim = rt._containers[exec_cid].shim_pid
    assert parent_of(exec_shim) == os.getpid()
    assert b"-m\0pyk8s.kubelet.cri.runc.shim\0" in Path(f"/proc/{exec_shim}/cmdline").read_bytes()
    assert (await rt.container_status(exec_cid)).state == "CONTAINER_RUNNING"
    await rt.stop_container(forked, 5)
    await rt.stop_container(exec_cid, 0)
    assert [(await rt.container_status(c)).exit_code for c in (forked, exec_cid)] == [143, 137]


async def test_status_listing_reads_proc_at_most_once_per_period(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[int] = []
    real = runtime_mod._pid_is_shim

    def counted(pid: int) -> bool:
        checks.append(pid)
        return real(pid)

    monkeypatch.setattr(runtime_mod, "_pid_is_shim", counted)
    monkeypatch.setattr(runtime_mod, "SHIM_CHECK_PERIOD", 600.0)
    rt = node.runtime()
    _sid, cid, _ = await run(rt, node, container("quick", ["sleep", "1000"]))
    for _ in range(50):
        [st] = await rt.list_containers()
        assert st.state == "CONTAINER_RUNNING"
    assert len(checks) == 1
    st.state = "CONTAINER_UNKNOWN"  # a caller scribbling on what it got
    assert (await rt.container_status(cid)).state == "CONTAINER_RUNNING"  # callers get copies
    await rt.stop_container(cid, 0)
    checks.clear()
    for _ in range(50):
        [st] = await rt.list_containers()
        assert (st.state, st.exit_code) == ("CONTAINER_EXITED", 137)
    assert checks == []  # an exit is read once and kept


async def test_container_whose_exit_is_seen_at_once_despite_the_cache(node: Node,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_mod, "SHIM_CHECK_PERIOD", 600.0)
    rt = node.runtime()
    _sid, cid, _ = await run(rt, node, container("brief", ["sh", "-c", "sleep 0.3; exit 6"]))
    assert (await rt.container_status(cid)).state == "CONTAINER_RUNNING"
    st = await exited(rt, cid)
    assert st.exit_code == 6


async def test_shim_killed_is_reported_exited(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_mod, "SHIM_CHECK_PERIOD", 0.2)
    rt = node.runtime()
    _sid, cid, _ = await run(rt, node, container("orphan", ["sleep", "1000"]))
    assert (await rt.container_status(cid)).state == "CONTAINER_RUNNING"
    os.kill(rt._containers[cid].shim_pid, signal.SIGKILL)
    st = await exited(rt, cid)
    assert (st.exit_code, st.message) == (255, "container shim exited without recording an exit status")
    # nobody holds the container's stdio any more; end it the way an operator would
    subprocess.run([RUNC, "--root", node.runc_root, "kill", cid, "KILL"], check=True)

    async def stopped() -> bool:
        out = subprocess.run([RUNC, "--root", node.runc_root, "state", cid], capture_output=True, text=True)
        return json.loads(out.stdout)["status"] == "stopped"

    await wait_for(stopped)


class RecordingNetwork(LoopbackNetwork):
    """LoopbackNetwork that records each teardown's namespace path and attachment."""

    def __init__(self) -> None:
        self.teardowns: list[tuple[str, PodNetworkAttachment | None]] = []

    async def teardown(self, **kw: Any) -> None:
        self.teardowns.append((kw["netns_path"], kw["attachment"]))


async def test_stopping_a_sandbox_whose_netns_is_gone_still_tears_its_network_down(node: Node) -> None:
    network = RecordingNetwork()
    rt = node.runtime()
    rt.network = network
    sbc = node.sandbox_config()
    sid = await rt.run_pod_sandbox(sbc)
    path = (await rt.pod_sandbox_status(sid)).netns_path
    assert os.path.exists(path)
    netns.unpin_netns(path)  # gone behind the runtime's back (a reboot, an operator)
    await rt.stop_pod_sandbox(sid)
    # CNI DEL still runs, with no namespace (the plugins free the address and forget the cached result)
    assert network.teardowns == [("", PodNetworkAttachment(ip="127.0.0.1"))]
    assert (await rt.pod_sandbox_status(sid)).state == "SANDBOX_NOTREADY"
    await rt.stop_pod_sandbox(sid)
    assert len(network.teardowns) == 1  # once torn down, later stops leave the network alone
    # a pinned namespace is torn down with its path and unpinned; a restarted runtime does not tear it down again
    sid2 = await rt.run_pod_sandbox(node.sandbox_config("other"))
    path2 = (await rt.pod_sandbox_status(sid2)).netns_path
    await rt.stop_pod_sandbox(sid2)
    assert network.teardowns[1][0] == path2 and not os.path.exists(path2)
    again = node.runtime()
    again.network = network
    await again.remove_pod_sandbox(sid2)
    await again.remove_pod_sandbox(sid)
    assert len(network.teardowns) == 2


async def test_per_pod_listings_match_filtered_listings(node: Node) -> None:
    rt = node.runtime()
    sid_a, cid_a, sbc_a = await run(rt, node, container("a", ["sleep", "1000"], labels={
        cri.LABEL_POD_UID: "pod-a"}))
    sid_b = await rt.run_pod_sandbox(node.sandbox_config("b"))
    uid_b = (await rt.pod_sandbox_status(sid_b)).metadata.uid

    async def per_pod(r: RuncRuntime, uid: str) -> tuple[set[str], set[str]]:
        return {s.id for s in await r.list_pod_sandboxes_of(uid)}, {c.id for c in await r.list_containers_of(uid)}

    async def filtered(r: RuncRuntime, uid: str) -> tuple[set[str], set[str]]:
        return ({s.id for s in await r.list_pod_sandboxes()
                 if (s.labels.get(cri.LABEL_POD_UID) or s.metadata.uid) == uid},
                {c.id for c in await r.list_containers() if c.labels.get(cri.LABEL_POD_UID) == uid})

    assert await per_pod(rt, sbc_a.metadata.uid) == await filtered(rt, sbc_a.metadata.uid) == ({sid_a}, set())
    assert await per_pod(rt, "pod-a") == await filtered(rt, "pod-a") == (set(), {cid_a})
    assert await per_pod(rt, uid_b) == ({sid_b}, set())
    assert await per_pod(node.runtime(), "pod-a") == (set(), {cid_a})  # rebuilt from the state files
    await rt.remove_container(cid_a)
    await rt.remove_pod_sandbox(sid_b)
    assert await per_pod(rt, "pod-a") == await per_pod(rt, uid_b) == (set(), set())
    assert rt._pod_container_ids.keys() == set() and rt._pod_sandbox_ids.keys() == {sbc_a.metadata.uid}


def test_log_writer_splits_a_long_line_read_at_once(tmp_path: Path) -> None:
    w = LogWriter(str(tmp_path / "0.log"))
    w.feed("stdout", b"a" * (2 * MAX_LINE + 10) + b"\nnext\nrest")
    w.feed("stderr", b"e" * MAX_LINE + b"\n")
    w.flush()
    lines = log_lines(str(tmp_path / "0.log"))
    assert [(s, tag, len(t)) for s, tag, t in lines] == [
        ("stdout", "P", MAX_LINE), ("stdout", "P", MAX_LINE), ("stdout", "F", 10), ("stdout", "F", 4),
        ("stderr", "F", MAX_LINE), ("stdout", "P", 4)]


async def test_only_root_may_attach_through_the_shim_socket(node: Node) -> None:
    from pyk8s.kubelet.cri.runc.shim import attach_socket_name

    rt = node.runtime()
    _sid, cid, _ = await run(rt, node, container("quiet", ["sleep", "1000"], stdin=True))
    name = attach_socket_name(os.path.join(node.state_dir, "containers", cid))
    def as_user(uid: int) -> str:
        """Connect from a forked child running as `uid`; what its first read returned."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: no asyncio, no pytest; report and leave
            try:
                os.setuid(uid)
                s = socket.socket(socket.AF_UNIX)
                s.connect(name)
                s.settimeout(3)
                try:
                    got = repr(s.recv(1))
                except TimeoutError:
                    got = "timed out"
                os.write(w, got.encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read().decode()
        os.waitpid(pid, 0)
        return out

    assert as_user(65534) == "b''"  # accepted, then closed at once: no output, no stdin for a non-root peer
    assert "timed out" in as_user(0)  # root stays connected (the container prints nothing)
    await rt.stop_container(cid, 1)
