"""Turns a CRI container request into an OCI runtime spec (config.json) for runc.

Pure: the caller supplies the container and sandbox configs, the image config, the paths the runtime prepared
(netns, pod files, termination-log file) and the text of the rootfs' /etc/passwd and /etc/group for name
resolution. The rules follow containerd's CRI plugin and docker's defaults, which upstream pods assume.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from pyk8s.kubelet.cri.interface import ContainerConfig, CRIError, Mount, PodSandboxConfig
from pyk8s.kubelet.cri.runc.seams import ImageConfig

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# docker's (and containerd's) default capability set.
DEFAULT_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

# Every capability runc 1.1 knows (CAP_CHOWN = 0 .. CAP_CHECKPOINT_RESTORE = 40).
ALL_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]

# `runc spec` defaults.
MASKED_PATHS = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

TERMINATION_LOG_PATH = "/dev/termination-log"


@dataclass
class PodFiles:
    """Host files the runtime prepared for the pod (bind-mounted read-write, as kubelet does for /etc/hosts)."""

    hosts: str = ""
    hostname: str = ""
    resolv_conf: str = ""


def normalize_capability(name: str) -> str:
    name = name.strip().upper()
    return name if name.startswith("CAP_") or name == "ALL" else "CAP_" + name


def capabilities(add: list[str], drop: list[str], privileged: bool) -> list[str]:
    """The effective capability set: docker's defaults, minus drops, plus adds ("ALL" on either side)."""
    if privileged:
        return list(ALL_CAPABILITIES)
    adds = [normalize_capability(c) for c in add]
    drops = [normalize_capability(c) for c in drop]
    if "ALL" in adds:
        caps = list(ALL_CAPABILITIES)
    else:
        caps = [] if "ALL" in drops else list(DEFAULT_CAPABILITIES)
        for cap in adds:
            if cap not in caps:
                caps.append(cap)
    if "ALL" in adds:
        # containerd: drops apply after "add ALL".
        caps = [c for c in caps if c not in drops]
    else:
        caps = [c for c in caps if c not in drops or c in adds]
    for cap in caps:
        if cap not in ALL_CAPABILITIES:
            raise CRIError(f"unknown capability {cap!r}")
    return caps


def process_args(config: ContainerConfig, image: ImageConfig) -> list[str]:
    """Kubernetes' rule: `command` replaces the Entrypoint and drops the Cmd; `args` replaces the Cmd."""
    if config.command:
        args = list(config.command) + list(config.args)
    else:
        args = list(image.entrypoint) + list(config.args if config.args else image.cmd)
    if not args:
        raise CRIError(f"no command specified for container {config.metadata.name!r}")
    return args


def merge_env(image_env: list[str], envs: list[tuple[str, str]], hostname: str = "") -> list[str]:
    """Image Env, then the container's; a later value of a name replaces the earlier one in place."""
    merged: dict[str, str] = {}
    if hostname:
        merged["HOSTNAME"] = hostname
    for kv in image_env:
        key, _, value = kv.partition("=")
        merged[key] = value
    for key, value in envs:
        merged[key] = value
    if "PATH" not in merged:
        merged = {"PATH": DEFAULT_PATH.partition("=")[2], **merged}
    return [f"{k}={v}" for k, v in merged.items()]


def _parse_passwd(text: str) -> list[tuple[str, int, int]]:
    entries = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and not line.startswith("#"):
            try:
                entries.append((parts[0], int(parts[2]), int(parts[3])))
            except ValueError:
                continue
    return entries


def _parse_group(text: str) -> list[tuple[str, int, list[str]]]:
    entries = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and not line.startswith("#"):
            try:
                members = [m for m in parts[3].split(",") if m] if len(parts) > 3 else []
                entries.append((parts[0], int(parts[2]), members))
            except ValueError:
                continue
    return entries


