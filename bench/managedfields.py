"""How much CPU the managedFields bookkeeping costs per write, next to a JSON round trip of the same object.

Usage: ``python bench/managedfields.py [--quick]``. It prints a table, then a last line holding one JSON
object with every figure (snake_case keys, units in the names).

Method
------
Everything runs in this one process, single-threaded, with no server: each case calls the function the
apiserver calls for that write (``update_managed_fields`` from ``WriteHandler._managed``, or
``server_side_apply`` for an apply patch) on prepared inputs, in a loop. Inputs are built once before timing
and are not modified by the functions measured (they copy what they change), so every iteration does the
same work. Objects are what the apiserver holds at that point: defaulted, with uid and creationTimestamp set.

Cases:

- ``create_pod`` / ``create_deployment``: a create (no old object, no managedFields in the request) of a
  realistic Pod (bench/_common.py ``realistic_pod``: two containers, probes, env, mounts, affinity) and of a
  Deployment whose template is that pod's spec.
- ``update_pod`` / ``update_deployment``: an update by another manager that changes one field (the first
  container's image; ``spec.replicas``) of the stored object, which carries the managedFields of its create.
- ``apply_deployment``: a server-side apply by ``kubectl`` of a manifest (~25 fields) that changes the image,
  to a Deployment created by an earlier apply of that manifest (then defaulted) and annotated since by another
  manager: the object carries an Apply entry of the same manager and an Update entry.

Baseline, per object: ``orjson.loads(orjson.dumps(obj))``, the cheapest deep copy of that object; each case
reports its time as a multiple of the baseline of its object.

Each figure is the best over R rounds (9; 3 with ``--quick``) of the mean time per call of a round of N calls,
N chosen so that a round lasts ~50 ms (~10 ms with ``--quick``): as with ``timeit``, the best round is the one
least disturbed by other processes, and the garbage collector is disabled while timing.
"""

from __future__ import annotations

import argparse
import copy
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/managedfields.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench._common import realistic_pod
from pyk8s.api.apply import server_side_apply
from pyk8s.api.defaults import apply_defaults
from pyk8s.api.managedfields import update_managed_fields
from pyk8s.api.schema import for_kind

T0, T1 = "2026-11-27T10:00:00Z", "2026-11-27T10:05:00Z"
POD_SCHEMA = for_kind("", "v1", "Pod")
DEPLOYMENT_SCHEMA = for_kind("apps", "v1", "Deployment")
Obj = dict[str, Any]


def stored(group: str, version: str, kind: str, obj: Obj) -> Obj:
    """`obj` as the apiserver holds it just before the managedFields step of its create."""
    apply_defaults(group, version, kind, obj)
    obj["metadata"].update({"uid": "6a1f0c2e-9b1d-4f57-8c3e-2d4b5a697081", "creationTimestamp": T0})
    return obj


def pod() -> Obj:
    return stored("", "v1", "Pod", realistic_pod("bench", "web-frontend-7d4b9c8f6d-x2k9p"))


def deployment() -> Obj:
    template = realistic_pod("bench", "unused")
    labels = {"app": "web-frontend", "tier": "frontend"}
    obj = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web-frontend", "namespace": "bench", "labels": dict(labels),
                     "annotations": {"team": "payments"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels),
                                           "annotations": template["metadata"]["annotations"]},
                              "spec": template["spec"]}},
    }
    return stored("apps", "v1", "Deployment", obj)


def with_created_fields(obj: Obj, api_version: str, schema: Obj | None) -> Obj:
    obj = copy.deepcopy(obj)
    obj["metadata"]["managedFields"] = update_managed_fields(None, obj, "kubectl-create", "Update", api_version, T0,
                                                             schema)
    return obj


def apply_config(image: str) -> Obj:
    """What `kubectl apply --server-side` sends for a Deployment manifest."""
    labels = {"app": "web-frontend", "tier": "frontend"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web-frontend", "namespace": "bench", "labels": dict(labels)},
        "spec": {"replicas": 3, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [
                                  {"name": "app", "image": image,
                                   "ports": [{"name": "http", "containerPort": 8080}],
                                   "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
                                  {"name": "envoy", "image": "docker.io/envoyproxy/envoy:v1.31.2"}]}}},
    }


