"""Pod startup on one real node: `pyk8s server`, one kubelet running runc containers in a node network namespace,
the busybox test image served by a local registry (tests.node_cluster.NodeCluster).

Figures, all from one run (the image is pulled by a warm-up pod first, so every measured pod finds it present):
  1. the raw floor: `runc create` + `runc start` of the same busybox image (`sleep 3600`, a plain directory
     rootfs, runc's own namespaces, no CNI) timed on the same machine, same run;
  2. pod startup latency: pods (restartPolicy Always, `sleep 3600`) created at a fixed rate from an async client;
     per pod, from just before its create request is sent to the watch event showing every container running;
     p50 / p90 / p99 / max, and p50 as a multiple of the runc floor; also a few pods one at a time (no queueing);
  3. sustained pod starts/s: pods created as fast as a bounded number of concurrent creates allows, counted
     from the first create to the last pod seen running;
  4. the kubelet's RSS with N pods running (the kubelet process alone; the per-container shims are separate
     processes and are reported apart, RSS and USS).
Order: warm-up pod, runc floor, pods one at a time, RSS (N pods), latency, sustained. Pods of one phase are
deleted, and the node is idle again (no shim, no pod network namespace) and the machine quiet (under 15 % busy:
the kernel tears deleted namespaces down after the fact), before the next.

By default the kubelet runs through this file's `_traced-kubelet` entry, which wraps a few
kubelet and runtime methods to log when each pod's phases start and end (monotonic clock, shared with this
process), so the latency is split into: create -> watch, scheduling, the kubelet's informer, its pod worker,
sandbox (netns + CNI), container create (overlay, shim + runc create), runc start, status write, and the
watch seeing it. The wrappers add microseconds per call; --no-breakdown runs the kubelet untouched.
CPU is accounted per phase and per pod: the kubelet, the children it reaped (CNI plugins, iptables, runc start),
the shims (with their `runc create`), the containers, the control plane, this process, and the rest of the machine.
--profile-kubelet also runs the kubelet's main thread under cProfile and writes reports of the latency phase's
pod creation and of their deletion; --keep keeps the work dir (trace, logs, profiles).

Prints a table, then one JSON line with the figures. `--quick` shrinks every count (a smoke test of the harness).
The node keeps its state (kubelet root, runtime state and container layers, images, logs, runc's state) on tmpfs
mounts of its own by default, and the raw runc floor runs on the same mount; --node-disk host puts both on the
machine's disk instead (tests.node_cluster says why that disk is not the default here).

Needs root, runc, nsenter, ip and docker-registry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the traced kubelet runs this file too: it imports only what the kubelet loads anyway
    from pyk8s.client.rest import RESTClient
    from tests.node_cluster import NodeCluster

REPO = Path(__file__).resolve().parent.parent
THIS_FILE = Path(__file__).resolve()
TRACED_KUBELET = "_traced-kubelet"
NAMESPACE = "pod-startup"
SHIM_MODULE = "pyk8s.kubelet.cri.runc.shim"


# --- the traced kubelet (runs in the kubelet's process) ------------------------------------------------------------

_trace_fd = -1
_trace_uid: contextvars.ContextVar[str] = contextvars.ContextVar("trace_uid", default="")
_seen: set[str] = set()


def _emit(name: str, t0: float, t1: float, uid: str | None = None, extra: Any = None) -> None:
    rec = [_trace_uid.get() if uid is None else uid, name, t0, t1]
    if extra is not None:
        rec.append(extra)
    os.write(_trace_fd, (json.dumps(rec) + "\n").encode())  # O_APPEND: one write per line, from any thread


def _wrap_async(owner: Any, attr: str, name: str) -> None:
    orig = getattr(owner, attr)

    async def traced(*args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return await orig(*args, **kwargs)
        finally:
            _emit(name, t0, time.monotonic())

    setattr(owner, attr, traced)


def _wrap_sync(owner: Any, attr: str, name: str) -> None:
    orig = getattr(owner, attr)

    def traced(*args: Any, **kwargs: Any) -> Any:
        t0 = time.monotonic()
        try:
            return orig(*args, **kwargs)
        finally:
            _emit(name, t0, time.monotonic())

    setattr(owner, attr, traced)


def _all_running(pod: dict[str, Any], status: dict[str, Any]) -> bool:
    want = len((pod.get("spec") or {}).get("containers") or [])
    got = status.get("containerStatuses") or []
    return bool(want) and len(got) == want and all("running" in (c.get("state") or {}) for c in got)


def install_kubelet_trace(path: str) -> None:
    """Wrap the kubelet's per-pod steps so each logs [pod uid, step, start, end] to `path` (monotonic seconds).

    The uid travels in a context variable set when a pod worker's sync starts: every runtime call of that sync
    runs in the worker's task (or a thread started from it), which inherits the variable.
    """
    global _trace_fd
    _trace_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)

    from pyk8s.base import netns
    from pyk8s.kubelet import kubelet, pleg, status
    from pyk8s.kubelet.cri.runc import cni, rootfs, runtime
    from pyk8s.kubelet.cri.runc.images import store
    from pyk8s.kubelet.volumes import VolumeManager

    def uid_of(pod: dict[str, Any]) -> str:
        return str((pod.get("metadata") or {}).get("uid") or "")

    orig_on_pod = kubelet.Kubelet._on_pod

    def on_pod(self: Any, pod: dict[str, Any]) -> None:
        uid = uid_of(pod)
        if uid not in _seen:
            _seen.add(uid)
            now = time.monotonic()
            _emit("seen", now, now, uid)
        orig_on_pod(self, pod)

    orig_sync = kubelet.Kubelet.sync_pod

    async def sync_pod(self: Any, pod: dict[str, Any]) -> Any:
        _trace_uid.set(uid_of(pod))
        t0 = time.monotonic()
        try:
            return await orig_sync(self, pod)
        finally:
            _emit("sync", t0, time.monotonic())

    orig_set_status = status.StatusManager.set_status

    async def set_status(self: Any, pod: dict[str, Any], st: dict[str, Any]) -> bool:
        t0 = time.monotonic()
        wrote = False
        try:
            wrote = await orig_set_status(self, pod, st)
            return wrote
        finally:
            _emit("status_write", t0, time.monotonic(), uid_of(pod), {"wrote": wrote, "running": _all_running(pod, st)})

    setattr(kubelet.Kubelet, "_on_pod", on_pod)  # noqa: B010 (a plain assignment upsets mypy)
    setattr(kubelet.Kubelet, "sync_pod", sync_pod)  # noqa: B010
    setattr(status.StatusManager, "set_status", set_status)  # noqa: B010
    _wrap_async(pleg.PLEG, "pod_status", "pleg_pod_status")
    _wrap_async(pleg.PLEG, "relist", "pleg_relist")
    _wrap_async(VolumeManager, "mount", "volumes")
    _wrap_async(kubelet.ModulePodConfig, "container_env", "container_env")
    _wrap_async(kubelet.ModulePodConfig, "container_config", "container_config")
    _wrap_async(store.ImageStore, "image_status", "image_status")
    _wrap_async(runtime.RuncRuntime, "run_pod_sandbox", "sandbox")
    _wrap_async(runtime.RuncRuntime, "create_container", "create")
    _wrap_async(runtime.RuncRuntime, "_start_shim", "shim")
    _wrap_async(runtime.RuncRuntime, "start_container", "start")
    _wrap_async(cni.CNIPodNetwork, "setup", "cni")
    _wrap_sync(netns, "pin_new_netns", "netns")
    _wrap_sync(rootfs, "overlay_options", "overlay")


def run_traced_kubelet(argv: list[str]) -> None:
    """`pod_startup.py _traced-kubelet TRACE_FILE PROFILE_PREFIX kubelet ARGS...`: the pyk8s kubelet with the
    trace installed (and, when PROFILE_PREFIX is not "-", its main thread under cProfile, one dump per SIGUSR1)."""
    trace_path, profile_prefix, rest = argv[0], argv[1], argv[2:]
    install_kubelet_trace(trace_path)
    if profile_prefix != "-":
        sys.path.insert(0, str(REPO))
        from bench._common import profiled_module_main

        profiled_module_main(profile_prefix, "pyk8s.cmd.main", rest)
        return
    import runpy

    sys.argv = ["pyk8s.cmd.main", *rest]
    runpy.run_module("pyk8s.cmd.main", run_name="__main__", alter_sys=True)


# --- figures -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    serial_pods: int = 5
    latency_pods: int = 100
    rate: float = 20.0
    runc_containers: int = 20
    sustained_pods: int = 100
    sustained_concurrency: int = 10
    rss_pods: int = 50
    rss_window_s: float = 5.0
    timeout_s: float = 300.0


QUICK = Sizes(serial_pods=2, latency_pods=10, runc_containers=5, sustained_pods=10, rss_pods=5, rss_window_s=1.0, timeout_s=60.0)


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


@dataclass
class PodTimes:
    """One pod's milestones on this process's monotonic clock (None: not seen yet)."""

    uid: str = ""
    sent: float | None = None
    created: float | None = None
    added: float | None = None
    bound: float | None = None
    running: float | None = None
    gone: float | None = None


def bench_pod(name: str, image: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "pod-startup"}},
            "spec": {"containers": [{"name": "sleep", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}],
                     "restartPolicy": "Always", "terminationGracePeriodSeconds": 1}}


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


class PodWatch:
    """One watch on the namespace's pods, started before the first create; records each pod's milestones."""

    def __init__(self, client: RESTClient) -> None:
        self.client = client
        self.times: dict[str, PodTimes] = {}
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    def of(self, name: str) -> PodTimes:
        return self.times.setdefault(name, PodTimes())

    async def start(self) -> None:
        from pyk8s.client import kinds

        page = await self.client.list(kinds.PODS, NAMESPACE)
        self._task = asyncio.create_task(self._run(str(page["metadata"]["resourceVersion"])))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self, rv: str) -> None:
        from pyk8s.client import kinds

        try:
            while True:
                async for ev in self.client.watch(kinds.PODS, NAMESPACE, resource_version=rv, timeout_seconds=300):
                    now = time.monotonic()
                    rv = str(ev.object["metadata"].get("resourceVersion") or rv)
                    if ev.type != "BOOKMARK":
                        self._observe(ev.type, ev.object, now)
                        async with self._changed:
                            self._changed.notify_all()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # wake the waiters, who report it
            self.error = e
            async with self._changed:
                self._changed.notify_all()

    def _observe(self, type_: str, pod: dict[str, Any], now: float) -> None:
        t = self.of(str(pod["metadata"]["name"]))
        if type_ == "DELETED":
            t.gone = t.gone or now
            return
        t.uid = str(pod["metadata"].get("uid") or t.uid)
        if t.added is None:
            t.added = now
        if t.bound is None and (pod.get("spec") or {}).get("nodeName"):
            t.bound = now
        if t.running is None and not pod["metadata"].get("deletionTimestamp") and _all_running(
                pod, pod.get("status") or {}):
            t.running = now

    async def wait(self, done: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not done():
                if self.error is not None:
                    raise BenchError(f"pod watch failed: {self.error}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what()}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(left, 1.0))

    async def wait_running(self, names: list[str], timeout: float) -> None:
        await self.wait(lambda: all(self.of(n).running is not None for n in names), timeout,
                        lambda: f"{sum(self.of(n).running is not None for n in names)}/{len(names)} pods running")

    async def wait_gone(self, names: list[str], timeout: float) -> None:
        await self.wait(lambda: all(self.of(n).gone is not None for n in names), timeout,
                        lambda: f"{sum(self.of(n).gone is None for n in names)} pods still in the API")


# --- the node ------------------------------------------------------------------------------------------------------


def make_node_cluster(base: Path, trace_path: str, profile_prefix: str, disk: str) -> NodeCluster:
    """A NodeCluster whose kubelet runs through `_traced-kubelet` when tracing or profiling is asked for."""
    from tests.node_cluster import NodeCluster

    class BenchNodeCluster(NodeCluster):
        def kubelet_argv(self) -> list[str]:
            argv = super().kubelet_argv()
            if not trace_path and not profile_prefix:
                return argv
            at = argv.index("-m")
            assert argv[at + 1] == "pyk8s.cmd.main", argv
            return [*argv[:at], str(THIS_FILE), TRACED_KUBELET, trace_path or os.devnull, profile_prefix or "-",
                    *argv[at + 2:]]

    return BenchNodeCluster(base, node_name="bench-node", disk=disk)


ZYGOTE_NAME = "pyk8s-zygote"


def shim_processes(kubelet_pid: int) -> list[Any]:
    """The kubelet's per-container shims: exec'd ones are its children, forked ones the zygote's (both have the
    shim module on their command line; the zygote is told apart by its process name)."""
    import psutil

    out = []
    for child in psutil.Process(kubelet_pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if SHIM_MODULE in child.cmdline() and child.name() != ZYGOTE_NAME:
                out.append(child)
    return out


def zygote_cpu(kubelet_pid: int) -> float:
    """CPU seconds the shim zygote has used itself (its forks), 0 without one."""
    import psutil

    for child in psutil.Process(kubelet_pid).children():
        with contextlib.suppress(psutil.Error):
            if child.name() == ZYGOTE_NAME:
                t = child.cpu_times()
                return float(t.user + t.system)
    return 0.0


def pod_netns_count(nc: NodeCluster) -> int:
    assert nc.node is not None
    prefix = f"{nc.node.netns}-"
    with contextlib.suppress(OSError):
        return sum(1 for n in os.listdir("/run/netns") if n.startswith(prefix))
    return 0


async def wait_node_idle(nc: NodeCluster, timeout: float) -> None:
    """No shim and no pod network namespace left: the previous phase's pods are gone from the runtime too."""
    assert nc.kubelet is not None
    deadline = time.monotonic() + timeout
    while True:
        shims, nets = len(shim_processes(nc.kubelet.pid)), pod_netns_count(nc)
        if shims == 0 and nets == 0:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"node not idle after {timeout:.0f}s: {shims} shims, {nets} pod namespaces")
        await asyncio.sleep(0.2)


