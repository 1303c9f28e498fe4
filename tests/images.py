"""Pushing the test busybox image to a registry (the image itself is built by pyk8s' images.busybox)."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urljoin

from pyk8s.kubelet.cri.runc.images.busybox import (
    BUSYBOX_APPLETS,
    BUSYBOX_BINARY,
    IMAGE_PATH,
    MEDIA_CONFIG,
    MEDIA_LAYER_GZIP,
    MEDIA_MANIFEST,
    BuiltImage,
    _digest,
    build_busybox_image,
    busybox_layer,
    docker_save_tar,
    oci_layout_tar,
)

__all__ = ["BUSYBOX_APPLETS", "BUSYBOX_BINARY", "IMAGE_PATH", "MEDIA_CONFIG", "MEDIA_LAYER_GZIP", "MEDIA_MANIFEST",
           "BuiltImage", "build_busybox_image", "busybox_layer", "docker_save_tar", "oci_layout_tar", "push_blob",
           "push_image"]


def _request(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[
        int, dict[str, str]]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as e:
        if method == "HEAD" and e.code == 404:
            return 404, {}
        raise RuntimeError(f"{method} {url}: {e.code} {e.read()[:300]!r}") from None


def push_blob(registry_url: str, repo: str, data: bytes) -> str:
    """Monolithic upload: POST /v2/<repo>/blobs/uploads/, then PUT <Location>&digest=."""
    digest = _digest(data)
    status, _ = _request("HEAD", f"{registry_url}/v2/{repo}/blobs/{digest}")
    if status == 200:
        return digest
    status, headers = _request("POST", f"{registry_url}/v2/{repo}/blobs/uploads/", data=b"")
    assert status == 202, status
    location = urljoin(f"{registry_url}/", headers["Location"])
    sep = "&" if "?" in location else "?"
    status, _ = _request("PUT", f"{location}{sep}digest={digest}", data=data,
                         headers={"Content-Type": "application/octet-stream"})
    assert status == 201, status
    return digest


def push_image(registry_url: str, repo: str, tag: str, image: BuiltImage) -> str:
    """Push the blobs and the manifest as <repo>:<tag>; returns the manifest digest."""
    push_blob(registry_url, repo, image.layer_tar_gz.read_bytes())
    push_blob(registry_url, repo, image.config_json.read_bytes())
    manifest = image.manifest_json.read_bytes()
    status, _ = _request("PUT", f"{registry_url}/v2/{repo}/manifests/{tag}", data=manifest,
                         headers={"Content-Type": MEDIA_MANIFEST})
    assert status == 201, status
    return _digest(manifest)
