"""Pulls through ImageStore against a small aiohttp registry on 127.0.0.1 that demands tokens."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import zstandard
from aiohttp import web

from pyk8s.kubelet.cri.interface import AuthConfig, CRIError, ImagePullError, NotFoundError
from pyk8s.kubelet.cri.runc.images.distribution import Platform, parse_challenge
from pyk8s.kubelet.cri.runc.images.mirrors import parse_registries
from pyk8s.kubelet.cri.runc.images.store import ImageStore, chain_ids

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class FakeRegistry:
    """Bearer-token registry: /v2/ and every repository call need `Authorization: Bearer good-token`."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # tag or digest → (media type, body)
    password: str | None = None  # None: anonymous tokens; else basic auth user:password at the token endpoint
    basic_only: bool = False  # answer with a Basic challenge instead of Bearer
    corrupt: set[str] = field(default_factory=set)
    token_scopes: list[str] = field(default_factory=list)
    url: str = ""

    def add_blob(self, data: bytes) -> dict[str, object]:
        self.blobs[digest(data)] = data
        return {"digest": digest(data), "size": len(data)}

    def add_manifest(self, media_type: str, body: dict[str, object], tag: str = "") -> dict[str, object]:
        data = json.dumps({"mediaType": media_type, **body}).encode()
        self.manifests[digest(data)] = (media_type, data)
        if tag:
            self.manifests[tag] = (media_type, data)
        return {"mediaType": media_type, "digest": digest(data), "size": len(data)}

    def add_image(self, layers: list[bytes], arch: str = "amd64", compress: str = "gzip") -> tuple[str, dict]:
        packed = [gzip.compress(x) if compress == "gzip" else zstandard.ZstdCompressor().compress(x) for x in layers]
        media = ("application/vnd.oci.image.layer.v1.tar+gzip" if compress == "gzip"
                 else "application/vnd.oci.image.layer.v1.tar+zstd")
        config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["run"], "User": "1000"},
                             "rootfs": {"type": "layers", "diff_ids": [digest(x) for x in layers]}}).encode()
        desc = self.add_manifest(OCI_MANIFEST, {
            "schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                           **self.add_blob(config)},
            "layers": [{"mediaType": media, **self.add_blob(p)} for p in packed]})
        return digest(config), desc

    def authorized(self, request: web.Request) -> bool:
        if self.basic_only:
            expected = "Basic " + base64.b64encode(f"alice:{self.password}".encode()).decode()
            return request.headers.get("Authorization") == expected
        return request.headers.get("Authorization") == "Bearer good-token"

    def challenge(self) -> web.Response:
        header = ('Basic realm="fake"' if self.basic_only else
                  f'Bearer realm="{self.url}/token",service="fake-registry"')
        return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                                 status=401, headers={"WWW-Authenticate": header})

    async def ping(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({}) if self.authorized(request) else self.challenge()

    async def token(self, request: web.Request) -> web.StreamResponse:
        self.token_scopes.extend(request.query.getall("scope", []))
        if self.password is not None:
            expected = "Basic " + base64.b64encode(f"alice:{self.password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return web.json_response({"details": "bad credentials"}, status=401)
        assert request.query.get("service") == "fake-registry"
        return web.json_response({"token": "good-token"})

    async def manifest(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return self.challenge()
        assert "application/vnd.oci.image.index.v1+json" in request.headers["Accept"]
        found = self.manifests.get(request.match_info["ref"])
        if found is None:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]},
                                     status=404)
        return web.Response(body=found[1], content_type=found[0])

    async def blob(self, request: web.Request) -> web.StreamResponse:
        if not self.authorized(request):
            return self.challenge()
        d = request.match_info["digest"]
        data = self.blobs.get(d)
        if data is None:
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        if d in self.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return web.Response(body=data, content_type="application/octet-stream")