async def wait_machine_quiet(max_busy_pct: float = 15.0, window: float = 0.5, timeout: float = 30.0) -> float:
    """Wait until the machine is nearly idle (both cores under `max_busy_pct` busy over `window`), so the deferred
    work of the previous phase (the kernel tearing down deleted network namespaces, the kubelet's clean-up of
    removed sandboxes) is not billed to the next one. Returns the last busy figure (the phase starts anyway after
    `timeout`)."""
    import psutil

    deadline = time.monotonic() + timeout
    busy = 100.0
    while time.monotonic() < deadline:
        busy = await asyncio.to_thread(psutil.cpu_percent, window)
        if busy < max_busy_pct:
            break
    return float(busy)


class CpuMeter:
    """CPU over a span, in % of one core: the kubelet itself, the children it reaped (CNI plugins and the iptables
    they run, runc start/kill/delete), the shims started in the span (with the `runc create` each one reaped),
    the containers' processes (runc init before it becomes `sleep`), the control plane (server + its
    components), this process (the load generator and its watch), the whole machine, and `other`: the machine
    minus all of those (kernel threads, other work on the machine). Also each figure in CPU ms per pod."""

    def __init__(self, nc: NodeCluster) -> None:
        import psutil

        assert nc.kubelet is not None and nc.cluster is not None and nc.cluster.server is not None
        self.kubelet = psutil.Process(nc.kubelet.pid)
        pids = [nc.cluster.server.pid, *nc.cluster.component_pids().values()]
        self.plane = [psutil.Process(p) for p in pids]
        self.mark: tuple[float, ...] = self._now()

    def _now(self) -> tuple[float, ...]:
        import psutil

        m = psutil.cpu_times()
        busy = float(sum(m) - m.idle - getattr(m, "iowait", 0.0) - getattr(m, "guest", 0.0)
                     - getattr(m, "guest_nice", 0.0))
        k = self.kubelet.cpu_times()
        plane = sum(float(t.user + t.system) for t in (p.cpu_times() for p in self.plane))
        own = resource.getrusage(resource.RUSAGE_SELF)
        return (time.monotonic(), float(k.user + k.system), float(k.children_user + k.children_system), plane,
                own.ru_utime + own.ru_stime, busy, zygote_cpu(self.kubelet.pid))

    def start(self) -> None:
        self.mark = self._now()

    def stop(self, pods: int) -> dict[str, float]:
        """The span's figures; the shims counted are the kubelet's live shims (all started in the span)."""
        import psutil

        now = self._now()
        shims = max(0.0, now[6] - self.mark[6])
        containers = 0.0
        for p in shim_processes(self.kubelet.pid):
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                shims += float(t.user + t.system + t.children_user + t.children_system)
                for c in p.children():
                    ct = c.cpu_times()
                    containers += float(ct.user + ct.system)
        wall = max(1e-9, now[0] - self.mark[0])
        used = {"kubelet": now[1] - self.mark[1], "kubelet_children": now[2] - self.mark[2], "shims": shims,
                "containers": containers, "control_plane": now[3] - self.mark[3], "bench": now[4] - self.mark[4]}
        used["other"] = max(0.0, now[5] - self.mark[5] - sum(used.values()))
        used["machine"] = now[5] - self.mark[5]
        out = {f"{k}_pct": round(100 * v / wall, 1) for k, v in used.items()}
        out.update({f"{k}_ms_per_pod": round(1000 * v / max(1, pods), 1) for k, v in used.items()})
        out["wall_s"] = round(wall, 2)
        return out


