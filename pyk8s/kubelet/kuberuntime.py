"""What to do to a pod's containers, and doing it through the CRI (upstream pkg/kubelet/kuberuntime).

`compute_pod_actions` is the pure heart, shaped like upstream's computePodActions: (re)create the sandbox when
there is none or it is not ready (then every container is killed and recreated, init containers from the
first); run init containers one at a time in order (a restartPolicy Always init container is a sidecar that
keeps running); start app containers per the pod's restartPolicy; restart a running container whose spec
hash changed or whose liveness/startup probe failed; kill the pod when nothing is left to run.

`RuntimeManager.sync_pod` executes the actions: sandbox, image pull (per imagePullPolicy, with
ImagePullBackOff), env, create, start, with CrashLoopBackOff between restarts; it records the upstream events
and the per-container failure reason (ErrImagePull, ImagePullBackOff, CrashLoopBackOff,
CreateContainerConfigError, CreateContainerError, RunContainerError) that the status manager shows as the
container's waiting reason. `kill_pod` / `kill_container` run preStop hooks and stop with the grace period.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyk8s.api import meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Obj
from pyk8s.kubelet.backoff import Backoff, go_duration
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.images import should_pull
from pyk8s.kubelet.pleg import RuntimePodStatus, restart_count_of

log = logging.getLogger("pyk8s.kubelet.kuberuntime")

# Failure reasons (upstream's kubecontainer errors), shown as a waiting container's reason.
ERR_CRASH_LOOP_BACKOFF = "CrashLoopBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
ERR_IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
ERR_CREATE_CONTAINER_CONFIG = "CreateContainerConfigError"
ERR_CREATE_CONTAINER = "CreateContainerError"
ERR_RUN_CONTAINER = "RunContainerError"
ERR_PRE_START_HOOK = "PreStartHookError"
ERR_POST_START_HOOK = "PostStartHookError"

EVENT_NORMAL = "Normal"
EVENT_WARNING = "Warning"

DEFAULT_GRACE_SECONDS = 30
MINIMUM_GRACE_SECONDS = 2


# ---------------------------------------------------------------------------------------------- pure helpers


def is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def restart_policy(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("restartPolicy") or "Always")


def should_restart_on_failure(pod: Obj) -> bool:
    return restart_policy(pod) != "Never"


def pod_ref(pod: Obj) -> str:
    """upstream format.Pod: name_namespace(uid)."""
    md = pod.get("metadata") or {}
    return f"{md.get('name', '')}_{md.get('namespace', '')}({md.get('uid', '')})"


def stable_key(pod: Obj, container: Obj, hash_: str) -> str:
    """The backoff key of a container (upstream GetStableKey)."""
    md = pod.get("metadata") or {}
    return f"{md.get('name', '')}_{md.get('namespace', '')}_{md.get('uid', '')}_{container.get('name', '')}_{hash_}"


def should_container_be_restarted(container: Obj, pod: Obj, status: RuntimePodStatus) -> bool:
    """upstream ShouldContainerBeRestarted (a sidecar follows its own restartPolicy Always)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    c = status.find(container.get("name", ""))
    if c is None:
        return True
    if c.state == "CONTAINER_RUNNING":
        return False
    if c.state in ("CONTAINER_UNKNOWN", "CONTAINER_CREATED"):
        return True
    policy = "Always" if is_sidecar(container) else restart_policy(pod)
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return c.exit_code != 0
    return True


def sandbox_changed(pod: Obj, status: RuntimePodStatus) -> tuple[bool, int, str]:
    """upstream PodSandboxChanged: (create a new one?, its attempt, the current sandbox id)."""
    if not status.sandboxes:
        return True, 0, ""
    newest = status.sandboxes[0]
    ready = sum(1 for s in status.sandboxes if s.state == "SANDBOX_READY")
    if ready > 1 or newest.state != "SANDBOX_READY":
        return True, newest.metadata.attempt + 1, newest.id
    if not (pod.get("spec") or {}).get("hostNetwork") and not newest.ip:
        return True, newest.metadata.attempt + 1, newest.id
    return False, newest.metadata.attempt, newest.id