def resolve_user(user: str, passwd: str = "", group: str = "", *, run_as_user: int | None = None,
                 run_as_group: int | None = None, supplemental_groups: list[int] | None = None) -> dict[str, Any]:
    """OCI `process.user`: runAsUser/runAsGroup win over the image's User ("name", "uid", "uid:gid", ...);
    names resolve against the rootfs' /etc/passwd and /etc/group, whose memberships add supplementary gids."""
    users = _parse_passwd(passwd)
    groups = _parse_group(group)
    user_part, _, group_part = user.partition(":")
    uid = 0
    gid: int | None = None
    username = ""
    if run_as_user is not None:
        uid = run_as_user
        for name, u, g in users:
            if u == uid:
                username, gid = name, g
                break
    elif user_part:
        if user_part.isdigit():
            uid = int(user_part)
            for name, u, g in users:
                if u == uid:
                    username, gid = name, g
                    break
        else:
            for name, u, g in users:
                if name == user_part:
                    username, uid, gid = name, u, g
                    break
            else:
                raise CRIError(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        for name, u, g in users:
            if u == 0:
                username, gid = name, g
                break
    if run_as_group is not None:
        gid = run_as_group
    elif group_part and run_as_user is None:
        if group_part.isdigit():
            gid = int(group_part)
        else:
            for name, g, _members in groups:
                if name == group_part:
                    gid = g
                    break
            else:
                raise CRIError(f"unable to find group {group_part}: no matching entries in group file")
    additional: list[int] = []
    if username:
        for _name, g, members in groups:
            if username in members and g not in additional:
                additional.append(g)
    for g in supplemental_groups or []:
        if g not in additional:
            additional.append(g)
    result: dict[str, Any] = {"uid": uid, "gid": gid or 0}
    if additional:
        result["additionalGids"] = additional
    return result


def _kernel_mounts(privileged: bool) -> list[dict[str, Any]]:
    sys_options = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    dev: dict[str, Any] = {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                           "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
    if privileged:
        dev = {"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind", "rprivate", "rw"]}
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        dev,
    ]
    if not privileged:
        mounts.append({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                       "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]})
    mounts += [
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    return mounts


def _bind(destination: str, source: str, readonly: bool, propagation: str = "private") -> dict[str, Any]:
    prop = {"private": "rprivate", "rslave": "rslave", "rshared": "rshared"}.get(propagation, "rprivate")
    return {"destination": destination, "type": "bind", "source": source,
            "options": ["rbind", prop, "ro" if readonly else "rw"]}


def volume_mounts(mounts: list[Mount]) -> list[dict[str, Any]]:
    """Bind mounts for the container's volumes, parents before children (containerd sorts by depth)."""
    ordered = sorted(mounts, key=lambda m: len([p for p in posixpath.normpath(m.container_path).split("/") if p]))
    return [_bind(posixpath.normpath(m.container_path), m.host_path, m.readonly, m.propagation) for m in ordered]


def build_spec(config: ContainerConfig, sandbox: PodSandboxConfig, image: ImageConfig, *,
               netns_path: str, cgroups_path: str, pod_files: PodFiles | None = None,
               termination_log: str = "", termination_log_path: str = TERMINATION_LOG_PATH,
               passwd: str = "", group: str = "",
               rootfs: str = "rootfs", nofile: int = 1048576) -> dict[str, Any]:
    """The OCI config.json for one container of a pod (`nofile`: RLIMIT_NOFILE, at most the caller's hard limit)."""
    sec = config.security
    user = resolve_user(image.user, passwd, group, run_as_user=sec.run_as_user, run_as_group=sec.run_as_group,
                        supplemental_groups=sec.supplemental_groups)
    caps = capabilities(sec.add_capabilities, sec.drop_capabilities, sec.privileged)
    process: dict[str, Any] = {
        "terminal": config.tty,
        "user": user,
        "args": process_args(config, image),
        "env": merge_env(image.env, config.envs, sandbox.hostname),
        "cwd": config.working_dir or image.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
        "noNewPrivileges": sec.no_new_privs,
    }
    if config.resources.oom_score_adj:
        process["oomScoreAdj"] = config.resources.oom_score_adj

    mounts = _kernel_mounts(sec.privileged)
    files = pod_files or PodFiles()
    user_paths = {posixpath.normpath(m.container_path) for m in config.mounts}
    for dest, source in (("/etc/hosts", files.hosts), ("/etc/hostname", files.hostname),
                         ("/etc/resolv.conf", files.resolv_conf)):
        if source and dest not in user_paths:
            mounts.append(_bind(dest, source, sec.readonly_rootfs))
    if termination_log and posixpath.normpath(termination_log_path) not in user_paths:
        mounts.append(_bind(posixpath.normpath(termination_log_path), termination_log, False))
    mounts += volume_mounts(config.mounts)

    namespaces: list[dict[str, str]] = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    if not sandbox.host_network:
        namespaces.append({"type": "network", "path": netns_path})
    else:
        namespaces = [ns for ns in namespaces if ns["type"] != "uts"]

    resources: dict[str, Any] = {
        "devices": [{"allow": True, "access": "rwm"}] if sec.privileged else [{"allow": False, "access": "rwm"}],
    }
    r = config.resources
    cpu: dict[str, Any] = {}
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.cpu_quota:
        cpu["quota"] = r.cpu_quota
        cpu["period"] = r.cpu_period or 100000
    elif r.cpu_period:
        cpu["period"] = r.cpu_period
    if cpu:
        resources["cpu"] = cpu
    if r.memory_limit_in_bytes:
        resources["memory"] = {"limit": r.memory_limit_in_bytes, "swap": r.memory_limit_in_bytes}

    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": cgroups_path,
        "resources": resources,
        "maskedPaths": [] if sec.privileged else list(MASKED_PATHS),
        "readonlyPaths": [] if sec.privileged else list(READONLY_PATHS),
    }
    if sandbox.sysctls:
        linux["sysctl"] = dict(sandbox.sysctls)
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": rootfs, "readonly": sec.readonly_rootfs},
        "mounts": mounts,
        "linux": linux,
        "annotations": dict(config.annotations),
    }
    if not sandbox.host_network:
        spec["hostname"] = sandbox.hostname
    return spec
