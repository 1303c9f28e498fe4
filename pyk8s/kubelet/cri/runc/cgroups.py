"""The node's cgroup tree as the runc runtime uses it: pod cgroups, container stats, OOM counts, removal.

Works on cgroup v1 (one hierarchy per controller, as on this machine) and v2 (unified). Paths given to these
functions are cgroup paths ("/pyk8s/node1/kubepods/pod<uid>/<cid>"), the same strings runc gets as cgroupsPath.
Synchronous file I/O on cgroupfs is cheap (no disk), so callers may use it from the event loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CGROUP_MOUNT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "hugetlb",
                  "net_cls", "net_prio", "perf_event", "rdma", "systemd", "misc")


def is_v2(mount: str = CGROUP_MOUNT) -> bool:
    return os.path.exists(os.path.join(mount, "cgroup.controllers"))


def _join(base: str, path: str) -> str:
    return os.path.join(base, path.lstrip("/"))


def controller_dirs(path: str, mount: str = CGROUP_MOUNT) -> list[str]:
    """Every directory that stands for cgroup `path` (one per v1 hierarchy, including the controller-less
    unified one of a hybrid setup, where runc also makes dirs; or the single v2 one)."""
    if is_v2(mount):
        return [_join(mount, path)]
    dirs = []
    for name in sorted(os.listdir(mount)):
        root = os.path.join(mount, name)
        if os.path.islink(root) or not os.path.isdir(root):
            continue
        dirs.append(_join(root, path))
    return dirs


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _stat_file(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = _read(path)
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def ensure_pod_cgroup(path: str, *, cpu_shares: int = 0, cpu_quota: int = 0, cpu_period: int = 0,
                      memory_limit: int = 0, mount: str = CGROUP_MOUNT) -> None:
    """Create the pod cgroup (cpu and memory; runc makes the rest on demand) and set the pod-level limits."""
    if is_v2(mount):
        d = _join(mount, path)
        os.makedirs(d, exist_ok=True)
        if cpu_shares:
            # v2 weight from v1 shares, the formula runc uses.
            _write(os.path.join(d, "cpu.weight"), str(1 + ((cpu_shares - 2) * 9999) // 262142))
        if cpu_quota:
            _write(os.path.join(d, "cpu.max"), f"{cpu_quota} {cpu_period or 100000}")
        if memory_limit:
            _write(os.path.join(d, "memory.max"), str(memory_limit))
        return
    cpu = _join(os.path.join(mount, "cpu"), path)
    mem = _join(os.path.join(mount, "memory"), path)
    os.makedirs(cpu, exist_ok=True)
    os.makedirs(mem, exist_ok=True)
    if cpu_shares:
        _write(os.path.join(cpu, "cpu.shares"), str(cpu_shares))
    if cpu_quota:
        _write(os.path.join(cpu, "cpu.cfs_period_us"), str(cpu_period or 100000))
        _write(os.path.join(cpu, "cpu.cfs_quota_us"), str(cpu_quota))
    if memory_limit:
        _write(os.path.join(mem, "memory.limit_in_bytes"), str(memory_limit))


def remove_tree(path: str, mount: str = CGROUP_MOUNT) -> list[str]:
    """Remove the cgroup `path` and everything under it, leaf-first, in every hierarchy.
    Returns the directories that could not be removed (still holding processes)."""
    left: list[str] = []
    for top in controller_dirs(path, mount):
        if not os.path.isdir(top):
            continue
        for dirpath, _dirnames, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(dirpath)
    return left


@dataclass
class CgroupStats:
    cpu_usage_ns: int
    memory_usage_bytes: int
    memory_working_set_bytes: int
    oom_kills: int


def oom_kill_file(path: str, mount: str = CGROUP_MOUNT) -> str:
    """The file whose `oom_kill N` line counts OOM kills of cgroup `path`."""
    if is_v2(mount):
        return os.path.join(_join(mount, path), "memory.events")
    return os.path.join(_join(os.path.join(mount, "memory"), path), "memory.oom_control")


def oom_kills(path: str, mount: str = CGROUP_MOUNT) -> int:
    return _stat_file(oom_kill_file(path, mount)).get("oom_kill", 0)


def stats(path: str, mount: str = CGROUP_MOUNT) -> CgroupStats:
    """CPU usage (ns), memory usage and working set (usage minus inactive file pages) and OOM kills."""
    if is_v2(mount):
        d = _join(mount, path)
        cpu_ns = _stat_file(os.path.join(d, "cpu.stat")).get("usage_usec", 0) * 1000
        try:
            usage = int(_read(os.path.join(d, "memory.current")).strip())
        except (OSError, ValueError):
            usage = 0
        inactive = _stat_file(os.path.join(d, "memory.stat")).get("inactive_file", 0)
    else:
        try:
            cpu_ns = int(_read(os.path.join(_join(os.path.join(mount, "cpuacct"), path), "cpuacct.usage")).strip())
        except (OSError, ValueError):
            cpu_ns = 0
        mem = _join(os.path.join(mount, "memory"), path)
        try:
            usage = int(_read(os.path.join(mem, "memory.usage_in_bytes")).strip())
        except (OSError, ValueError):
            usage = 0
        inactive = _stat_file(os.path.join(mem, "memory.stat")).get("total_inactive_file", 0)
    working = max(0, usage - inactive)
    return CgroupStats(cpu_usage_ns=cpu_ns, memory_usage_bytes=usage, memory_working_set_bytes=working,
                       oom_kills=oom_kills(path, mount))
