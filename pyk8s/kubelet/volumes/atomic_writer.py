"""Atomic updates of a volume's files (upstream's AtomicWriter), so a reader never sees half of an update.

Layout of a target directory:

    ..2024_05_01_10_00_00.123456789/   the files of one version (a fresh directory per update)
    ..data -> ..2024_05_01_10_00_00.123456789
    <key>  -> ..data/<key>               one user-visible symlink per top-level path of the payload

An update writes a new timestamped directory, points a temporary `..data_tmp` link at it and renames that over
`..data` (one atomic rename), adds links for new top-level paths, removes links for paths no longer present and
finally removes the old version. An unchanged payload writes nothing.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import stat
from dataclasses import dataclass

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"
MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644


class PayloadError(ValueError):
    """A payload path that is absolute, too long or walks out of the volume."""


def _validate(path: str) -> str:
    if not path:
        raise PayloadError("invalid path: must not be empty")
    if len(path) > MAX_PATH_LENGTH:
        raise PayloadError(f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters")
    if path.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {path}")
    parts = path.split("/")
    if ".." in parts:
        raise PayloadError(f"invalid path: must not contain '..': {path}")
    if path.startswith(".."):
        raise PayloadError(f"invalid path: must not start with '..': {path}")
    for part in parts:
        if len(part) > MAX_FILE_NAME_LENGTH:
            raise PayloadError(f"invalid path: filename must be less than or equal to {MAX_FILE_NAME_LENGTH} "
                               f"characters: {path}")
    return os.path.normpath(path)


def _current_version(target: str) -> str | None:
    try:
        name = os.readlink(os.path.join(target, DATA_DIR))
    except OSError:
        return None
    path = os.path.join(target, name)
    return path if os.path.isdir(path) else None


def _paths_in(version_dir: str) -> set[str]:
    out: set[str] = set()
    for root, dirs, files in os.walk(version_dir):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(root, name), version_dir))
    return out


def _unchanged(version_dir: str, payload: dict[str, FileProjection]) -> bool:
    for path, proj in payload.items():
        full = os.path.join(version_dir, path)
        try:
            info = os.lstat(full)
            if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != proj.mode & 0o7777:
                return False
            with open(full, "rb") as f:
                if f.read() != proj.data:
                    return False
        except OSError:
            return False
    return True


def _new_version_dir(target: str) -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    while True:
        path = os.path.join(target, stamp + str(secrets.randbelow(10**9)))
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            continue
        os.chmod(path, 0o755)
        return path


def write_atomically(target: str, payload: dict[str, FileProjection]) -> bool:
    """Make `target` hold exactly `payload` (relative path -> contents and mode). Returns True if anything changed.

    Raises PayloadError for a bad path (nothing is written then).
    """
    clean = {_validate(p): proj for p, proj in payload.items()}
    os.makedirs(target, exist_ok=True)
    old = _current_version(target)
    wanted: set[str] = set()
    for path in clean:
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            wanted.add("/".join(parts[:i]))
    stale = (_paths_in(old) - wanted) if old else set()
    if old and not stale and _unchanged(old, clean):
        return False

    version = _new_version_dir(target)
    try:
        for path, proj in clean.items():
            full = os.path.join(version, path)
            parent = os.path.dirname(full)
            if parent != version:
                os.makedirs(parent, 0o755, exist_ok=True)
            with open(full, "wb") as f:
                f.write(proj.data)
            os.chmod(full, proj.mode & 0o7777)
        tmp_link = os.path.join(target, DATA_DIR_TMP)
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(os.path.basename(version), tmp_link)
        os.rename(tmp_link, os.path.join(target, DATA_DIR))
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise

    for top in {p.split("/")[0] for p in clean}:
        link = os.path.join(target, top)
        if not os.path.lexists(link):
            os.symlink(os.path.join(DATA_DIR, top), link)
    for path in stale:
        if "/" not in path:
            link = os.path.join(target, path)
            if os.path.islink(link):
                os.unlink(link)
    if old and old != version:
        shutil.rmtree(old, ignore_errors=True)
    return True
