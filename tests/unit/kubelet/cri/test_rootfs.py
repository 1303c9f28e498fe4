"""The container rootfs helpers: the overlay mount runc makes at "/", and reading a file through image layers."""

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


def test_overlay_root_mount_stacks_layers_top_first_and_makes_its_dirs(tmp_path: Path) -> None:
    cdir = tmp_path / "c"
    m = rootfs.overlay_root_mount(["/layers/a", "/layers/b"], str(cdir))
    assert m == {"destination": "/", "type": "overlay", "source": "overlay",
                 "options": ["lowerdir=/layers/b:/layers/a", f"upperdir={cdir}/upper", f"workdir={cdir}/work"]}
    assert all((cdir / d).is_dir() for d in ("rootfs", "upper", "work"))
    with pytest.raises(CRIError, match="no layers"):
        rootfs.overlay_root_mount([], str(cdir))


def test_overlay_root_mount_shortens_long_layer_paths_with_symlinks(tmp_path: Path) -> None:
    layers = [f"/var/lib/images/{'x' * 200}/{i}" for i in range(30)]
    cdir = tmp_path / "c"
    m = rootfs.overlay_root_mount(layers, str(cdir))
    lowers = m["options"][0].removeprefix("lowerdir=").split(":")
    assert [os.readlink(p) for p in lowers] == list(reversed(layers))
    assert len(",".join(m["options"])) < rootfs.PAGE


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


def test_read_image_file_stops_at_an_opaque_directory(tmp_path: Path) -> None:
    low = layer(tmp_path, "low", {"etc/group": "g-low\n"})
    high = layer(tmp_path, "high", {"etc/passwd": "high\n"})
    try:
        os.setxattr(Path(high) / "etc", "trusted.overlay.opaque", b"y")
    except OSError as e:  # trusted.* xattrs need CAP_SYS_ADMIN and a file system that keeps them
        pytest.skip(f"cannot set trusted.overlay.opaque here: {e.strerror}")
    assert rootfs.read_image_file([low, high], "etc/passwd") == "high\n"
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([low, high], "etc/group")


def test_read_image_file_never_follows_a_symlink_to_the_node(tmp_path: Path) -> None:
    secret = tmp_path / "node-secret"
    secret.write_text("node only\n")
    img = layer(tmp_path, "img", {"etc/hosts": ""})
    os.symlink(str(secret), Path(img) / "etc" / "passwd")
    os.symlink(str(tmp_path), Path(img) / "linked")
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([img], "etc/passwd")
    with pytest.raises(FileNotFoundError):
        rootfs.read_image_file([img], "linked/node-secret")