def cases() -> tuple[dict[str, Callable[[], Any]], dict[str, Callable[[], Any]], dict[str, str]]:
    """(cases, baselines, baseline of each case) with every input prepared."""
    new_pod, new_deployment = pod(), deployment()
    live_pod = with_created_fields(new_pod, "v1", POD_SCHEMA)
    edited_pod = copy.deepcopy(live_pod)
    edited_pod["spec"]["containers"][0]["image"] = "registry.example.com/payments/web-frontend:v1.42.4"
    live_deployment = with_created_fields(new_deployment, "apps/v1", DEPLOYMENT_SCHEMA)
    scaled = copy.deepcopy(live_deployment)
    scaled["spec"]["replicas"] = 5

    applied = stored("apps", "v1", "Deployment", server_side_apply(
        None, apply_config("registry.example.com/payments/web-frontend:v1.42.3"), "kubectl", False, "apps/v1", T0,
        DEPLOYMENT_SCHEMA))
    annotated = copy.deepcopy(applied)
    annotated["metadata"]["annotations"] = {"owner": "payments"}
    applied["metadata"]["managedFields"] = update_managed_fields(applied, annotated, "kubectl-annotate", "Update",
                                                                 "apps/v1", T0, DEPLOYMENT_SCHEMA)
    applied["metadata"]["annotations"] = annotated["metadata"]["annotations"]
    new_config = apply_config("registry.example.com/payments/web-frontend:v1.42.4")

    timed: dict[str, Callable[[], Any]] = {
        "create_pod": lambda: update_managed_fields(None, new_pod, "kubectl-create", "Update", "v1", T0,
                                                    POD_SCHEMA),
        "create_deployment": lambda: update_managed_fields(None, new_deployment, "kubectl-create", "Update",
                                                           "apps/v1", T0, DEPLOYMENT_SCHEMA),
        "update_pod": lambda: update_managed_fields(live_pod, edited_pod, "kubectl-edit", "Update", "v1", T1,
                                                    POD_SCHEMA),
        "update_deployment": lambda: update_managed_fields(live_deployment, scaled, "kubectl-scale", "Update",
                                                           "apps/v1", T1, DEPLOYMENT_SCHEMA),
        "apply_deployment": lambda: server_side_apply(applied, new_config, "kubectl", False, "apps/v1", T1,
                                                      DEPLOYMENT_SCHEMA),
    }
    baselines: dict[str, Callable[[], Any]] = {
        "json_round_trip_pod": lambda: orjson.loads(orjson.dumps(new_pod)),
        "json_round_trip_deployment": lambda: orjson.loads(orjson.dumps(new_deployment)),
    }
    baseline_of = {name: "json_round_trip_pod" if name.endswith("_pod") else "json_round_trip_deployment"
                   for name in timed}
    return timed, baselines, baseline_of


def measure(fn: Callable[[], Any], rounds: int, round_s: float) -> float:
    """Best over `rounds` of the mean seconds per call in a round lasting about `round_s`."""
    fn()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < round_s / 5:
        fn()
        calls += 1
    per_round = max(1, int(calls * 5 * round_s / max(time.perf_counter() - start, 1e-9) / 5))
    results = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(per_round):
                fn()
            results.append((time.perf_counter() - t0) / per_round)
    finally:
        if gc_was_enabled:
            gc.enable()
    return min(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke test)")
    args = parser.parse_args(argv)
    rounds, round_s = (3, 0.01) if args.quick else (9, 0.05)
    timed, baselines, baseline_of = cases()
    base_us = {name: measure(fn, rounds, round_s) * 1e6 for name, fn in baselines.items()}
    case_us = {name: measure(fn, rounds, round_s) * 1e6 for name, fn in timed.items()}
    figures: dict[str, float] = {}
    print(f"{'case':<28}{'us/call':>12}{'x baseline':>12}")
    for name, us in base_us.items():
        print(f"{name:<28}{us:>12.1f}{'':>12}")
        figures[f"{name}_us"] = round(us, 2)
    for name, us in case_us.items():
        ratio = us / base_us[baseline_of[name]]
        print(f"{name:<28}{us:>12.1f}{ratio:>12.1f}")
        figures[f"{name}_us"] = round(us, 2)
        figures[f"{name}_x_baseline"] = round(ratio, 2)
    print(orjson.dumps(figures).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
