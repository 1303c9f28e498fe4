"""The seam between the kubelet and a container runtime, shaped like Kubernetes' CRI (runtime/v1 api.proto).

The kubelet drives pods only through these two Protocols, so the runc runtime (cri/runc), the fake runtime of
the unit tests and any later runtime are interchangeable. Records are dataclasses (they are not Kubernetes
objects); field names follow the CRI messages in snake case, times are Unix nanoseconds (0 = unset) as in CRI.

Contract common to every method: calls are idempotent where CRI says so (stop/remove of something already
stopped/removed succeeds; remove of an unknown id succeeds); an unknown id elsewhere raises `NotFoundError`;
a runtime failure raises `CRIError` with a one-line message fit for an Event or a container status
message. Every call may be cancelled; a cancelled call leaves no half-made state the next call cannot clean.

Streaming (exec, attach, port-forward) differs from CRI on purpose: CRI hands back a URL of the runtime's
own streaming server; here the kubelet's server owns the connection and passes the runtime a `StreamIO`
(exec/attach) or asks it for a socket into the pod's network namespace (port-forward).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

SandboxState = Literal["SANDBOX_READY", "SANDBOX_NOTREADY"]
ContainerState = Literal["CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"]

# Labels every runtime sets on sandboxes and containers so the kubelet can rebuild its view after a restart
# (the names upstream's kuberuntime uses).
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"
# Annotations the kubelet sets on containers (upstream names): spec hash, restart count, grace period.
ANNOTATION_CONTAINER_HASH = "io.kubernetes.container.hash"
ANNOTATION_RESTART_COUNT = "io.kubernetes.container.restartCount"
ANNOTATION_TERMINATION_GRACE = "io.kubernetes.pod.terminationGracePeriod"
ANNOTATION_TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"


class NotFoundError(Exception):
    """The sandbox, container or image id is unknown to the runtime."""


class CRIError(Exception):
    """The runtime failed to do what was asked; the message is one line, fit for an Event."""


class ImagePullError(CRIError):
    """Pulling failed (registry unreachable, unauthorised, unknown manifest, digest mismatch)."""


@dataclass
class PortMapping:
    container_port: int
    host_port: int
    protocol: str = "TCP"  # TCP | UDP | SCTP
    host_ip: str = ""


@dataclass
class DNSConfig:
    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass
class PodSandboxMetadata:
    name: str
    namespace: str
    uid: str
    attempt: int = 0


@dataclass
class PodSandboxConfig:
    metadata: PodSandboxMetadata
    hostname: str
    log_directory: str  # /var/log/pods/<ns>_<name>_<uid> under the node's root
    dns: DNSConfig = field(default_factory=DNSConfig)
    port_mappings: list[PortMapping] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False
    cgroup_parent: str = ""  # pod cgroup, relative to the runtime's cgroup root
    # Pod-level limits summed over containers, for the pod cgroup (0 = unlimited).
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    memory_limit_in_bytes: int = 0
    sysctls: dict[str, str] = field(default_factory=dict)


@dataclass
class PodSandboxStatus:
    id: str
    metadata: PodSandboxMetadata
    state: SandboxState
    created_at: int
    ip: str = ""
    additional_ips: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    netns_path: str = ""


@dataclass
class Mount:
    container_path: str
    host_path: str
    readonly: bool = False
    propagation: str = "private"  # private | rslave | rshared


@dataclass
class LinuxContainerResources:
    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0
    memory_limit_in_bytes: int = 0
    oom_score_adj: int = 0


@dataclass
class LinuxContainerSecurityContext:
    run_as_user: int | None = None
    run_as_group: int | None = None
    supplemental_groups: list[int] = field(default_factory=list)
    readonly_rootfs: bool = False
    privileged: bool = False
    add_capabilities: list[str] = field(default_factory=list)  # "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" allowed
    drop_capabilities: list[str] = field(default_factory=list)
    no_new_privs: bool = False


@dataclass
class ContainerMetadata:
    name: str
    attempt: int = 0


@dataclass
class ContainerConfig:
    metadata: ContainerMetadata
    image: str  # the image reference as the pod spec names it, or the image id the kubelet resolved
    command: list[str] = field(default_factory=list)  # replaces the image Entrypoint (and drops its Cmd)
    args: list[str] = field(default_factory=list)  # replaces the image Cmd
    working_dir: str = ""
    envs: list[tuple[str, str]] = field(default_factory=list)  # after the image's Env, later wins
    mounts: list[Mount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""  # relative to the sandbox's log_directory, e.g. "<name>/<attempt>.log"
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    resources: LinuxContainerResources = field(default_factory=LinuxContainerResources)
    security: LinuxContainerSecurityContext = field(default_factory=LinuxContainerSecurityContext)
    stop_signal: str = ""  # "" = the image's STOPSIGNAL, else SIGTERM


@dataclass
class ContainerStatus:
    id: str
    pod_sandbox_id: str
    metadata: ContainerMetadata
    state: ContainerState
    created_at: int
    image: str
    image_ref: str  # the resolved image id (sha256:...)
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""  # "Completed", "Error", "OOMKilled" once exited
    message: str = ""  # the termination message, if the container wrote one
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""  # absolute path of the CRI-format log file


@dataclass
class ContainerStats:
    id: str
    name: str
    pod_sandbox_id: str
    timestamp: int
    cpu_usage_core_nanoseconds: int
    memory_working_set_bytes: int
    memory_usage_bytes: int = 0
    rootfs_used_bytes: int = 0


@dataclass
class PodSandboxStats:
    id: str
    timestamp: int
    cpu_usage_core_nanoseconds: int
    memory_working_set_bytes: int
    memory_usage_bytes: int = 0


@dataclass
class ExecSyncResult:
    stdout: bytes
    stderr: bytes
    exit_code: int
    timed_out: bool = False


@dataclass
class TerminalSize:
    width: int
    height: int


@dataclass
class StreamIO:
    """The client side of an exec or attach, as the kubelet's streaming server presents it to the runtime.

    `stdin` yields what the client types and ends at the client's EOF (None: no stdin). `stdout`/`stderr`
    deliver output to the client (None: not requested; with `tty`, stderr is merged into stdout). `resize`
    yields terminal sizes (tty only).
    """

    stdin: AsyncIterator[bytes] | None = None
    stdout: Callable[[bytes], Awaitable[None]] | None = None
    stderr: Callable[[bytes], Awaitable[None]] | None = None
    tty: bool = False
    resize: AsyncIterator[TerminalSize] | None = None


@dataclass
class Image:
    id: str  # sha256:<config digest>
    repo_tags: list[str] = field(default_factory=list)  # docker.io/library/busybox:1.36
    repo_digests: list[str] = field(default_factory=list)  # docker.io/library/busybox@sha256:...
    size: int = 0
    user: str = ""  # the image config's User (resolved to ids by the runtime)
    pinned: bool = False


@dataclass
class ImageFsInfo:
    mountpoint: str
    used_bytes: int
    capacity_bytes: int
    available_bytes: int
    inodes_used: int = 0


@dataclass
class AuthConfig:
    username: str = ""
    password: str = ""
    auth: str = ""  # base64 user:password, as in a docker config
    identity_token: str = ""
    registry_token: str = ""


@dataclass
class RuntimeVersion:
    runtime_name: str
    runtime_version: str
    runtime_api_version: str = "v1"


class RuntimeService(Protocol):
    """Pod sandboxes and containers (CRI RuntimeService)."""

    async def version(self) -> RuntimeVersion: ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        """Make the pod's network namespace (CNI set up, IP assigned) and its cgroup; returns the sandbox id."""

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Stop every container still running in it (SIGKILL) and tear the network down. Idempotent."""

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Remove its containers and everything on disk. Idempotent; unknown ids succeed."""

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    async def create_container(self, sandbox_id: str, config: ContainerConfig,
                               sandbox_config: PodSandboxConfig) -> str:
        """Prepare the container (rootfs, bundle, log file); it is CONTAINER_CREATED. Returns its id."""

    async def start_container(self, container_id: str) -> None:
        """Start the created container's process; it is CONTAINER_RUNNING when this returns."""

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """Send the stop signal, wait up to `timeout` seconds, then SIGKILL; returns once it has exited.
        Idempotent. The caller runs preStop hooks before this."""

    async def remove_container(self, container_id: str) -> None:
        """Delete a stopped container and its rootfs (its log file stays with the pod's logs). Idempotent."""

    async def list_containers(self) -> list[ContainerStatus]: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def exec_sync(self, container_id: str, cmd: list[str], timeout: float) -> ExecSyncResult:
        """Run `cmd` in the container and collect its output (exec probes, hooks). timeout <= 0: none."""

    async def exec(self, container_id: str, cmd: list[str], io: StreamIO) -> int:
        """Run `cmd` in the container wired to `io`; returns its exit code once it has ended."""

    async def attach(self, container_id: str, io: StreamIO) -> None:
        """Wire `io` to the running container's stdio until the client or the container goes away."""

    async def port_forward(self, sandbox_id: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a TCP connection to 127.0.0.1:`port` inside the sandbox's network namespace."""

    async def container_stats(self, container_id: str) -> ContainerStats: ...

    async def list_container_stats(self) -> list[ContainerStats]: ...

    async def pod_sandbox_stats(self, sandbox_id: str) -> PodSandboxStats: ...


class ImageService(Protocol):
    """The node's image store (CRI ImageService)."""

    async def pull_image(self, ref: str, auth: AuthConfig | None = None) -> str:
        """Fetch the image (honouring registry mirrors) and unpack it; returns the image id."""

    async def image_status(self, ref: str) -> Image | None:
        """The image named by tag, digest reference or id; None when not present."""

    async def list_images(self) -> list[Image]: ...

    async def remove_image(self, ref: str) -> None:
        """Untag/remove; idempotent. Raises CRIError while a container uses it."""

    async def image_fs_info(self) -> ImageFsInfo: ...