# --- the raw runc floor --------------------------------------------------------------------------------------------


def runc_floor(layer_tar_gz: Path, work: Path, count: int) -> dict[str, Any]:
    """`runc create` + `runc start` of `sleep 3600` in the image's unpacked layer, `count` times after one warm-up,
    with a runc root, bundles and a cgroup parent of its own, all under `work` (the node's disk, so the floor and
    the pods pay the same file system), run the way the runtime runs runc (runc_env); every container is killed
    and deleted after."""
    from pyk8s.kubelet.cri.runc import cgroups
    from pyk8s.kubelet.cri.runc.runc import runc_env

    env = runc_env()  # as the runtime runs runc (GOMAXPROCS=1)
    top = work / "runc-floor"
    rootfs, state = top / "rootfs", top / "state"
    rootfs.mkdir(parents=True)
    state.mkdir()
    with tarfile.open(layer_tar_gz) as tar:
        tar.extractall(rootfs, filter="fully_trusted")
    subprocess.run(["runc", "spec", "--bundle", str(top)], check=True, capture_output=True, timeout=30)
    template = json.loads((top / "config.json").read_text())
    template["process"]["terminal"] = False
    template["process"]["args"] = ["sleep", "3600"]
    template["root"] = {"path": str(rootfs), "readonly": True}
    parent = f"pyk8s-bench-runc-{uuid.uuid4().hex[:8]}"
    runc_log = top / "runc.log"
    runc = ["runc", "--root", str(state), "--log", str(runc_log)]
    made: list[str] = []
    create_s: list[float] = []
    start_s: list[float] = []
    try:
        for i in range(count + 1):
            cid = f"{parent}-{i}"
            bundle = top / cid
            bundle.mkdir()
            cfg = dict(template, linux={**template["linux"], "cgroupsPath": f"/{parent}/{cid}"})
            (bundle / "config.json").write_text(json.dumps(cfg))
            # The container inherits runc create's stdio: no pipe there, or reading it would wait for the
            # container's end. runc's own errors go to its --log file.
            t0 = time.perf_counter()
            created = subprocess.run([*runc, "create", "--bundle", str(bundle), cid], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False,
                                     env=env)
            t1 = time.perf_counter()
            made.append(cid)
            if created.returncode != 0:
                raise BenchError(f"runc create {cid} failed: {runc_log.read_text(errors='replace')[-500:]}")
            started = subprocess.run([*runc, "start", cid], capture_output=True, timeout=30, check=False, env=env)
            t2 = time.perf_counter()
            if started.returncode != 0:
                raise BenchError(f"runc start {cid} failed: {runc_log.read_text(errors='replace')[-500:]}")
            if i > 0:  # the first one warms runc's binary and the page cache
                create_s.append(t1 - t0)
                start_s.append(t2 - t1)
    finally:
        for cid in made:
            subprocess.run([*runc, "kill", cid, "KILL"], capture_output=True, timeout=30, check=False)
        for cid in made:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                out = subprocess.run([*runc, "state", cid], capture_output=True, timeout=30, check=False)
                if out.returncode != 0 or json.loads(out.stdout or b"{}").get("status") == "stopped":
                    break
                time.sleep(0.02)
            if subprocess.run([*runc, "delete", cid], capture_output=True, timeout=30, check=False).returncode:
                subprocess.run([*runc, "delete", "--force", cid], capture_output=True, timeout=30, check=False)
        left = cgroups.remove_tree(f"/{parent}")
        shutil.rmtree(top, ignore_errors=True)
        if left:
            raise BenchError(f"runc floor: cgroups left behind: {left}")
    total = [c + s for c, s in zip(create_s, start_s, strict=True)]
    return {"raw_runc_p50_ms": ms(percentile(total, 50)), "raw_runc_p99_ms": ms(percentile(total, 99)),
            "raw_runc_create_p50_ms": ms(percentile(create_s, 50)),
            "raw_runc_start_p50_ms": ms(percentile(start_s, 50)), "raw_runc_containers": count}


