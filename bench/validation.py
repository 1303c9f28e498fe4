"""What the apiserver's per-object CPU work on a create costs, next to orjson.loads of the same bytes.

Usage: ``python bench/validation.py [--quick] [--profile]``. It prints a table, then a last line holding one
JSON object with every figure (snake_case keys, units in the names).

Method
------
Two objects: the realistic pod of bench/_common.py (~2.8 KB of JSON) and a Deployment whose pod template is
that pod's metadata and spec. For each one this process (no server, no I/O) times, per call:

* ``decode``: ``negotiation.decode_json(body, track_duplicates=True)``, the path every create with
  fieldValidation Warn (the default) or Strict takes;
* ``prune_unknown``: ``unknown_fields.prune_unknown`` of the decoded object against the kind's schema (an
  object without unknown fields, so the call leaves it unchanged and can be repeated);
* ``apply_defaults``: ``defaults.apply_defaults`` on a fresh decoded copy per call (defaulting mutates);
  the copies are made outside the timed span, 20 at a time, so they are as warm in the CPU cache as a
  body the server has just decoded;
* ``validate_create``: ``validation.validate_create`` on the defaulted object carrying the uid and
  creationTimestamp the create path fills in (it must return no errors; the benchmark fails otherwise);
* the baseline ``orjson.loads`` of the same bytes, measured in the same run.

Each figure is the best of R repeats of a loop of N calls (timeit's method: the garbage collector is off
while a loop runs, so a figure is the cost of the code, not of collections it happens to trigger; many
short loops, so that the best one ran while nothing else competed for the CPU). The
``ratio`` column divides each figure by the baseline. ``pipeline`` is the sum of the four steps, the
figure the target (< 120 us for the pod) is about. ``--quick`` uses small counts (a smoke test of the
harness, not a measurement); ``--profile`` also prints the top functions of each step under cProfile.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import io
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import realistic_pod
from pyk8s.api import schema as S
from pyk8s.api.defaults import apply_defaults
from pyk8s.api.unknown_fields import prune_unknown
from pyk8s.api.validation import validate_create
from pyk8s.apiserver.negotiation import decode_json

PIPELINE_TARGET_US = 120.0
_DEFAULTS_BATCH = 20
STEPS = ("decode", "prune_unknown", "apply_defaults", "validate_create")


def realistic_deployment(namespace: str, name: str) -> dict[str, Any]:
    """A Deployment whose template is the realistic pod (as `kubectl create -f` of a typical manifest)."""
    pod = realistic_pod(namespace, "unused")
    labels = {k: v for k, v in pod["metadata"]["labels"].items() if k != "pod-template-hash"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": labels["app"], "team": "payments"},
                     "annotations": {"deployment.kubernetes.io/owner": "payments"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": labels["app"], "tier": "frontend"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "revisionHistoryLimit": 5,
            "template": {
                "metadata": {"labels": labels, "annotations": pod["metadata"]["annotations"]},
                "spec": pod["spec"],
            },
        },
    }


class Case:
    """One object: its bytes, its kind, and ready-made inputs for each step."""

    def __init__(self, name: str, group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
        self.name = name
        self.gvk = (group, version, kind)
        self.body = orjson.dumps(obj)
        self.schema = S.for_kind(group, version, kind)
        decoded = orjson.loads(self.body)
        if prune_unknown(copy.deepcopy(decoded), self.schema):
            raise SystemExit(f"bench/validation.py: the {name} has unknown fields")
        self.decoded = decoded
        defaulted = orjson.loads(self.body)
        apply_defaults(group, version, kind, defaulted)
        defaulted["metadata"]["uid"] = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
        defaulted["metadata"]["creationTimestamp"] = "2026-11-27T10:00:00Z"
        errs = validate_create(group, version, kind, defaulted)
        if errs:
            raise SystemExit(f"bench/validation.py: the {name} is invalid: {[str(e) for e in errs]}")
        self.defaulted = defaulted

    def loop(self, step: str, n: int) -> Callable[[], None]:
        """A function running `step` n times (inputs prepared outside the returned function)."""
        body, schema, decoded, defaulted = self.body, self.schema, self.decoded, self.defaulted
        group, version, kind = self.gvk
        if step == "orjson":
            def run() -> None:
                for _ in range(n):
                    orjson.loads(body)
        elif step == "decode":
            def run() -> None:
                for _ in range(n):
                    decode_json(body, track_duplicates=True)
        elif step == "prune_unknown":
            def run() -> None:
                for _ in range(n):
                    prune_unknown(decoded, schema)
        elif step == "validate_create":
            def run() -> None:
                for _ in range(n):
                    validate_create(group, version, kind, defaulted)
        elif step == "apply_defaults":
            raise ValueError("apply_defaults needs fresh copies: see _time_defaults")
        else:
            raise ValueError(step)
        return run

    def time_step(self, step: str, n: int, repeats: int) -> float:
        """Best per-call seconds of `step` over `repeats` loops of `n` calls."""
        best = float("inf")
        for _ in range(repeats):
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                if step == "apply_defaults":
                    elapsed = self._time_defaults(n)
                else:
                    run = self.loop(step, n)
                    t0 = time.perf_counter()
                    run()
                    elapsed = time.perf_counter() - t0
            finally:
                if gc_was_enabled:
                    gc.enable()
            best = min(best, elapsed / n)
        return best

    def _time_defaults(self, n: int) -> float:
        """Seconds for n apply_defaults calls, each on a fresh copy made (untimed) just before, in small batches
        so that the copies are still in the CPU cache, as a just-decoded request body is."""
        group, version, kind = self.gvk
        elapsed = 0.0
        done = 0
        while done < n:
            copies = [orjson.loads(self.body) for _ in range(min(_DEFAULTS_BATCH, n - done))]
            t0 = time.perf_counter()
            for obj in copies:
                apply_defaults(group, version, kind, obj)
            elapsed += time.perf_counter() - t0
            done += len(copies)
        return elapsed

    def profile_step(self, step: str, n: int, top: int = 20) -> str:
        if step == "apply_defaults":
            copies = [orjson.loads(self.body) for _ in range(n)]
            group, version, kind = self.gvk

            def run() -> None:
                for obj in copies:
                    apply_defaults(group, version, kind, obj)
        else:
            run = self.loop(step, n)
        prof = cProfile.Profile()
        prof.runcall(run)
        out = io.StringIO()
        out.write(f"\n===== cProfile: {self.name} {step} ({n} calls) =====\n")
        stats = pstats.Stats(prof, stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        return out.getvalue()


def cases() -> list[Case]:
    return [
        Case("pod", "", "v1", "Pod", realistic_pod("bench", "web-frontend-7d4b9c8f6d-x2x7q")),
        Case("deployment", "apps", "v1", "Deployment", realistic_deployment("bench", "web-frontend")),
    ]


def run(quick: bool) -> dict[str, Any]:
    n, repeats = (50, 2) if quick else (500, 25)
    out: dict[str, Any] = {"quick": quick, "calls_per_loop": n, "repeats": repeats}
    for case in cases():
        for _ in range(2 if quick else 200):  # warm caches (schema compilation, regexes) before timing
            for step in ("orjson", "decode", "prune_unknown", "validate_create"):
                case.loop(step, 1)()
        p = case.name
        out[f"{p}_body_bytes"] = len(case.body)
        base = case.time_step("orjson", n, repeats) * 1e6
        out[f"{p}_orjson_loads_us"] = base
        total = 0.0
        for step in STEPS:
            us = case.time_step(step, n, repeats) * 1e6
            total += us
            out[f"{p}_{step}_us"] = us
            out[f"{p}_{step}_vs_orjson_ratio"] = us / base if base else 0.0
        out[f"{p}_pipeline_us"] = total
        out[f"{p}_pipeline_vs_orjson_ratio"] = total / base if base else 0.0
    out["pod_pipeline_target_us"] = PIPELINE_TARGET_US
    out["pod_pipeline_target_met"] = out["pod_pipeline_us"] < PIPELINE_TARGET_US
    return out


def render(r: dict[str, Any]) -> str:
    lines = [
        f"pyk8s per-object create work ({'quick' if r['quick'] else 'full'} run; best of {r['repeats']} loops of "
        f"{r['calls_per_loop']} calls; GC off while timing)",
        "",
        f"{'object':12} {'step':18} {'us/call':>9} {'x orjson':>9}",
    ]
    for p in ("pod", "deployment"):
        lines.append(f"{p:12} {'orjson.loads':18} {r[f'{p}_orjson_loads_us']:9.1f} {1.0:9.2f}"
                     f"   ({r[f'{p}_body_bytes']} bytes)")
        for step in STEPS:
            lines.append(f"{p:12} {step:18} {r[f'{p}_{step}_us']:9.1f} {r[f'{p}_{step}_vs_orjson_ratio']:9.2f}")
        lines.append(f"{p:12} {'pipeline (sum)':18} {r[f'{p}_pipeline_us']:9.1f} "
                     f"{r[f'{p}_pipeline_vs_orjson_ratio']:9.2f}")
        lines.append("")
    met = "yes" if r["pod_pipeline_target_met"] else "NO"
    lines.append(f"target: pod pipeline < {r['pod_pipeline_target_us']:.0f} us: "
                 f"{r['pod_pipeline_us']:.1f} us, met: {met}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small counts: a smoke test, not a measurement")
    ap.add_argument("--profile", action="store_true", help="also print the top functions of each step")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = run(args.quick)
    if args.profile:
        for case in cases():
            for step in STEPS:
                print(case.profile_step(step, 50 if args.quick else 1000))
    print(render(results))
    print(orjson.dumps(results).decode(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
