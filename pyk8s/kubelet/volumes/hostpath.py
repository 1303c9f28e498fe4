"""hostPath volumes: the node's own path, checked (or created) according to the volume's `type`.

Messages are upstream's (pkg/volume/hostpath checkType): `hostPath type check failed: /x is not a directory`.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from pyk8s.kubelet.volumes.errors import VolumeError

Obj = dict[str, Any]


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except OSError:
        return None


def check_type(path: str, type_: str) -> None:
    """Check `path` against a HostPathType, creating it for DirectoryOrCreate / FileOrCreate."""
    mode = _mode(path)
    if type_ == "":
        return
    if type_ == "DirectoryOrCreate":
        if mode is None:
            os.makedirs(path, 0o755, exist_ok=True)
            return
        type_ = "Directory"
    elif type_ == "FileOrCreate":
        if mode is None:
            os.makedirs(os.path.dirname(path) or "/", 0o755, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
            os.close(fd)
            return
        type_ = "File"
    checks = {
        "Directory": (stat.S_ISDIR, "is not a directory"),
        "File": (stat.S_ISREG, "is not a file"),
        "Socket": (stat.S_ISSOCK, "is not a socket file"),
        "CharDevice": (stat.S_ISCHR, "is not a character device"),
        "BlockDevice": (stat.S_ISBLK, "is not a block device"),
    }
    if type_ not in checks:
        raise VolumeError(f"{type_} is an invalid volume type")
    test, message = checks[type_]
    if mode is None or not test(mode):
        raise VolumeError(f"hostPath type check failed: {path} {message}")


def set_up(volume: Obj) -> str:
    """The host path the volume names, after its type check."""
    source = volume.get("hostPath") or {}
    path = str(source.get("path") or "")
    check_type(path, str(source.get("type") or ""))
    return path
