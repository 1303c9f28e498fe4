"""Scheduler throughput, end to end: pods/s from creation to Binding, as a ratio to upstream's 680 pods/s.

scheduler_perf's SchedulingBasic shape, run against the real pyk8s apiserver and `pyk8s scheduler`
processes on this machine: N nodes (100, 1 000, 5 000) registered in the hollow-node shape (32 cpu,
256 Gi, 110 pods; no agent runs them, as scheduler_perf has no kubelets, so pods stay bound), up to
1 000 init pods scheduled first, then 10 000 measured pods (requests 100m cpu / 500 Mi) created as
fast as the apiserver takes them while the scheduler binds them. Throughput = measured pods / (last
Binding observed - first create). Observed through a watch. The ratio's reference, 680 pods/s, is
kube-scheduler's CI threshold for SchedulingBasic 5000Nodes_10000Pods (see the performance anchors).
Prints a table, then one JSON line. `--quick` runs small counts (a smoke test of the harness).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BenchError, ChildProcesses, wait_for_listen_line
from bench.api import apiserver_argv
from pyk8s.client import kinds
from pyk8s.client.kubeconfig import load_client_config
from pyk8s.client.rest import RESTClient

UPSTREAM_PODS_PER_S = 680.0
NODE_PODS = 110
NAMESPACE = "sched-bench"


def node(name: str) -> dict[str, Any]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": str(NODE_PODS), "ephemeral-storage": "100Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  "kubernetes.io/arch": "amd64", "type": "hollow"}},
            "spec": {},
            "status": {"capacity": resources, "allocatable": resources,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status"}]}}


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


async def create_all(client: RESTClient, objs: list[dict[str, Any]], concurrency: int = 64) -> None:
    it = iter(objs)

    async def worker() -> None:
        for obj in it:
            r = kinds.NODES if obj["kind"] == "Node" else kinds.PODS
            await client.create(r, obj)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def wait_bound(client: RESTClient, names: set[str], rv: str, timeout: float) -> float:
    """Watch pods from `rv` until every pod in `names` has a nodeName; returns the monotonic time of the last."""
    pending = set(names)
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while pending:
        if time.monotonic() > deadline:
            raise BenchError(f"{len(pending)} of {len(names)} pods still unbound after {timeout:.0f}s")
        async for ev in client.watch(kinds.PODS, NAMESPACE, resource_version=rv, timeout_seconds=30):
            rv = ev.object["metadata"].get("resourceVersion", rv)
            if ev.type in ("ADDED", "MODIFIED") and (ev.object.get("spec") or {}).get("nodeName"):
                name = ev.object["metadata"]["name"]
                if name in pending:
                    pending.discard(name)
                    last = time.monotonic()
            if not pending or time.monotonic() > deadline:
                break
    return last


async def run_size(procs: ChildProcesses, work: Path, nodes: int, measured: int) -> dict[str, Any]:
    d = work / f"n{nodes}"
    d.mkdir()
    api_log = d / "apiserver.log"
    api = procs.spawn(apiserver_argv(d, 0), api_log)
    wait_for_listen_line(api, api_log, 60)
    kubeconfig = d / "admin.kubeconfig"
    result: dict[str, Any] = {"nodes": nodes, "measured_pods": measured}
    async with RESTClient(load_client_config(str(kubeconfig))) as client:
        await client.create(kinds.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NAMESPACE}})
        # no controller-manager here: make the account its serviceaccount controller would (pods need it)
        await client.create(kinds.SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                     "metadata": {"name": "default"}}, NAMESPACE)
        await create_all(client, [node(f"node-{i}") for i in range(nodes)])
        sched = procs.spawn([sys.executable, "-m", "pyk8s.cmd.main", "scheduler", "--kubeconfig", str(kubeconfig),
                             "--leader-elect=false", "--secure-port", "0",
                             "--kube-api-qps", "5000", "--kube-api-burst", "5000"], d / "scheduler.log")
        try:
            init = max(0, min(1000, int(0.9 * nodes * NODE_PODS) - measured))
            if init:
                rv = (await client.list(kinds.PODS, NAMESPACE, limit=1))["metadata"]["resourceVersion"]
                names = [f"init-{i}" for i in range(init)]
                await create_all(client, [pod(n) for n in names])
                await wait_bound(client, set(names), rv, 300)
            result["init_pods"] = init
            rv = (await client.list(kinds.PODS, NAMESPACE, limit=1))["metadata"]["resourceVersion"]
            names = [f"pod-{i}" for i in range(measured)]
            started = time.monotonic()
            waiter = asyncio.create_task(wait_bound(client, set(names), rv, 600))
            await create_all(client, [pod(n) for n in names])
            created = time.monotonic()
            last = await waiter
        finally:
            procs.stop(sched)
            procs.stop(api)
    result["create_s"] = round(created - started, 2)
    result["seconds"] = round(last - started, 2)
    result["pods_per_s"] = round(measured / (last - started), 1)
    result["ratio_to_680"] = round(result["pods_per_s"] / UPSTREAM_PODS_PER_S, 2)
    return result


def render(rows: list[dict[str, Any]]) -> str:
    head = f"{'nodes':>6} {'init':>6} {'pods':>7} {'create s':>9} {'total s':>8} {'pods/s':>8} {'ratio to 680':>13}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['nodes']:>6} {r['init_pods']:>6} {r['measured_pods']:>7} {r['create_s']:>9} "
                     f"{r['seconds']:>8} {r['pods_per_s']:>8} {r['ratio_to_680']:>13}")
    lines.append("target: ratio >= 1.0 at 5 000 nodes (binding writes included)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--nodes", type=int, action="append", help="node counts (default 100, 1000, 5000)")
    p.add_argument("--pods", type=int, default=0, help="measured pods (default 10000)")
    args = p.parse_args(argv)
    sizes = args.nodes or ([10, 50] if args.quick else [100, 1000, 5000])
    measured = args.pods or (300 if args.quick else 10000)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    procs = ChildProcesses(None)
    work = Path(tempfile.mkdtemp(prefix="pyk8s-bench-scheduler-"))
    rows: list[dict[str, Any]] = []
    try:
        for n in sizes:
            rows.append(asyncio.run(run_size(procs, work, n, measured)))
    except BenchError as e:
        print(f"bench/scheduler.py: {e} (logs in {work})", file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
    shutil.rmtree(work, ignore_errors=True)  # kept above, for its logs, when a phase failed
    print(render(rows))
    summary = {"quick": args.quick, "cpus": os.cpu_count(), "runs": rows,
               "ratio_at_max_nodes": rows[-1]["ratio_to_680"] if rows else None}
    print(orjson.dumps(summary).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
