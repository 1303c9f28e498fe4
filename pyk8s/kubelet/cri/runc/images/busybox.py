"""A one-layer busybox image built from the host's busybox-static, without Docker or a registry.

`pyk8s up` imports it into a node's store for its demo Deployment, and the tests push it to their local
registry; `docker_save_tar` and `oci_layout_tar` write it in the two archive formats `pyk8s images import` reads.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import NamedTuple

BUSYBOX_BINARY = "/usr/bin/busybox"
BUSYBOX_APPLETS = ("sh", "httpd", "sleep", "wget", "cat", "echo", "hostname", "ls", "head", "tail", "yes", "env",
                   "id", "touch", "true", "false", "nc")
IMAGE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
_MTIME = 1_700_000_000


class BuiltImage(NamedTuple):
    layer_tar_gz: Path
    config_json: Path
    manifest_json: Path

    @property
    def layer_digest(self) -> str:
        return _digest(self.layer_tar_gz.read_bytes())

    @property
    def config_digest(self) -> str:
        return _digest(self.config_json.read_bytes())

    @property
    def manifest_digest(self) -> str:
        return _digest(self.manifest_json.read_bytes())

    @property
    def image_id(self) -> str:
        """What the node's image store calls it: sha256 of the config."""
        return self.config_digest

    @property
    def diff_id(self) -> str:
        return _digest(gzip.decompress(self.layer_tar_gz.read_bytes()))


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, data: bytes = b"",
         link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = _MTIME
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def busybox_layer(extra_files: dict[str, bytes] | None = None) -> bytes:
    """The uncompressed tar of the busybox image's one layer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("etc", 0o755), ("dev", 0o755), ("proc", 0o555), ("sys", 0o555),
                        ("root", 0o700), ("tmp", 0o1777), ("var", 0o755), ("var/www", 0o755)):
            _add(tar, d, kind=tarfile.DIRTYPE, mode=mode)
        _add(tar, "bin/busybox", mode=0o755, data=Path(BUSYBOX_BINARY).read_bytes())
        for applet in BUSYBOX_APPLETS:
            _add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, mode=0o777, link="busybox")
        _add(tar, "etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"
                                     b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        _add(tar, "etc/group", data=b"root:x:0:\nnogroup:x:65534:\n")
        _add(tar, "var/www/index.html", data=b"<html><body>hello from pyk8s busybox</body></html>\n")
        for name, data in sorted((extra_files or {}).items()):
            _add(tar, name, data=data)
    return buf.getvalue()


def build_busybox_image(workdir: str | Path, extra_files: dict[str, bytes] | None = None) -> BuiltImage:
    """Write the layer (.tar.gz), config and manifest of a one-layer busybox image into `workdir`."""
    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    layer = busybox_layer(extra_files)
    layer_gz = gzip.compress(layer, mtime=0)
    config = {
        "architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
        "config": {"Cmd": ["sh"], "Env": [IMAGE_PATH], "WorkingDir": ""},
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "tests/images.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "size": len(config_bytes), "digest": _digest(config_bytes)},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, "size": len(layer_gz), "digest": _digest(layer_gz)}],
    }
    image = BuiltImage(out / "layer.tar.gz", out / "config.json", out / "manifest.json")
    image.layer_tar_gz.write_bytes(layer_gz)
    image.config_json.write_bytes(config_bytes)
    image.manifest_json.write_bytes(json.dumps(manifest, sort_keys=True).encode())
    return image


def _tar_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = _MTIME
    tar.addfile(info, io.BytesIO(data))


def docker_save_tar(out: str | Path, image: BuiltImage, repo_tags: list[str]) -> Path:
    """A `docker save`-style tarball (legacy layout: <id>/layer.tar uncompressed, manifest.json)."""
    config = image.config_json.read_bytes()
    layer = gzip.decompress(image.layer_tar_gz.read_bytes())
    layer_dir = hashlib.sha256(layer).hexdigest()
    config_name = f"{image.config_digest[7:]}.json"
    manifest = [{"Config": config_name, "RepoTags": repo_tags, "Layers": [f"{layer_dir}/layer.tar"]}]
    path = Path(out)
    with tarfile.open(path, "w") as tar:
        _tar_bytes(tar, config_name, config)
        _tar_bytes(tar, f"{layer_dir}/layer.tar", layer)
        _tar_bytes(tar, f"{layer_dir}/VERSION", b"1.0")
        _tar_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return path


def oci_layout_tar(out: str | Path, image: BuiltImage, ref_name: str) -> Path:
    """An OCI image layout tarball (oci-layout, index.json with a ref.name annotation, blobs/sha256/)."""
    manifest = image.manifest_json.read_bytes()
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": MEDIA_MANIFEST, "digest": _digest(manifest), "size": len(manifest),
        "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}
    path = Path(out)
    with tarfile.open(path, "w") as tar:
        _tar_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _tar_bytes(tar, "index.json", json.dumps(index).encode())
        for data in (manifest, image.config_json.read_bytes(), image.layer_tar_gz.read_bytes()):
            _tar_bytes(tar, f"blobs/sha256/{_digest(data)[7:]}", data)
    return path