# --- phases --------------------------------------------------------------------------------------------------------


@dataclass
class Bench:
    nc: NodeCluster
    client: RESTClient
    watch: PodWatch
    sizes: Sizes
    image: str
    r: dict[str, Any] = field(default_factory=dict)
    rss_peak_mb: float = 0.0

    async def create(self, name: str) -> None:
        from pyk8s.client import kinds

        t = self.watch.of(name)
        t.sent = time.monotonic()
        await self.client.create(kinds.PODS, bench_pod(name, self.image), NAMESPACE)
        t.created = time.monotonic()

    async def create_bounded(self, names: list[str], concurrency: int) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(name: str) -> None:
            async with sem:
                await self.create(name)

        await asyncio.gather(*(one(n) for n in names))

    async def delete_all(self, names: list[str]) -> None:
        from pyk8s.api import errors
        from pyk8s.client import kinds

        sem = asyncio.Semaphore(20)

        async def one(name: str) -> None:
            async with sem:
                with contextlib.suppress(errors.NotFound):
                    await self.client.delete(kinds.PODS, name, NAMESPACE)

        await asyncio.gather(*(one(n) for n in names))
        await self.watch.wait_gone(names, self.sizes.timeout_s)
        await wait_node_idle(self.nc, self.sizes.timeout_s)
        await wait_machine_quiet()

    def sample_rss(self) -> tuple[float, list[Any]]:
        import psutil

        assert self.nc.kubelet is not None
        kubelet_mb = psutil.Process(self.nc.kubelet.pid).memory_info().rss / 2**20
        self.rss_peak_mb = max(self.rss_peak_mb, kubelet_mb)
        return kubelet_mb, shim_processes(self.nc.kubelet.pid)

    async def warm_up(self) -> None:
        """One pod, so the image is in the node's store (and the kubelet's first-pod paths have run)."""
        await self.create("warm")
        await self.watch.wait_running(["warm"], max(self.sizes.timeout_s, 120.0))
        await self.delete_all(["warm"])

    async def phase_serial(self, trace_path: Path | None) -> None:
        """Pods one at a time, each waited for: the pipeline's latency without queueing."""
        s = self.sizes
        names = [f"one-{i:03d}" for i in range(s.serial_pods)]
        trace_from = os.path.getsize(trace_path) if trace_path else 0
        cpu = CpuMeter(self.nc)
        for name in names:
            await self.create(name)
            await self.watch.wait_running([name], s.timeout_s)
        self.r["serial_cpu"] = cpu.stop(s.serial_pods)
        times = [self.watch.of(n) for n in names]
        lat = [t.running - t.sent for t in times if t.running is not None and t.sent is not None]
        self.r.update(serial_pods=s.serial_pods, serial_p50_ms=ms(percentile(lat, 50)), serial_max_ms=ms(max(lat)))
        if trace_path is not None:
            self.r["serial_breakdown"] = breakdown(times, read_trace(trace_path, trace_from))
        await self.delete_all(names)

    async def phase_rss(self) -> None:
        import psutil

        s = self.sizes
        names = [f"rss-{i:03d}" for i in range(s.rss_pods)]
        await self.create_bounded(names, s.sustained_concurrency)
        await self.watch.wait_running(names, s.timeout_s)
        kubelet_mb: list[float] = []
        shim_rss: list[float] = []
        shim_uss: list[float] = []
        shims = 0
        end = time.monotonic() + s.rss_window_s
        while True:
            mb, procs = self.sample_rss()
            kubelet_mb.append(mb)
            rss = uss = 0.0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    info = p.memory_full_info()
                    rss += info.rss / 2**20
                    uss += info.uss / 2**20
            shim_rss.append(rss)
            shim_uss.append(uss)
            shims = len(procs)
            if time.monotonic() >= end:
                break
            await asyncio.sleep(0.5)
        self.r.update(rss_pods=s.rss_pods, kubelet_rss_mb=round(max(kubelet_mb), 1),
                      shim_rss_total_mb=round(max(shim_rss), 1), shim_uss_total_mb=round(max(shim_uss), 1),
                      shims=shims)
        await self.delete_all(names)

    async def phase_latency(self, trace_path: Path | None, on_running: Callable[[], None] | None = None) -> None:
        """100 pods at the rate; `on_running` is called once all of them run, before they are deleted."""
        s = self.sizes
        names = [f"lat-{i:03d}" for i in range(s.latency_pods)]
        cpu = CpuMeter(self.nc)
        begin = time.monotonic() + 0.05
        trace_from = os.path.getsize(trace_path) if trace_path else 0

        async def paced(i: int, name: str) -> None:
            await asyncio.sleep(max(0.0, begin + i / s.rate - time.monotonic()))
            await self.create(name)

        cpu.start()
        await asyncio.gather(*(paced(i, n) for i, n in enumerate(names)))
        await self.watch.wait_running(names, s.timeout_s)
        self.r["latency_cpu"] = cpu.stop(s.latency_pods)
        if on_running is not None:
            on_running()
        self.sample_rss()
        times = [self.watch.of(n) for n in names]
        lat = [t.running - t.sent for t in times if t.running is not None and t.sent is not None]
        sent = [t.sent for t in times if t.sent is not None]
        self.r.update(pods=s.latency_pods, rate=s.rate,
                      rate_achieved=round((len(sent) - 1) / (max(sent) - min(sent)), 1) if len(sent) > 1 else 0.0,
                      p50_ms=ms(percentile(lat, 50)), p90_ms=ms(percentile(lat, 90)), p99_ms=ms(percentile(lat, 99)),
                      max_ms=ms(max(lat)))
        if trace_path is not None:
            self.r["breakdown"] = breakdown(times, read_trace(trace_path, trace_from))
        await self.delete_all(names)

    async def phase_sustained(self) -> None:
        s = self.sizes
        names = [f"sus-{i:03d}" for i in range(s.sustained_pods)]
        cpu = CpuMeter(self.nc)
        cpu.start()
        await self.create_bounded(names, s.sustained_concurrency)
        await self.watch.wait_running(names, s.timeout_s)
        self.r["sustained_cpu"] = cpu.stop(s.sustained_pods)
        self.sample_rss()
        times = [self.watch.of(n) for n in names]
        first = min(t.sent for t in times if t.sent is not None)
        last = max(t.running for t in times if t.running is not None)
        self.r.update(sustained_pods=s.sustained_pods, sustained_concurrency=s.sustained_concurrency,
                      starts_per_s=round(s.sustained_pods / (last - first), 1))
        await self.delete_all(names)