@pytest.fixture
async def registry() -> AsyncIterator[FakeRegistry]:
    reg = FakeRegistry()
    app = web.Application()
    app.router.add_get("/v2/", reg.ping)
    app.router.add_get("/token", reg.token)
    app.router.add_get("/v2/{name:.+}/manifests/{ref}", reg.manifest)
    app.router.add_get("/v2/{name:.+}/blobs/{digest}", reg.blob)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    reg.url = f"http://127.0.0.1:{port}"
    try:
        yield reg
    finally:
        await runner.cleanup()


def host(reg: FakeRegistry) -> str:
    return reg.url.removeprefix("http://")


def store_for(tmp_path: Path, reg: FakeRegistry | None = None, **kw: object) -> ImageStore:
    mirrors = {"mirrors": {"docker.io": {"endpoint": [reg.url]}}} if reg else {}
    return ImageStore(str(tmp_path / "store"), registries=parse_registries(mirrors),
                      platform=Platform("linux", "amd64"), **kw)  # type: ignore[arg-type]


def test_parse_challenge() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                     'scope="repository:library/busybox:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                      "scope": "repository:library/busybox:pull,push"}


async def test_token_auth_and_platform_from_index(registry: FakeRegistry, tmp_path: Path) -> None:
    amd_config, amd = registry.add_image([layer_tar({"amd": b"64"}), layer_tar({"second": b"2"})])
    _, arm = registry.add_image([layer_tar({"arm": b"64"})], arch="arm64")
    arm["platform"] = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    amd["platform"] = {"os": "linux", "architecture": "amd64"}
    index = registry.add_manifest(DOCKER_LIST, {"schemaVersion": 2, "manifests": [arm, amd]}, tag="v1")
    store = store_for(tmp_path)
    image_id = await store.pull_image(f"{host(registry)}/team/app:v1")
    assert image_id == amd_config
    assert "repository:team/app:pull" in registry.token_scopes
    status = await store.image_status(f"{host(registry)}/team/app:v1")
    assert status is not None and status.user == "1000"
    assert status.repo_tags == [f"{host(registry)}/team/app:v1"]
    assert status.repo_digests == [f"{host(registry)}/team/app@{index['digest']}"]
    dirs = store.layer_dirs(image_id)
    assert [os.listdir(d) for d in dirs] == [["amd"], ["second"]]
    assert all(len(os.path.relpath(d, tmp_path / "store")) <= len("snapshots/NN/fs") for d in dirs)
    assert store.image_config(image_id).cmd == ["run"]
    # every name form resolves
    for ref in (image_id, image_id[7:19], f"{host(registry)}/team/app@{index['digest']}"):
        assert store.resolve(ref) == image_id
    # a second store on the same dir (the CLI next to a kubelet) sees the image
    assert store_for(tmp_path).resolve(f"{host(registry)}/team/app:v1") == image_id


async def test_zstd_layer_and_docker_mirror(registry: FakeRegistry, tmp_path: Path) -> None:
    config_digest, desc = registry.add_image([layer_tar({"z": b"zstd!"})], compress="zstd")
    registry.manifests["1.0"] = registry.manifests[str(desc["digest"])]
    store = store_for(tmp_path, registry)
    image_id = await store.pull_image("library/thing:1.0")
    assert image_id == config_digest
    assert Path(store.layer_dirs(image_id)[0], "z").read_bytes() == b"zstd!"
    assert store.resolve("thing:1.0") == image_id


async def test_digest_mismatch_is_a_pull_error(registry: FakeRegistry, tmp_path: Path) -> None:
    _, desc = registry.add_image([layer_tar({"f": b"x" * 1000})])
    registry.manifests["bad"] = registry.manifests[str(desc["digest"])]
    manifest = json.loads(registry.manifests["bad"][1])
    registry.corrupt.add(manifest["layers"][0]["digest"])
    store = store_for(tmp_path)
    with pytest.raises(ImagePullError, match="digest mismatch"):
        await store.pull_image(f"{host(registry)}/x:bad")
    assert await store.list_images() == []
    assert os.listdir(tmp_path / "store/content/ingest") == []


