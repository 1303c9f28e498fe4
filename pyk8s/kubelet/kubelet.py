"""The kubelet: runs the pods the scheduler bound to this node through a CRI runtime, and reports on them.

`Kubelet` wires the parts: a pod informer limited to spec.nodeName=<node>, the node status and Lease loops
(nodestatus), the PLEG relist loop (pleg), one pod worker per pod (podworkers) whose sync computes and executes
the container actions (kuberuntime), probe workers (probes) and the status manager (status). It is itself the
pod workers' `PodSyncer`:

- sync_pod: the pod's runtime state -> if its phase is terminal, stop it for good; else mount volumes, compute
  the actions, carry them out, and write the resulting status.
- sync_terminating_pod: kill every container (preStop, then stop with the grace period) and the sandbox, then
  write the terminal status.
- sync_terminated_pod: unmount volumes; a deleted pod's API object is deleted with grace 0 (uid precondition);
  once the object is gone, its sandboxes and containers are removed.

A PLEG event wakes the pod's worker, except ContainerStarted for a container the last sync already saw
running with every app container up (the sync that started it): that sync would change nothing.

Restart adoption needs nothing special: a running container whose spec hash still matches is kept (same id,
restartCount from its annotation), and on start (and every housekeeping interval) sandboxes of pods that no
longer exist are stopped and removed. The pod -> CRI translation and the volumes come in through the
`PodConfigBuilder` and `VolumeManagerLike` Protocols so tests can inject fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from pyk8s.api import errors, meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.events import EventRecorder
from pyk8s.client.informer import SharedInformerFactory, strip_managed_fields
from pyk8s.client.interface import Client, InformerFactory, Obj
from pyk8s.client.kinds import NODES, PODS
from pyk8s.kubelet import envvars, podspec
from pyk8s.kubelet.backoff import Backoff
from pyk8s.kubelet.config import KubeletConfig
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.kuberuntime import PodConfigBuilder, RuntimeManager, compute_pod_actions
from pyk8s.kubelet.nodestatus import NodeStatusManager
from pyk8s.kubelet.objectcache import ObjectReader
from pyk8s.kubelet.pleg import CONTAINER_STARTED, PLEG, PodLifecycleEvent, RuntimePodStatus
from pyk8s.kubelet.podworkers import PodWorkers, SyncOutcome
from pyk8s.kubelet.probes import ProbeManager, run_handler
from pyk8s.kubelet.status import TERMINAL_PHASES, StatusInputs, StatusManager, build_pod_status

log = logging.getLogger("pyk8s.kubelet")

COMPONENT = "kubelet"

__all__ = ["Kubelet", "ModulePodConfig", "NoVolumes", "PodConfigBuilder", "VolumeManagerLike"]


class VolumeManagerLike(Protocol):
    """The pod volume seam (pyk8s.kubelet.volumes.VolumeManager)."""

    async def mount(self, pod: Obj) -> dict[str, str]:
        """Set up every volume of the pod; volume name -> host path."""

    async def unmount(self, pod_uid: str) -> None: ...

    async def refresh(self, pod: Obj) -> None:
        """Re-sync configMap/secret/projected contents."""


class NoVolumes:
    """A VolumeManagerLike for pods without volumes (tests, hollow setups)."""

    async def mount(self, pod: Obj) -> dict[str, str]:
        return {}

    async def unmount(self, pod_uid: str) -> None:
        return None

    async def refresh(self, pod: Obj) -> None:
        return None


class ModulePodConfig:
    """PodConfigBuilder over pyk8s.kubelet.podspec and pyk8s.kubelet.envvars."""

    def __init__(self, client: ObjectReader, *, cluster_domain: str = "cluster.local") -> None:
        self.client = client  # reads the ConfigMaps and Secrets env refers to
        self.cluster_domain = cluster_domain

    def sandbox_config(self, pod: Obj, *, pod_log_root: str, cluster_dns: list[str], cluster_domain: str,
                       attempt: int, cgroup_parent: str) -> cri.PodSandboxConfig:
        return podspec.sandbox_config(pod, pod_log_root=pod_log_root, cluster_dns=cluster_dns,
                                      cluster_domain=cluster_domain, attempt=attempt, cgroup_parent=cgroup_parent)

    async def container_config(self, pod: Obj, container: Obj, *, restart_count: int, image_ref: str,
                               volume_paths: dict[str, str], env: list[tuple[str, str]],
                               pod_dir: str, pod_ip: str = "") -> cri.ContainerConfig:
        return await podspec.container_config(pod, container, restart_count=restart_count, image_ref=image_ref,
                                              volume_paths=volume_paths, env=env, pod_dir=pod_dir, pod_ip=pod_ip,
                                              cluster_domain=self.cluster_domain)

    def container_hash(self, container: Obj) -> str:
        return podspec.container_hash(container)

    async def container_env(self, pod: Obj, container: Obj, *, pod_ip: str, host_ip: str,
                            node_name: str) -> list[tuple[str, str]]:
        return await envvars.container_env(pod, container, client=self.client, pod_ip=pod_ip, host_ip=host_ip,
                                           node_name=node_name)


_IGNORED_METADATA = ("resourceVersion", "managedFields", "generation")


def needs_sync(old: Obj, new: Obj) -> bool:
    """Whether an update changes what the kubelet acts on (upstream's pod config ignores status-only changes)."""
    if old.get("spec") != new.get("spec"):
        return True
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    keys = (set(om) | set(nm)) - set(_IGNORED_METADATA)
    return any(om.get(k) != nm.get(k) for k in keys)


class Kubelet:
    def __init__(self, client: Client, runtime: cri.RuntimeService, images: cri.ImageService,
                 config: KubeletConfig, *, pod_config: PodConfigBuilder, volumes: VolumeManagerLike,
                 clock: Clock = REAL_CLOCK, informers: InformerFactory | None = None,
                 recorder: EventRecorder | None = None, capacity: dict[str, str] | None = None,
                 on_pod_cidr: Callable[[str], None] | None = None,
                 image_gc: Callable[[Callable[[str], bool]], Awaitable[object]] | None = None) -> None:
        self.client = client
        self.runtime = runtime
        self.images = images
        self.config = config
        self.pod_config = pod_config
        self.volumes = volumes
        self.clock = clock
        self.recorder = recorder or EventRecorder(client, COMPONENT, host=config.node_name, clock=clock)
        self.node_status = NodeStatusManager(client, config, runtime, images, clock=clock, capacity=capacity)
        self._owns_informers = informers is None
        self.informers = informers or SharedInformerFactory(client, clock=clock, transform=strip_managed_fields)
        self.pod_informer = self.informers.informer(PODS, field_selector=f"spec.nodeName={config.node_name}")
        self.pod_informer.add_handler(self._on_pod, self._on_pod_update, self._on_pod_delete)
        # The node's spec.podCIDR (set by the nodeipam controller after registration) goes to the pod network,
        # as upstream's kubelet hands it to the runtime (UpdateRuntimeConfig).
        self.on_pod_cidr = on_pod_cidr
        # One image GC pass (thresholds are the callee's); given which image ids containers still use.
        self.image_gc = image_gc
        self.node_informer = self.informers.informer(NODES, field_selector=f"metadata.name={config.node_name}")
        self.node_informer.add_handler(self._on_node, lambda _old, new: self._on_node(new), None)
        self.pleg = PLEG(runtime, clock=clock, relist_period=config.pleg_relist_period, on_event=self._on_pleg)
        self.probes = ProbeManager(runtime, clock=clock, record=self._record, on_change=self._wake)
        self.status_manager = StatusManager(client)
        self.runtime_manager = RuntimeManager(
            runtime, images, pod_config, node_name=config.node_name, pod_log_root=config.pod_log_dir,
            cluster_dns=config.cluster_dns, cluster_domain=config.cluster_domain, pod_dir=config.pod_dir,
            cgroup_parent=podspec.pod_cgroup_parent, record=self._record, run_hook=self._run_hook, clock=clock,
            crash_backoff=Backoff(config.crash_loop_backoff_initial, config.crash_loop_backoff_max, clock=clock),
            image_backoff=Backoff(config.image_pull_backoff_initial, config.image_pull_backoff_max, clock=clock),
            serialize_image_pulls=config.serialize_image_pulls,
            minimum_grace_seconds=config.minimum_grace_period_seconds)
        self.pod_workers = PodWorkers(self, clock=clock, resync_interval=config.sync_frequency)
        self.reasons: dict[str, dict[str, tuple[str, str]]] = {}
        self.runtime_name = "runc"
        self._pod_ips: dict[str, str] = {}
        # pod uid -> ids of its containers the last sync saw running when every app container ran (phase Running)
        self._all_running: dict[str, frozenset[str]] = {}
        self.started = asyncio.Event()

    # ---- wiring ----
    @property
    def node_ip(self) -> str:
        return self.node_status.node_ip

    def _record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.event(obj, type_, reason, message, kind="Pod", api_version="v1")

    def _wake(self, uid: str) -> None:
        self.pod_workers.wake(uid)

    def _on_pleg(self, event: PodLifecycleEvent) -> None:
        if event.type == CONTAINER_STARTED and event.data in self._all_running.get(event.uid, ()):
            # The last sync already saw this container running with the whole pod up (the sync that started
            # it, as a rule): a sync now would change nothing. Any other change still wakes the worker.
            return
        self.pod_workers.wake(event.uid)

    def _on_pod(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") != self.config.node_name:
            return
        self.pod_workers.update_pod(pod)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if (new.get("spec") or {}).get("nodeName") != self.config.node_name:
            return
        self.pod_workers.update_pod(new, wake=needs_sync(old, new))

    def _on_node(self, node: Obj) -> None:
        spec = node.get("spec") or {}
        cidr = str(spec.get("podCIDR") or next(iter(spec.get("podCIDRs") or []), ""))
        if cidr and self.on_pod_cidr is not None:
            self.on_pod_cidr(cidr)

    def _on_pod_delete(self, pod: Obj) -> None:
        self.pod_workers.update_pod(pod, removed=True)

    async def _run_hook(self, pod: Obj, container: Obj, container_id: str, handler: Obj, timeout: float) -> str:
        uid = str(meta.meta(pod).get("uid") or "")
        return await run_handler(self.runtime, self.clock, pod, container, container_id, handler, timeout,
                                 self._pod_ips.get(uid, ""))

    async def run(self) -> None:
        """Register the node, then run pods and heartbeats until cancelled."""
        try:
            self.runtime_name = (await self.runtime.version()).runtime_name or self.runtime_name
        except cri.CRIError as e:
            log.warning("runtime version: %s", e)
        await self.node_status.register_until_done()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.recorder.run())
                tg.create_task(self.node_status.lease_loop())
                self.informers.start()
                await self.informers.wait_for_sync()
                await self.pleg.relist()
                await self.housekeeping()
                self.started.set()
                tg.create_task(self.node_status.status_loop())
                tg.create_task(self.pleg.run())
                tg.create_task(self._housekeeping_loop())
                if self.image_gc is not None:
                    tg.create_task(self._image_gc_loop())
        finally:
            await self.pod_workers.stop()
            await self.probes.stop()
            if self._owns_informers:
                await self.informers.stop()

    async def _housekeeping_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.housekeeping_interval)
            try:
                await self.housekeeping()
            except (cri.CRIError, errors.StatusError, ConnectionError) as e:
                log.warning("housekeeping: %s", e)

    async def _image_gc_loop(self) -> None:
        while True:
            await self.clock.sleep(self.config.image_gc_period)
            await self.collect_images()

    async def collect_images(self) -> None:
        """One image GC pass, sparing every image a container (running or not) still refers to."""
        assert self.image_gc is not None
        try:
            containers = await self.runtime.list_containers()
            used = {c.image_ref for c in containers} | {c.image for c in containers}
            await self.image_gc(lambda image_id: image_id in used)
        except cri.CRIError as e:
            log.warning("image garbage collection failed: %s", e)
            node = {"kind": "Node", "apiVersion": "v1",
                    "metadata": {"name": self.config.node_name, "uid": self.config.node_name}}
            self.recorder.event(node, "Warning", "ImageGCFailed", str(e), kind="Node", api_version="v1")

    async def housekeeping(self) -> None:
        """Stop and remove sandboxes of pods that are neither in the API nor known to a pod worker."""
        known = {str(meta.meta(p).get("uid") or "") for p in self.pod_informer.lister.list()}
        for uid, rps in list(self.pleg.cache.items()):
            if uid in known or self.pod_workers.known(uid):
                continue
            await self._remove_runtime_pod(rps)
            self.pleg.cache.pop(uid, None)

    async def _remove_runtime_pod(self, rps: RuntimePodStatus) -> None:
        for c in rps.running():
            with contextlib.suppress(cri.NotFoundError):
                await self.runtime.stop_container(c.id, self.config.minimum_grace_period_seconds)
        for s in rps.sandboxes:
            await self.runtime.stop_pod_sandbox(s.id)
            await self.runtime.remove_pod_sandbox(s.id)
        for c in rps.containers:
            with contextlib.suppress(cri.NotFoundError):
                await self.runtime.remove_container(c.id)

    # ---- status ----
    def _status_inputs(self, pod: Obj, *, terminal: bool = False) -> StatusInputs:
        uid = str(meta.meta(pod).get("uid") or "")
        return StatusInputs(
            runtime_name=self.runtime_name, host_ips=[self.node_ip], reasons=dict(self.reasons.get(uid, {})),
            ready=lambda c, cid: self.probes.ready(uid, c, cid),
            started=lambda c, cid: self.probes.started(uid, c, cid), pod_terminal=terminal)

    def _status_base(self, pod: Obj) -> Obj:
        """The pod with the status we last wrote (the informer may not have it yet)."""
        uid = str(meta.meta(pod).get("uid") or "")
        written = self.status_manager.last_written(uid)
        if written is None:
            return pod
        base = dict(pod)
        current = dict(pod.get("status") or {})
        current.update({k: v for k, v in written.items() if k != "conditions"})
        keep = {c.get("type"): c for c in written.get("conditions") or []}
        current["conditions"] = [keep.pop(c.get("type"), c) for c in current.get("conditions") or []] + \
            list(keep.values())
        base["status"] = current
        return base

    async def _write_status(self, pod: Obj, rps: RuntimePodStatus, *, terminal: bool = False) -> Obj:
        base = self._status_base(pod)
        status = build_pod_status(base, rps, self._status_inputs(pod, terminal=terminal),
                                  meta.now_rfc3339(self.clock.now()))
        await self.status_manager.set_status(pod, status)
        return status

    # ---- PodSyncer ----
    async def sync_pod(self, pod: Obj) -> SyncOutcome:
        uid = str(meta.meta(pod).get("uid") or "")
        self._all_running.pop(uid, None)
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            return SyncOutcome(terminal=True)
        rps = await self.pleg.pod_status(uid)
        before = build_pod_status(self._status_base(pod), rps, self._status_inputs(pod),
                                  meta.now_rfc3339(self.clock.now()))
        if before["phase"] in TERMINAL_PHASES:
            await self.status_manager.set_status(pod, before)
            return SyncOutcome(terminal=True)
        try:
            volume_paths = await self.volumes.mount(pod)
        except Exception as e:  # VolumeError carries upstream's message, one per failed volume
            for message in (getattr(e, "failures", None) or {"": str(e)}).values():
                self._record(pod, "Warning", "FailedMount", message)
            await self.status_manager.set_status(pod, before)
            return SyncOutcome(requeue_after=2.0)
        actions = compute_pod_actions(
            pod, rps, hash_of=self.pod_config.container_hash,
            liveness_failed=lambda cid: self.probes.liveness_failed(uid, cid),
            startup_failed=lambda cid: self.probes.startup_failed(uid, cid),
            startup_done=lambda c, cid: self.probes.started(uid, c, cid))
        result = await self.runtime_manager.sync_pod(pod, rps, actions, host_ip=self.node_ip,
                                                     volume_paths=volume_paths)
        reasons = self.reasons.setdefault(uid, {})
        for name in result.started:
            reasons.pop(name, None)
        reasons.update(result.failures)
        rps = await self.pleg.pod_status(uid)
        spec = pod.get("spec") or {}
        pod_ip = self.node_ip if spec.get("hostNetwork") else (rps.ips[0] if rps.ips else "")
        self._pod_ips[uid] = pod_ip
        self.probes.update_pod(pod, rps, pod_ip)
        status = await self._write_status(pod, rps)
        self._note_all_running(uid, pod, rps, status)
        return SyncOutcome(terminal=status["phase"] in TERMINAL_PHASES, requeue_after=result.requeue_after)

    def _note_all_running(self, uid: str, pod: Obj, rps: RuntimePodStatus, status: Obj) -> None:
        running = frozenset(c.id for c in rps.containers if c.state == "CONTAINER_RUNNING")
        names = {str(c.get("name") or "") for c in (pod.get("spec") or {}).get("containers") or []}
        up = {c.metadata.name for c in rps.containers if c.id in running}
        if status["phase"] == "Running" and names <= up:
            self._all_running[uid] = running
        else:
            self._all_running.pop(uid, None)

    async def sync_terminating_pod(self, pod: Obj, grace: int) -> None:
        uid = str(meta.meta(pod).get("uid") or "")
        self._all_running.pop(uid, None)
        self.probes.remove_pod(uid)
        rps = await self.pleg.pod_status(uid)
        await self.runtime_manager.kill_pod(pod, rps, grace_override=grace)
        rps = await self.pleg.pod_status(uid)
        if any(c.state == "CONTAINER_RUNNING" for c in rps.containers):
            raise cri.CRIError("containers still running after kill")
        self.reasons.pop(uid, None)
        await self._write_status(pod, rps, terminal=True)

    async def sync_terminated_pod(self, pod: Obj, removed: bool) -> bool:
        md = pod.get("metadata") or {}
        uid = str(md.get("uid") or "")
        await self.volumes.unmount(uid)
        if removed:
            rps = await self.pleg.pod_status(uid)
            await self._remove_runtime_pod(rps)
            self.pleg.cache.pop(uid, None)
            self.status_manager.forget(uid)
            self._pod_ips.pop(uid, None)
            self._all_running.pop(uid, None)
            return True
        if md.get("deletionTimestamp"):
            try:
                await self.client.delete(PODS, str(md.get("name", "")), str(md.get("namespace", "")),
                                         grace_period_seconds=0, preconditions={"uid": uid})
            except (errors.NotFound, errors.Conflict):
                pass
        return True