def container_succeeded(container: Obj, status: RuntimePodStatus) -> bool:
    c = status.find(container.get("name", ""))
    return c is not None and c.state == "CONTAINER_EXITED" and c.exit_code == 0


def has_any_regular_container_created(pod: Obj, status: RuntimePodStatus) -> bool:
    for container in (pod.get("spec") or {}).get("containers") or []:
        c = status.find(container.get("name", ""))
        if c is not None and c.state in ("CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED"):
            return True
    return False


@dataclass
class ContainerToKill:
    name: str
    container: Obj | None
    message: str
    reason: str = ""  # "", "LivenessProbe", "StartupProbe", "Unknown"


@dataclass
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_containers_to_start: list[int] = field(default_factory=list)  # indexes into spec.initContainers
    containers_to_start: list[int] = field(default_factory=list)  # indexes into spec.containers
    containers_to_kill: dict[str, ContainerToKill] = field(default_factory=dict)  # by container id


ProbeFailed = Callable[[str], bool]  # container id -> True when that probe has failed (restart it)


def _never(_: str) -> bool:
    return False


def compute_pod_actions(pod: Obj, status: RuntimePodStatus, *, hash_of: Callable[[Obj], str],
                        liveness_failed: ProbeFailed = _never, startup_failed: ProbeFailed = _never,
                        startup_done: Callable[[Obj, str], bool] | None = None) -> PodActions:
    """What sync_pod must do now (see the module docstring). `hash_of(container)` is the spec hash compared
    with the io.kubernetes.container.hash annotation of the running container; `startup_done(container, id)`
    tells whether a running sidecar has started (its startup probe passed), default True."""
    spec = pod.get("spec") or {}
    inits: list[Obj] = list(spec.get("initContainers") or [])
    apps: list[Obj] = list(spec.get("containers") or [])
    create, attempt, sandbox_id = sandbox_changed(pod, status)
    actions = PodActions(kill_pod=create, create_sandbox=create, sandbox_id=sandbox_id, attempt=attempt)

    if create:
        if not should_restart_on_failure(pod) and attempt != 0 and status.containers:
            actions.create_sandbox = False
            return actions
        to_start = [i for i, c in enumerate(apps)
                    if not (restart_policy(pod) == "OnFailure" and container_succeeded(c, status))]
        if has_any_regular_container_created(pod, status) and not to_start:
            actions.create_sandbox = False
            return actions
        if inits:
            actions.init_containers_to_start = [0]
            return actions
        actions.containers_to_start = to_start
        return actions

    initialized = _compute_init_actions(pod, status, actions, hash_of, liveness_failed, startup_done)
    if actions.kill_pod or not initialized:
        return actions

    keep = 0
    for i, container in enumerate(apps):
        c = status.find(container.get("name", ""))
        if c is None or c.state != "CONTAINER_RUNNING":
            if should_container_be_restarted(container, pod, status):
                actions.containers_to_start.append(i)
                if c is not None and c.state == "CONTAINER_UNKNOWN":
                    actions.containers_to_kill[c.id] = ContainerToKill(
                        c.metadata.name, container,
                        f'Container is in "{c.state}" state, try killing it before restart', "Unknown")
            continue
        restart = should_restart_on_failure(pod)
        have = c.annotations.get(cri.ANNOTATION_CONTAINER_HASH)
        if have is not None and have != hash_of(container):
            message, reason, restart = f"Container {container['name']} definition changed", "", True
        elif liveness_failed(c.id):
            message, reason = f"Container {container['name']} failed liveness probe", "LivenessProbe"
        elif startup_failed(c.id):
            message, reason = f"Container {container['name']} failed startup probe", "StartupProbe"
        else:
            keep += 1
            continue
        if restart:
            message += ", will be restarted"
            actions.containers_to_start.append(i)
        actions.containers_to_kill[c.id] = ContainerToKill(c.metadata.name, container, message, reason)

    if keep == 0 and not actions.containers_to_start:
        actions.kill_pod = True
        actions.init_containers_to_start = []
    return actions


