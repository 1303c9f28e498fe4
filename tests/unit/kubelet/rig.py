"""A kubelet over fakes for unit tests: FakeClient + FakeRuntime + FakeImageService + FakeClock, and a small
stand-in for the pod -> CRI translation (the real one is pyk8s.kubelet.podspec)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import meta
from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import EVENTS, PODS
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.cri.fake import FakeImageService, FakeRuntime
from pyk8s.kubelet.kubelet import Kubelet, NoVolumes

Obj = dict[str, Any]
NODE = "node-1"
NS = "default"


class StubPodConfig:
    """Enough of podspec for the kubelet core: labels, hash and restart-count annotations, log path."""

    def sandbox_config(self, pod: Obj, *, pod_log_root: str, cluster_dns: list[str], cluster_domain: str,
                       attempt: int, cgroup_parent: str) -> cri.PodSandboxConfig:
        md = pod["metadata"]
        labels = {cri.LABEL_POD_UID: md["uid"], cri.LABEL_POD_NAME: md["name"],
                  cri.LABEL_POD_NAMESPACE: md["namespace"]}
        return cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(md["name"], md["namespace"], md["uid"], attempt),
            hostname=md["name"], log_directory=f"{pod_log_root}/{md['namespace']}_{md['name']}_{md['uid']}",
            labels=labels, host_network=bool(pod["spec"].get("hostNetwork")), cgroup_parent=cgroup_parent)

    async def container_config(self, pod: Obj, container: Obj, *, restart_count: int, image_ref: str,
                               volume_paths: dict[str, str], env: list[tuple[str, str]],
                               pod_dir: str, pod_ip: str = "") -> cri.ContainerConfig:
        md = pod["metadata"]
        return cri.ContainerConfig(
            metadata=cri.ContainerMetadata(container["name"], restart_count), image=image_ref,
            command=list(container.get("command") or []), envs=env,
            labels={cri.LABEL_POD_UID: md["uid"], cri.LABEL_POD_NAME: md["name"],
                    cri.LABEL_POD_NAMESPACE: md["namespace"], cri.LABEL_CONTAINER_NAME: container["name"]},
            annotations={cri.ANNOTATION_CONTAINER_HASH: self.container_hash(container),
                         cri.ANNOTATION_RESTART_COUNT: str(restart_count)},
            log_path=f"{container['name']}/{restart_count}.log")

    def container_hash(self, container: Obj) -> str:
        fields = {k: v for k, v in container.items() if k not in ("resources",)}
        return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()[:8]

    async def container_env(self, pod: Obj, container: Obj, *, pod_ip: str, host_ip: str,
                            node_name: str) -> list[tuple[str, str]]:
        return [(e["name"], str(e.get("value", ""))) for e in container.get("env") or []]


async def eventually(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def make_pod(name: str, *, containers: list[Obj] | None = None, init: list[Obj] | None = None,
             restart_policy: str = "Always", grace: int | None = None, node: str = NODE, **spec: Any) -> Obj:
    s: Obj = {"nodeName": node, "restartPolicy": restart_policy,
              "containers": containers or [{"name": "app", "image": "busybox:1.36"}]}
    if init:
        s["initContainers"] = init
    if grace is not None:
        s["terminationGracePeriodSeconds"] = grace
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS}, "spec": s,
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


@dataclass
class Rig:
    fake: FakeClient
    clock: FakeClock
    runtime: FakeRuntime
    images: FakeImageService
    config: KubeletConfig
    kubelet: Kubelet
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.kubelet.run())
        started = self.kubelet.started
        await eventually(lambda: started.is_set() or (self.task is not None and self.task.done()), what="start")
        if self.task.done():
            self.task.result()

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    def pod(self, name: str) -> Obj | None:
        return next((p for p in self.fake.objects(PODS, NS) if p["metadata"]["name"] == name), None)

    def status(self, name: str) -> Obj:
        p = self.pod(name)
        assert p is not None, f"pod {name} is gone"
        return p.get("status") or {}

    def phase(self, name: str) -> str:
        return str(self.status(name).get("phase", ""))

    def container_status(self, pod: str, container: str = "app", init: bool = False) -> Obj:
        key = "initContainerStatuses" if init else "containerStatuses"
        return next((c for c in self.status(pod).get(key) or [] if c["name"] == container), {})

    def condition(self, pod: str, type_: str) -> Obj:
        return next((c for c in self.status(pod).get("conditions") or [] if c["type"] == type_), {})

    def uid(self, name: str) -> str:
        p = self.pod(name)
        assert p is not None
        return str(p["metadata"]["uid"])

    def events(self, reason: str | None = None) -> list[Obj]:
        return [e for e in self.fake.objects(EVENTS) if reason is None or e.get("reason") == reason]

    async def create(self, pod: Obj) -> Obj:
        return await self.fake.create(PODS, pod, NS)

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the fake clock forward in steps, letting the kubelet's tasks run after each."""
        done = 0.0
        while done < seconds:
            d = min(step, seconds - done)
            self.clock.step(d)
            done += d
            await asyncio.sleep(0.002)
            await settle()


def make_rig(*, runtime: FakeRuntime | None = None, images: FakeImageService | None = None,
             fake: FakeClient | None = None, clock: FakeClock | None = None, tmp: str = "/tmp/pyk8s-kubelet-test",
             **config: Any) -> Rig:
    clock = clock or FakeClock()
    fake = fake or FakeClient(clock=clock)
    runtime = runtime or FakeRuntime(clock=clock)
    images = images or FakeImageService()
    cfg = KubeletConfig(node_name=NODE, node_ip="10.250.0.1", root_dir=f"{tmp}/root", pod_log_dir=f"{tmp}/logs",
                        **config)
    kubelet = Kubelet(fake, runtime, images, cfg, pod_config=StubPodConfig(), volumes=NoVolumes(), clock=clock,
                      capacity={"cpu": "2", "memory": "4Gi", "pods": "110", "ephemeral-storage": "10Gi"})
    return Rig(fake, clock, runtime, images, cfg, kubelet)


def meta_uid(pod: Obj) -> str:
    return str(meta.meta(pod).get("uid") or "")
