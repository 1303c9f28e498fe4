"""How fast the apiserver serves pods on the SQLite store over TLS, next to baselines measured in the same run.

Usage: ``python bench/api.py [--quick] [--profile [--profile-dir DIR]] [--no-pin]``. It prints a table, then
a last line holding one JSON object with every figure (snake_case keys, units in the names).

Method
------
Process model. The apiserver (``python -m pyk8s.cmd.main apiserver`` on a fresh data dir, the real command)
and each baseline server run as separate processes pinned to CPU 0 (``os.sched_setaffinity`` on the child's
PID right after it exec'd, so every thread it later starts is pinned too). This process is the load
generator and is pinned to CPU 1: plain asyncio with the aiohttp client, one ``ClientSession`` with one
keep-alive connection per simulated client, each connection opened and warmed (TLS handshake done) before a
timed phase starts. The servers therefore get exactly one core each, the same for the apiserver and for the
baselines, so the ratios compare like with like. The server's and the load generator's CPU use during each
phase is printed: a load generator near 100% means the figure is bounded by the client, not the server.
``--no-pin`` disables pinning (and is implied on a machine with fewer than 2 CPUs).

TLS. Every request runs over TLS 1.2+ with the admin client certificate from ``D/admin.kubeconfig``; the
client verifies the server certificate against the cluster CA. The bare aiohttp baseline uses the same
server certificate and key as the apiserver and the same ``ssl.SSLContext`` settings (it calls
``pyk8s.apiserver.server.server_ssl_context``: CERT_OPTIONAL client verification against our CA).

Phases, in order:

1. Cold start: spawn the apiserver on a fresh data dir (PKI generation included), poll ``/readyz`` every
   10 ms, time spawn -> first 200; median of 3 starts (1 with ``--quick``).
2. The apiserver under test, on a fresh data dir: RSS right after it is ready (idle); a short untimed
   warm-up (20 creates in another namespace); creates (``POST .../namespaces/bench/pods``, ~2.7 KB bodies
   pre-encoded before timing, no query parameters, as the official Python client sends them) with 1 client
   and then with 16 clients, 5 000 pods in all; RSS with those pods stored; GET of one pod by name at 64
   connections for a fixed time; LIST of the namespace's 5 000 pods as JSON and as Table (``Accept:
   application/json;as=Table;v=v1;g=meta.k8s.io``): one untimed warm request each (it also checks the item
   count), then the median of 3, timed from sending the request to the last body byte read (no client-side
   decoding); watch fan-out (below); RSS again.
3. Raw SQLite baseline, in a child process on CPU 0: a fresh file, WAL, ``synchronous=FULL``, the store's
   log schema and indexes, one ``BEGIN IMMEDIATE; INSERT; COMMIT`` per row of the exact bytes the apiserver
   returns for a stored pod; rows/s.
4. Bare aiohttp baseline, in a child process on CPU 0: one handler that ``orjson.dumps`` the same pod dict
   per GET (the apiserver's stored JSON), and one that decodes a POSTed pod, sets uid and resourceVersion
   and encodes it back (201); GET/s at 64 connections and POST/s at 16 clients, same client code.

Watch delay: W concurrent watch streams (100; 10 with ``--quick``) on the pods of one empty namespace, each
its own connection, all started from the namespace's list resourceVersion. Once every stream has answered
and delivered a sentinel create, one writer issues a paced stream (50 writes/s) alternating a create and a
merge-patch of the pod just created. Writer and watchers live in this one process and stamp time with
``time.perf_counter``: delay = (watcher read the event's line) - (writer read the write's HTTP response),
matched by resourceVersion, over every (write, watcher) pair. The store publishes an event before it
acknowledges the write, so a watcher may see an event before the writer sees its response; such pairs
count as 0 ms and are counted in ``watch_events_before_response``. ``watch_delay_from_request_*`` measure
from the moment the write was sent instead, an upper bound that includes the write itself.

Percentiles are nearest-rank over every request of a phase. Latencies are measured by the client, so at
high concurrency they include queueing in the load generator. ``--quick`` runs the same phases with small
counts (a smoke test of the harness, not a measurement). ``--profile`` runs the apiserver under cProfile
(main thread only; see bench/_common.py), dumps a profile at each phase boundary and prints the top 30
functions per phase; figures taken under the profiler are slower than real ones.

Every process this starts is stopped by its PID and the temporary directory removed, even on error or
SIGTERM/SIGINT.

The load generator raises its own garbage-collector thresholds (``gc.set_threshold(50_000, 50, 100)``) so
that its collections do not show up as server latency; the servers run with their defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import itertools
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python bench/api.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import orjson

from bench._common import (
    LOADGEN_CPU,
    SERVER_CPU,
    BenchError,
    ChildProcesses,
    CpuMeter,
    LoadResult,
    can_pin,
    client_ssl_context,
    free_port,
    insecure_ssl_context,
    median,
    percentile,
    profile_report,
    realistic_pod,
    rss_mb,
    wait_for_listen_line,
)

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
MERGE_PATCH_HEADERS = {"Content-Type": "application/merge-patch+json", "Accept": "application/json"}
BENCH_NS = "bench"
WATCH_NS = "bench-watch"
WARM_NS = "bench-warm"
PROFILE_PHASES = ("startup", "create_1", "create_16", "get", "list", "watch")
RV_MARK = b'"resourceVersion":"'
LOADGEN_GC_THRESHOLD = (50_000, 50, 100)


@dataclass(frozen=True)
class Sizes:
    cold_starts: int
    sqlite_rows: int
    creates_1: int
    creates_16: int
    get_seconds: float
    bare_seconds: float
    list_runs: int
    watchers: int
    watch_writes: int
    watch_rate_per_s: float
    warmup_creates: int


FULL = Sizes(cold_starts=3, sqlite_rows=5000, creates_1=1000, creates_16=4000, get_seconds=5.0, bare_seconds=5.0,
             list_runs=3, watchers=100, watch_writes=300, watch_rate_per_s=50.0, warmup_creates=20)
QUICK = Sizes(cold_starts=1, sqlite_rows=300, creates_1=30, creates_16=120, get_seconds=1.0, bare_seconds=1.0,
              list_runs=3, watchers=10, watch_writes=20, watch_rate_per_s=50.0, warmup_creates=5)


# --- HTTP clients ------------------------------------------------------------------------------------------------


class Client:
    """One simulated client: its own aiohttp session holding one keep-alive TLS connection."""

    def __init__(self, base_url: str, ssl_ctx: Any) -> None:
        self.session = aiohttp.ClientSession(
            base_url, connector=aiohttp.TCPConnector(limit=1, ssl=ssl_ctx),
            cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=120))

    async def call(self, method: str, path: str, *, body: bytes | None = None,
                   headers: dict[str, str] | None = None, expect: int = 200) -> bytes:
        async with self.session.request(method, path, data=body, headers=headers) as resp:
            data = await resp.read()
            if resp.status != expect:
                raise BenchError(f"{method} {path}: HTTP {resp.status} (want {expect}): {data[:400]!r}")
            return data

    async def close(self) -> None:
        await self.session.close()


async def open_clients(n: int, base_url: str, ssl_ctx: Any, warm_path: str) -> list[Client]:
    """`n` clients, each with its connection already open (one request done)."""
    clients = [Client(base_url, ssl_ctx) for _ in range(n)]
    try:
        await asyncio.gather(*(c.call("GET", warm_path) for c in clients))
    except BaseException:
        await close_clients(clients)
        raise
    return clients


async def close_clients(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


Op = Callable[[Client, int], Awaitable[object]]


async def closed_loop(clients: list[Client], op: Op, meter: CpuMeter, *, count: int | None = None,
                      seconds: float | None = None) -> LoadResult:
    """Each client issues `op(client, i)` back to back until `count` ops are done or `seconds` have passed."""
    counter = itertools.count()
    latencies: list[float] = []
    perf = time.perf_counter
    deadline = 0.0

    async def worker(client: Client) -> None:
        while True:
            if seconds is not None and perf() >= deadline:
                return
            i = next(counter)
            if count is not None and i >= count:
                return
            t0 = perf()
            await op(client, i)
            latencies.append(perf() - t0)

    mark = meter.start()
    start = perf()
    deadline = start + (seconds or 0.0)
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = perf() - start
    return LoadResult(len(latencies), elapsed, latencies, meter.stop(mark))


def record_load(out: dict[str, Any], prefix: str, res: LoadResult, rate_suffix: str, suffix: str = "") -> None:
    """Store one closed-loop run's figures as PREFIX_per_sRATE_SUFFIX, PREFIX_p50_msSUFFIX, ..."""
    out[f"{prefix}_per_s{rate_suffix}"] = res.per_s
    out[f"{prefix}_p50_ms{suffix}"] = res.p_ms(50)
    out[f"{prefix}_p99_ms{suffix}"] = res.p_ms(99)
    out[f"{prefix}_server_cpu_pct{suffix}"] = res.cpu.server
    out[f"{prefix}_loadgen_cpu_pct{suffix}"] = res.cpu.client
    out[f"{prefix}_other_cpu_pct{suffix}"] = res.cpu.other
    out[f"{prefix}_server_cpu_us_per_req{suffix}"] = res.server_cpu_us_per_req


