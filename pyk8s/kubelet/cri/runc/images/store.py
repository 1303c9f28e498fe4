"""The node's image store: the runc runtime's ImageService and LayerStore.

On disk under `root`:
- `content/blobs/sha256/<hex>`: manifests, configs and compressed layers, content-addressed (`content/ingest/`
  holds downloads in progress);
- `snapshots/<n>/fs`: each layer unpacked once, keyed by its ChainID, in short numeric dirs so that an overlay
  `lowerdir=` list fits in a page;
- `images.json`: image records (tags, digests, manifest, config, layers, chain ids) and the ChainID → snapshot map,
  replaced atomically under an flock so the `pyk8s images` CLI and a kubelet can share the directory.

An image id is `sha256:<config digest hex>`, as in containerd's CRI.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

import aiohttp
import orjson

from pyk8s.kubelet.cri.interface import AuthConfig, CRIError, Image, ImageFsInfo, ImagePullError, NotFoundError
from pyk8s.kubelet.cri.runc.images.archive import ArchiveBlob, ArchiveError, ImageArchive
from pyk8s.kubelet.cri.runc.images.distribution import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MEDIA_DOCKER_CONFIG,
    MEDIA_DOCKER_MANIFEST,
    Platform,
    RegistryClient,
    default_platform,
    digest_of,
    select_platform,
)
from pyk8s.kubelet.cri.runc.images.mirrors import RegistryConfig
from pyk8s.kubelet.cri.runc.images.reference import InvalidReferenceError, Reference, parse_reference
from pyk8s.kubelet.cri.runc.images.unpack import UnpackError, unpack_layer
from pyk8s.kubelet.cri.runc.seams import ImageConfig

log = logging.getLogger(__name__)

MEDIA_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
_CHUNK = 1 << 20
_PULL_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_connect=30, sock_read=120)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainIDs: chain(L0) = diff(L0), chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln))."""
    result: list[str] = []
    for diff_id in diff_ids:
        result.append(diff_id if not result else digest_of(f"{result[-1]} {diff_id}".encode()))
    return result


def _empty_state() -> dict[str, Any]:
    return {"images": {}, "snapshots": {}, "next_snapshot": 1}


