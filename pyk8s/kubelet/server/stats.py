"""The kubelet Summary API (/stats/summary) computed from the runtime's container stats.

Shape follows upstream's statsapi.Summary (k8s.io/kubelet/pkg/apis/stats/v1alpha1): node{nodeName, startTime,
cpu, memory} and pods[{podRef, startTime, cpu, memory, containers[{name, startTime, cpu, memory}]}]. CPU usage
in nano-cores needs two cumulative samples, so `StatsSampler` keeps the previous sample per container (refreshed
in the background and on every request) and derives the rate from samples at least `min_interval` apart. The
node figures are the machine's, as upstream reads them from the root cgroup: CPU time busy on all cores and
memory in use (total less available), from psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

import psutil

from pyk8s.kubelet.cri.interface import (
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerStats,
    RuntimeService,
)

log = logging.getLogger(__name__)


def rfc3339(ns: int) -> str:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatsSampler:
    def __init__(self, runtime: RuntimeService, node_name: str, *, min_interval: float = 1.0,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self.min_interval_ns = int(min_interval * 1e9)
        self.clock = clock
        self.start_time = clock()
        self._last: dict[str, ContainerStats] = {}
        self._rate: dict[str, int] = {}
        self._machine_last: tuple[int, int] | None = None  # (timestamp ns, busy cpu ns)
        self._machine_rate: int | None = None

    def _sample_machine(self) -> tuple[int, int, int]:
        """(timestamp ns, busy CPU ns over all cores since boot, memory in use in bytes)."""
        t = psutil.cpu_times()
        busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0) + \
            getattr(t, "steal", 0.0)
        mem = psutil.virtual_memory()
        now, busy_ns = self.clock(), int(busy * 1e9)
        if self._machine_last is None:
            self._machine_last = (now, busy_ns)
        elif now - self._machine_last[0] >= self.min_interval_ns:
            dt = now - self._machine_last[0]
            self._machine_rate = int(max(0, busy_ns - self._machine_last[1]) * 1_000_000_000 / dt)
            self._machine_last = (now, busy_ns)
        return now, busy_ns, int(mem.total - mem.available)

    async def sample(self) -> list[ContainerStats]:
        self._sample_machine()
        stats = await self.runtime.list_container_stats()
        seen = set()
        for s in stats:
            seen.add(s.id)
            prev = self._last.get(s.id)
            if prev is None:
                self._last[s.id] = s
                continue
            dt = s.timestamp - prev.timestamp
            if dt >= self.min_interval_ns:
                used = max(0, s.cpu_usage_core_nanoseconds - prev.cpu_usage_core_nanoseconds)
                self._rate[s.id] = int(used * 1_000_000_000 / dt)
                self._last[s.id] = s
        for gone in set(self._last) - seen:
            self._last.pop(gone, None)
            self._rate.pop(gone, None)
        return stats

    def usage_nano_cores(self, container_id: str) -> int | None:
        return self._rate.get(container_id)

    async def run(self, interval: float) -> None:
        """Sample forever (the app starts this in the background)."""
        while True:
            try:
                await self.sample()
            except Exception as e:  # a failed sample must not end the sampler
                log.warning("stats sample failed: %s", e)
            await asyncio.sleep(interval)

    async def summary(self) -> dict[str, Any]:
        stats = await self.sample()
        sandboxes = {s.id: s for s in await self.runtime.list_pod_sandboxes()}
        started: dict[str, int] = {}
        with contextlib.suppress(Exception):
            for c in await self.runtime.list_containers():
                started[c.id] = c.started_at or c.created_at
        now = self.clock()
        pods: dict[str, dict[str, Any]] = {}
        for s in stats:
            sandbox = sandboxes.get(s.pod_sandbox_id)
            if sandbox is None:
                continue
            pod = pods.get(sandbox.id)
            if pod is None:
                labels = sandbox.labels
                pod = pods[sandbox.id] = {
                    "podRef": {"name": labels.get(LABEL_POD_NAME, sandbox.metadata.name),
                               "namespace": labels.get(LABEL_POD_NAMESPACE, sandbox.metadata.namespace),
                               "uid": labels.get(LABEL_POD_UID, sandbox.metadata.uid)},
                    "startTime": rfc3339(sandbox.created_at or now),
                    "containers": [],
                }
            container: dict[str, Any] = {"name": s.name, "cpu": self._cpu(s), "memory": self._memory(s)}
            if started.get(s.id):
                container["startTime"] = rfc3339(started[s.id])
            pod["containers"].append(container)
        for pod in pods.values():
            pod["cpu"] = _sum_cpu(pod["containers"], now)
            pod["memory"] = _sum_memory(pod["containers"], now)
        pod_list = sorted(pods.values(), key=lambda p: (p["podRef"]["namespace"], p["podRef"]["name"]))
        stamp, busy_ns, in_use = self._sample_machine()
        node_cpu: dict[str, Any] = {"time": rfc3339(stamp), "usageCoreNanoSeconds": busy_ns}
        if self._machine_rate is not None:
            node_cpu["usageNanoCores"] = self._machine_rate
        return {
            "node": {"nodeName": self.node_name, "startTime": rfc3339(self.start_time), "cpu": node_cpu,
                     "memory": {"time": rfc3339(stamp), "workingSetBytes": in_use, "usageBytes": in_use}},
            "pods": pod_list,
        }

    def _cpu(self, s: ContainerStats) -> dict[str, Any]:
        cpu: dict[str, Any] = {"time": rfc3339(s.timestamp), "usageCoreNanoSeconds": s.cpu_usage_core_nanoseconds}
        rate = self._rate.get(s.id)
        if rate is not None:
            cpu["usageNanoCores"] = rate
        return cpu

    @staticmethod
    def _memory(s: ContainerStats) -> dict[str, Any]:
        return {"time": rfc3339(s.timestamp), "workingSetBytes": s.memory_working_set_bytes,
                "usageBytes": s.memory_usage_bytes or s.memory_working_set_bytes}


def _sum_cpu(items: list[dict[str, Any]], now: int) -> dict[str, Any]:
    cpu: dict[str, Any] = {"time": rfc3339(now),
                           "usageCoreNanoSeconds": sum(i["cpu"].get("usageCoreNanoSeconds", 0) for i in items)}
    rates = [i["cpu"]["usageNanoCores"] for i in items if "usageNanoCores" in i["cpu"]]
    if rates or not items:
        cpu["usageNanoCores"] = sum(rates)
    return cpu


def _sum_memory(items: list[dict[str, Any]], now: int) -> dict[str, Any]:
    return {"time": rfc3339(now),
            "workingSetBytes": sum(i["memory"].get("workingSetBytes", 0) for i in items),
            "usageBytes": sum(i["memory"].get("usageBytes", 0) for i in items)}
