"""AtomicWriter: ..data -> timestamped dir, user-visible links, modes, atomic update, stale paths removed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyk8s.kubelet.volumes.atomic_writer import FileProjection, PayloadError, write_atomically


def versions(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir() if p.name.startswith("..") and p.is_dir() and not p.is_symlink())


def test_layout_and_modes(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_atomically(str(target), {"a": FileProjection(b"1", 0o644), "dir/b": FileProjection(b"2", 0o600)})
    data = os.readlink(target / "..data")
    assert data.startswith("..") and versions(target) == [data]
    assert os.readlink(target / "a") == "..data/a"
    assert os.readlink(target / "dir") == "..data/dir"
    assert (target / "a").read_bytes() == b"1" and (target / "dir" / "b").read_bytes() == b"2"
    assert (target / data / "a").stat().st_mode & 0o777 == 0o644
    assert (target / data / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(target)) == sorted(["..data", data, "a", "dir"])


def test_unchanged_payload_writes_nothing(tmp_path: Path) -> None:
    payload = {"a": FileProjection(b"1")}
    write_atomically(str(tmp_path), payload)
    before = os.readlink(tmp_path / "..data")
    assert not write_atomically(str(tmp_path), payload)
    assert os.readlink(tmp_path / "..data") == before
    assert write_atomically(str(tmp_path), {"a": FileProjection(b"1", 0o600)})  # a mode change is a change


def test_update_swaps_version_and_removes_stale(tmp_path: Path) -> None:
    write_atomically(str(tmp_path), {"a": FileProjection(b"1"), "b": FileProjection(b"2")})
    old = os.readlink(tmp_path / "..data")
    held = open(tmp_path / "a", "rb")  # a reader of the old version keeps its file
    try:
        assert write_atomically(str(tmp_path), {"a": FileProjection(b"new"), "c": FileProjection(b"3")})
        assert held.read() == b"1"
    finally:
        held.close()
    new = os.readlink(tmp_path / "..data")
    assert new != old and versions(tmp_path) == [new]
    assert (tmp_path / "a").read_bytes() == b"new" and (tmp_path / "c").read_bytes() == b"3"
    assert not os.path.lexists(tmp_path / "b")
    assert not os.path.lexists(tmp_path / "..data_tmp")


def test_empty_payload(tmp_path: Path) -> None:
    write_atomically(str(tmp_path), {"a": FileProjection(b"1")})
    assert write_atomically(str(tmp_path), {})
    assert sorted(p for p in os.listdir(tmp_path) if not p.startswith("..")) == []


@pytest.mark.parametrize("path", ["/abs", "../up", "a/../../b", "..dots", ""])
def test_bad_paths_rejected(tmp_path: Path, path: str) -> None:
    with pytest.raises(PayloadError):
        write_atomically(str(tmp_path / "v"), {path: FileProjection(b"x")})
