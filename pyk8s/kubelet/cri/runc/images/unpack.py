"""Unpack one image layer (a tar, gzip- or zstd-compressed or plain) into a directory for overlayfs.

The directory becomes one overlay lowerdir, so whiteouts take overlay's form: `.wh.X` becomes a 0/0 character
device X and `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory. Nothing is written outside the
directory: names with `..` are refused and symlinks met in parent paths are resolved as if the directory were
the root (an absolute or escaping symlink target stays inside). Modes, owners, times, xattrs, symlinks,
hardlinks, devices and fifos are kept.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import zstandard

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_MAX_SYMLINK_HOPS = 255
_CHUNK = 1 << 20


class UnpackError(Exception):
    """The layer is not a valid tar or tries to write outside its directory."""


@dataclass
class UnpackResult:
    diff_id: str  # sha256 of the uncompressed tar
    size: int  # bytes of regular files written
    inodes: int  # entries created


class _HashingReader(io.RawIOBase):
    """Reads through to `raw`, hashing everything read (the layer's DiffID)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hasher = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.hasher.update(data)
        return n


def decompressed(stream: BinaryIO) -> BinaryIO:
    """Wrap `stream` (positioned at the layer's start, seekable or peekable) to yield the plain tar."""
    buffered: Any = stream if hasattr(stream, "peek") else io.BufferedReader(cast(Any, stream))
    head = buffered.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        return cast(BinaryIO, gzip.GzipFile(fileobj=buffered, mode="rb"))
    if head.startswith(_ZSTD_MAGIC):
        return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True))
    return cast(BinaryIO, buffered)


def unpack_layer(stream: BinaryIO, dest: str) -> UnpackResult:
    """Extract the layer read from `stream` into the (existing, empty or partly filled) directory `dest`."""
    hashing = _HashingReader(decompressed(stream))
    reader = io.BufferedReader(hashing, buffer_size=_CHUNK)
    root = os.path.realpath(dest)
    is_root = os.geteuid() == 0
    dir_meta: list[tuple[str, tarfile.TarInfo]] = []
    size = inodes = 0
    try:
        with tarfile.open(fileobj=reader, mode="r|", errorlevel=2) as tar:
            for member in tar:
                written = _extract(tar, member, root, is_root, dir_meta)
                if written >= 0:
                    inodes += 1
                    size += written
        # Past the tar's end blocks: padding still belongs to the DiffID.
        while reader.read(_CHUNK):
            pass
    except (tarfile.TarError, EOFError, zstandard.ZstdError, gzip.BadGzipFile, OSError) as e:
        raise UnpackError(f"invalid layer: {e}") from None
    for path, member in reversed(dir_meta):
        # A later entry may have replaced the directory (with a symlink, say): never follow it out of the layer.
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISDIR(os.lstat(path).st_mode):
                _apply_meta(path, member, is_root)
    return UnpackResult(diff_id="sha256:" + hashing.hasher.hexdigest(), size=size, inodes=inodes)


def _clean_name(name: str) -> str:
    """The member's path relative to the layer root; refuses `..`."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnpackError(f"invalid layer: path {name!r} escapes the layer directory")
    return "/".join(parts)


def resolve_in_root(root: str, rel: str) -> str:
    """The host path of `rel` inside `root` with symlinks in its parents resolved as though root were `/`.

    The last component is not followed. The result is always inside root.
    """
    parts = [p for p in rel.split("/") if p]
    if not parts:
        return root
    resolved: list[str] = []
    pending = parts[:-1]
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise UnpackError(f"invalid layer: too many symlinks resolving {rel!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return os.path.join(root, *resolved, parts[-1])


def _remove(path: str, keep_dir: bool) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            shutil.rmtree(path)
    else:
        os.unlink(path)


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: str, is_root: bool,
             dir_meta: list[tuple[str, tarfile.TarInfo]]) -> int:
    """Create one entry; returns the bytes written (0 for non-files) or -1 when nothing was created."""
    rel = _clean_name(member.name)
    if not rel:
        if member.isdir():
            dir_meta.append((root, member))
        return -1
    path = resolve_in_root(root, rel)
    parent = os.path.dirname(path)
    base = os.path.basename(path)
    _make_parents(root, parent)
    if base == OPAQUE_WHITEOUT:
        os.setxattr(parent, OPAQUE_XATTR, b"y")
        return -1
    if base.startswith(WHITEOUT_PREFIX):
        target = os.path.join(parent, base[len(WHITEOUT_PREFIX):])
        _remove(target, keep_dir=False)
        os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return 0
    written = 0
    if member.isdir():
        _remove(path, keep_dir=True)
        if not os.path.isdir(path):
            os.mkdir(path, 0o700)
        dir_meta.append((path, member))
        return 0
    _remove(path, keep_dir=False)
    if member.isreg():
        src = tar.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if src is not None:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
    elif member.issym():
        os.symlink(member.linkname, path)
    elif member.islnk():
        link_rel = _clean_name(member.linkname)
        target = resolve_in_root(root, link_rel)
        if not os.path.lexists(target) or (os.path.isdir(target) and not os.path.islink(target)):
            raise UnpackError(f"invalid layer: hardlink {member.name!r} to missing {member.linkname!r}")
        os.link(target, path, follow_symlinks=False)
        return 0  # the target carries owner, mode and times
    elif member.ischr() or member.isblk():
        if not is_root:
            return -1
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
        os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
    elif member.isfifo():
        os.mkfifo(path, member.mode & 0o7777)
    else:
        return -1  # sparse/other GNU types are not produced by image builders
    _apply_meta(path, member, is_root)
    return written


def _make_parents(root: str, parent: str) -> None:
    """mkdir -p inside root for directories the tar did not list before their contents."""
    if os.path.isdir(parent):
        return
    rel = os.path.relpath(parent, root)
    current = root
    for part in rel.split(os.sep):
        current = os.path.join(current, part)
        if not os.path.isdir(current):
            _remove(current, keep_dir=False)
            os.mkdir(current, 0o755)


def _apply_meta(path: str, member: tarfile.TarInfo, is_root: bool) -> None:
    if is_root:
        os.lchown(path, member.uid, member.gid)
    for key, value in (member.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(path, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
            except OSError:
                pass  # xattrs the filesystem refuses (e.g. security.* without privileges) are skipped
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
    try:
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    except OSError:
        pass