def rv_of(data: bytes) -> int:
    """The first metadata.resourceVersion in a JSON object or watch event line (no full decode)."""
    start = data.find(RV_MARK)
    if start < 0:
        raise BenchError(f"no resourceVersion in {data[:200]!r}")
    start += len(RV_MARK)
    return int(data[start:data.index(b'"', start)])


# --- the apiserver process ---------------------------------------------------------------------------------------


def apiserver_argv(data_dir: Path, port: int, profile_prefix: Path | None = None) -> list[str]:
    args = ["apiserver", "--data-dir", str(data_dir), "--secure-port", str(port), "--bind-address", "127.0.0.1"]
    if profile_prefix is None:
        return [sys.executable, "-m", "pyk8s.cmd.main", *args]
    return [sys.executable, "-m", "bench._common", "profile", str(profile_prefix), "pyk8s.cmd.main", *args]


def cold_start_seconds(procs: ChildProcesses, data_dir: Path, timeout: float = 60.0) -> float:
    """Spawn an apiserver on a fresh data dir and poll /readyz every 10 ms; seconds until it answers 200."""
    port = free_port()
    ctx = insecure_ssl_context()
    log = data_dir.parent / f"{data_dir.name}.log"
    start = time.perf_counter()
    proc = procs.spawn(apiserver_argv(data_dir, port), log)
    try:
        while True:
            tick = time.perf_counter()
            if tick - start > timeout:
                raise BenchError(f"cold start: not ready in {timeout:.0f}s:\n{log.read_text()[-3000:]}")
            if proc.poll() is not None:
                raise BenchError(f"cold start: apiserver exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2)
            try:
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return time.perf_counter() - start
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(max(0.0, 0.010 - (time.perf_counter() - tick)))
    finally:
        procs.stop(proc)


class Profiler:
    """Asks a server running under bench._common's cProfile wrapper for one dump per phase."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.dumps: list[tuple[str, Path]] = []

    def checkpoint(self, pid: int, phase: str) -> None:
        path = Path(f"{self.prefix}.{len(self.dumps)}.prof")
        os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while not path.exists():
            if time.monotonic() > deadline:
                raise BenchError(f"profile dump {path} did not appear")
            time.sleep(0.02)
        self.dumps.append((phase, path))

    def reports(self) -> str:
        return "".join(profile_report(path, phase) for phase, path in self.dumps)


async def bench_apiserver(sizes: Sizes, procs: ChildProcesses, work: Path, profiler: Profiler | None,
                          out: dict[str, Any]) -> tuple[Path, bytes, bytes]:
    """Every phase against the apiserver; returns (data dir, stored pod JSON, a create body)."""
    data_dir = work / "apiserver"
    log = work / "apiserver.log"
    proc = procs.spawn(apiserver_argv(data_dir, 0, profiler.prefix if profiler else None), log)
    port = wait_for_listen_line(proc, log, timeout=60)
    pid = proc.pid
    out["rss_idle_mb"] = rss_mb(pid)
    if profiler:
        profiler.checkpoint(pid, "startup")
    base = f"https://127.0.0.1:{port}"
    ssl_ctx = client_ssl_context(data_dir / "admin.kubeconfig", work / "client")
    meter = CpuMeter(pid)
    pods_path = f"/api/v1/namespaces/{BENCH_NS}/pods"
    total = sizes.creates_1 + sizes.creates_16
    bodies = [orjson.dumps(realistic_pod(BENCH_NS, f"pod-{i:05d}")) for i in range(total)]
    out["pod_body_bytes"] = len(bodies[0])

    admin = Client(base, ssl_ctx)
    try:
        for ns in (BENCH_NS, WATCH_NS, WARM_NS):
            await admin.call("POST", "/api/v1/namespaces", expect=201, headers=JSON_HEADERS, body=orjson.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            # no controller-manager here: make the account its serviceaccount controller would (pods need it)
            await admin.call("POST", f"/api/v1/namespaces/{ns}/serviceaccounts", expect=201, headers=JSON_HEADERS,
                             body=orjson.dumps({"apiVersion": "v1", "kind": "ServiceAccount",
                                                "metadata": {"name": "default"}}))
        for i in range(sizes.warmup_creates):
            await admin.call("POST", f"/api/v1/namespaces/{WARM_NS}/pods", expect=201, headers=JSON_HEADERS,
                             body=orjson.dumps(realistic_pod(WARM_NS, f"warm-{i}")))

        async def create(client: Client, i: int, offset: int = 0) -> None:
            await client.call("POST", pods_path, body=bodies[offset + i], headers=JSON_HEADERS, expect=201)

        async def create_16(client: Client, i: int) -> None:
            await create(client, i, sizes.creates_1)

        for n, op, count, key in ((1, create, sizes.creates_1, "1"), (16, create_16, sizes.creates_16, "16")):
            clients = await open_clients(n, base, ssl_ctx, "/version")
            try:
                res = await closed_loop(clients, op, meter, count=count)
            finally:
                await close_clients(clients)
            record_load(out, "create", res, f"_{key}", f"_{key}")
            if profiler:
                profiler.checkpoint(pid, f"create_{key}")
        out["pods_stored"] = total
        out["rss_with_pods_mb"] = rss_mb(pid)

        one_pod = f"{pods_path}/pod-00000"
        stored_pod = await admin.call("GET", one_pod)

        async def get(client: Client, i: int) -> None:
            await client.call("GET", one_pod)

        clients = await open_clients(64, base, ssl_ctx, one_pod)
        try:
            res = await closed_loop(clients, get, meter, seconds=sizes.get_seconds)
        finally:
            await close_clients(clients)
        record_load(out, "get", res, "_64")
        if profiler:
            profiler.checkpoint(pid, "get")

        for form, accept in (("json", "application/json"), ("table", TABLE_ACCEPT)):
            headers = {"Accept": accept}
            warm = orjson.loads(await admin.call("GET", pods_path, headers=headers))
            items = len(warm.get("rows" if form == "table" else "items") or [])
            if items != total:
                raise BenchError(f"LIST as {form} returned {items} items, want {total}")
            times = []
            size = 0
            for _ in range(sizes.list_runs):
                t0 = time.perf_counter()
                size = len(await admin.call("GET", pods_path, headers=headers))
                times.append(time.perf_counter() - t0)
            out[f"list_{form}_ms"] = median(times) * 1000.0
            out[f"list_{form}_mb"] = size / 1e6
        if profiler:
            profiler.checkpoint(pid, "list")

        out.update(await bench_watch(base, ssl_ctx, admin, sizes, meter))
        if profiler:
            profiler.checkpoint(pid, "watch")
        out["rss_after_list_watch_mb"] = rss_mb(pid)
    finally:
        await admin.close()
    procs.stop(proc)
    return data_dir, stored_pod, bodies[0]


class Arrivals:
    """When each watcher read each event, by resourceVersion."""

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = defaultdict(list)

    def record(self, rv: int, t: float) -> None:
        self.times[rv].append(t)

    async def wait_all(self, rvs: list[int], watchers: int, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(len(self.times.get(rv, ())) >= watchers for rv in rvs):
                return True
            await asyncio.sleep(0.002)
        return False


async def bench_watch(base: str, ssl_ctx: Any, admin: Client, sizes: Sizes, meter: CpuMeter) -> dict[str, Any]:
    """W watch streams on one namespace, a paced stream of creates/patches; delay per (write, watcher)."""
    pods_path = f"/api/v1/namespaces/{WATCH_NS}/pods"
    start_rv = orjson.loads(await admin.call("GET", pods_path))["metadata"]["resourceVersion"]
    arrivals = Arrivals()
    answered = 0
    perf = time.perf_counter
    watch_url = f"{pods_path}?watch=1&resourceVersion={start_rv}"

    async def watcher(client: Client) -> None:
        nonlocal answered
        async with client.session.get(watch_url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            if resp.status != 200:
                raise BenchError(f"watch: HTTP {resp.status}: {(await resp.read())[:300]!r}")
            answered += 1
            async for line in resp.content:
                t = perf()
                if line.strip():
                    arrivals.record(rv_of(line), t)

    clients = await open_clients(sizes.watchers, base, ssl_ctx, "/version")
    tasks = [asyncio.create_task(watcher(c)) for c in clients]
    try:
        deadline = perf() + 30
        while answered < sizes.watchers:
            if perf() > deadline or any(task.done() for task in tasks):
                for task in tasks:
                    if task.done() and task.exception():
                        raise BenchError(f"watch stream failed: {task.exception()!r}")
                raise BenchError(f"only {answered} of {sizes.watchers} watches answered")
            await asyncio.sleep(0.005)
        sentinel = rv_of(await admin.call("POST", pods_path, expect=201, headers=JSON_HEADERS,
                                          body=orjson.dumps(realistic_pod(WATCH_NS, "sentinel"))))
        if not await arrivals.wait_all([sentinel], sizes.watchers, 30):
            raise BenchError("the sentinel event did not reach every watcher in 30s")

        sent: dict[int, float] = {}
        answered_at: dict[int, float] = {}
        interval = 1.0 / sizes.watch_rate_per_s
        mark = meter.start()
        begin = perf()
        for i in range(sizes.watch_writes):
            delay = begin + i * interval - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            name = f"w-{i // 2:05d}"
            t0 = perf()
            if i % 2 == 0:
                reply = await admin.call("POST", pods_path, expect=201, headers=JSON_HEADERS,
                                         body=orjson.dumps(realistic_pod(WATCH_NS, name)))
            else:
                reply = await admin.call("PATCH", f"{pods_path}/{name}", headers=MERGE_PATCH_HEADERS,
                                         body=orjson.dumps({"metadata": {"labels": {"bench-update": str(i)}}}))
            t1 = perf()
            rv = rv_of(reply)
            sent[rv], answered_at[rv] = t0, t1
        await arrivals.wait_all(list(sent), sizes.watchers, 30)
        cpu = meter.stop(mark)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_clients(clients)

    delays: list[float] = []
    from_request: list[float] = []
    early = 0
    received = 0
    for rv, t_resp in answered_at.items():
        for t in arrivals.times.get(rv, ()):
            received += 1
            d = t - t_resp
            if d < 0:
                early += 1
            delays.append(max(0.0, d))
            from_request.append(t - sent[rv])
    expected = len(answered_at) * sizes.watchers
    return {
        "watch_watchers": sizes.watchers,
        "watch_writes": len(answered_at),
        "watch_write_rate_per_s": sizes.watch_rate_per_s,
        "watch_delay_p50_ms": percentile(delays, 50) * 1000.0,
        "watch_delay_p99_ms": percentile(delays, 99) * 1000.0,
        "watch_delay_max_ms": max(delays, default=0.0) * 1000.0,
        "watch_delay_from_request_p50_ms": percentile(from_request, 50) * 1000.0,
        "watch_delay_from_request_p99_ms": percentile(from_request, 99) * 1000.0,
        "watch_events_missing": max(0, expected - received),
        "watch_events_before_response": early,
        "watch_server_cpu_pct": cpu.server,
        "watch_loadgen_cpu_pct": cpu.client,
        "watch_other_cpu_pct": cpu.other,
    }


# --- baselines ---------------------------------------------------------------------------------------------------

_BASELINE_DDL = (
    "CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, created INTEGER NOT NULL,"
    " deleted INTEGER NOT NULL, create_revision INTEGER NOT NULL, prev_revision INTEGER NOT NULL,"
    " lease INTEGER NOT NULL DEFAULT 0, value BLOB, old_value BLOB)",
    "CREATE INDEX log_name_index ON log (name)",
    "CREATE INDEX log_name_id_index ON log (name, id)",
    "CREATE INDEX log_id_deleted_index ON log (id, deleted)",
    "CREATE INDEX log_prev_revision_index ON log (prev_revision)",
    "CREATE UNIQUE INDEX log_name_prev_revision_uindex ON log (name, prev_revision)",
)


def sqlite_baseline(path: Path, rows: int, value: bytes) -> dict[str, float]:
    """Single-row transactions of `value` into a fresh WAL file with synchronous=FULL (the store's schema)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        if str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
            raise BenchError("cannot switch the baseline database to WAL")
        conn.execute("PRAGMA synchronous = FULL")
        for statement in _BASELINE_DDL:
            conn.execute(statement)
        insert = ("INSERT INTO log (name, created, deleted, create_revision, prev_revision, lease, value, old_value)"
                  " VALUES (?, 1, 0, 0, 0, 0, ?, NULL)")
        latencies = []
        perf = time.perf_counter
        start = perf()
        for i in range(rows):
            t0 = perf()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(insert, (f"/registry/pods/{BENCH_NS}/pod-{i:05d}", value))
            conn.execute("COMMIT")
            latencies.append(perf() - t0)
        elapsed = perf() - start
    finally:
        conn.close()
    return {"rows_per_s": rows / elapsed, "p50_ms": percentile(latencies, 50) * 1000.0,
            "p99_ms": percentile(latencies, 99) * 1000.0}


def serve_bare(pki_dir: Path, pod_file: Path) -> None:
    """The ceiling: aiohttp with the apiserver's TLS setup, GET/POST handlers that only (de)serialise a pod."""
    from aiohttp import web

    from pyk8s.apiserver.server import server_ssl_context
    from pyk8s.base.run import run

    pod = orjson.loads(pod_file.read_bytes())
    revisions = itertools.count(1)

    async def get_pod(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(pod), content_type="application/json")

    async def post_pod(request: web.Request) -> web.Response:
        obj = orjson.loads(await request.read())
        md = obj.setdefault("metadata", {})
        md["uid"] = "00000000-0000-0000-0000-000000000000"
        md["resourceVersion"] = str(next(revisions))
        return web.Response(body=orjson.dumps(obj), status=201, content_type="application/json")

    async def main() -> None:
        import socket

        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_get("/version", get_pod)
        app.router.add_get("/pod", get_pod)
        app.router.add_post("/pod", post_pod)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        ctx = server_ssl_context(str(pki_dir / "apiserver.crt"), str(pki_dir / "apiserver.key"),
                                 str(pki_dir / "ca.crt"))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        site = web.SockSite(runner, sock, ssl_context=ctx)
        await site.start()
        print(f"bare aiohttp listening on https://127.0.0.1:{sock.getsockname()[1]}", file=sys.stderr, flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    run(main())


def run_sqlite_baseline(procs: ChildProcesses, work: Path, sizes: Sizes, value: bytes) -> dict[str, float]:
    value_file = work / "sqlite-value.json"
    value_file.write_bytes(value)
    log = work / "sqlite-baseline.log"
    proc = procs.spawn([sys.executable, "-m", "bench.api", "--role", "sqlite-baseline", "--path",
                        str(work / "baseline.db"), "--rows", str(sizes.sqlite_rows), "--value-file",
                        str(value_file)], log)
    try:
        proc.wait(timeout=300)
    finally:
        procs.stop(proc)
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"sqlite baseline failed ({proc.returncode}):\n{log.read_text()[-3000:]}")
    result: dict[str, float] = orjson.loads(lines[-1])
    return result


async def bench_bare(procs: ChildProcesses, work: Path, data_dir: Path, sizes: Sizes, pod: bytes,
                     create_body: bytes, out: dict[str, Any]) -> None:
    pod_file = work / "bare-pod.json"
    pod_file.write_bytes(pod)
    log = work / "bare.log"
    proc = procs.spawn([sys.executable, "-m", "bench.api", "--role", "bare-server", "--pki-dir",
                        str(data_dir / "pki"), "--pod-file", str(pod_file)], log)
    try:
        port = wait_for_listen_line(proc, log, timeout=60)
        base = f"https://127.0.0.1:{port}"
        ssl_ctx = client_ssl_context(data_dir / "admin.kubeconfig", work / "client")
        meter = CpuMeter(proc.pid)

        async def get(client: Client, i: int) -> None:
            await client.call("GET", "/pod")

        async def post(client: Client, i: int) -> None:
            await client.call("POST", "/pod", body=create_body, headers=JSON_HEADERS, expect=201)

        for name, n, op in (("get", 64, get), ("post", 16, post)):
            clients = await open_clients(n, base, ssl_ctx, "/pod")
            try:
                res = await closed_loop(clients, op, meter, seconds=sizes.bare_seconds)
            finally:
                await close_clients(clients)
            record_load(out, "bare_get" if name == "get" else "bare_post_echo", res, f"_{n}")
    finally:
        procs.stop(proc)


# --- the run -----------------------------------------------------------------------------------------------------


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(name, measured, target, met) for each goal of the issue."""
    sqlite_rate = r["sqlite_raw_rows_per_s"]
    bare_get = r["bare_get_per_s_64"]
    create_ratio = r["create_per_s_16"] / sqlite_rate if sqlite_rate else 0.0
    get_ratio = r["get_per_s_64"] / bare_get if bare_get else 0.0
    r["create_16_vs_sqlite_ratio"] = create_ratio
    r["get_vs_bare_ratio"] = get_ratio
    get_us = r["get_server_cpu_us_per_req"]
    cpu_ratio = r["bare_get_server_cpu_us_per_req"] / get_us if get_us else 0.0
    r["get_vs_bare_cpu_ratio"] = cpu_ratio
    rows = [
        ("creates/s, 16 clients", f"{r['create_per_s_16']:.0f}/s = {create_ratio:.2f}x raw SQLite",
         f">= 0.5x ({0.5 * sqlite_rate:.0f}/s)", create_ratio >= 0.5),
        ("GET/s, 64 connections", f"{r['get_per_s_64']:.0f}/s = {get_ratio:.2f}x bare (CPU/req {cpu_ratio:.2f}x)",
         f">= 0.6x ({0.6 * bare_get:.0f}/s)", get_ratio >= 0.6),
        ("GET p99, 64 connections", f"{r['get_p99_ms']:.1f} ms", "< 10 ms", r["get_p99_ms"] < 10),
        (f"LIST {r['pods_stored']} pods, JSON", f"{r['list_json_ms']:.0f} ms", "< 1000 ms", r["list_json_ms"] < 1000),
        (f"LIST {r['pods_stored']} pods, Table", f"{r['list_table_ms']:.0f} ms", "< 1000 ms",
         r["list_table_ms"] < 1000),
        (f"watch delay p99, {r['watch_watchers']} watchers", f"{r['watch_delay_p99_ms']:.1f} ms", "< 10 ms",
         r["watch_delay_p99_ms"] < 10 and r["watch_events_missing"] == 0),
        ("cold start to /readyz", f"{r['cold_start_ms']:.0f} ms", "< 2000 ms", r["cold_start_ms"] < 2000),
    ]
    r["targets_met"] = {key: met for key, (_, _, _, met) in zip(
        ("create_16_vs_sqlite", "get_vs_bare", "get_p99", "list_json", "list_table", "watch_delay_p99",
         "cold_start"), rows, strict=True)}
    r["targets_missed"] = sum(1 for row in rows if not row[3])
    return rows


def render(r: dict[str, Any], rows: list[tuple[str, str, str, bool]]) -> str:
    lines = [
        f"pyk8s apiserver benchmark ({'quick' if r['quick'] else 'full'} run; server on CPU "
        f"{SERVER_CPU if r['pinned'] else 'any'}, load generator on CPU {LOADGEN_CPU if r['pinned'] else 'any'}"
        f"{'; UNDER cProfile' if r['profiled'] else ''}; load average {r['loadavg_1m_at_start']:.2f} at start)",
        "",
        f"{'measurement':46} {'value':>10} {'p50 ms':>7} {'p99 ms':>7} {'server':>7} {'loadgen':>7} {'other':>7} "
        f"{'srv us/req':>10}",
    ]

    def num(x: float | None, fmt: str = ".1f", suffix: str = "") -> str:
        return "" if x is None else f"{x:{fmt}}{suffix}"

    def row(name: str, value: str, p50: float | None = None, p99: float | None = None) -> None:
        lines.append(f"{name:46} {value:>10} {num(p50):>7} {num(p99):>7}".rstrip())

    def load_row(name: str, prefix: str, rate_suffix: str, suffix: str = "") -> None:
        def cell(key: str, fmt: str = ".1f", unit: str = "") -> str:
            return num(r.get(f"{prefix}_{key}{suffix}"), fmt, unit)
        rate = num(r.get(f"{prefix}_per_s{rate_suffix}"), ".0f", "/s")
        lines.append(f"{name:46} {rate:>10} {cell('p50_ms'):>7} {cell('p99_ms'):>7} "
                     f"{cell('server_cpu_pct', '.0f', '%'):>7} {cell('loadgen_cpu_pct', '.0f', '%'):>7} "
                     f"{cell('other_cpu_pct', '.0f', '%'):>7} {cell('server_cpu_us_per_req', '.0f'):>10}")

    row("baseline: raw SQLite 1-row txn, FULL+WAL", f"{r['sqlite_raw_rows_per_s']:.0f}/s", r["sqlite_raw_p50_ms"],
        r["sqlite_raw_p99_ms"])
    load_row("baseline: bare aiohttp GET, 64 conns", "bare_get", "_64")
    load_row("baseline: bare aiohttp POST echo, 16 clients", "bare_post_echo", "_16")
    load_row("apiserver create pod, 1 client", "create", "_1", "_1")
    load_row("apiserver create pod, 16 clients", "create", "_16", "_16")
    load_row("apiserver GET pod, 64 conns", "get", "_64")
    row(f"apiserver LIST {r['pods_stored']} pods JSON ({r['list_json_mb']:.1f} MB)", f"{r['list_json_ms']:.0f} ms")
    row(f"apiserver LIST {r['pods_stored']} pods Table ({r['list_table_mb']:.1f} MB)",
        f"{r['list_table_ms']:.0f} ms")
    watch_name = f"watch delay, {r['watch_watchers']} watchers, {r['watch_write_rate_per_s']:.0f} writes/s"
    lines.append(f"{watch_name:46} "
                 f"{r['watch_writes']:>8} wr {num(r['watch_delay_p50_ms']):>7} {num(r['watch_delay_p99_ms']):>7} "
                 f"{num(r['watch_server_cpu_pct'], '.0f', '%'):>7} {num(r['watch_loadgen_cpu_pct'], '.0f', '%'):>7} "
                 f"{num(r['watch_other_cpu_pct'], '.0f', '%'):>7}")
    row("  same, measured from sending the write", "", r["watch_delay_from_request_p50_ms"],
        r["watch_delay_from_request_p99_ms"])
    row("  events missing / seen before the write reply",
        f"{r['watch_events_missing']} / {r['watch_events_before_response']}")
    row("apiserver RSS idle", f"{r['rss_idle_mb']:.0f} MB")
    row(f"apiserver RSS with {r['pods_stored']} pods", f"{r['rss_with_pods_mb']:.0f} MB")
    row("apiserver RSS after LIST + watch", f"{r['rss_after_list_watch_mb']:.0f} MB")
    row(f"cold start to /readyz (median of {r['cold_starts']})", f"{r['cold_start_ms']:.0f} ms")
    lines += ["", f"{'target':34} {'measured':40} {'goal':22} met"]
    for name, measured, goal, met in rows:
        lines.append(f"{name:34} {measured:40} {goal:22} {'yes' if met else 'NO'}")
    lines += [
        "",
        f"CPU-normalised: a GET costs the apiserver {r['get_server_cpu_us_per_req']:.0f} us of CPU against "
        f"{r['bare_get_server_cpu_us_per_req']:.0f} us for bare aiohttp ({r['get_vs_bare_cpu_ratio']:.2f}x its "
        f"efficiency); a create costs {r['create_server_cpu_us_per_req_16']:.0f} us against "
        f"{r['bare_post_echo_server_cpu_us_per_req']:.0f} us for the POST echo.",
        "server/loadgen/other: CPU in % of one core. A load generator near 100% bounds that row by the client;",
        "'other' is CPU used by other workloads on this machine during the row (noise).",
    ]
    return "\n".join(lines)


async def run_all(args: argparse.Namespace, procs: ChildProcesses, work: Path) -> tuple[dict[str, Any], str]:
    sizes = QUICK if args.quick else FULL
    r: dict[str, Any] = {"quick": bool(args.quick), "pinned": procs.pin_cpu is not None,
                         "loadavg_1m_at_start": os.getloadavg()[0],
                         "profiled": bool(args.profile)}

    starts = []
    for i in range(sizes.cold_starts):
        starts.append(cold_start_seconds(procs, work / f"cold-{i}"))
    r["cold_starts"] = len(starts)
    r["cold_start_ms"] = median(starts) * 1000.0
    r["cold_start_max_ms"] = max(starts) * 1000.0

    profiler = Profiler(work / "profile" / "apiserver") if args.profile else None
    if profiler:
        profiler.prefix.parent.mkdir(parents=True)
    data_dir, stored_pod, create_body = await bench_apiserver(sizes, procs, work, profiler, r)
    r["stored_pod_bytes"] = len(stored_pod)

    base = run_sqlite_baseline(procs, work, sizes, stored_pod)
    r["sqlite_raw_rows_per_s"] = base["rows_per_s"]
    r["sqlite_raw_p50_ms"] = base["p50_ms"]
    r["sqlite_raw_p99_ms"] = base["p99_ms"]
    await bench_bare(procs, work, data_dir, sizes, stored_pod, create_body, r)

    report = ""
    if profiler:
        report = profiler.reports()
        if args.profile_dir:
            keep = Path(args.profile_dir)
            keep.mkdir(parents=True, exist_ok=True)
            for phase, path in profiler.dumps:
                shutil.copy(path, keep / f"apiserver-{phase}.prof")
    return r, report


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the pyk8s apiserver (pods, SQLite, TLS) against baselines.")
    p.add_argument("--quick", action="store_true", help="small counts (a smoke test of the harness)")
    p.add_argument("--profile", action="store_true", help="run the apiserver under cProfile; print top functions")
    p.add_argument("--profile-dir", default="", help="keep the per-phase .prof files here")
    p.add_argument("--no-pin", action="store_true", help="do not pin server and load generator to separate CPUs")
    p.add_argument("--role", choices=("bare-server", "sqlite-baseline"), help=argparse.SUPPRESS)
    p.add_argument("--pki-dir", help=argparse.SUPPRESS)
    p.add_argument("--pod-file", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--value-file", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.role == "bare-server":
        serve_bare(Path(args.pki_dir), Path(args.pod_file))
        return 0
    if args.role == "sqlite-baseline":
        result = sqlite_baseline(Path(args.path), args.rows, Path(args.value_file).read_bytes())
        print(orjson.dumps(result).decode(), flush=True)
        return 0

    signal.signal(signal.SIGTERM, _raise_exit)
    # The load generator's own garbage collections would show up as latency; make them rare (see docstring).
    gc.set_threshold(*LOADGEN_GC_THRESHOLD)
    pin = not args.no_pin and can_pin()
    if pin:
        os.sched_setaffinity(0, {LOADGEN_CPU})
    procs = ChildProcesses(SERVER_CPU if pin else None)
    work = Path(tempfile.mkdtemp(prefix="pyk8s-bench-api-"))
    try:
        results, report = asyncio.run(run_all(args, procs, work))
    except BenchError as e:
        print(f"bench/api.py: {e}", file=sys.stderr)
        server_log = work / "apiserver.log"
        if server_log.exists():
            print(f"--- last lines of the apiserver log ---\n{server_log.read_text(errors='replace')[-4000:]}",
                  file=sys.stderr)
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    rows = targets(results)
    if report:
        print(report)
    print(render(results, rows))
    print(orjson.dumps(results).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
