"""Reading image archives for `images import`: `docker save` tarballs and OCI image layout tarballs.

A `docker save` tarball has manifest.json `[{Config, RepoTags, Layers}]` naming members of the tar (legacy
`<id>/layer.tar` or, from Docker 25, `blobs/sha256/<hex>`). An OCI layout tarball has `oci-layout`, `index.json`
(names in the `io.containerd.image.name` or `org.opencontainers.image.ref.name` annotation) and `blobs/`.
This module only describes what the archive holds; store.ImageStore copies the blobs in and unpacks them.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from pyk8s.kubelet.cri.interface import CRIError
from pyk8s.kubelet.cri.runc.images.distribution import INDEX_TYPES, MANIFEST_TYPES, Platform, select_platform
from pyk8s.kubelet.cri.runc.images.reference import InvalidReferenceError, parse_reference

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"
MAX_JSON_BYTES = 8 << 20


class ArchiveError(CRIError):
    """The file is not an image archive this store can import."""


@dataclass
class ArchiveBlob:
    member: str  # path of the blob inside the tar
    digest: str = ""  # "" when the archive does not say (docker save layers): computed while copying
    size: int = -1
    media_type: str = ""


@dataclass
class ArchiveImage:
    names: list[str]  # normalised references (docker.io/library/busybox:1.36); empty = untagged
    config: ArchiveBlob
    layers: list[ArchiveBlob]
    manifest: bytes | None = None  # the OCI layout's manifest as stored; None: the store writes one
    manifest_media_type: str = ""
    extra_blobs: list[ArchiveBlob] = field(default_factory=list)  # an index the manifest was picked from


class ImageArchive:
    """An open image tarball (plain, .gz, .xz or .bz2)."""

    def __init__(self, path: str) -> None:
        try:
            self._tar = tarfile.open(path, "r:*")
        except (tarfile.TarError, OSError) as e:
            raise ArchiveError(f"{path}: not a tar archive: {e}") from None
        self._path = path
        self._members = {_norm(m.name): m for m in self._tar.getmembers()}

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._tar.close()

    def open(self, member: str) -> IO[bytes]:
        info = self._members.get(_norm(member))
        f = self._tar.extractfile(info) if info is not None else None
        if f is None:
            raise ArchiveError(f"{self._path}: missing {member}")
        return f

    def _json(self, member: str) -> Any:
        with self.open(member) as f:
            data = f.read(MAX_JSON_BYTES + 1)
        if len(data) > MAX_JSON_BYTES:
            raise ArchiveError(f"{self._path}: {member} too large")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ArchiveError(f"{self._path}: {member} is not JSON") from None

    def images(self, platform: Platform) -> list[ArchiveImage]:
        """What the archive holds; the OCI layout wins when both forms are present (Docker 25+ writes both)."""
        if "index.json" in self._members and "oci-layout" in self._members:
            return self._oci_images(platform)
        if "manifest.json" in self._members:
            return self._docker_images()
        raise ArchiveError(f"{self._path}: neither a docker save archive (manifest.json) nor an OCI layout "
                           "(oci-layout, index.json)")

    def _docker_images(self) -> list[ArchiveImage]:
        entries = self._json("manifest.json")
        if not isinstance(entries, list):
            raise ArchiveError(f"{self._path}: manifest.json must be a list")
        result = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise ArchiveError(f"{self._path}: manifest.json entry without Config")
            layers = entry.get("Layers") or []
            names = [_normalise(t) for t in entry.get("RepoTags") or []]
            result.append(ArchiveImage(names=[n for n in names if n], config=ArchiveBlob(member=entry["Config"]),
                                       layers=[ArchiveBlob(member=str(layer)) for layer in layers]))
        return result

    def _oci_images(self, platform: Platform) -> list[ArchiveImage]:
        index = self._json("index.json")
        result = []
        for desc in index.get("manifests") or []:
            annotations = desc.get("annotations") or {}
            name = annotations.get(ANNOTATION_CONTAINERD_NAME) or annotations.get(ANNOTATION_REF_NAME, "")
            names = [_normalise(name)] if name and ("/" in name or ":" in name) else []
            extra = []
            if desc.get("mediaType") in INDEX_TYPES:
                extra.append(self._blob(desc))
                desc = select_platform(self._json(_blob_member(desc["digest"])), platform)
            blob = self._blob(desc)
            with self.open(blob.member) as f:
                manifest_bytes = f.read(MAX_JSON_BYTES)
            manifest = orjson.loads(manifest_bytes)
            media_type = desc.get("mediaType") or manifest.get("mediaType") or MANIFEST_TYPES[0]
            result.append(ArchiveImage(
                names=[n for n in names if n], config=self._blob(manifest["config"]),
                layers=[self._blob(d) for d in manifest.get("layers") or []], manifest=manifest_bytes,
                manifest_media_type=media_type, extra_blobs=extra))
        return result

    def _blob(self, desc: dict[str, Any]) -> ArchiveBlob:
        digest = desc.get("digest", "")
        if not isinstance(digest, str) or not digest.startswith("sha256:"):
            raise ArchiveError(f"{self._path}: unsupported digest {digest!r}")
        return ArchiveBlob(member=_blob_member(digest), digest=digest, size=int(desc.get("size", -1)),
                           media_type=str(desc.get("mediaType", "")))


def _blob_member(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"blobs/{algorithm}/{hexpart}"


def _norm(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _normalise(name: str) -> str:
    try:
        ref = parse_reference(name)
    except InvalidReferenceError:
        return ""
    return ref.tagged() or str(ref)
