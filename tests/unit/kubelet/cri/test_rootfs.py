"""The container rootfs helpers: the overlay's mount options, and reading a file through the image layers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyk8s.kubelet.cri.interface import CRIError
from pyk8s.kubelet.cri.runc import rootfs


def layer(tmp: Path, name: str, files: dict[str, str]) -> str:
    root = tmp / name
    root.mkdir()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, 0o020000, os.makedev(0, 0))


def test_overlay_options_stack_layers_top_first_and_make_the_dirs(tmp_path: Path) -> None:
    cdir = tmp_path / "c"
    opts = rootfs.overlay_options(["/layers/a", "/layers/b"], str(cdir))
    assert opts == f"lowerdir=/layers/b:/layers/a,upperdir={cdir}/upper,workdir={cdir}/work"
    assert all((cdir / d).is_dir() for d in ("rootfs", "upper", "work"))
    with pytest.raises(CRIError, match="no layers"):
        rootfs.overlay_options([], str(cdir))


def test_overlay_options_shorten_long_layer_paths_with_symlinks(tmp_path: Path) -> None:
    layers = [f"/var/lib/images/{'x' * 200}/{i}" for i in range(30)]
    cdir = tmp_path / "c"
    opts = rootfs.overlay_options(layers, str(cdir))
    lowers = opts.split(",")[0].removeprefix("lowerdir=").split(":")
    assert [os.readlink(p) for p in lowers] == list(reversed(layers))
    assert len(opts) < rootfs.PAGE


def test_read_image_file_takes_the_top_layer_and_honours_whiteouts(tmp_path: Path) -> None:
    low = layer(tmp_path, "low", {"etc/passwd": "low\n", "etc/group": "g-low\n", "etc/gone": "x"})
    high = layer(tmp_path, "high", {"etc/passwd": "high\n"})
    whiteout(Path(high) / "etc" / "gone")
    assert rootfs.read_image_file([low, high], "etc/passwd") == "high\n"
    assert rootfs.read_image_file([low, high], "/etc/group") == "g-low\n"  # only the lower layer has it
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([low, high], "etc/gone")
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([low, high], "etc/shadow")


def make_opaque(directory: Path) -> None:
    try:
        os.setxattr(directory, "trusted.overlay.opaque", b"y")
    except OSError as e:  # trusted.* xattrs need CAP_SYS_ADMIN and a file system that keeps them
        pytest.skip(f"cannot set trusted.overlay.opaque here: {e.strerror}")


def test_read_image_file_stops_at_an_opaque_directory(tmp_path: Path) -> None:
    low = layer(tmp_path, "low", {"etc/group": "g-low\n"})
    high = layer(tmp_path, "high", {"etc/passwd": "high\n"})
    make_opaque(Path(high) / "etc")
    assert rootfs.read_image_file([low, high], "etc/passwd") == "high\n"
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([low, high], "etc/group")


def test_read_image_file_stops_below_an_opaque_ancestor(tmp_path: Path) -> None:
    low = layer(tmp_path, "low", {"a/b/c": "low\n"})
    high = layer(tmp_path, "high", {"a/b/other": ""})
    make_opaque(Path(high) / "a")
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([low, high], "a/b/c")


def test_read_image_file_resolves_symlinks_inside_the_image(tmp_path: Path) -> None:
    low = layer(tmp_path, "low", {"usr/share/base-passwd/passwd": "root:x:0:0::/:/bin/sh\n"})
    high = layer(tmp_path, "high", {"etc/.keep": ""})
    os.symlink("../usr/share/base-passwd/passwd", Path(high) / "etc" / "passwd")  # relative
    os.symlink("/usr/share/base-passwd/passwd", Path(high) / "etc" / "group")  # absolute: the image's root
    os.symlink("usr", Path(high) / "u")
    assert rootfs.read_image_file([low, high], "etc/passwd") == "root:x:0:0::/:/bin/sh\n"
    assert rootfs.read_image_file([low, high], "etc/group") == "root:x:0:0::/:/bin/sh\n"
    assert rootfs.read_image_file([low, high], "u/share/base-passwd/passwd").startswith("root:")
    os.symlink("loop", Path(high) / "loop")
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([low, high], "loop")


def test_read_image_file_never_follows_a_symlink_to_the_node(tmp_path: Path) -> None:
    secret = tmp_path / "node-secret"
    secret.write_text("node only\n")
    img = layer(tmp_path, "img", {"etc/hosts": ""})
    os.symlink(str(secret), Path(img) / "etc" / "passwd")  # absolute: resolved inside the image, where it is not
    os.symlink("../../../../../../../..", Path(img) / "up")  # ".." stops at the image's root
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([img], "etc/passwd")
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([img], f"up{secret}")
    assert rootfs.read_image_file([img], "up/etc/hosts") == ""