class ImageStore:
    """interface.ImageService and seams.LayerStore over a directory.

    `in_use(image_id)` (settable after construction) says whether a container uses the image; remove_image
    refuses such images. `socket_factory` (aiohttp's signature) opens the registry connections, for a kubelet
    that lives in a node network namespace and reaches registries from the host's.
    """

    def __init__(self, root: str, *, registries: RegistryConfig | None = None, platform: Platform | None = None,
                 in_use: Callable[[str], bool] | None = None, max_concurrent_downloads: int = 3,
                 socket_factory: Callable[[tuple[Any, ...]], socket.socket] | None = None) -> None:
        self.root = os.path.abspath(root)
        self.socket_factory = socket_factory
        self.registries = registries or RegistryConfig()
        self.platform = platform or default_platform()
        self.in_use = in_use or (lambda image_id: False)
        self._blobs = os.path.join(self.root, "content", "blobs", "sha256")
        self._ingest = os.path.join(self.root, "content", "ingest")
        self._snapshots = os.path.join(self.root, "snapshots")
        self._state_path = os.path.join(self.root, "images.json")
        self._lock_path = os.path.join(self.root, "lock")
        for d in (self._blobs, self._ingest, self._snapshots):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self._state = _empty_state()
        self._state_key: tuple[int, int, int] | None = None
        self._pulls: dict[str, asyncio.Task[str]] = {}
        self._busy: Counter[str] = Counter()  # digests and chain ids of imports/pulls in progress
        self._downloads = asyncio.Semaphore(max_concurrent_downloads)
        self._blob_locks: dict[str, asyncio.Lock] = {}

    # ---- state file -------------------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        """The state as on disk (re-read only when the file changed)."""
        try:
            st = os.stat(self._state_path)
        except FileNotFoundError:
            self._state, self._state_key = _empty_state(), None
            return self._state
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._state_key:
            with open(self._state_path, "rb") as f:
                self._state = orjson.loads(f.read())
            self._state_key = key
        return self._state

    @contextlib.contextmanager
    def _mutate(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write of images.json under an exclusive flock; written by rename."""
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self._load()
            yield state
            tmp = f"{self._state_path}.tmp"
            with open(tmp, "wb") as f:
                f.write(orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._state_path)
            self._state_key = None
            self._load()

    # ---- content ----------------------------------------------------------------------------------------------
    def blob_path(self, digest: str) -> str:
        algorithm, _, hexpart = digest.partition(":")
        if algorithm != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
            raise CRIError(f"unsupported digest {digest!r}")
        return os.path.join(self._blobs, hexpart)

    def _has_blob(self, digest: str, size: int = -1) -> bool:
        try:
            actual = os.path.getsize(self.blob_path(digest))
        except FileNotFoundError:
            return False
        return size < 0 or actual == size

    def _write_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        if not self._has_blob(digest):
            tmp = os.path.join(self._ingest, f"{digest[7:]}.{os.getpid()}.w")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, self.blob_path(digest))
        return digest

    def _copy_blob(self, src: IO[bytes], expected: str, size: int) -> tuple[str, int]:
        """Copy a stream into the content store, checking `expected` (if given); returns (digest, size)."""
        tmp = os.path.join(self._ingest, f"import.{os.getpid()}.{id(src)}")
        hasher = hashlib.sha256()
        written = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := src.read(_CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
            digest = "sha256:" + hasher.hexdigest()
            if expected and (digest != expected or (size >= 0 and size != written)):
                raise ArchiveError(f"blob {expected}: digest mismatch, got {digest}")
            os.replace(tmp, self.blob_path(digest))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return digest, written

    def _read_json_blob(self, digest: str) -> dict[str, Any]:
        with open(self.blob_path(digest), "rb") as f:
            data = orjson.loads(f.read())
        if not isinstance(data, dict):
            raise CRIError(f"blob {digest} is not a JSON object")
        return data

    # ---- pull -------------------------------------------------------------------------------------------------
    async def pull_image(self, ref: str, auth: AuthConfig | None = None) -> str:
        """Fetch the image (mirrors first, then its registry) and unpack it; returns the image id.

        Concurrent pulls of the same reference share one download."""
        try:
            parsed = parse_reference(ref)
        except InvalidReferenceError as e:
            raise ImagePullError(f"failed to pull image {ref!r}: {e}") from None
        key = str(parsed)
        task = self._pulls.get(key)
        if task is None:
            task = asyncio.ensure_future(self._pull(parsed, auth))
            self._pulls[key] = task
            task.add_done_callback(lambda t: self._pulls.pop(key, None))
        return await asyncio.shield(task)

    async def _pull(self, ref: Reference, auth: AuthConfig | None) -> str:
        last: ImagePullError | None = None
        connector = aiohttp.TCPConnector(socket_factory=self.socket_factory)
        async with aiohttp.ClientSession(timeout=_PULL_TIMEOUT, connector=connector) as session:
            for endpoint in self.registries.endpoints(ref.domain):
                client = RegistryClient(session, endpoint, ref.path, self.registries.host_config(endpoint.host),
                                        auth)
                try:
                    return await self._pull_from(client, ref)
                except ImagePullError as e:
                    log.info("pull %s from %s failed: %s", ref, endpoint.url, e)
                    last = e
        raise ImagePullError(f'failed to pull and unpack image "{ref}": {last}')

    async def _pull_from(self, client: RegistryClient, ref: Reference) -> str:
        await client.ping()
        data, media_type, top_digest = await client.get_manifest(ref.object)
        fetched = [data]
        if media_type in INDEX_TYPES:
            desc = select_platform(orjson.loads(data), self.platform)
            data, media_type, _ = await client.get_manifest(desc["digest"])
            fetched.append(data)
        manifest = orjson.loads(data)
        config_desc, layer_descs = _manifest_parts(manifest)
        wanted = [config_desc, *layer_descs]
        hold = [d["digest"] for d in wanted]
        self._busy.update(hold)
        try:
            async def download(desc: dict[str, Any]) -> None:
                digest, size = desc["digest"], int(desc.get("size", -1))
                lock = self._blob_locks.setdefault(digest, asyncio.Lock())
                try:
                    async with lock:  # two pulls sharing a layer download it once
                        if self._has_blob(digest, size):
                            return
                        async with self._downloads:
                            tmp = os.path.join(self._ingest, f"{digest[7:]}.{os.getpid()}.{id(desc)}")
                            await client.get_blob(digest, tmp, size)
                            os.replace(tmp, self.blob_path(digest))
                finally:
                    if not lock.locked() and self._blob_locks.get(digest) is lock:
                        del self._blob_locks[digest]

            await asyncio.gather(*(download(d) for d in wanted))
            for blob in fetched:
                self._write_blob(blob)
            return await self._commit(
                manifest_digest=digest_of(data), top_digest=top_digest,
                names=[ref.tagged()] if ref.tag else [], repo_digests=[ref.digested(top_digest)])
        finally:
            self._busy.subtract(hold)
            self._busy += Counter()  # drops the zero counts

    # ---- import -----------------------------------------------------------------------------------------------
    async def import_archive(self, path: str) -> list[tuple[str, list[str]]]:
        """Import a `docker save` or OCI layout tarball; returns (image id, names) for each image in it."""
        return await asyncio.to_thread(self._import_sync, path)

    def _import_sync(self, path: str) -> list[tuple[str, list[str]]]:
        results = []
        with ImageArchive(path) as archive:
            for image in archive.images(self.platform):
                def copy(blob: ArchiveBlob) -> tuple[str, int]:
                    if blob.digest and self._has_blob(blob.digest, blob.size):
                        return blob.digest, os.path.getsize(self.blob_path(blob.digest))
                    with archive.open(blob.member) as f:
                        return self._copy_blob(f, blob.digest, blob.size)

                for extra in image.extra_blobs:
                    copy(extra)
                config_digest, config_size = copy(image.config)
                layers = [(*copy(layer), layer.media_type) for layer in image.layers]
                if image.manifest is not None:
                    manifest_digest = self._write_blob(image.manifest)
                    top = image.extra_blobs[0].digest if image.extra_blobs else manifest_digest
                else:
                    manifest_digest = self._write_blob(orjson.dumps({
                        "schemaVersion": 2, "mediaType": MEDIA_DOCKER_MANIFEST,
                        "config": {"mediaType": MEDIA_DOCKER_CONFIG, "size": config_size, "digest": config_digest},
                        "layers": [{"mediaType": media_type or self._layer_media_type(digest), "size": size,
                                    "digest": digest} for digest, size, media_type in layers]}))
                    top = manifest_digest
                image_id = self._commit_sync(manifest_digest=manifest_digest, top_digest=top, names=image.names,
                                             repo_digests=[])
                results.append((image_id, image.names))
        return results

    def _layer_media_type(self, digest: str) -> str:
        with open(self.blob_path(digest), "rb") as f:
            head = f.read(4)
        if head.startswith(b"\x1f\x8b"):
            return MEDIA_LAYER_GZIP
        if head.startswith(b"\x28\xb5\x2f\xfd"):
            return MEDIA_LAYER_ZSTD
        return MEDIA_LAYER_TAR

    # ---- commit: unpack layers, record the image -------------------------------------------------------------
    async def _commit(self, **kwargs: Any) -> str:
        return await asyncio.to_thread(self._commit_sync, **kwargs)

    def _commit_sync(self, *, manifest_digest: str, top_digest: str, names: list[str],
                     repo_digests: list[str]) -> str:
        manifest = self._read_json_blob(manifest_digest)
        config_desc, layer_descs = _manifest_parts(manifest)
        config = self._read_json_blob(config_desc["digest"])
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(layer_descs):
            raise ImagePullError(f"image config has {len(diff_ids)} diff_ids for {len(layer_descs)} layers")
        chains = chain_ids(diff_ids)
        self._busy.update(chains)
        try:
            for desc, diff_id, chain in zip(layer_descs, diff_ids, chains, strict=True):
                self._ensure_snapshot(desc["digest"], diff_id, chain)
            image_id = "sha256:" + config_desc["digest"].partition(":")[2]
            size = sum(int(d.get("size", 0)) for d in layer_descs) + int(config_desc.get("size", 0))
            now = time.time()
            with self._mutate() as state:
                images = state["images"]
                for other in images.values():
                    other["repo_tags"] = [t for t in other["repo_tags"] if t not in names]
                record = images.get(image_id) or {"repo_tags": [], "repo_digests": [], "created": now}
                record.update({
                    "manifest": manifest_digest, "index": top_digest if top_digest != manifest_digest else "",
                    "config": config_desc["digest"], "layers": [d["digest"] for d in layer_descs],
                    "chain_ids": chains, "size": size, "last_used": now,
                    "repo_tags": sorted(set(record["repo_tags"]) | set(names)),
                    "repo_digests": sorted(set(record["repo_digests"]) | set(repo_digests)),
                    "user": str((config.get("config") or {}).get("User") or ""),
                })
                images[image_id] = record
            return image_id
        finally:
            self._busy.subtract(chains)
            self._busy += Counter()

    def _ensure_snapshot(self, layer_digest: str, diff_id: str, chain: str) -> None:
        if chain in self._load()["snapshots"]:
            return
        with self._mutate() as state:
            number = state["next_snapshot"]
            state["next_snapshot"] = number + 1
        directory = os.path.join(self._snapshots, str(number))
        fs = os.path.join(directory, "fs")
        os.makedirs(fs, mode=0o755)
        try:
            with open(self.blob_path(layer_digest), "rb") as f:
                result = unpack_layer(f, fs)
            if result.diff_id != diff_id:
                raise ImagePullError(f"layer {layer_digest}: uncompressed digest {result.diff_id} does not match "
                                     f"the config's diff_id {diff_id}")
            with self._mutate() as state:
                if chain in state["snapshots"]:
                    raise FileExistsError  # unpacked meanwhile by another pull: keep that one
                state["snapshots"][chain] = {"dir": number, "size": result.size, "inodes": result.inodes}
        except FileExistsError:
            shutil.rmtree(directory, ignore_errors=True)
        except UnpackError as e:
            shutil.rmtree(directory, ignore_errors=True)
            raise ImagePullError(f"layer {layer_digest}: {e}") from None
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise

    # ---- queries ----------------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str | None:
        """The image id a tag, digest reference, id or unique id prefix (12+ hex) names, or None."""
        images = self._load()["images"]
        if ref.startswith("sha256:") and ref in images:
            return ref
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        if 12 <= len(hexpart) <= 64 and all(c in "0123456789abcdef" for c in hexpart):
            found = [i for i in images if i[7:].startswith(hexpart)]
            if len(found) == 1:
                return found[0]
            if ref.startswith("sha256:") or len(hexpart) == 64:
                return None
        try:
            parsed = parse_reference(ref)
        except InvalidReferenceError:
            return None
        if parsed.digest:
            wanted = parsed.digested(parsed.digest)
            for image_id, record in images.items():
                if wanted in record["repo_digests"] or (
                        parsed.digest in (record["manifest"], record.get("index"))
                        and any(t.rsplit(":", 1)[0] == parsed.name for t in record["repo_tags"])):
                    return image_id
            return None
        tagged = parsed.tagged()
        for image_id, record in images.items():
            if tagged in record["repo_tags"]:
                return image_id
        return None

    def _record(self, image_id: str) -> dict[str, Any]:
        record = self._load()["images"].get(image_id)
        if record is None:
            raise NotFoundError(f"image {image_id} not found")
        return record

    def layer_dirs(self, image_id: str) -> list[str]:
        record = self._record(image_id)
        snapshots = self._load()["snapshots"]
        try:
            return [os.path.join(self._snapshots, str(snapshots[c]["dir"]), "fs") for c in record["chain_ids"]]
        except KeyError:
            raise NotFoundError(f"image {image_id}: a layer snapshot is missing") from None

    def image_config(self, image_id: str) -> ImageConfig:
        config = self._read_json_blob(self._record(image_id)["config"]).get("config") or {}
        return ImageConfig(entrypoint=list(config.get("Entrypoint") or []), cmd=list(config.get("Cmd") or []),
                           env=list(config.get("Env") or []), working_dir=str(config.get("WorkingDir") or ""),
                           user=str(config.get("User") or ""), stop_signal=str(config.get("StopSignal") or ""),
                           labels=dict(config.get("Labels") or {}))

    def _image(self, image_id: str, record: dict[str, Any]) -> Image:
        return Image(id=image_id, repo_tags=list(record["repo_tags"]), repo_digests=list(record["repo_digests"]),
                     size=int(record["size"]), user=record.get("user", ""))

    async def image_status(self, ref: str) -> Image | None:
        image_id = self.resolve(ref)
        return None if image_id is None else self._image(image_id, self._record(image_id))

    async def list_images(self) -> list[Image]:
        return [self._image(i, r) for i, r in sorted(self._load()["images"].items())]

    def usage_times(self) -> dict[str, tuple[float, float]]:
        """image id → (when it first arrived, when it was last pulled or marked used), Unix seconds, for GC."""
        return {i: (float(r.get("created", 0)), float(r.get("last_used", 0)))
                for i, r in self._load()["images"].items()}

    def mark_used(self, image_id: str) -> None:
        with self._mutate() as state:
            if image_id in state["images"]:
                state["images"][image_id]["last_used"] = time.time()

    # ---- removal ----------------------------------------------------------------------------------------------
    async def remove_image(self, ref: str) -> None:
        """Remove the image with all its tags and digests, then its unshared content. Idempotent."""
        image_id = self.resolve(ref)
        if image_id is None:
            return
        if self.in_use(image_id):
            raise CRIError(f"image {ref} ({image_id}) is in use by a container")
        with self._mutate() as state:
            state["images"].pop(image_id, None)
        await asyncio.to_thread(self.prune)

    def prune(self) -> None:
        """Delete blobs and snapshots no image refers to (leaving those of pulls/imports in progress)."""
        with self._mutate() as state:
            busy = self._busy_keys()
            keep_blobs: set[str] = set(busy)
            keep_chains: set[str] = set(busy)
            for record in state["images"].values():
                keep_blobs.update([record["manifest"], record["config"], *record["layers"]])
                if record.get("index"):
                    keep_blobs.add(record["index"])
                keep_chains.update(record["chain_ids"])
            dead = [c for c in state["snapshots"] if c not in keep_chains]
            dead_dirs = [os.path.join(self._snapshots, str(state["snapshots"].pop(c)["dir"])) for c in dead]
        for d in dead_dirs:
            shutil.rmtree(d, ignore_errors=True)
        for name in os.listdir(self._blobs):
            if f"sha256:{name}" not in keep_blobs and f"sha256:{name}" not in self._busy_keys():
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._blobs, name))

    def _busy_keys(self) -> set[str]:
        return {key for key, count in self._busy.items() if count > 0}

    # ---- filesystem -------------------------------------------------------------------------------------------
    def used_bytes(self) -> tuple[int, int]:
        """(bytes, inodes) the store uses: blobs on disk plus unpacked snapshots as counted at unpack time."""
        used = inodes = 0
        for name in os.listdir(self._blobs):
            with contextlib.suppress(FileNotFoundError):
                used += os.path.getsize(os.path.join(self._blobs, name))
                inodes += 1
        for snap in self._load()["snapshots"].values():
            used += int(snap.get("size", 0))
            inodes += int(snap.get("inodes", 0))
        return used, inodes

    async def image_fs_info(self) -> ImageFsInfo:
        st = os.statvfs(self.root)
        used, inodes = await asyncio.to_thread(self.used_bytes)
        return ImageFsInfo(mountpoint=self.root, used_bytes=used, capacity_bytes=st.f_blocks * st.f_frsize,
                           available_bytes=st.f_bavail * st.f_frsize, inodes_used=inodes)


def _manifest_parts(manifest: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(config descriptor, layer descriptors) of an image manifest, checked for shape."""
    media_type = manifest.get("mediaType", MANIFEST_TYPES[0])
    if manifest.get("schemaVersion") != 2 or media_type not in MANIFEST_TYPES:
        raise ImagePullError(f"unsupported manifest (schemaVersion {manifest.get('schemaVersion')}, "
                             f"mediaType {media_type!r})")
    config = manifest.get("config")
    layers = manifest.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise ImagePullError("manifest without config or layers")
    for desc in [config, *layers]:
        if not isinstance(desc, dict) or not str(desc.get("digest", "")).startswith("sha256:") \
                or len(str(desc["digest"])) != 71:
            raise ImagePullError(f"manifest has an unsupported descriptor {desc!r}"[:200])
    return config, layers
