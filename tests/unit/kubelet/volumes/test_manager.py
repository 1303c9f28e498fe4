"""VolumeManager against a FakeClient: paths, projected kube-api-access volumes and token renewal, refresh of
changed ConfigMaps, tmpfs-backed secrets, fsGroup ownership, FailedMount messages, unmount clean-up."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyk8s.base.clock import FakeClock
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import CONFIGMAPS, SECRETS, SERVICE_ACCOUNTS
from pyk8s.kubelet.volumes import VolumeError, VolumeManager, emptydir

Obj = dict[str, Any]
ROOT = os.geteuid() == 0

KUBE_API_ACCESS = {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                  "fieldPath": "metadata.namespace"}}]}},
]}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> FakeClient:
    fake = FakeClient(clock=clock)
    fake.seed(CONFIGMAPS, {"metadata": {"name": "kube-root-ca.crt", "namespace": "ns"}, "data": {"ca.crt": "CA"}})
    fake.seed(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "ns"}, "data": {"k": "v1"}})
    fake.seed(SECRETS, {"metadata": {"name": "sec", "namespace": "ns"},
                        "data": {"pw": base64.b64encode(b"s3cret").decode()}})
    fake.seed(SERVICE_ACCOUNTS, {"metadata": {"name": "default", "namespace": "ns"}})
    return fake


@pytest.fixture
def manager(client: FakeClient, clock: FakeClock, tmp_path: Path) -> Iterator[VolumeManager]:
    vm = VolumeManager(client, str(tmp_path / "pods"), node_name="node-1", clock=clock, memory_backed_secrets=ROOT,
                       token_audiences=["https://kubernetes.default.svc"])
    yield vm
    for point in emptydir.mount_points(str(tmp_path)):  # never leave a mount behind, even on failure
        emptydir.unmount(point)


def make_pod(*volumes: Obj, **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u-1", "labels": {"v": "1"}},
            "spec": {"containers": [{"name": "c"}], "volumes": list(volumes), **spec}}


def token_requests(client: FakeClient) -> list[Any]:
    return [a for a in client.actions if a.verb == "create_subresource" and a.subresource == "token"]


async def test_paths_per_plugin(manager: VolumeManager, tmp_path: Path) -> None:
    host = tmp_path / "host"
    pod = make_pod({"name": "e", "emptyDir": {}}, {"name": "h", "hostPath": {"path": str(host),
                                                                             "type": "DirectoryOrCreate"}},
                   {"name": "c", "configMap": {"name": "cfg"}}, {"name": "s", "secret": {"secretName": "sec"}},
                   {"name": "d", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}})
    paths = await manager.mount(pod)
    vols = tmp_path / "pods" / "u-1" / "volumes"
    assert paths == {"e": str(vols / "kubernetes.io~empty-dir" / "e"), "h": str(host),
                     "c": str(vols / "kubernetes.io~configmap" / "c"), "s": str(vols / "kubernetes.io~secret" / "s"),
                     "d": str(vols / "kubernetes.io~downward-api" / "d")}
    assert Path(paths["c"], "k").read_text() == "v1"
    assert Path(paths["s"], "pw").read_text() == "s3cret"
    assert Path(paths["d"], "n").read_text() == "web"
    assert host.is_dir()
    if ROOT:
        assert emptydir.is_mount_point(paths["s"])  # secrets live on tmpfs
    await manager.unmount("u-1")
    assert not (tmp_path / "pods" / "u-1").exists()
    assert emptydir.mount_points(str(tmp_path)) == []
    assert host.is_dir()  # hostPath is never removed
    await manager.unmount("u-1")  # idempotent


async def test_kube_api_access_volume(manager: VolumeManager, client: FakeClient) -> None:
    paths = await manager.mount(make_pod(KUBE_API_ACCESS))
    vol = Path(paths["kube-api-access-abcde"])
    assert sorted(p for p in os.listdir(vol) if not p.startswith("..")) == ["ca.crt", "namespace", "token"]
    assert (vol / "ca.crt").read_text() == "CA" and (vol / "namespace").read_text() == "ns"
    assert (vol / "token").read_text().startswith("fake-token.")
    assert os.stat(vol / "token").st_mode & 0o777 == 0o644
    [req] = token_requests(client)
    assert (req.name, req.namespace) == ("default", "ns")
    assert req.body["spec"] == {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3607,
                                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web", "uid": "u-1"}}
    await manager.unmount("u-1")


async def test_token_renewed_after_80_percent(manager: VolumeManager, client: FakeClient, clock: FakeClock) -> None:
    pod = make_pod(KUBE_API_ACCESS, serviceAccountName="default")
    paths = await manager.mount(pod)
    token_file = Path(paths["kube-api-access-abcde"], "token")
    first = token_file.read_text()
    clock.step(3607 * 0.5)
    await manager.refresh(pod)
    assert token_file.read_text() == first and len(token_requests(client)) == 1
    clock.step(3607 * 0.31)
    await manager.refresh(pod)
    assert token_file.read_text() != first and len(token_requests(client)) == 2
    await manager.unmount("u-1")


async def test_refresh_picks_up_configmap_and_label_changes(manager: VolumeManager, client: FakeClient) -> None:
    pod = make_pod({"name": "c", "configMap": {"name": "cfg"}},
                   {"name": "d", "downwardAPI": {"items": [{"path": "labels",
                                                            "fieldRef": {"fieldPath": "metadata.labels"}}]}})
    paths = await manager.mount(pod)
    data_link = os.readlink(Path(paths["c"], "..data"))
    await manager.refresh(pod)
    assert os.readlink(Path(paths["c"], "..data")) == data_link  # nothing changed, nothing written
    client.seed(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": "ns"}, "data": {"k": "v2", "new": "n"}})
    pod["metadata"]["labels"] = {"v": "2"}
    await manager.refresh(pod)
    assert Path(paths["c"], "k").read_text() == "v2" and Path(paths["c"], "new").read_text() == "n"
    assert Path(paths["d"], "labels").read_text() == 'v="2"'
    await manager.unmount("u-1")


async def test_failed_mount_messages(manager: VolumeManager, tmp_path: Path) -> None:
    pod = make_pod({"name": "ok", "emptyDir": {}}, {"name": "c", "configMap": {"name": "nope"}},
                   {"name": "h", "hostPath": {"path": str(tmp_path / "missing"), "type": "Directory"}},
                   {"name": "p", "persistentVolumeClaim": {"claimName": "x"}})
    with pytest.raises(VolumeError) as e:
        await manager.mount(pod)
    assert str(e.value) == 'MountVolume.SetUp failed for volume "c" : configmap "nope" not found'
    assert e.value.failures["h"] == (f'MountVolume.SetUp failed for volume "h" : hostPath type check failed: '
                                     f'{tmp_path / "missing"} is not a directory')
    assert set(e.value.failures) == {"c", "h", "p"}
    await manager.unmount("u-1")


@pytest.mark.skipif(not ROOT, reason="chown needs root")
async def test_fs_group_ownership(manager: VolumeManager) -> None:
    pod = make_pod({"name": "e", "emptyDir": {}}, {"name": "c", "configMap": {"name": "cfg", "defaultMode": 0o400}},
                   securityContext={"fsGroup": 1234})
    paths = await manager.mount(pod)
    e = os.stat(paths["e"])
    assert e.st_gid == 1234 and e.st_mode & 0o2000
    f = os.stat(Path(paths["c"], "k"))
    assert f.st_gid == 1234 and f.st_mode & 0o777 == 0o440
    await manager.unmount("u-1")


@pytest.mark.skipif(not ROOT, reason="tmpfs needs root")
async def test_memory_emptydir_unmounted_on_unmount(manager: VolumeManager, tmp_path: Path) -> None:
    paths = await manager.mount(make_pod({"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}))
    assert emptydir.is_mount_point(paths["m"])
    await manager.mount(make_pod({"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}))
    assert len(emptydir.mount_points(paths["m"])) == 1
    await manager.unmount("u-1")
    assert emptydir.mount_points(str(tmp_path)) == []


@pytest.mark.skipif(not ROOT, reason="tmpfs needs root")
async def test_unmount_takes_stacked_and_nested_mounts_down(manager: VolumeManager, tmp_path: Path) -> None:
    paths = await manager.mount(make_pod({"name": "m", "emptyDir": {"medium": "Memory"}}))
    nested = Path(paths["m"], "inner")
    nested.mkdir()
    emptydir.mount_tmpfs(str(nested))  # e.g. what a Bidirectional mount brings back from a container
    assert _c_mount_tmpfs(paths["m"]) == 0  # a second tmpfs over the first
    assert emptydir.is_mount_point(paths["m"])
    await manager.unmount("u-1")
    assert emptydir.mount_points(str(tmp_path)) == []
    assert not (tmp_path / "pods" / "u-1").exists()


def _c_mount_tmpfs(path: str) -> int:
    """mount(2) a tmpfs without mount_tmpfs's already-mounted check."""
    return int(emptydir._c().mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, b"mode=0777"))


async def test_projected_sources_are_fetched_at_once(manager: VolumeManager, client: FakeClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    token_asked = asyncio.Event()
    real_get, real_token = client.get, client.create_subresource

    async def get(*args: Any, **kw: Any) -> Obj:
        await asyncio.wait_for(token_asked.wait(), 5)  # the token request must already be in flight
        return await real_get(*args, **kw)

    async def create_subresource(*args: Any, **kw: Any) -> Obj:
        token_asked.set()
        return await real_token(*args, **kw)

    monkeypatch.setattr(client, "get", get)
    monkeypatch.setattr(client, "create_subresource", create_subresource)
    sources: list[Obj] = KUBE_API_ACCESS["projected"]["sources"]  # type: ignore[index]
    ca_first = {"name": "api", "projected": {"sources": sources[::-1]}}
    paths = await manager.mount(make_pod(ca_first))  # one after the other, the ConfigMap read would wait in vain
    vol = Path(paths["api"])
    assert (vol / "ca.crt").read_text() == "CA" and (vol / "token").read_text().startswith("fake-token.")
    await manager.unmount("u-1")
