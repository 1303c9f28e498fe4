"""Take a node's containers and their traces off the machine (what `kubeadm reset` does for a kubelet).

The kubelet leaves containers running when it exits, as upstream does, so a stopped node still has runc
containers, their shims, overlay and volume mounts, pod network namespaces and cgroups. `reset_node` removes
all of them for one node's directories; `pyk8s down` and the tests' node harness call it. It only touches
what lies under the given runc root, directories, namespace prefix and cgroup root, and only signals
processes that are runc containers of that root or shims whose bundle lies under the runtime dir.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from pyk8s.base import netns
from pyk8s.kubelet.cri.runc import cgroups

log = logging.getLogger("pyk8s.kubelet.reset")


@dataclass
class NodeDirs:
    runc_root: str
    runtime_dir: str
    cgroup_root: str
    mount_roots: list[str] = field(default_factory=list)  # unmount everything under these (kubelet root, runtime)
    netns_dir: str = "/run/netns"
    netns_prefix: str = ""  # pod namespaces named <prefix>...; "" = none


def _runc(runc_root: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["runc", "--root", runc_root, *args], capture_output=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:  # a hung runc must not stop the rest of the clean-up
        log.warning("runc %s timed out", " ".join(args))
        return subprocess.CompletedProcess(args, 1, b"", b"timed out")


def _containers(runc_root: str) -> list[dict[str, object]]:
    if not os.path.isdir(runc_root):
        return []
    out = _runc(runc_root, "list", "--format", "json")
    try:
        return list(json.loads(out.stdout or b"null") or [])
    except ValueError:
        return []


def _shim_pids(runtime_dir: str) -> list[int]:
    """Shims whose container dir lies under runtime_dir (their argv names it)."""
    found = []
    prefix = os.path.abspath(runtime_dir).encode() + b"/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"pyk8s.kubelet.cri.runc.shim" in argv and any(a.startswith(prefix) for a in argv):
            found.append(int(entry))
    return found


def _mounts_under(roots: list[str]) -> list[str]:
    prefixes = [os.path.abspath(r).rstrip("/") + "/" for r in roots]
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if any(point.startswith(p) or point + "/" == p for p in prefixes):
                points.append(point)
    return sorted(set(points), key=lambda p: -p.count("/"))


def reset_node(dirs: NodeDirs, *, timeout: float = 20.0) -> list[str]:
    """Kill and delete every container, unmount, unpin pod namespaces, remove cgroups; returns what is left."""
    for c in _containers(dirs.runc_root):
        cid = str(c.get("id"))
        if c.get("status") in ("running", "created", "paused"):
            _runc(dirs.runc_root, "kill", "--all", cid, "KILL")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(c.get("status") in ("running", "paused") for c in _containers(dirs.runc_root)):
            break
        time.sleep(0.05)
    for c in _containers(dirs.runc_root):
        _runc(dirs.runc_root, "delete", "--force", str(c.get("id")))
    for pid in _shim_pids(dirs.runtime_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left: list[str] = []
    for point in _mounts_under(dirs.mount_roots):
        if subprocess.run(["umount", "-l", point], capture_output=True, check=False).returncode != 0:
            left.append(f"mount {point}")
    if dirs.netns_prefix and os.path.isdir(dirs.netns_dir):
        for name in sorted(os.listdir(dirs.netns_dir)):
            if name.startswith(dirs.netns_prefix):
                try:
                    netns.unpin_netns(os.path.join(dirs.netns_dir, name))
                except OSError as e:
                    left.append(f"netns {name}: {e}")
    if dirs.cgroup_root.strip("/"):
        while time.monotonic() < deadline:
            remaining = cgroups.remove_tree(dirs.cgroup_root)
            if not remaining:
                break
            time.sleep(0.05)
        left += [f"cgroup {d}" for d in cgroups.remove_tree(dirs.cgroup_root)]
    return left
