"""Plumbing the benchmarks share: child processes pinned to a CPU, TLS client contexts, a realistic pod,
latency percentiles, CPU accounting, and running a server under cProfile with one dump per phase.

Run as ``python -m bench._common profile OUT_PREFIX MODULE [ARGS...]`` it executes ``python -m MODULE ARGS``
under cProfile; each SIGUSR1 writes the profile gathered since the previous one to ``OUT_PREFIX.<n>.prof``
(n = 0, 1, ...) and starts a fresh one, and the rest is written to ``OUT_PREFIX.final.prof`` at exit.
Only the main thread (the event loop) is profiled; SQLite's writer and reader threads are not.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import resource
import runpy
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
LISTEN_RE = re.compile(r"listening on https://([\d.]+):(\d+)")
SERVER_CPU = 0
LOADGEN_CPU = 1


class BenchError(RuntimeError):
    """The benchmark cannot go on (a server did not start, a request failed); the message says why."""


# --- statistics ---------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; 0.0 for an empty sequence."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


@dataclass(frozen=True)
class CpuUse:
    """CPU over one span, in % of one core: the server (all threads), this process, and everything else.

    `other` is the machine's busy time (including VM steal) minus the two: other workloads competing for
    the same cores, i.e. noise in that span's figures.
    """

    server: float = 0.0
    client: float = 0.0
    other: float = 0.0


@dataclass
class LoadResult:
    """One closed-loop run: how many requests finished in how long, each one's latency in seconds."""

    requests: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    cpu: CpuUse = field(default_factory=CpuUse)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_cpu_us_per_req(self) -> float:
        """Server CPU time per request: a cost that does not depend on how fast the load generator is."""
        return self.cpu.server / 100.0 * self.seconds / self.requests * 1e6 if self.requests else 0.0

    def p_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000.0


CpuMark = tuple[float, float, float, float]


class CpuMeter:
    """Measures CpuUse between `start()` and `stop(mark)`."""

    def __init__(self, server_pid: int | None) -> None:
        self._server = psutil.Process(server_pid) if server_pid else None

    def _server_cpu(self) -> float:
        if self._server is None:
            return 0.0
        t = self._server.cpu_times()
        return float(t.user + t.system)

    @staticmethod
    def _own_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        idle = t.idle + getattr(t, "iowait", 0.0)
        return float(sum(t) - idle - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0))

    def start(self) -> CpuMark:
        return time.perf_counter(), self._server_cpu(), self._own_cpu(), self._machine_busy()

    def stop(self, mark: CpuMark) -> CpuUse:
        wall = time.perf_counter() - mark[0]
        if wall <= 0:
            return CpuUse()
        server = self._server_cpu() - mark[1]
        client = self._own_cpu() - mark[2]
        other = max(0.0, self._machine_busy() - mark[3] - server - client)
        return CpuUse(100.0 * server / wall, 100.0 * client / wall, 100.0 * other / wall)


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


# --- processes ----------------------------------------------------------------------------------------------


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2 and (os.cpu_count() or 1) >= 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChildProcesses:
    """Every process a benchmark starts, so each one is stopped by its PID however the run ends."""

    def __init__(self, pin_cpu: int | None) -> None:
        self.pin_cpu = pin_cpu
        self._procs: list[subprocess.Popen[bytes]] = []

    def spawn(self, argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
        """Start `argv` with stdout and stderr going to `log_path`, pinned to `pin_cpu` if set.

        Popen returns once the child has exec'd, before the interpreter can start a thread, so setting
        the affinity right away covers every thread the child will ever have.
        """
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)}
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, cwd=str(REPO))
        self._procs.append(proc)
        if self.pin_cpu is not None:
            try:
                os.sched_setaffinity(proc.pid, {self.pin_cpu})
            except OSError as e:
                self.stop(proc)
                raise BenchError(f"cannot pin pid {proc.pid} to CPU {self.pin_cpu}: {e}") from e
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        """SIGTERM the process by PID, wait, SIGKILL it if it lingers."""
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self._procs):
            try:
                self.stop(proc)
            except Exception as e:  # keep stopping the others
                print(f"warning: could not stop pid {proc.pid}: {e}", file=sys.stderr)


