"""A pod's volumes on the node: set up before its containers start, kept current, torn down after it is gone.

Each volume lives at `<pods_dir>/<uid>/volumes/<plugin>/<name>` (plugin dirs named as upstream's, e.g.
`kubernetes.io~configmap`), except hostPath, which is the node's own path. emptyDir is a directory (a tmpfs
for medium Memory); secret and projected volumes are tmpfs-backed as upstream (`memory_backed_secrets`), so
secrets never reach the disk; configMap, secret, downwardAPI and projected contents are written with the
AtomicWriter, and `refresh` rewrites them when the source objects (or the pod's labels/annotations) change.

Plugins: emptydir, hostpath, configmap, secret, downwardapi, projected (one module each). Other volume types
(persistentVolumeClaim, ephemeral, CSI, ...) are reported as unsupported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client
from pyk8s.kubelet.objectcache import ObjectReader
from pyk8s.kubelet.volumes import configmap, downwardapi, emptydir, hostpath, projected, secret
from pyk8s.kubelet.volumes.atomic_writer import FileProjection, PayloadError, write_atomically
from pyk8s.kubelet.volumes.errors import VolumeError
from pyk8s.kubelet.volumes.ownership import set_volume_ownership

Obj = dict[str, Any]

__all__ = ["VolumeError", "VolumeManager"]

_WRITER_PLUGINS = {"configMap": configmap.PLUGIN_DIR, "secret": secret.PLUGIN_DIR,
                   "downwardAPI": downwardapi.PLUGIN_DIR, "projected": projected.PLUGIN_DIR}
_MAX_STACKED_MOUNTS = 8


def _volume_kind(volume: Obj) -> str:
    for kind in ("emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected"):
        if volume.get(kind) is not None:
            return kind
    others = [k for k in volume if k != "name"]
    return others[0] if others else "emptyDir"  # a volume with no source is an emptyDir (API defaulting)


class VolumeManager:
    """Sets up, refreshes and removes the volumes of the pods on this node.

    `objects` reads the ConfigMaps and Secrets behind the volumes (default: GETs through `client`; the kubelet
    passes its objectcache.WatchedObjects). `token_audiences`: audiences for serviceAccountToken sources that
    name none (empty: let the apiserver choose). `allocatable`: the node's allocatable
    (cpu/memory/ephemeral-storage) for resourceFieldRef items.
    """

    def __init__(self, client: Client, pods_dir: str, *, node_name: str, token_audiences: Sequence[str] = (),
                 allocatable: Mapping[str, str] | None = None, clock: Clock = REAL_CLOCK,
                 memory_backed_secrets: bool = True, objects: ObjectReader | None = None) -> None:
        self.client = client
        self.objects: ObjectReader = objects if objects is not None else client
        self.pods_dir = pods_dir
        self.node_name = node_name
        self.token_audiences = list(token_audiences)
        self.allocatable = dict(allocatable or {})
        self.memory_backed_secrets = memory_backed_secrets
        self.tokens = projected.TokenCache(client, clock=clock)

    def pod_dir(self, pod_uid: str) -> str:
        return os.path.join(self.pods_dir, pod_uid)

    def volume_dir(self, pod_uid: str, plugin_dir: str, name: str) -> str:
        return os.path.join(self.pods_dir, pod_uid, "volumes", plugin_dir, name)

    async def mount(self, pod: Obj) -> dict[str, str]:
        """Set every volume of the pod up (idempotent); volume name -> host path.

        Raises VolumeError when any volume fails: its message is upstream's FailedMount event text
        (`MountVolume.SetUp failed for volume "x" : ...`) for the first failure, `.failures` has them all.
        """
        paths: dict[str, str] = {}
        failures: dict[str, str] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = str(volume.get("name") or "")
            try:
                paths[name] = await self._set_up(pod, volume)
            except (VolumeError, PayloadError, OSError) as e:
                failures[name] = f'MountVolume.SetUp failed for volume "{name}" : {e}'
        if failures:
            raise VolumeError(next(iter(failures.values())), failures)
        return paths

    async def refresh(self, pod: Obj) -> None:
        """Rewrite configMap/secret/downwardAPI/projected contents that changed (and renew due tokens)."""
        await self.mount(pod)

    async def unmount(self, pod_uid: str) -> None:
        """Unmount the pod's tmpfs volumes and remove its directory (volumes, hosts file, message files)."""
        self.tokens.forget(pod_uid)
        root = self.pod_dir(pod_uid)
        if not os.path.lexists(root):
            return
        points = emptydir.mount_points(root)  # deepest first
        for point in points:
            for _ in range(_MAX_STACKED_MOUNTS):  # a point mounted over twice needs one unmount per mount
                emptydir.unmount(point)
                if not os.path.ismount(point):
                    break
        left = [p for p in points if os.path.ismount(p)]
        if left:
            raise OSError(f"cannot remove pod directory {root}: still mounted: {', '.join(left)}")
        shutil.rmtree(root)

    async def _set_up(self, pod: Obj, volume: Obj) -> str:
        m = pod.get("metadata") or {}
        uid, ns = str(m.get("uid") or ""), str(m.get("namespace") or "")
        name = str(volume.get("name") or "")
        kind = _volume_kind(volume)
        fs_group = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        group = int(fs_group) if fs_group is not None else None
        if kind == "hostPath":
            return hostpath.set_up(volume)
        if kind == "emptyDir":
            path = self.volume_dir(uid, emptydir.PLUGIN_DIR, name)
            fresh = not os.path.isdir(path)
            emptydir.set_up(path, volume)
            if fresh:
                set_volume_ownership(path, group, read_only=False)
            return path
        if kind not in _WRITER_PLUGINS:
            raise VolumeError(f"volume type {kind} is not supported by this kubelet")
        path = self.volume_dir(uid, _WRITER_PLUGINS[kind], name)
        files = await self._payload(pod, ns, kind, volume)
        os.makedirs(path, exist_ok=True)
        if kind in ("secret", "projected") and self.memory_backed_secrets:
            emptydir.mount_tmpfs(path)
            os.chmod(path, 0o755)
        if write_atomically(path, files):
            set_volume_ownership(path, group, read_only=True)
        return path

    async def _payload(self, pod: Obj, ns: str, kind: str, volume: Obj) -> dict[str, FileProjection]:
        source = volume[kind]
        if kind == "configMap":
            return await configmap.payload(self.objects, ns, source)
        if kind == "secret":
            return await secret.payload(self.objects, ns, source)
        if kind == "downwardAPI":
            return downwardapi.payload(pod, list(source.get("items") or []), source.get("defaultMode"),
                                       self.allocatable)
        return await projected.payload(self.objects, self.tokens, pod, source, allocatable=self.allocatable,
                                       audiences=self.token_audiences)