# --- where the time goes -------------------------------------------------------------------------------------------


def read_trace(path: Path, offset: int) -> dict[str, dict[str, list[list[Any]]]]:
    """uid -> step -> [[start, end, extra?], ...] in the order they were logged."""
    out: dict[str, dict[str, list[list[Any]]]] = {}
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f:
            try:
                uid, name, *rest = json.loads(line)
            except ValueError:
                continue
            out.setdefault(uid, {}).setdefault(name, []).append(rest)
    return out


# Consecutive milestones; each segment is the time between two of them, so the segments add up to the latency.
SEGMENTS = [
    ("create -> watch ADDED (apiserver)", "sent", "added"),
    ("ADDED -> bound on watch (scheduler)", "added", "bound"),
    ("bound -> kubelet informer", "bound", "seen"),
    ("informer -> pod worker sync", "seen", "sync"),
    ("sync -> sandbox (PLEG status, volumes)", "sync", "sandbox0"),
    ("sandbox (netns, CNI, cgroup)", "sandbox0", "sandbox1"),
    ("sandbox -> create (image, env, config)", "sandbox1", "create0"),
    ("create (overlay, spec, shim + runc create)", "create0", "create1"),
    ("create -> start", "create1", "start0"),
    ("start (runc start)", "start0", "start1"),
    ("start -> status write (PLEG status)", "start1", "status0"),
    ("status PATCH", "status0", "status1"),
    ("status written -> watch running", "status1", "running"),
]
# Steps inside the segments above, reported as their own durations.
INNER = ["volumes", "netns", "cni", "image_status", "container_env", "container_config", "overlay", "shim",
         "pleg_pod_status"]


