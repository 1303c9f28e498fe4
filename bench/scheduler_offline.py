"""Scheduler decision throughput without a cluster: pods/s of the scheduling cycle on Deployment-made pods.

The shape of a hollow-node scale run: N nodes (32 cpu, 256 Gi, 110 pods; kubernetes.io/hostname, no zone
label), `--deployments` Deployments whose ReplicaSets own every pod (labels app=hold-<i> and pod-template-hash,
a controller ownerReference, busybox without requests, as `kubectl create deployment` makes them), E pods of
them already bound (spread evenly), then `--pods` more scheduled one by one through `schedule_offline` (the
full default profile: PodTopologySpread's system default constraints apply to these pods). Prints one line
per existing-pod count and a JSON line; `--profile FILE` writes a cProfile of the last run.

    python bench/scheduler_offline.py --nodes 1000 --existing 0,5000,25000 --pods 5000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path
from typing import Any

import orjson

# Appended, not inserted: PYTHONPATH can point at another checkout to compare before/after.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from pyk8s.client.kinds import REPLICA_SETS
from pyk8s.scheduler.simulate import StaticListers, build_cache, schedule_offline

NAMESPACE = "default"
TEMPLATE_HASH = "5d4c7b8f9"


def hollow_node(name: str) -> dict[str, Any]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "uid": f"uid-node-{name}",
                         "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "hollow"}},
            "spec": {},
            "status": {"capacity": resources, "allocatable": dict(resources),
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def replica_set(deployment: str) -> dict[str, Any]:
    labels = {"app": deployment, "pod-template-hash": TEMPLATE_HASH}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{deployment}-{TEMPLATE_HASH}", "namespace": NAMESPACE,
                         "uid": f"uid-rs-{deployment}", "labels": dict(labels)},
            "spec": {"replicas": 0, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "busybox", "image": "busybox"}]}}}}


def deployment_pod(deployment: str, i: int, node_name: str = "") -> dict[str, Any]:
    """A pod as the ReplicaSet controller creates it from `kubectl create deployment NAME --image=busybox`."""
    rs = f"{deployment}-{TEMPLATE_HASH}"
    name = f"{rs}-{i:06d}"
    spec: dict[str, Any] = {
        "containers": [{"name": "busybox", "image": "busybox", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "imagePullPolicy": "Always"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "securityContext": {}, "schedulerName": "default-scheduler", "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": 300}],
    }
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}",
                         "labels": {"app": deployment, "pod-template-hash": TEMPLATE_HASH},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                              "uid": f"uid-rs-{deployment}", "controller": True,
                                              "blockOwnerDeletion": True}],
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": spec, "status": {"phase": "Pending", "qosClass": "BestEffort"}}


def run_once(nodes: int, existing: int, pods: int, deployments: int, profile_to: str | None) -> dict[str, Any]:
    names = [f"hollow-{i:05d}" for i in range(nodes)]
    deps = [f"hold-{d}" for d in range(deployments)]
    bound = [deployment_pod(deps[i % deployments], i, names[i % nodes]) for i in range(existing)]
    cache = build_cache([hollow_node(n) for n in names], bound)
    per = -(-pods // deployments)
    new = [deployment_pod(deps[i // per], existing + i) for i in range(pods)]
    listers = StaticListers({REPLICA_SETS: [replica_set(d) for d in deps]})
    prof = cProfile.Profile() if profile_to else None
    if prof is not None:
        prof.enable()
    result = schedule_offline(cache, new, listers=listers)
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile_to)
    placed = sum(1 for n in result.placements.values() if n)
    return {"nodes": nodes, "existing": existing, "pods": pods, "placed": placed,
            "seconds": round(result.seconds, 3), "pods_per_s": round(placed / result.seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Offline scheduler throughput on Deployment-owned pods.")
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--existing", default="0,5000,25000", help="comma-separated counts of already-bound pods")
    p.add_argument("--pods", type=int, default=5000, help="pods to schedule per run")
    p.add_argument("--deployments", type=int, default=6)
    p.add_argument("--profile", metavar="FILE", help="write a cProfile of the last run and print its top")
    args = p.parse_args(argv)
    counts = [int(x) for x in args.existing.split(",") if x.strip()]
    results: list[dict[str, Any]] = []
    for i, existing in enumerate(counts):
        last = i == len(counts) - 1
        r = run_once(args.nodes, existing, args.pods, args.deployments, args.profile if last else None)
        results.append(r)
        print(f"{r['nodes']:>6} nodes {r['existing']:>7} existing {r['pods']:>6} pods: "
              f"{r['pods_per_s']:>8.1f} pods/s ({r['seconds']} s, {r['placed']} placed)", flush=True)
    if args.profile:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
    print(orjson.dumps(results).decode(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