async def test_unknown_manifest_and_credentials(registry: FakeRegistry, tmp_path: Path) -> None:
    store = store_for(tmp_path)
    with pytest.raises(ImagePullError, match="not found"):
        await store.pull_image(f"{host(registry)}/x:none")
    registry.password = "pw"
    _, desc = registry.add_image([layer_tar({"f": b"1"})])
    registry.manifests["v"] = registry.manifests[str(desc["digest"])]
    with pytest.raises(ImagePullError, match="failed to fetch anonymous token"):
        await store.pull_image(f"{host(registry)}/x:v")
    assert await store.pull_image(f"{host(registry)}/x:v", AuthConfig(username="alice", password="pw"))
    # credentials from registries.yaml configs
    other = ImageStore(str(tmp_path / "other"), platform=Platform("linux", "amd64"), registries=parse_registries(
        {"configs": {host(registry): {"auth": {"username": "alice", "password": "pw"}}}}))
    assert await other.pull_image(f"{host(registry)}/x:v")


async def test_basic_challenge(registry: FakeRegistry, tmp_path: Path) -> None:
    registry.basic_only, registry.password = True, "pw"
    _, desc = registry.add_image([layer_tar({"f": b"1"})])
    registry.manifests["v"] = registry.manifests[str(desc["digest"])]
    store = store_for(tmp_path)
    with pytest.raises(ImagePullError, match="unauthorized"):
        await store.pull_image(f"{host(registry)}/x:v")
    auth = AuthConfig(auth=base64.b64encode(b"alice:pw").decode())
    assert await store.pull_image(f"{host(registry)}/x:v", auth)


async def test_retag_remove_in_use_and_prune(registry: FakeRegistry, tmp_path: Path) -> None:
    shared = layer_tar({"base": b"b"})
    first, d1 = registry.add_image([shared, layer_tar({"one": b"1"})])
    second, d2 = registry.add_image([shared, layer_tar({"two": b"2"})])
    registry.manifests["t"] = registry.manifests[str(d1["digest"])]
    busy: set[str] = set()
    store = store_for(tmp_path, in_use=lambda i: i in busy)
    ref = f"{host(registry)}/x:t"
    assert await store.pull_image(ref) == first
    registry.manifests["t"] = registry.manifests[str(d2["digest"])]
    assert await store.pull_image(ref) == second
    assert store.layer_dirs(first)[0] == store.layer_dirs(second)[0]  # shared base unpacked once
    old = await store.image_status(first)
    assert old is not None and old.repo_tags == []  # the tag moved to the new image
    busy.add(second)
    with pytest.raises(CRIError, match="in use"):
        await store.remove_image(ref)
    busy.clear()
    await store.remove_image(ref)
    await store.remove_image(ref)  # idempotent
    assert [i.id for i in await store.list_images()] == [first]
    assert len(os.listdir(tmp_path / "store/snapshots")) == 2
    await store.remove_image(first)
    assert os.listdir(tmp_path / "store/snapshots") == []
    assert os.listdir(tmp_path / "store/content/blobs/sha256") == []
    with pytest.raises(NotFoundError):
        store.layer_dirs(first)
    info = await store.image_fs_info()
    assert info.capacity_bytes > 0 and 0 <= info.available_bytes <= info.capacity_bytes


async def test_concurrent_pulls_share_work(registry: FakeRegistry, tmp_path: Path) -> None:
    shared = layer_tar({"base": b"b" * 100_000})
    first, d1 = registry.add_image([shared, layer_tar({"one": b"1"})])
    second, d2 = registry.add_image([shared, layer_tar({"two": b"2"})])
    registry.manifests["a"] = registry.manifests[str(d1["digest"])]
    registry.manifests["b"] = registry.manifests[str(d2["digest"])]
    store = store_for(tmp_path)
    refs = [f"{host(registry)}/x:a", f"{host(registry)}/x:a", f"{host(registry)}/x:b"]
    assert await asyncio.gather(*(store.pull_image(r) for r in refs)) == [first, first, second]
    assert store.layer_dirs(first)[0] == store.layer_dirs(second)[0]
    assert len(os.listdir(tmp_path / "store/snapshots")) == 3
    assert os.listdir(tmp_path / "store/content/ingest") == []


def test_chain_ids() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, digest(f"{a} {b}".encode())]