def milestones(t: PodTimes, steps: dict[str, list[list[Any]]]) -> dict[str, float] | None:
    """A pod's milestones (seconds), client- and kubelet-side, or None when a step is missing."""
    def first(name: str) -> list[Any] | None:
        spans = steps.get(name)
        return spans[0] if spans else None

    seen, sync, sandbox, create, start = (first(n) for n in ("seen", "sync", "sandbox", "create", "start"))
    status = next((sp for sp in steps.get("status_write", []) if len(sp) > 2 and sp[2].get("wrote")
                   and sp[2].get("running")), None)
    if None in (t.sent, t.added, t.bound, t.running, seen, sync, sandbox, create, start, status):
        return None
    assert seen and sync and sandbox and create and start and status
    return {"sent": t.sent or 0.0, "added": t.added or 0.0, "bound": t.bound or 0.0, "seen": seen[0],
            "sync": sync[0], "sandbox0": sandbox[0], "sandbox1": sandbox[1], "create0": create[0],
            "create1": create[1], "start0": start[0], "start1": start[1], "status0": status[0], "status1": status[1],
            "running": t.running or 0.0}


def breakdown(times: list[PodTimes], trace: dict[str, dict[str, list[list[Any]]]]) -> dict[str, Any]:
    """p50 / p90 of each segment and inner step over the pods whose every milestone was logged."""
    segs: dict[str, list[float]] = {name: [] for name, _, _ in SEGMENTS}
    inner: dict[str, list[float]] = {name: [] for name in INNER}
    pods = 0
    for t in times:
        steps = trace.get(t.uid, {})
        m = milestones(t, steps)
        if m is None:
            continue
        pods += 1
        for name, a, b in SEGMENTS:
            segs[name].append(m[b] - m[a])
        for name in INNER:  # the steps of the first sync (the one that started the container)
            spans = [sp for sp in steps.get(name, []) if m["sync"] <= sp[0] <= m["status1"]]
            if spans:
                inner[name].append(sum(sp[1] - sp[0] for sp in spans))
    relists = [sp[1] - sp[0] for sp in trace.get("", {}).get("pleg_relist", [])]
    return {"pods": pods,
            "segments_ms": {k: [ms(percentile(v, 50)), ms(percentile(v, 90))] for k, v in segs.items()},
            "inner_ms": {k: [ms(percentile(v, 50)), ms(percentile(v, 90))] for k, v in inner.items() if v},
            "pleg_relist_ms": [ms(percentile(relists, 50)), ms(percentile(relists, 90)), len(relists)]}


