"""hostPath type checks, emptyDir (disk and tmpfs), configMap / secret / downwardAPI payloads."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import CONFIGMAPS, SECRETS
from pyk8s.kubelet.volumes import configmap, downwardapi, emptydir, hostpath, secret
from pyk8s.kubelet.volumes.atomic_writer import FileProjection
from pyk8s.kubelet.volumes.errors import VolumeError

Obj = dict[str, Any]


# ------------------------------------------------------------------------------------------------ hostPath

def test_hostpath_create_types(tmp_path: Path) -> None:
    d, f = tmp_path / "new" / "dir", tmp_path / "other" / "file"
    hostpath.check_type(str(d), "DirectoryOrCreate")
    hostpath.check_type(str(f), "FileOrCreate")
    assert d.is_dir() and f.is_file() and f.stat().st_mode & 0o777 == 0o644
    hostpath.check_type(str(d), "DirectoryOrCreate")
    hostpath.check_type(str(f), "FileOrCreate")
    assert hostpath.set_up({"hostPath": {"path": str(d)}}) == str(d)


@pytest.mark.parametrize("type_,target,message", [
    ("Directory", "file", "is not a directory"),
    ("Directory", "missing", "is not a directory"),
    ("DirectoryOrCreate", "file", "is not a directory"),
    ("File", "dir", "is not a file"),
    ("FileOrCreate", "dir", "is not a file"),
    ("Socket", "file", "is not a socket file"),
    ("CharDevice", "file", "is not a character device"),
    ("BlockDevice", "file", "is not a block device"),
])
def test_hostpath_type_errors(tmp_path: Path, type_: str, target: str, message: str) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    path = tmp_path / target
    with pytest.raises(VolumeError) as e:
        hostpath.check_type(str(path), type_)
    assert str(e.value) == f"hostPath type check failed: {path} {message}"


def test_hostpath_good_types(tmp_path: Path) -> None:
    sock_path = tmp_path / "s.sock"
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(sock_path))
        hostpath.check_type(str(sock_path), "Socket")
    finally:
        s.close()
    hostpath.check_type("/dev/null", "CharDevice")
    hostpath.check_type(str(tmp_path), "Directory")
    hostpath.check_type(str(tmp_path / "anything"), "")
    with pytest.raises(VolumeError, match=r"Weird is an invalid volume type"):
        hostpath.check_type(str(tmp_path), "Weird")


# ------------------------------------------------------------------------------------------------ emptyDir

def test_emptydir_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "e"
    emptydir.set_up(str(path), {"name": "e", "emptyDir": {}})
    assert path.is_dir() and path.stat().st_mode & 0o777 == 0o777
    assert not emptydir.is_mount_point(str(path))


@pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs needs root")
def test_emptydir_memory_is_a_sized_tmpfs(tmp_path: Path) -> None:
    path = tmp_path / "m"
    try:
        emptydir.set_up(str(path), {"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}})
        emptydir.set_up(str(path), {"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "4Mi"}})
        assert emptydir.mount_points(str(path)) == [str(path)]  # mounted once
        st = os.statvfs(path)
        assert st.f_blocks * st.f_frsize == 4 * 1024 * 1024
    finally:
        emptydir.unmount(str(path))
    assert not emptydir.is_mount_point(str(path))


def test_emptydir_unknown_medium(tmp_path: Path) -> None:
    with pytest.raises(VolumeError, match=r"unknown storage medium"):
        emptydir.set_up(str(tmp_path / "x"), {"emptyDir": {"medium": "Floppy"}})


# ------------------------------------------------------------------------------------------------ configMap / secret

@pytest.fixture
def client() -> FakeClient:
    fake = FakeClient()
    fake.seed(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "ns"}, "data": {"a": "1", "b": "2"},
                           "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}})
    fake.seed(SECRETS, {"metadata": {"name": "sec", "namespace": "ns"},
                        "data": {"user": base64.b64encode(b"admin").decode()}})
    return fake


async def test_configmap_all_keys_default_mode(client: FakeClient) -> None:
    files = await configmap.payload(client, "ns", {"name": "cfg"})
    assert files == {"a": FileProjection(b"1", 0o644), "b": FileProjection(b"2", 0o644),
                     "bin": FileProjection(b"\x00\x01", 0o644)}
    files = await configmap.payload(client, "ns", {"name": "cfg", "defaultMode": 0o400})
    assert {p.mode for p in files.values()} == {0o400}


async def test_configmap_items_and_modes(client: FakeClient) -> None:
    source = {"name": "cfg", "defaultMode": 0o440, "items": [{"key": "a", "path": "x/y"}, {"key": "b", "path": "b",
                                                                                          "mode": 0o600}]}
    assert await configmap.payload(client, "ns", source) == {"x/y": FileProjection(b"1", 0o440),
                                                           "b": FileProjection(b"2", 0o600)}


async def test_configmap_missing(client: FakeClient) -> None:
    with pytest.raises(VolumeError, match=r'^configmap "nope" not found$'):
        await configmap.payload(client, "ns", {"name": "nope"})
    assert await configmap.payload(client, "ns", {"name": "nope", "optional": True}) == {}
    with pytest.raises(VolumeError, match=r"^configmap references non-existent config key: zz$"):
        await configmap.payload(client, "ns", {"name": "cfg", "items": [{"key": "zz", "path": "z"}]})
    optional = {"name": "cfg", "optional": True, "items": [{"key": "zz", "path": "z"}, {"key": "a", "path": "a"}]}
    assert await configmap.payload(client, "ns", optional) == {"a": FileProjection(b"1", 0o644)}


async def test_secret_decoded(client: FakeClient) -> None:
    assert await secret.payload(client, "ns", {"secretName": "sec"}) == {"user": FileProjection(b"admin", 0o644)}
    with pytest.raises(VolumeError, match=r'^secret "nope" not found$'):
        await secret.payload(client, "ns", {"secretName": "nope"})
    assert await secret.payload(client, "ns", {"secretName": "nope", "optional": True}) == {}
    with pytest.raises(VolumeError, match=r"^references non-existent secret key: k$"):
        await secret.payload(client, "ns", {"secretName": "sec", "items": [{"key": "k", "path": "k"}]})


# ------------------------------------------------------------------------------------------------ downwardAPI

def test_downward_api_items() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "u", "labels": {"b": "2", "a": "1"},
                        "annotations": {"k": "v"}},
           "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi"},
                                                               "requests": {"cpu": "250m"}}}]}}
    items: list[Obj] = [
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}, "mode": 0o400},
        {"path": "ann", "fieldRef": {"fieldPath": "metadata.annotations['k']"}},
        {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "requests.cpu", "divisor": "1m"}},
        {"path": "cpulim", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}},
    ]
    files = downwardapi.payload(pod, items, None, {"cpu": "3"})
    assert files == {"name": FileProjection(b"web"), "labels": FileProjection(b'a="1"\nb="2"', 0o400),
                     "ann": FileProjection(b"v"), "mem": FileProjection(b"64"), "cpu": FileProjection(b"250"),
                     "cpulim": FileProjection(b"3")}
    with pytest.raises(VolumeError, match=r"unsupported fieldPath: spec\.nodeName"):
        downwardapi.payload(pod, [{"path": "n", "fieldRef": {"fieldPath": "spec.nodeName"}}], None, {})
