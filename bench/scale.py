"""Control-plane scale, kwok-style: `pyk8s server` plus `pyk8s hollow-nodes` on this machine.

Three figures, each from a fresh cluster:
  1. time from starting 2 000 hollow nodes until all are Ready (target < 30 s; kwok's CI gate is 120 s);
  2. time from creating one Deployment of 5 000 replicas until all its pods are Running (target < 60 s;
     kwok: 240 s), on 100 hollow nodes (50 pods each);
  3. holding 1 000 nodes and 30 000 pods with 10 s heartbeats: the control plane's (apiserver +
     controller-manager + scheduler) total RSS (target < 1.5 GB) and CPU share over a quiet window.
Observed by watch through pyk8s's own client. Prints a table, then one JSON line with the figures.
`--quick` shrinks every count (a smoke test of the harness).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BenchError, ChildProcesses, wait_for_listen_line
from pyk8s.api.resources import Resource
from pyk8s.client import kinds
from pyk8s.client.kubeconfig import load_client_config
from pyk8s.client.rest import RESTClient

CHILD_RE = re.compile(r"started ([\w-]+) \(pid (\d+)\)")
CONTROL_PLANE = ("apiserver", "controller-manager", "scheduler")


@dataclass(frozen=True)
class Sizes:
    ready_nodes: int = 2000
    deploy_nodes: int = 100
    deploy_pods: int = 5000
    hold_nodes: int = 1000
    hold_pods: int = 30000
    hold_window_s: float = 60.0
    timeout_s: float = 900.0


QUICK = Sizes(ready_nodes=100, deploy_nodes=10, deploy_pods=200, hold_nodes=50, hold_pods=1000, hold_window_s=10.0,
              timeout_s=180.0)


class Cluster:
    """One `pyk8s server` (and hollow-nodes processes) in a scratch dir; stopped by PID."""

    def __init__(self, procs: ChildProcesses, work: Path, name: str) -> None:
        self.procs = procs
        self.dir = work / name
        self.dir.mkdir(parents=True)
        self.log = self.dir / "server.log"
        self.server = procs.spawn([sys.executable, "-m", "pyk8s.cmd.main", "server", "--data-dir", str(self.dir),
                                   "--secure-port", "0", "--bind-address", "127.0.0.1", "--disable-agent",
                                   # room for 32 768 nodes' /24 pod ranges (the default /16 holds 256)
                                   "--cluster-cidr", "10.128.0.0/9"], self.log)
        wait_for_listen_line(self.server, self.log, 60)
        self.kubeconfig = self.dir / "admin.kubeconfig"
        self.hollow: list[Any] = []

    def start_hollow(self, count: int, heartbeat: str = "10s") -> float:
        started = time.monotonic()
        self.hollow.append(self.procs.spawn(
            [sys.executable, "-m", "pyk8s.cmd.main", "hollow-nodes", "--kubeconfig", str(self.kubeconfig),
             "--count", str(count), "--heartbeat-interval", heartbeat], self.dir / "hollow.log"))
        return started

    def component_pids(self) -> dict[str, int]:
        return {n: int(p) for n, p in CHILD_RE.findall(self.log.read_text(errors="replace"))}

    def stop(self) -> None:
        for p in self.hollow:
            self.procs.stop(p)
        self.procs.stop(self.server, timeout=30)


async def wait_until(client: RESTClient, resource: Resource, done: Callable[[dict[str, Any]], bool], want: int,
                     timeout: float, namespace: str = "") -> None:
    """Watch `resource` until `want` objects satisfy `done` (list first, then watch from its version)."""
    state: dict[str, bool] = {}
    deadline = time.monotonic() + timeout
    page = await client.list(resource, namespace)
    for obj in page["items"]:
        state[obj["metadata"]["name"]] = done(obj)
    rv = page["metadata"]["resourceVersion"]
    while sum(state.values()) < want:
        if time.monotonic() > deadline:
            raise BenchError(f"only {sum(state.values())}/{want} {resource.plural} done after {timeout:.0f}s")
        async for ev in client.watch(resource, namespace, resource_version=rv, timeout_seconds=30):
            rv = ev.object["metadata"].get("resourceVersion", rv)
            if ev.type == "BOOKMARK":
                continue
            name = ev.object["metadata"]["name"]
            state[name] = ev.type != "DELETED" and done(ev.object)
            if sum(state.values()) >= want or time.monotonic() > deadline:
                break


def node_ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or ())


def pod_running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


async def phase_nodes_ready(procs: ChildProcesses, work: Path, s: Sizes, r: dict[str, Any]) -> None:
    c = Cluster(procs, work, "ready")
    try:
        async with RESTClient(load_client_config(str(c.kubeconfig))) as client:
            started = c.start_hollow(s.ready_nodes)
            await wait_until(client, kinds.NODES, node_ready, s.ready_nodes, s.timeout_s)
            r["nodes_ready"] = s.ready_nodes
            r["nodes_ready_s"] = round(time.monotonic() - started, 2)
    finally:
        c.stop()


async def phase_deployment(procs: ChildProcesses, work: Path, s: Sizes, r: dict[str, Any]) -> None:
    c = Cluster(procs, work, "deploy")
    try:
        async with RESTClient(load_client_config(str(c.kubeconfig))) as client:
            c.start_hollow(s.deploy_nodes)
            await wait_until(client, kinds.NODES, node_ready, s.deploy_nodes, s.timeout_s)
            started = time.monotonic()
            await client.create(kinds.DEPLOYMENTS, deployment("big", s.deploy_pods))
            await wait_until(client, kinds.PODS, pod_running, s.deploy_pods, s.timeout_s, "default")
            r["deployment_pods"] = s.deploy_pods
            r["deployment_running_s"] = round(time.monotonic() - started, 2)
    finally:
        c.stop()


async def phase_hold(procs: ChildProcesses, work: Path, s: Sizes, r: dict[str, Any]) -> None:
    c = Cluster(procs, work, "hold")
    try:
        async with RESTClient(load_client_config(str(c.kubeconfig))) as client:
            c.start_hollow(s.hold_nodes, heartbeat="10s")
            await wait_until(client, kinds.NODES, node_ready, s.hold_nodes, s.timeout_s)
            started = time.monotonic()
            per = 5000
            for i in range(0, s.hold_pods, per):
                await client.create(kinds.DEPLOYMENTS, deployment(f"hold-{i // per}", min(per, s.hold_pods - i)))
            await wait_until(client, kinds.PODS, pod_running, s.hold_pods, s.timeout_s * 3, "default")
            r["hold_pods_running_s"] = round(time.monotonic() - started, 2)
        await asyncio.sleep(15)  # let the bring-up's backlog drain before measuring the steady state
        pids = c.component_pids()
        plane = [psutil.Process(pids[n]) for n in CONTROL_PLANE]
        hollow = psutil.Process(c.hollow[0].pid)
        cpu0 = [p.cpu_times() for p in plane]
        hollow0 = hollow.cpu_times()
        t0 = time.monotonic()
        peak_rss = 0.0
        while time.monotonic() - t0 < s.hold_window_s:
            peak_rss = max(peak_rss, sum(p.memory_info().rss for p in plane) / 2**20)
            await asyncio.sleep(1)
        wall = time.monotonic() - t0
        cpu = sum((p.cpu_times().user + p.cpu_times().system) - (c0.user + c0.system) for p, c0 in zip(plane, cpu0, strict=True))
        r["hold_nodes"] = s.hold_nodes
        r["hold_pods"] = s.hold_pods
        r["hold_rss_mb"] = round(peak_rss, 1)
        r["hold_rss_by_component_mb"] = {n: round(p.memory_info().rss / 2**20, 1) for n, p in zip(CONTROL_PLANE, plane, strict=True)}
        r["hold_cpu_pct_of_one_core"] = round(100 * cpu / wall, 1)
        h = hollow.cpu_times()
        r["hollow_nodes_cpu_pct"] = round(100 * ((h.user + h.system) - (hollow0.user + hollow0.system)) / wall, 1)
        r["hollow_nodes_rss_mb"] = round(hollow.memory_info().rss / 2**20, 1)
    finally:
        c.stop()


def render(r: dict[str, Any]) -> str:
    rows = [
        (f"{r.get('nodes_ready', '?')} hollow nodes Ready", f"{r.get('nodes_ready_s', '?')} s", "< 30 s (kwok 120 s)"),
        (f"{r.get('deployment_pods', '?')} pods of one Deployment Running", f"{r.get('deployment_running_s', '?')} s",
         "< 60 s (kwok 240 s)"),
        (f"control plane RSS, {r.get('hold_nodes', '?')} nodes + {r.get('hold_pods', '?')} pods",
         f"{r.get('hold_rss_mb', '?')} MB", "< 1536 MB"),
        ("control plane CPU at steady state", f"{r.get('hold_cpu_pct_of_one_core', '?')} % of one core", "(25 %)"),
        ("hollow-nodes process CPU / RSS", f"{r.get('hollow_nodes_cpu_pct', '?')} % / {r.get('hollow_nodes_rss_mb', '?')} MB",
         ""),
    ]
    width = max(len(a) for a, _, _ in rows)
    lines = [f"{'figure':<{width}}  {'measured':>22}  target", "-" * (width + 40)]
    lines += [f"{a:<{width}}  {b:>22}  {c}" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=("ready", "deploy", "hold"), action="append")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    procs = ChildProcesses(None)
    work = Path(tempfile.mkdtemp(prefix="pyk8s-bench-scale-"))
    r: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count()}
    phases = args.only or ["ready", "deploy", "hold"]
    try:
        for name, fn in (("ready", phase_nodes_ready), ("deploy", phase_deployment), ("hold", phase_hold)):
            if name in phases:
                asyncio.run(fn(procs, work, sizes, r))
                print(f"phase {name} done: {orjson.dumps(r).decode()}", flush=True)
    except BenchError as e:
        print(f"bench/scale.py: {e} (logs in {work})", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
    shutil.rmtree(work, ignore_errors=True)  # kept above, for its logs, when a phase failed
    print(render(r))
    print(orjson.dumps(r).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