# --- output --------------------------------------------------------------------------------------------------------


def render(r: dict[str, Any]) -> str:
    raw = r.get("raw_runc_p50_ms", 0.0)
    rows = [
        ("raw runc create+start p50 / p99", f"{raw} / {r.get('raw_runc_p99_ms')} ms", "(floor)", ""),
        ("pod startup, one pod at a time: p50 / max", f"{r.get('serial_p50_ms')} / {r.get('serial_max_ms')} ms",
         "", ""),
        (f"pod startup p50 ({r.get('pods')} pods at {r.get('rate')}/s)", f"{r.get('p50_ms')} ms",
         f"<= 3x floor ({round(3 * raw, 1)} ms)", _ok(r.get("p50_ms", 1e9) <= 3 * raw)),
        ("pod startup p50 / raw floor", f"{r.get('ratio_p50_to_raw')}x", "<= 3x", _ok(r.get("ratio_p50_to_raw", 1e9) <= 3)),
        ("pod startup p90 / max", f"{r.get('p90_ms')} / {r.get('max_ms')} ms", "", ""),
        ("pod startup p99", f"{r.get('p99_ms')} ms", "< 500 ms (SLO 5 s)", _ok(r.get("p99_ms", 1e9) < 500)),
        (f"sustained pod starts/s ({r.get('sustained_pods')} pods)", f"{r.get('starts_per_s')}/s", ">= 20/s",
         _ok(r.get("starts_per_s", 0) >= 20)),
        (f"kubelet RSS, {r.get('rss_pods')} pods", f"{r.get('kubelet_rss_mb')} MB", "< 100 MB",
         _ok(r.get("kubelet_rss_mb", 1e9) < 100)),
        (f"shims ({r.get('shims')} processes) RSS / USS total", f"{r.get('shim_rss_total_mb')} / "
         f"{r.get('shim_uss_total_mb')} MB", "(not the kubelet's)", ""),
    ]
    w = max(len(a) for a, _, _, _ in rows)
    lines = [f"{'metric':<{w}}  {'value':>22}  {'target':<26} ok", "-" * (w + 56)]
    lines += [f"{a:<{w}}  {b:>22}  {c:<26} {d}" for a, b, c, d in rows]
    parts = ("kubelet", "kubelet_children", "shims", "containers", "control_plane", "bench", "other", "machine")
    lines += ["", f"CPU ms per pod started (% of one core; {os.cpu_count()} cores):",
              "  " + " ".join(f"{k:>16}" for k in ("phase", *parts))]
    for phase in ("serial", "latency", "sustained"):
        c = r.get(f"{phase}_cpu") or {}
        lines.append("  " + " ".join(f"{v:>16}" for v in (
            phase, *(f"{c.get(k + '_ms_per_pod')} ({c.get(k + '_pct')})" for k in parts))))
    b, one = r.get("breakdown"), r.get("serial_breakdown") or {}
    if b:
        lines += ["", f"where a pod's startup goes, ms: one pod at a time ({one.get('pods', 0)} pods) p50 | "
                      f"latency phase ({b['pods']} pods at {r.get('rate')}/s) p50 / p90"]
        solo = one.get("segments_ms", {})
        seg_w = max(len(k) for k in b["segments_ms"])
        lines += [f"  {k:<{seg_w}}  {(solo.get(k) or ['-'])[0]:>7} | {v[0]:>7} / {v[1]:<7}"
                  for k, v in b["segments_ms"].items()]
        solo_inner = one.get("inner_ms", {})
        inner_w = max(len(k) for k in b["inner_ms"]) if b["inner_ms"] else 0
        lines.append("  inside those:")
        lines += [f"    {k:<{inner_w}}  {(solo_inner.get(k) or ['-'])[0]:>7} | {v[0]:>7} / {v[1]:<7}"
                  for k, v in b["inner_ms"].items()]
        rl = b["pleg_relist_ms"]
        lines.append(f"  PLEG relist in the latency phase: p50 {rl[0]} ms, p90 {rl[1]} ms ({rl[2]} relists)")
    return "\n".join(lines)


def _ok(cond: bool) -> str:
    return "yes" if cond else "NO"


def left_behind(nc: NodeCluster) -> list[str]:
    """What the stopped node left on the machine: pod namespaces, cgroups, mounts, the runc root. Empty runc
    state directories (a container runc never finished creating) are removed here, and still reported."""
    left: list[str] = []
    if nc.node is not None:
        with contextlib.suppress(OSError):
            left += [f"netns {n}" for n in os.listdir("/run/netns") if n.startswith(nc.node.netns)]
    left += [f"cgroup {d}" for d in Path("/sys/fs/cgroup").glob(f"*/pyk8s-e2e-{nc.suffix}")]
    with contextlib.suppress(OSError):
        left += [f"mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
                 if str(nc.base) in line.split()[4] or nc.run_dir in line.split()[4]]
    root = Path(nc.runc_root)
    if root.exists():
        for d in sorted(root.iterdir()):
            left.append(f"runc state {d}")
            with contextlib.suppress(OSError):
                d.rmdir()  # only succeeds when empty
        with contextlib.suppress(OSError):
            root.rmdir()
            root.parent.rmdir()
    return left


# --- main ----------------------------------------------------------------------------------------------------------


