"""How fast SQLiteStore reads the current state from memory (cache_current=True) and from SQLite (False), in one run.

Usage: ``python bench/storage.py [--quick] [--keys N]``. It prints a table, then a last line holding one JSON
object with every figure (snake_case keys, units in the names).

Method
------
One SQLite file is filled once with N pods (default 5 000) under ``/registry/pods/bench/`` plus N/10 under
another namespace, each value the JSON of a realistic ~2.8 KB pod. Then, for each mode, a fresh child process
(so RSS and the garbage collector start clean) opens the same file with ``SQLiteStore(path, cache_current=...)``
and measures, on its one event loop:

- start: time for ``start()`` (for the memory mode this includes loading every live key) and RSS growth;
- get, one at a time: latency of ``get(key)`` at revision 0 over random keys, p50/p99 in µs, and process CPU
  (every thread: loop, readers, writer) per get;
- get, 64 concurrent tasks: gets per second and p99 (a closed loop of 64 tasks);
- list: ``list("/registry/pods/bench/")`` of all N pods (median of R runs) and its process CPU; the first page
  of ``limit=500`` (median); ``count`` of the prefix (median);
- update, 16 concurrent tasks: updates per second (the memory mode also applies each commit to its state).

Ratios are SQLite over memory for times and memory over SQLite for rates, so > 1 means memory is better.
Process CPU is ``getrusage(RUSAGE_SELF)``; nothing is pinned, so other work on the machine adds noise (the
load average at start is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/storage.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench._common import median, percentile, realistic_pod, rss_mb
from pyk8s.storage.sqlite import SQLiteStore

PREFIX = "/registry/pods/bench/"
OTHER_PREFIX = "/registry/pods/other/"
PAGE = 500
MODES = (("memory", True), ("sqlite", False))


@dataclass(frozen=True)
class Sizes:
    keys: int
    gets: int
    gets_64: int
    list_runs: int
    small_runs: int
    updates: int


FULL = Sizes(keys=5000, gets=20_000, gets_64=20_000, list_runs=7, small_runs=200, updates=2000)
QUICK = Sizes(keys=500, gets=2000, gets_64=2000, list_runs=3, small_runs=50, updates=200)


def pod_value(namespace: str, name: str) -> bytes:
    pod = realistic_pod(namespace, name)
    pod["metadata"].update({"uid": f"00000000-0000-4000-8000-{zlib.crc32(name.encode()):012d}",
                            "creationTimestamp": "2026-11-27T10:00:00Z", "resourceVersion": "1"})
    return orjson.dumps(pod)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def populate(path: str, keys: int) -> int:
    """Fill the file; returns the value size in bytes."""
    store = SQLiteStore(path, cache_current=False)
    await store.start()
    try:
        names = [(PREFIX, "bench", f"pod-{i:05d}") for i in range(keys)]
        names += [(OTHER_PREFIX, "other", f"pod-{i:05d}") for i in range(max(1, keys // 10))]
        for start in range(0, len(names), 256):
            await asyncio.gather(*(store.create(prefix + name, pod_value(ns, name))
                                   for prefix, ns, name in names[start : start + 256]))
        return len(pod_value("bench", "pod-00000"))
    finally:
        await store.close()


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[list[float], float]:
    """Wall seconds of each run and process CPU seconds for all of them."""
    times = []
    cpu0 = cpu_seconds()
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return times, cpu_seconds() - cpu0


async def measure(path: str, cached: bool, sizes: Sizes) -> dict[str, float]:
    out: dict[str, float] = {}
    rng = random.Random(1)
    keys = [f"{PREFIX}pod-{i:05d}" for i in range(sizes.keys)]
    rss0 = rss_mb(os.getpid())
    store = SQLiteStore(path, cache_current=cached)
    t0 = time.perf_counter()
    await store.start()
    out["start_ms"] = (time.perf_counter() - t0) * 1000
    out["rss_growth_at_start_mb"] = rss_mb(os.getpid()) - rss0
    try:
        warm = await store.list(PREFIX)
        if len(warm.items) != sizes.keys:
            raise RuntimeError(f"list returned {len(warm.items)} keys, want {sizes.keys}")
        for key in keys[:100]:
            await store.get(key)

        latencies = []
        cpu0 = cpu_seconds()
        for _ in range(sizes.gets):
            key = keys[rng.randrange(sizes.keys)]
            t = time.perf_counter()
            await store.get(key)
            latencies.append(time.perf_counter() - t)
        out["get_cpu_us_per_op"] = (cpu_seconds() - cpu0) / sizes.gets * 1e6
        out["get_p50_us"] = percentile(latencies, 50) * 1e6
        out["get_p99_us"] = percentile(latencies, 99) * 1e6

        concurrent: list[float] = []

        async def getter(n: int) -> None:
            local = random.Random(n)
            for _ in range(sizes.gets_64 // 64):
                key = keys[local.randrange(sizes.keys)]
                t = time.perf_counter()
                await store.get(key)
                concurrent.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(getter(n) for n in range(64)))
        out["get_64_per_s"] = len(concurrent) / (time.perf_counter() - t0)
        out["get_64_p99_ms"] = percentile(concurrent, 99) * 1e3

        times, cpu = await timed(lambda: store.list(PREFIX), sizes.list_runs)
        out["list_all_ms"] = median(times) * 1e3
        out["list_all_cpu_ms"] = cpu / sizes.list_runs * 1e3
        times, _ = await timed(lambda: store.list(PREFIX, limit=PAGE), sizes.small_runs)
        out["list_page_ms"] = median(times) * 1e3
        times, _ = await timed(lambda: store.count(PREFIX), sizes.small_runs)
        out["count_us"] = median(times) * 1e6

        value = pod_value("bench", "updated")
        per_task = sizes.updates // 16

        async def updater(n: int) -> None:
            for i in range(per_task):
                key = keys[(n * per_task + i) % sizes.keys]
                kv = await store.get(key)
                await store.update(key, value, kv.mod_revision)

        t0 = time.perf_counter()
        await asyncio.gather(*(updater(n) for n in range(16)))
        out["update_16_per_s"] = per_task * 16 / (time.perf_counter() - t0)
    finally:
        await store.close()
    return out


ROWS: list[tuple[str, str, str, bool]] = [
    # (label, key, format, higher is better)
    ("start() incl. loading the state, ms", "start_ms", ".1f", False),
    ("RSS growth at start, MB", "rss_growth_at_start_mb", ".1f", False),
    ("get, 1 at a time, p50 us", "get_p50_us", ".1f", False),
    ("get, 1 at a time, p99 us", "get_p99_us", ".1f", False),
    ("get, process CPU per get, us", "get_cpu_us_per_op", ".1f", False),
    ("get, 64 concurrent, gets/s", "get_64_per_s", ".0f", True),
    ("get, 64 concurrent, p99 ms", "get_64_p99_ms", ".2f", False),
    ("list all pods, median ms", "list_all_ms", ".2f", False),
    ("list all pods, process CPU ms", "list_all_cpu_ms", ".2f", False),
    (f"list first page (limit={PAGE}), median ms", "list_page_ms", ".3f", False),
    ("count(prefix), median us", "count_us", ".1f", False),
    ("update, 16 concurrent, updates/s", "update_16_per_s", ".0f", True),
]


def ratio(memory: float, sqlite: float, higher_better: bool) -> float | None:
    num, den = (memory, sqlite) if higher_better else (sqlite, memory)
    return num / den if den > 0 else None


def render(results: dict[str, Any], sizes: Sizes) -> str:
    lines = [f"SQLiteStore reads: memory (cache_current=True) vs SQLite (False); {sizes.keys} pods of "
             f"{results['value_bytes']} B; load average {results['loadavg_1m_at_start']:.2f} at start", "",
             f"{'measurement':44} {'memory':>10} {'sqlite':>10} {'ratio':>8}"]
    for label, key, fmt, _ in ROWS:
        memory, sqlite = results[f"memory_{key}"], results[f"sqlite_{key}"]
        r = results.get(f"{key}_ratio")
        lines.append(f"{label:44} {memory:>10{fmt}} {sqlite:>10{fmt}} {'' if r is None else f'{r:.1f}x':>8}")
    lines.append("ratio: SQLite / memory for times, memory / SQLite for rates (> 1: memory is better).")
    return "\n".join(lines)


def run_child(path: str, cached: bool, quick: bool, keys: int) -> dict[str, float]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--role", "measure", "--path", path, "--keys", str(keys)]
    argv += ["--cached"] if cached else []
    argv += ["--quick"] if quick else []
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {'memory' if cached else 'sqlite'} failed:\n{done.stderr[-4000:]}")
    result: dict[str, float] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="SQLiteStore reads from memory vs from SQLite.")
    p.add_argument("--quick", action="store_true", help="small counts (a smoke test of the harness)")
    p.add_argument("--keys", type=int, default=0, help="pods in the measured namespace (default 5000)")
    p.add_argument("--role", choices=("measure",), help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--cached", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    sizes = QUICK if args.quick else FULL
    if args.keys:
        sizes = Sizes(args.keys, sizes.gets, sizes.gets_64, sizes.list_runs, sizes.small_runs, sizes.updates)
    if args.role == "measure":
        print(orjson.dumps(asyncio.run(measure(args.path, args.cached, sizes))).decode(), flush=True)
        return 0

    results: dict[str, Any] = {"quick": args.quick, "keys": sizes.keys, "loadavg_1m_at_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="pyk8s-bench-storage-") as work:
        path = os.path.join(work, "state.db")
        results["value_bytes"] = asyncio.run(populate(path, sizes.keys))
        for mode, cached in MODES:
            for key, value in run_child(path, cached, args.quick, sizes.keys).items():
                results[f"{mode}_{key}"] = value
    for _, key, _, higher in ROWS:
        results[f"{key}_ratio"] = ratio(results[f"memory_{key}"], results[f"sqlite_{key}"], higher)
    print(render(results, sizes))
    print(orjson.dumps(results).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