def _compute_init_actions(pod: Obj, status: RuntimePodStatus, actions: PodActions, hash_of: Callable[[Obj], str],
                          liveness_failed: ProbeFailed,
                          startup_done: Callable[[Obj, str], bool] | None) -> bool:
    """Init containers in order; True once every one is done (regular: exited 0; sidecar: running, started).
    A regular init container that failed under restartPolicy Never fails the pod (kill_pod)."""
    inits: list[Obj] = list((pod.get("spec") or {}).get("initContainers") or [])
    if not inits:
        return True
    initialized_before = has_any_regular_container_created(pod, status)
    for i, container in enumerate(inits):
        c = status.find(container.get("name", ""))
        if is_sidecar(container):
            if c is None or c.state != "CONTAINER_RUNNING":
                if (pod.get("metadata") or {}).get("deletionTimestamp"):
                    continue
                actions.init_containers_to_start.append(i)
                if c is not None and c.state == "CONTAINER_UNKNOWN":
                    actions.containers_to_kill[c.id] = ContainerToKill(c.metadata.name, container,
                                                                       "Init container is in unknown state", "Unknown")
                if initialized_before:
                    continue
                return False
            have = c.annotations.get(cri.ANNOTATION_CONTAINER_HASH)
            if (have is not None and have != hash_of(container)) or liveness_failed(c.id):
                why = "definition changed" if have is not None and have != hash_of(container) else \
                    "failed liveness probe"
                actions.containers_to_kill[c.id] = ContainerToKill(
                    c.metadata.name, container, f"Init container {container['name']} {why}, will be restarted",
                    "LivenessProbe" if why != "definition changed" else "")
                actions.init_containers_to_start.append(i)
                if not initialized_before:
                    return False
                continue
            if not initialized_before and startup_done is not None and not startup_done(container, c.id):
                return False
            continue
        if initialized_before:
            continue
        if c is None:
            actions.init_containers_to_start.append(i)
            return False
        if c.state == "CONTAINER_RUNNING":
            return False
        if c.state in ("CONTAINER_CREATED", "CONTAINER_UNKNOWN"):
            if c.state == "CONTAINER_UNKNOWN":
                actions.containers_to_kill[c.id] = ContainerToKill(c.metadata.name, container,
                                                                   "Init container is in unknown state", "Unknown")
            actions.init_containers_to_start.append(i)
            return False
        if c.exit_code == 0:
            continue
        if restart_policy(pod) == "Never":
            actions.kill_pod = True
            return False
        actions.init_containers_to_start.append(i)
        return False
    return True


def restart_count_from_logs(log_dir: str) -> int:
    """After a runtime lost its state, the next restart count from <log_dir>/<n>.log files (upstream
    calcRestartCountByLogDir): the highest n + 1, or 0."""
    try:
        names = os.listdir(log_dir)
    except OSError:
        return 0
    counts = [int(m.group(1)) for n in names if (m := re.fullmatch(r"(\d+)\.log", n))]
    return max(counts) + 1 if counts else 0


def cri_wall_to_monotonic(ns: int, clock: Clock) -> float:
    """A CRI timestamp (Unix ns) on the clock's monotonic scale (for backoff arithmetic)."""
    return clock.monotonic() - (clock.now().timestamp() - ns / 1e9)


def effective_grace_period(pod: Obj, override: int | None = None) -> int:
    """upstream calculateEffectiveGracePeriod: the override, else deletionGracePeriodSeconds, else
    spec.terminationGracePeriodSeconds (default 30); at least 1."""
    md = pod.get("metadata") or {}
    grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    value = DEFAULT_GRACE_SECONDS if grace is None else int(grace)
    if md.get("deletionGracePeriodSeconds") is not None:
        value = int(md["deletionGracePeriodSeconds"])
    if override is not None:
        value = override
    return max(value, 1)


# ---------------------------------------------------------------------------------------------- the manager