async def run_phases(nc: NodeCluster, sizes: Sizes, trace_path: Path | None, profile_prefix: str,
                     work: Path, r: dict[str, Any]) -> None:
    from pyk8s.client import kinds
    from pyk8s.client.kubeconfig import load_client_config
    from pyk8s.client.rest import RESTClient
    from tests.node_cluster import IMAGE

    async with RESTClient(load_client_config(str(nc.kubeconfig))) as client:
        await client.create(kinds.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NAMESPACE}})
        deadline = time.monotonic() + 60
        while True:  # pods need the namespace's default service account
            with contextlib.suppress(Exception):
                await client.get(kinds.SERVICE_ACCOUNTS, "default", NAMESPACE)
                break
            if time.monotonic() > deadline:
                raise BenchError("no default service account in the namespace after 60s")
            await asyncio.sleep(0.1)
        watch = PodWatch(client)
        await watch.start()
        bench = Bench(nc, client, watch, sizes, IMAGE, r)
        try:
            await bench.warm_up()
            r.update(await asyncio.to_thread(runc_floor, nc.base / "image" / "layer.tar.gz", nc.node_dir,
                                             sizes.runc_containers))
            print(f"runc floor: {r['raw_runc_p50_ms']} ms", flush=True)
            await bench.phase_serial(trace_path)
            print(f"one pod at a time: p50 {r['serial_p50_ms']} ms", flush=True)
            await bench.phase_rss()
            print(f"kubelet RSS with {sizes.rss_pods} pods: {r['kubelet_rss_mb']} MB", flush=True)
            kubelet_pid = nc.kubelet.pid if profile_prefix and nc.kubelet is not None else 0

            def profile_dump() -> None:
                if kubelet_pid:
                    os.kill(kubelet_pid, signal.SIGUSR1)

            profile_dump()  # dump 0: everything before the latency phase
            await bench.phase_latency(trace_path, on_running=profile_dump)  # dump 1: its pods' creation
            profile_dump()  # dump 2: their deletion
            r["ratio_p50_to_raw"] = round(r["p50_ms"] / r["raw_runc_p50_ms"], 2) if r["raw_runc_p50_ms"] else 0.0
            print(f"latency: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms", flush=True)
            await bench.phase_sustained()
            print(f"sustained: {r['starts_per_s']} pod starts/s", flush=True)
            r["kubelet_rss_peak_mb"] = round(bench.rss_peak_mb, 1)
        finally:
            await watch.stop()


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == [TRACED_KUBELET]:
        run_traced_kubelet(args_in[1:])
        return 0
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small counts: a smoke test of the harness")
    p.add_argument("--no-breakdown", action="store_true", help="run the kubelet untouched (no per-phase trace)")
    p.add_argument("--profile-kubelet", action="store_true",
                   help="run the kubelet's main thread under cProfile; report the latency phase")
    p.add_argument("--keep", action="store_true", help="keep the work dir (kubelet trace, logs)")
    p.add_argument("--node-disk", choices=("tmpfs", "host"), default="tmpfs",
                   help="where the node keeps its state, the raw runc floor's too (tests.node_cluster explains)")
    args = p.parse_args(args_in)
    for tool in ("runc", "nsenter", "ip", "docker-registry"):
        if shutil.which(tool) is None:
            print(f"bench/pod_startup.py: {tool} is not installed", file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("bench/pod_startup.py: needs root (runc, network namespaces, cgroups)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    import orjson

    sizes = QUICK if args.quick else Sizes()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    work = Path(tempfile.mkdtemp(prefix="pyk8s-bench-pod-startup-"))
    trace_path = None if args.no_breakdown else work / "kubelet-trace.jsonl"
    profile_prefix = str(work / "kubelet-prof") if args.profile_kubelet else ""
    nc = make_node_cluster(work / "node", str(trace_path or ""), profile_prefix, args.node_disk)
    r: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count(), "node_disk": args.node_disk,
                         "breakdown_traced": trace_path is not None}
    failed = True
    try:
        t0 = time.monotonic()
        nc.start()
        r["cluster_start_s"] = round(time.monotonic() - t0, 1)
        asyncio.run(run_phases(nc, sizes, trace_path, profile_prefix, work, r))
        failed = False
    except BenchError as e:
        print(f"bench/pod_startup.py: {e} (logs in {work})\n{nc.logs()[-4000:]}", file=sys.stderr)
    finally:
        try:
            nc.stop()
        except RuntimeError as e:
            print(f"bench/pod_startup.py: {e}", file=sys.stderr)
            failed = True
        r["left_behind"] = left_behind(nc)
    if r["left_behind"]:
        print(f"bench/pod_startup.py: the node left behind {r['left_behind']} (logs in {work})", file=sys.stderr)
    if failed:
        return 1
    if profile_prefix or args.keep:
        print(f"work dir kept: {work}", file=sys.stderr)
    if profile_prefix:
        from bench._common import profile_report

        for n, what, name in ((1, "latency phase, pod creation", "latency"),
                              (2, "latency phase, pod deletion", "deletion")):
            prof = Path(f"{profile_prefix}.{n}.prof")
            if prof.exists():
                report = work / f"kubelet-profile-{name}.txt"
                report.write_text(profile_report(prof, f"kubelet, {what}", top=40))
                print(f"kubelet profile, {what}: {report}", file=sys.stderr)
    if not (profile_prefix or args.keep or r["left_behind"]):
        shutil.rmtree(work, ignore_errors=True)
    print(render(r))
    print(orjson.dumps(r).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
