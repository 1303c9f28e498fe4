"""fsGroup ownership of a volume (upstream's SetVolumeOwnership): group-owned by fsGroup, group-readable/-writable.

Every file and directory under the volume gets gid fsGroup and the group bits of `0440` (read-only volumes) or
`0660` (writable ones); directories also get setgid and group search, so files made later inherit the group.
Symlinks are not followed (atomic-writer volumes are symlink farms).
"""

from __future__ import annotations

import os
import stat

_RW_MASK = 0o660
_RO_MASK = 0o440


def set_volume_ownership(path: str, fs_group: int | None, *, read_only: bool) -> None:
    if fs_group is None:
        return
    mask = _RO_MASK if read_only else _RW_MASK
    for root, dirs, files in os.walk(path):
        for entry in [root] + [os.path.join(root, n) for n in dirs + files]:
            info = os.lstat(entry)
            if stat.S_ISLNK(info.st_mode):
                continue
            os.lchown(entry, -1, fs_group)
            mode = stat.S_IMODE(info.st_mode) | mask
            if stat.S_ISDIR(info.st_mode):
                mode |= stat.S_ISGID | 0o110
            os.chmod(entry, mode)