class PodConfigBuilder(Protocol):
    """The pod -> CRI translation (pyk8s.kubelet.podspec + envvars, behind one seam)."""

    def sandbox_config(self, pod: Obj, *, pod_log_root: str, cluster_dns: list[str], cluster_domain: str,
                       attempt: int, cgroup_parent: str) -> cri.PodSandboxConfig: ...

    async def container_config(self, pod: Obj, container: Obj, *, restart_count: int, image_ref: str,
                               volume_paths: dict[str, str], env: list[tuple[str, str]],
                               pod_dir: str, pod_ip: str = "") -> cri.ContainerConfig: ...

    def container_hash(self, container: Obj) -> str: ...

    async def container_env(self, pod: Obj, container: Obj, *, pod_ip: str, host_ip: str,
                            node_name: str) -> list[tuple[str, str]]: ...


EventSink = Callable[[Obj, str, str, str], None]  # (object or reference, type, reason, message)
HookRunner = Callable[[Obj, Obj, str, Obj, float], Awaitable[str]]  # pod, container, id, handler, timeout -> error


@dataclass
class SyncResult:
    """What one sync_pod did: per-container failures (name -> (reason, message)), successful starts, and
    when to look again (seconds; None: on the next event or resync)."""

    failures: dict[str, tuple[str, str]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    requeue_after: float | None = None
    error: str = ""

    def later(self, seconds: float) -> None:
        if seconds > 0 and (self.requeue_after is None or seconds < self.requeue_after):
            self.requeue_after = seconds


def container_ref(pod: Obj, container: Obj, *, init: bool = False, index: int | None = None) -> Obj:
    """An ObjectReference to a container of the pod (fieldPath spec.containers{name}), for events."""
    md = pod.get("metadata") or {}
    ref: Obj = {"kind": "Pod", "apiVersion": "v1", "namespace": md.get("namespace", ""), "name": md.get("name", ""),
                "uid": md.get("uid", "")}
    if md.get("resourceVersion"):
        ref["resourceVersion"] = md["resourceVersion"]
    ref["fieldPath"] = f"spec.{'initContainers' if init else 'containers'}{{{container.get('name', '')}}}"
    return ref


class RuntimeManager:
    """Carries out PodActions against a RuntimeService/ImageService (see the module docstring)."""

    def __init__(self, runtime: cri.RuntimeService, images: cri.ImageService, pod_config: PodConfigBuilder, *,
                 node_name: str, pod_log_root: str, cluster_dns: list[str], cluster_domain: str,
                 pod_dir: Callable[[str], str], cgroup_parent: Callable[[Obj], str], record: EventSink,
                 run_hook: HookRunner | None = None, clock: Clock = REAL_CLOCK,
                 crash_backoff: Backoff | None = None, image_backoff: Backoff | None = None,
                 serialize_image_pulls: bool = True, minimum_grace_seconds: int = MINIMUM_GRACE_SECONDS) -> None:
        self.runtime = runtime
        self.images = images
        self.pod_config = pod_config
        self.node_name = node_name
        self.pod_log_root = pod_log_root
        self.cluster_dns = cluster_dns
        self.cluster_domain = cluster_domain
        self.pod_dir = pod_dir
        self.cgroup_parent = cgroup_parent
        self.record = record
        self.run_hook = run_hook
        self.clock = clock
        self.crash_backoff = crash_backoff or Backoff(10.0, 300.0, clock=clock)
        self.image_backoff = image_backoff or Backoff(10.0, 300.0, clock=clock)
        self.minimum_grace_seconds = minimum_grace_seconds
        self._pull_lock: asyncio.Lock | None = asyncio.Lock() if serialize_image_pulls else None

    # ---- sync ----
    async def sync_pod(self, pod: Obj, status: RuntimePodStatus, actions: PodActions, *, host_ip: str,
                       volume_paths: dict[str, str]) -> SyncResult:
        result = SyncResult()
        spec = pod.get("spec") or {}
        uid = str(meta.meta(pod).get("uid") or "")
        if actions.kill_pod:
            if actions.create_sandbox and status.sandboxes:
                self.record(pod, EVENT_NORMAL, "SandboxChanged", "Pod sandbox changed, it will be killed and "
                            "re-created.")
            await self.kill_pod(pod, status, grace_override=None, stop_sandboxes=True)
            if actions.create_sandbox and status.sandboxes:
                # Containers of the old sandbox stay for GC; remember them so restart counts continue.
                pass
        else:
            for cid, info in actions.containers_to_kill.items():
                await self.kill_container(pod, info.container, cid, info.message, reason=info.reason)

        sandbox_id = actions.sandbox_id
        sandbox_config = self.pod_config.sandbox_config(
            pod, pod_log_root=self.pod_log_root, cluster_dns=self.cluster_dns, cluster_domain=self.cluster_domain,
            attempt=actions.attempt, cgroup_parent=self.cgroup_parent(pod))
        if actions.create_sandbox:
            try:
                sandbox_id = await self.runtime.run_pod_sandbox(sandbox_config)
            except cri.CRIError as e:
                msg = f"Failed to create pod sandbox: {e}"
                self.record(pod, EVENT_WARNING, "FailedCreatePodSandBox", msg)
                result.error = msg
                result.later(10.0)
                return result
        if not sandbox_id:
            return result
        try:
            sandbox = await self.runtime.pod_sandbox_status(sandbox_id)
        except cri.NotFoundError as e:
            result.error = str(e)
            result.later(1.0)
            return result
        pod_ip = host_ip if spec.get("hostNetwork") else sandbox.ip

        inits = list(spec.get("initContainers") or [])
        apps = list(spec.get("containers") or [])
        for i in actions.init_containers_to_start:
            c = inits[i]
            ok = await self._start(pod, c, status, sandbox_id, sandbox_config, pod_ip, host_ip, volume_paths,
                                   result, init=True)
            if not ok and not is_sidecar(c):
                return result
        for i in actions.containers_to_start:
            await self._start(pod, apps[i], status, sandbox_id, sandbox_config, pod_ip, host_ip, volume_paths,
                              result, init=False)
        if uid:
            await self._prune_dead(status)
        return result

    async def _start(self, pod: Obj, container: Obj, status: RuntimePodStatus, sandbox_id: str,
                     sandbox_config: cri.PodSandboxConfig, pod_ip: str, host_ip: str,
                     volume_paths: dict[str, str], result: SyncResult, *, init: bool) -> bool:
        name = str(container.get("name", ""))
        ref = container_ref(pod, container, init=init)
        hash_ = self.pod_config.container_hash(container)
        # CrashLoopBackOff (upstream doBackOff): measured from the newest exited container's finish.
        exited = next((c for c in status.all_of(name) if c.state == "CONTAINER_EXITED"), None)
        if exited is not None:
            key = stable_key(pod, container, hash_)
            finished = cri_wall_to_monotonic(exited.finished_at, self.clock)
            if self.crash_backoff.in_backoff_since(key, finished):
                self.record(ref, EVENT_WARNING, "BackOff",
                            f"Back-off restarting failed container {name} in pod {pod_ref(pod)}")
                delay = self.crash_backoff.get(key)
                result.failures[name] = (ERR_CRASH_LOOP_BACKOFF, f"back-off {go_duration(delay)} restarting failed "
                                         f"container={name} pod={pod_ref(pod)}")
                result.later(self.crash_backoff.remaining(key, finished))
                return False
            self.crash_backoff.next(key, finished)

        image_ref = await self._ensure_image(pod, container, ref, result)
        if image_ref is None:
            return False
        newest = status.find(name)
        if newest is not None:
            restart_count = restart_count_of(newest) + 1
        else:
            md = pod.get("metadata") or {}
            log_dir = os.path.join(self.pod_log_root, f"{md.get('namespace', '')}_{md.get('name', '')}_"
                                   f"{md.get('uid', '')}", name)
            restart_count = restart_count_from_logs(log_dir)
        def failed(reason: str, msg: str) -> bool:
            """Report a failed step (Failed event, waiting reason) and retry the pod in 10 s."""
            self.record(ref, EVENT_WARNING, "Failed", f"Error: {msg}")
            result.failures[name] = (reason, msg)
            result.later(10.0)
            return False

        try:
            env = await self.pod_config.container_env(pod, container, pod_ip=pod_ip, host_ip=host_ip,
                                                      node_name=self.node_name)
            config = await self.pod_config.container_config(
                pod, container, restart_count=restart_count, image_ref=image_ref, volume_paths=volume_paths,
                env=env, pod_dir=self.pod_dir(str(meta.meta(pod).get("uid") or "")), pod_ip=pod_ip)
        except Exception as e:  # the builders raise CreateContainerConfigError-like errors with upstream text
            return failed(ERR_CREATE_CONTAINER_CONFIG, str(e))
        try:
            cid = await self.runtime.create_container(sandbox_id, config, sandbox_config)
        except cri.CRIError as e:
            return failed(ERR_CREATE_CONTAINER, str(e))
        self.record(ref, EVENT_NORMAL, "Created", f"Created container: {name}")
        try:
            await self.runtime.start_container(cid)
        except cri.CRIError as e:
            return failed(ERR_RUN_CONTAINER, str(e))
        self.record(ref, EVENT_NORMAL, "Started", f"Started container {name}")
        post_start = ((container.get("lifecycle") or {}).get("postStart")) or None
        if post_start and self.run_hook is not None:
            err = await self.run_hook(pod, container, cid, post_start, 0)
            if err:
                self.record(ref, EVENT_WARNING, "FailedPostStartHook", err)
                await self.kill_container(pod, container, cid, "FailedPostStartHook", reason="")
                result.failures[name] = (ERR_POST_START_HOOK, err)
                return False
        result.started.append(name)
        return True

    async def _ensure_image(self, pod: Obj, container: Obj, ref: Obj, result: SyncResult) -> str | None:
        """upstream EnsureImageExists: the image id to run, or None with the failure recorded."""
        image = str(container.get("image", ""))
        name = str(container.get("name", ""))
        policy = container.get("imagePullPolicy")
        present = await self.images.image_status(image)
        if not should_pull(image, policy, present is not None):
            if present is not None:
                self.record(ref, EVENT_NORMAL, "Pulled", f'Container image "{image}" already present on machine')
                return present.id
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self.record(ref, EVENT_WARNING, ERR_IMAGE_NEVER_PULL, msg)
            result.failures[name] = (ERR_IMAGE_NEVER_PULL, msg)
            return None
        key = f"{image}_{meta.meta(pod).get('uid', '')}"
        if self.image_backoff.in_backoff_since_update(key, self.clock.monotonic()):
            msg = f'Back-off pulling image "{image}"'
            self.record(ref, EVENT_NORMAL, "BackOff", msg)
            self.record(ref, EVENT_WARNING, "Failed", f"Error: {ERR_IMAGE_PULL_BACKOFF}")
            previous = result.failures.get(name)
            result.failures[name] = (ERR_IMAGE_PULL_BACKOFF, msg if previous is None else f"{msg}: {previous[1]}")
            result.later(self.image_backoff.remaining_since_update(key))
            return None
        self.record(ref, EVENT_NORMAL, "Pulling", f'Pulling image "{image}"')
        started = self.clock.monotonic()
        try:
            if self._pull_lock is not None:
                async with self._pull_lock:
                    pulled_at = self.clock.monotonic()
                    image_id = await self.images.pull_image(image)
            else:
                pulled_at = started
                image_id = await self.images.pull_image(image)
        except cri.CRIError as e:
            self.image_backoff.next(key, self.clock.monotonic())
            msg = f'Failed to pull image "{image}": {e}'
            self.record(ref, EVENT_WARNING, "Failed", msg)
            self.record(ref, EVENT_WARNING, "Failed", f"Error: {ERR_IMAGE_PULL}")
            result.failures[name] = (ERR_IMAGE_PULL, str(e))
            result.later(1.0)  # the next sync shows ImagePullBackOff; the pull is retried after the backoff
            return None
        done = self.clock.monotonic()
        self.image_backoff.reset(key)
        got = await self.images.image_status(image_id) or await self.images.image_status(image)
        size = got.size if got is not None else 0
        self.record(ref, EVENT_NORMAL, "Pulled", f'Successfully pulled image "{image}" in '
                    f"{go_duration(round(done - pulled_at, 3))} ({go_duration(round(done - started, 3))} including "
                    f"waiting). Image size: {size} bytes.")
        return image_id

    async def _prune_dead(self, status: RuntimePodStatus) -> None:
        """Remove exited containers beyond the newest two of each name (the current one and lastState)."""
        seen: dict[str, int] = {}
        for c in status.containers:
            n = seen[c.metadata.name] = seen.get(c.metadata.name, 0) + 1
            if n > 2 and c.state == "CONTAINER_EXITED":
                try:
                    await self.runtime.remove_container(c.id)
                except cri.CRIError as e:
                    log.info("removing dead container %s: %s", c.id, e)

    # ---- kill ----
    async def kill_container(self, pod: Obj, container: Obj | None, container_id: str, message: str, *,
                             reason: str = "", grace_override: int | None = None) -> None:
        """upstream killContainer: event Killing, preStop (within the grace period), then stop."""
        name = str((container or {}).get("name", ""))
        grace = effective_grace_period(pod) if grace_override is None else max(grace_override, 0)
        if reason in ("LivenessProbe", "StartupProbe"):
            probe = (container or {}).get("livenessProbe" if reason == "LivenessProbe" else "startupProbe") or {}
            if probe.get("terminationGracePeriodSeconds") is not None:
                grace = int(probe["terminationGracePeriodSeconds"])
        if container is not None:
            is_init = any(c.get("name") == name for c in (pod.get("spec") or {}).get("initContainers") or [])
            self.record(container_ref(pod, container, init=is_init), EVENT_NORMAL, "Killing",
                        message or f"Stopping container {name}")
        pre_stop = ((container or {}).get("lifecycle") or {}).get("preStop")
        if pre_stop and grace > 0 and self.run_hook is not None:
            started = self.clock.monotonic()
            try:
                err = await asyncio.wait_for(self.run_hook(pod, container or {}, container_id, pre_stop, grace),
                                             timeout=None)
            except Exception as e:  # a hook never stops the kill
                err = str(e)
            if err:
                self.record(container_ref(pod, container or {}), EVENT_WARNING, "FailedPreStopHook", err)
            grace -= int(self.clock.monotonic() - started)
        grace = max(grace, self.minimum_grace_seconds)
        try:
            await self.runtime.stop_container(container_id, grace)
        except cri.NotFoundError:
            pass

    async def kill_pod(self, pod: Obj, status: RuntimePodStatus, *, grace_override: int | None,
                       stop_sandboxes: bool = True) -> None:
        """Stop every running container in parallel (preStop first), then the sandboxes."""
        spec = pod.get("spec") or {}
        by_name = {c.get("name"): c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]}
        tasks = []
        for c in status.containers:
            if c.state in ("CONTAINER_RUNNING", "CONTAINER_CREATED", "CONTAINER_UNKNOWN"):
                tasks.append(self.kill_container(pod, by_name.get(c.metadata.name), c.id, "",
                                                 grace_override=grace_override))
        if tasks:
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        if stop_sandboxes:
            for s in status.sandboxes:
                if s.state == "SANDBOX_READY":
                    await self.runtime.stop_pod_sandbox(s.id)


def now_of(clock: Clock) -> str:
    return meta.now_rfc3339(clock.now())


def cri_time(ns: int) -> str | None:
    """A CRI timestamp (Unix ns, 0 = unset) as an RFC 3339 string."""
    if not ns:
        return None
    return meta.now_rfc3339(datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC))


_ = Any  # (keeps typing import used when stubs change)
