from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
import zstandard

from pyk8s.kubelet.cri.runc.images.unpack import OPAQUE_XATTR, UnpackError, unpack_layer

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown, trusted xattrs)")


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644, link: str = "",
          uid: int = 0, gid: int = 0) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid, info.mtime = kind, mode, link, uid, gid, 1_600_000_000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def make_tar(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def unpack(data: bytes, dest: Path) -> str:
    dest.mkdir(exist_ok=True)
    return unpack_layer(io.BytesIO(data), str(dest)).diff_id


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, lambda b: zstandard.ZstdCompressor().compress(b)],
                         ids=["plain", "gzip", "zstd"])
def test_files_modes_links_and_diff_id(tmp_path: Path, compress) -> None:  # type: ignore[no-untyped-def]
    plain = make_tar(entry("bin", tarfile.DIRTYPE, mode=0o755), entry("bin/tool", data=b"#!x", mode=0o4755),
                     entry("bin/alias", tarfile.SYMTYPE, link="tool"), entry("bin/hard", tarfile.LNKTYPE,
                                                                                  link="bin/tool"),
                     entry("tmp", tarfile.DIRTYPE, mode=0o1777), entry("home/user/f", data=b"x", uid=1000, gid=1000),
                     entry("abs", tarfile.SYMTYPE, link="/etc/passwd"))
    diff_id = unpack(compress(plain), tmp_path / "fs")
    assert diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    fs = tmp_path / "fs"
    assert (fs / "bin/tool").read_bytes() == b"#!x"
    assert os.readlink(fs / "bin/alias") == "tool"
    assert os.readlink(fs / "abs") == "/etc/passwd"
    assert os.stat(fs / "bin/hard").st_ino == os.stat(fs / "bin/tool").st_ino
    assert stat.S_IMODE(os.stat(fs / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(fs / "bin/tool").st_mode) == 0o4755
    assert os.stat(fs / "bin/tool").st_mtime == 1_600_000_000
    if os.geteuid() == 0:
        assert (os.stat(fs / "home/user/f").st_uid, os.stat(fs / "home/user/f").st_gid) == (1000, 1000)


@needs_root
def test_whiteouts_become_overlay_form(tmp_path: Path) -> None:
    data = make_tar(entry("etc", tarfile.DIRTYPE, mode=0o755), entry("etc/.wh.gone"),
                    entry("opaque", tarfile.DIRTYPE, mode=0o755), entry("opaque/.wh..wh..opq"),
                    entry("opaque/kept", data=b"k"))
    unpack(data, tmp_path / "fs")
    gone = os.lstat(tmp_path / "fs/etc/gone")
    assert stat.S_ISCHR(gone.st_mode) and gone.st_rdev == os.makedev(0, 0)
    assert not (tmp_path / "fs/etc/.wh.gone").exists()
    assert os.getxattr(tmp_path / "fs/opaque", OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(tmp_path / "fs/opaque")) == ["kept"]


def test_dotdot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnpackError, match="escapes"):
        unpack(make_tar(entry("../evil", data=b"x")), tmp_path / "fs")
    assert not (tmp_path / "evil").exists()


def test_symlinked_parents_stay_inside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = make_tar(entry("root", tarfile.SYMTYPE, link="/"), entry("root/escaped", data=b"1"),
                    entry("up", tarfile.SYMTYPE, link="../../outside"), entry("up/escaped2", data=b"2"),
                    entry("abs", tarfile.SYMTYPE, link=str(outside)), entry("abs/escaped3", data=b"3"))
    unpack(data, tmp_path / "fs")
    assert os.listdir(outside) == []
    assert (tmp_path / "fs/escaped").read_bytes() == b"1"
    assert (tmp_path / "fs/outside/escaped2").read_bytes() == b"2"
    assert (tmp_path / "fs" / str(outside).lstrip("/") / "escaped3").read_bytes() == b"3"


def test_hardlink_out_of_layer_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s")
    with pytest.raises(UnpackError):
        unpack(make_tar(entry("h", tarfile.LNKTYPE, link="../secret")), tmp_path / "fs")
    with pytest.raises(UnpackError, match="missing"):
        unpack(make_tar(entry("h", tarfile.LNKTYPE, link="nothere")), tmp_path / "fs2")


def test_later_entries_replace_earlier(tmp_path: Path) -> None:
    data = make_tar(entry("x", tarfile.DIRTYPE), entry("x/y", data=b"1"), entry("x", data=b"file now"),
                    entry("l", tarfile.SYMTYPE, link="a"), entry("l", tarfile.SYMTYPE, link="b"))
    unpack(data, tmp_path / "fs")
    assert (tmp_path / "fs/x").read_bytes() == b"file now"
    assert os.readlink(tmp_path / "fs/l") == "b"


def test_directory_replaced_by_a_symlink_gets_no_metadata_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("host file")
    victim.chmod(0o600)
    data = make_tar(entry("a", tarfile.DIRTYPE, mode=0o777), entry("a", tarfile.SYMTYPE, link=str(victim)))
    unpack(data, tmp_path / "fs")
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert os.readlink(tmp_path / "fs/a") == str(victim)


def test_garbage_is_an_unpack_error(tmp_path: Path) -> None:
    with pytest.raises(UnpackError):
        unpack(gzip.compress(b"not a tar" * 200), tmp_path / "fs")
