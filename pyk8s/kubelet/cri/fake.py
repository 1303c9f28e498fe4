"""In-memory RuntimeService and ImageService for the kubelet's unit tests (no process, no network).

`FakeRuntime` keeps sandboxes and containers as CRI records and moves them through the CRI states when the
kubelet calls it; tests drive what real processes would do through hooks: `exit_container(id, code)`,
`oom_kill(id)`, `script_exec(...)` for exec probes and hooks, `fail_next(method, error)`, and `crash()` (every
container exits, as after a node reboot). Every call is recorded in `calls` as (method, args) so tests can
assert order and arguments (for example the timeout given to stop_container).
`FakeImageService` holds images by reference; `fail_pull(ref, message)` makes pulls of a reference fail.
Timestamps come from the injected Clock, in Unix nanoseconds as CRI reports them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.kubelet.cri import interface as cri

ExecScript = Callable[[str, list[str]], cri.ExecSyncResult]


def _ns(clock: Clock) -> int:
    return int(clock.now().timestamp() * 1e9)


def _id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


class FakeRuntime:
    """A RuntimeService whose containers are records; see the module docstring for the test hooks."""

    def __init__(self, *, clock: Clock = REAL_CLOCK, pod_subnet: str = "10.88.0.") -> None:
        self.clock = clock
        self.sandboxes: dict[str, cri.PodSandboxStatus] = {}
        self.sandbox_configs: dict[str, cri.PodSandboxConfig] = {}
        self.containers: dict[str, cri.ContainerStatus] = {}
        self.container_configs: dict[str, cri.ContainerConfig] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._seq = itertools.count(1)
        self._ips = itertools.count(2)
        self._pod_subnet = pod_subnet
        self._failures: dict[str, list[BaseException]] = {}
        self._exec_results: dict[tuple[str, tuple[str, ...]] | str, list[cri.ExecSyncResult]] = {}
        self.exec_default: ExecScript | None = None
        # Exit code a container gets when stop_container stops it (143: SIGTERM honoured).
        self.stop_exit_code = 143
        self.changed = asyncio.Event()

    # ---- test hooks ----
    def fail_next(self, method: str, error: BaseException) -> None:
        """The next call of `method` raises `error` (queued: several calls fail in order)."""
        self._failures.setdefault(method, []).append(error)

    def exit_container(self, container_id: str, exit_code: int, *, reason: str = "", message: str = "") -> None:
        """The container's process ends with `exit_code` (reason Completed for 0, else Error, unless given)."""
        c = self.containers[container_id]
        if c.state != "CONTAINER_RUNNING":
            raise AssertionError(f"container {container_id} is {c.state}, not running")
        self.containers[container_id] = replace(
            c, state="CONTAINER_EXITED", finished_at=_ns(self.clock), exit_code=exit_code,
            reason=reason or ("Completed" if exit_code == 0 else "Error"), message=message)
        self.changed.set()

    def oom_kill(self, container_id: str) -> None:
        self.exit_container(container_id, 137, reason="OOMKilled")

    def crash(self) -> None:
        """Every running container exits (137) and every sandbox stops, as when the node reboots."""
        for cid, c in list(self.containers.items()):
            if c.state == "CONTAINER_RUNNING":
                self.exit_container(cid, 137)
        for sid, s in list(self.sandboxes.items()):
            self.sandboxes[sid] = replace(s, state="SANDBOX_NOTREADY")

    def script_exec(self, container_id: str, cmd: list[str] | None, *results: cri.ExecSyncResult) -> None:
        """exec_sync in `container_id` (of `cmd`, or of any command when None) returns `results` in turn; the
        last one repeats."""
        key: tuple[str, tuple[str, ...]] | str = (container_id, tuple(cmd)) if cmd is not None else container_id
        self._exec_results[key] = list(results)

    def running(self, *, pod_uid: str = "", name: str = "") -> list[cri.ContainerStatus]:
        return [c for c in self.containers.values() if c.state == "CONTAINER_RUNNING"
                and (not pod_uid or c.labels.get(cri.LABEL_POD_UID) == pod_uid)
                and (not name or c.metadata.name == name)]

    def of_pod(self, pod_uid: str, name: str = "") -> list[cri.ContainerStatus]:
        """The pod's containers (optionally of one name), oldest first."""
        out = [c for c in self.containers.values() if c.labels.get(cri.LABEL_POD_UID) == pod_uid
               and (not name or c.metadata.name == name)]
        return sorted(out, key=lambda c: c.created_at)

    def called(self, method: str) -> list[tuple[Any, ...]]:
        return [args for m, args in self.calls if m == method]

    def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        pending = self._failures.get(method)
        if pending:
            raise pending.pop(0)

    def _now(self) -> int:
        # Strictly increasing, so "newest first" orderings are stable even when the fake clock stands still.
        return _ns(self.clock) + next(self._seq)

    # ---- RuntimeService ----
    async def version(self) -> cri.RuntimeVersion:
        return cri.RuntimeVersion("fake", "0.1.0")

    async def run_pod_sandbox(self, config: cri.PodSandboxConfig) -> str:
        self._call("run_pod_sandbox", config)
        md = config.metadata
        sid = _id("sandbox", md.uid, str(md.attempt), str(next(self._seq)))
        ip = "" if config.host_network else f"{self._pod_subnet}{next(self._ips)}"
        labels = dict(config.labels)
        labels.setdefault(cri.LABEL_POD_UID, md.uid)
        labels.setdefault(cri.LABEL_POD_NAME, md.name)
        labels.setdefault(cri.LABEL_POD_NAMESPACE, md.namespace)
        self.sandboxes[sid] = cri.PodSandboxStatus(
            id=sid, metadata=replace(md), state="SANDBOX_READY", created_at=self._now(), ip=ip, labels=labels,
            annotations=dict(config.annotations), netns_path=f"/run/netns/fake-{sid[:12]}")
        self.sandbox_configs[sid] = config
        return sid

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        self._call("stop_pod_sandbox", sandbox_id)
        for cid, c in list(self.containers.items()):
            if c.pod_sandbox_id == sandbox_id and c.state == "CONTAINER_RUNNING":
                self.exit_container(cid, 137)
        s = self.sandboxes.get(sandbox_id)
        if s is not None:
            self.sandboxes[sandbox_id] = replace(s, state="SANDBOX_NOTREADY")

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self._call("remove_pod_sandbox", sandbox_id)
        for cid, c in list(self.containers.items()):
            if c.pod_sandbox_id == sandbox_id:
                del self.containers[cid]
        self.sandboxes.pop(sandbox_id, None)
        self.sandbox_configs.pop(sandbox_id, None)

    async def pod_sandbox_status(self, sandbox_id: str) -> cri.PodSandboxStatus:
        self._call("pod_sandbox_status", sandbox_id)
        s = self.sandboxes.get(sandbox_id)
        if s is None:
            raise cri.NotFoundError(f"sandbox {sandbox_id} not found")
        return replace(s)

    async def list_pod_sandboxes(self) -> list[cri.PodSandboxStatus]:
        self._call("list_pod_sandboxes")
        return [replace(s) for s in self.sandboxes.values()]

    async def create_container(self, sandbox_id: str, config: cri.ContainerConfig,
                               sandbox_config: cri.PodSandboxConfig) -> str:
        self._call("create_container", sandbox_id, config)
        s = self.sandboxes.get(sandbox_id)
        if s is None:
            raise cri.NotFoundError(f"sandbox {sandbox_id} not found")
        if s.state != "SANDBOX_READY":
            raise cri.CRIError(f"sandbox {sandbox_id} is not ready")
        cid = _id("container", sandbox_id, config.metadata.name, str(next(self._seq)))
        labels = dict(config.labels)
        for k in (cri.LABEL_POD_UID, cri.LABEL_POD_NAME, cri.LABEL_POD_NAMESPACE):
            labels.setdefault(k, s.labels.get(k, ""))
        labels.setdefault(cri.LABEL_CONTAINER_NAME, config.metadata.name)
        log_path = f"{sandbox_config.log_directory}/{config.log_path}" if config.log_path else ""
        self.containers[cid] = cri.ContainerStatus(
            id=cid, pod_sandbox_id=sandbox_id, metadata=replace(config.metadata), state="CONTAINER_CREATED",
            created_at=self._now(), image=config.image, image_ref=f"sha256:{_id('image', config.image)}",
            labels=labels, annotations=dict(config.annotations), log_path=log_path)
        self.container_configs[cid] = config
        return cid

    async def start_container(self, container_id: str) -> None:
        self._call("start_container", container_id)
        c = self.containers.get(container_id)
        if c is None:
            raise cri.NotFoundError(f"container {container_id} not found")
        if c.state != "CONTAINER_CREATED":
            raise cri.CRIError(f"container {container_id} is not in created state: {c.state}")
        self.containers[container_id] = replace(c, state="CONTAINER_RUNNING", started_at=_ns(self.clock))
        self.changed.set()

    async def stop_container(self, container_id: str, timeout: float) -> None:
        self._call("stop_container", container_id, timeout)
        c = self.containers.get(container_id)
        if c is None:
            raise cri.NotFoundError(f"container {container_id} not found")
        if c.state == "CONTAINER_RUNNING":
            self.exit_container(container_id, self.stop_exit_code)
        elif c.state == "CONTAINER_CREATED":
            self.containers[container_id] = replace(c, state="CONTAINER_EXITED", finished_at=_ns(self.clock),
                                                    exit_code=0, reason="")

    async def remove_container(self, container_id: str) -> None:
        self._call("remove_container", container_id)
        c = self.containers.get(container_id)
        if c is not None and c.state == "CONTAINER_RUNNING":
            raise cri.CRIError(f"container {container_id} is running")
        self.containers.pop(container_id, None)
        self.container_configs.pop(container_id, None)

    async def list_containers(self) -> list[cri.ContainerStatus]:
        self._call("list_containers")
        return [replace(c) for c in self.containers.values()]

    async def container_status(self, container_id: str) -> cri.ContainerStatus:
        self._call("container_status", container_id)
        c = self.containers.get(container_id)
        if c is None:
            raise cri.NotFoundError(f"container {container_id} not found")
        return replace(c)

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> cri.ExecSyncResult:
        self._call("exec_sync", container_id, list(cmd), timeout)
        c = self.containers.get(container_id)
        if c is None:
            raise cri.NotFoundError(f"container {container_id} not found")
        if c.state != "CONTAINER_RUNNING":
            raise cri.CRIError(f"container {container_id} is not running")
        for key in ((container_id, tuple(cmd)), container_id):
            script = self._exec_results.get(key)
            if script:
                return script.pop(0) if len(script) > 1 else script[0]
        if self.exec_default is not None:
            return self.exec_default(container_id, list(cmd))
        return cri.ExecSyncResult(b"", b"", 0)

    async def exec(self, container_id: str, cmd: list[str], io: cri.StreamIO) -> int:
        result = await self.exec_sync(container_id, cmd, 0)
        if io.stdout is not None and result.stdout:
            await io.stdout(result.stdout)
        if io.stderr is not None and result.stderr:
            await io.stderr(result.stderr)
        return result.exit_code

    async def attach(self, container_id: str, io: cri.StreamIO) -> None:
        self._call("attach", container_id)

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self._call("port_forward", sandbox_id, port)
        raise cri.CRIError("the fake runtime cannot forward ports")

    async def container_stats(self, container_id: str) -> cri.ContainerStats:
        c = await self.container_status(container_id)
        return cri.ContainerStats(c.id, c.metadata.name, c.pod_sandbox_id, _ns(self.clock), 0, 0)

    async def list_container_stats(self) -> list[cri.ContainerStats]:
        return [cri.ContainerStats(c.id, c.metadata.name, c.pod_sandbox_id, _ns(self.clock), 0, 0)
                for c in self.containers.values() if c.state == "CONTAINER_RUNNING"]

    async def pod_sandbox_stats(self, sandbox_id: str) -> cri.PodSandboxStats:
        await self.pod_sandbox_status(sandbox_id)
        return cri.PodSandboxStats(sandbox_id, _ns(self.clock), 0, 0)