def wait_for_listen_line(proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> int:
    """The port from the "listening on https://HOST:PORT" line the child prints once it serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        m = LISTEN_RE.search(text)
        if m:
            return int(m.group(2))
        if proc.poll() is not None:
            raise BenchError(f"{log_path.name}: process exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.01)
    raise BenchError(f"{log_path.name}: not listening after {timeout:.0f}s:\n{log_path.read_text()[-3000:]}")


# --- TLS -------------------------------------------------------------------------------------------------------


def client_ssl_context(kubeconfig: Path, scratch: Path) -> ssl.SSLContext:
    """A client context that trusts the kubeconfig's CA and presents its client certificate."""
    from pyk8s.pki.kubeconfig import load_kubeconfig

    info = load_kubeconfig(kubeconfig)
    if not (info.ca_pem and info.client_cert_pem and info.client_key_pem):
        raise BenchError(f"{kubeconfig} lacks a CA or a client certificate")
    scratch.mkdir(parents=True, exist_ok=True)
    cert, key = scratch / "client.crt", scratch / "client.key"
    cert.write_bytes(info.client_cert_pem)
    key.touch(mode=0o600)
    key.write_bytes(info.client_key_pem)
    ctx = ssl.create_default_context(cadata=info.ca_pem.decode())
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def insecure_ssl_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --- a realistic pod -------------------------------------------------------------------------------------------


def realistic_pod(namespace: str, name: str) -> dict[str, Any]:
    """A Deployment-made pod as users write them: two containers, probes, env, mounts, affinity (~2.8 KB)."""
    app = "web-frontend"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": app, "pod-template-hash": "7d4b9c8f6d", "tier": "frontend",
                       "environment": "production", "team": "payments", "version": "v1.42.3"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                            "kubectl.kubernetes.io/restartedAt": "2026-11-27T10:00:00Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{app}-7d4b9c8f6d",
                                 "uid": "5f0c3a8e-2b7d-4c61-9a0e-3f1d2c4b5a69", "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/payments/web-frontend:v1.42.3",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["--listen=:8080", "--metrics-listen=:9090", "--config=/etc/app/config.yaml"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                              {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                    "env": [
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "payments-db",
                                                                                 "key": "url"}}},
                    ],
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                  "limits": {"cpu": "1", "memory": "512Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5,
                                       "failureThreshold": 3},
                    "livenessProbe": {"httpGet": {"path": "/livez", "port": "http"}, "initialDelaySeconds": 10,
                                      "periodSeconds": 10},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True},
                                     {"name": "cache", "mountPath": "/var/cache/app"}],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                                        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
                },
                {
                    "name": "envoy",
                    "image": "docker.io/envoyproxy/envoy:v1.31.2",
                    "args": ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
                    "ports": [{"name": "proxy", "containerPort": 15001, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                  "limits": {"cpu": "500m", "memory": "128Mi"}},
                    "volumeMounts": [{"name": "envoy-config", "mountPath": "/etc/envoy", "readOnly": True}],
                },
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": f"{app}-config"}},
                {"name": "envoy-config", "configMap": {"name": "envoy-sidecar"}},
                {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}},
            ],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": app}},
                                    "topologyKey": "kubernetes.io/hostname"},
            }]}},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "payments", "effect": "NoSchedule"}],
            "terminationGracePeriodSeconds": 30,
        },
    }


# --- cProfile, one dump per phase --------------------------------------------------------------------------------


def profiled_module_main(out_prefix: str, module: str, argv: list[str]) -> None:
    """Run `python -m module argv` under cProfile; SIGUSR1 dumps and restarts the profile (see module doc)."""
    state: dict[str, Any] = {"prof": cProfile.Profile(), "n": 0}

    def dump(path: str) -> None:
        prof: cProfile.Profile = state["prof"]
        prof.disable()
        tmp = path + ".tmp"
        prof.dump_stats(tmp)
        os.replace(tmp, path)

    def on_usr1(signum: int, frame: FrameType | None) -> None:
        dump(f"{out_prefix}.{state['n']}.prof")
        state["n"] += 1
        state["prof"] = cProfile.Profile()
        state["prof"].enable()

    signal.signal(signal.SIGUSR1, on_usr1)
    sys.argv = [module, *argv]
    state["prof"].enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        dump(f"{out_prefix}.final.prof")


def profile_report(path: Path, title: str, top: int = 30) -> str:
    """The `top` functions of one profile dump by own time, then by cumulative time."""
    out = io.StringIO()
    out.write(f"\n===== cProfile: {title} ({path.name}) =====\n")
    stats = pstats.Stats(str(path), stream=out)
    stats.strip_dirs()
    out.write(f"--- top {top} by own time (tottime) ---\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"--- top {top} by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _main(args: list[str]) -> None:
    if len(args) >= 3 and args[0] == "profile":
        profiled_module_main(args[1], args[2], args[3:])
        return
    raise SystemExit("usage: python -m bench._common profile OUT_PREFIX MODULE [ARGS...]")


if __name__ == "__main__":
    _main(sys.argv[1:])
