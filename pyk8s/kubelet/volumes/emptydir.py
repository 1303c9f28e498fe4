"""emptyDir volumes: a directory in the pod's volume dir (mode 0777), or a tmpfs when medium is Memory.

Also the tmpfs and mount-table helpers the memory-backed plugins (secret, projected) and unmounting share.
Mounting uses mount(2)/umount2(2) through ctypes; the kubelet stays in the root mount namespace, so the
mounts are visible to runc's bind mounts.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

from pyk8s.api.quantity import Quantity, QuantityError
from pyk8s.kubelet.volumes.errors import VolumeError

Obj = dict[str, Any]

PLUGIN_DIR = "kubernetes.io~empty-dir"
_MNT_DETACH = 2
_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _unescape(field: str) -> str:
    """Undo /proc/self/mountinfo's octal escapes (\\040 for a space)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points(under: str) -> list[str]:
    """Mount points at or below `under` (by real path), deepest first (one read of /proc/self/mountinfo)."""
    base = os.path.realpath(under).rstrip("/")
    prefix = base + "/"
    found: set[str] = set()
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split(" ", 5)[4]
                if "\\" in point:
                    point = _unescape(point)
                if point == base or point.startswith(prefix):
                    found.add(point)
    except OSError:
        return []
    return sorted(found, key=len, reverse=True)


def is_mount_point(path: str) -> bool:
    """Whether something is mounted on `path` (a stat of it and its parent: a mount changes st_dev).

    Only file systems of their own are mounted here (tmpfs), never a bind mount of the same file system."""
    return os.path.ismount(os.path.realpath(path))


def mount_tmpfs(path: str, size_bytes: int = 0) -> None:
    """Mount a tmpfs on `path` (once; a second call is a no-op)."""
    if is_mount_point(path):
        return
    options = "mode=0777" + (f",size={size_bytes}" if size_bytes > 0 else "")
    if _c().mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, options.encode()) != 0:
        err = ctypes.get_errno()
        raise VolumeError(f"mount failed: {os.strerror(err)}\nMounting command: mount\n"
                          f"Mounting arguments: -t tmpfs -o {options} tmpfs {path}")


def unmount(path: str) -> None:
    """Lazily unmount `path` (MNT_DETACH); EINVAL (not a mount point) is ignored."""
    if _c().umount2(os.fsencode(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL, ENOENT
            raise OSError(err, f"unmount {path}: {os.strerror(err)}")


def size_limit_bytes(volume: Obj) -> int:
    raw = (volume.get("emptyDir") or {}).get("sizeLimit")
    if raw in (None, ""):
        return 0
    try:
        return Quantity.from_json(raw).int_value()
    except QuantityError:
        return 0



def set_up(path: str, volume: Obj) -> None:
    """Create the emptyDir at `path`; medium Memory mounts a tmpfs sized by sizeLimit."""
    medium = (volume.get("emptyDir") or {}).get("medium") or ""
    os.makedirs(path, exist_ok=True)
    if medium == "Memory":
        mount_tmpfs(path, size_limit_bytes(volume))
    elif medium != "":
        raise VolumeError(f"unknown storage medium {medium!r}")
    os.chmod(path, 0o777)