class FakeImageService:
    """An ImageService holding images in memory; pulls succeed at once unless `fail_pull` says otherwise."""

    def __init__(self, *, present: list[str] | None = None, image_size: int = 1_000_000) -> None:
        self.images: dict[str, cri.Image] = {}
        self.pulls: list[str] = []
        self.image_size = image_size
        self._fail: dict[str, list[str]] = {}
        for ref in present or []:
            self.add(ref)

    def add(self, ref: str, size: int | None = None) -> cri.Image:
        image = cri.Image(id=f"sha256:{_id('image', ref)}", repo_tags=[ref], repo_digests=[
            f"{ref.rsplit(':', 1)[0] if ':' in ref.rsplit('/', 1)[-1] else ref}@sha256:{_id('digest', ref)}"],
            size=self.image_size if size is None else size)
        self.images[ref] = image
        return image

    def fail_pull(self, ref: str, message: str = "", times: int = 1) -> None:
        """The next `times` pulls of `ref` fail with ImagePullError(message)."""
        self._fail[ref] = [message or f"failed to pull and unpack image \"{ref}\": not found"] * times

    async def pull_image(self, ref: str, auth: cri.AuthConfig | None = None) -> str:
        self.pulls.append(ref)
        failures = self._fail.get(ref)
        if failures:
            raise cri.ImagePullError(failures.pop(0))
        return (self.images.get(ref) or self.add(ref)).id

    async def image_status(self, ref: str) -> cri.Image | None:
        image = self.images.get(ref)
        if image is None:
            image = next((i for i in self.images.values() if i.id == ref), None)
        return replace(image) if image else None

    async def list_images(self) -> list[cri.Image]:
        return [replace(i) for i in self.images.values()]

    async def remove_image(self, ref: str) -> None:
        self.images.pop(ref, None)

    async def image_fs_info(self) -> cri.ImageFsInfo:
        used = sum(i.size for i in self.images.values())
        return cri.ImageFsInfo("/fake/images", used, 100 * 2**30, 100 * 2**30 - used)
