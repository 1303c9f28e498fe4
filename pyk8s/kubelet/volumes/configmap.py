"""configMap volumes: a ConfigMap's keys as files (all of them, or the listed items with their paths and modes).

A missing ConfigMap (or key) is an error unless the volume is optional; an optional missing ConfigMap gives an
empty volume. Files are written with the AtomicWriter, so refreshing picks up changes atomically.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.client import kinds
from pyk8s.kubelet.objectcache import ObjectReader
from pyk8s.kubelet.volumes.atomic_writer import FileProjection
from pyk8s.kubelet.volumes.errors import VolumeError

Obj = dict[str, Any]

PLUGIN_DIR = "kubernetes.io~configmap"
DEFAULT_MODE = 0o644


def make_payload(items: list[Obj], data: dict[str, bytes], default_mode: int, optional: bool,
                 *, missing_key: str) -> dict[str, FileProjection]:
    """Files for `data` (key -> bytes): every key, or `items` (key, path, mode). `missing_key` words the error."""
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in data.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise VolumeError(f"{missing_key}: {key}")
        mode = item.get("mode")
        out[str(item.get("path") or key)] = FileProjection(data[key], int(mode) if mode is not None else default_mode)
    return out


def configmap_data(configmap: Obj) -> dict[str, bytes]:
    out = {k: str(v).encode() for k, v in (configmap.get("data") or {}).items()}
    for k, v in (configmap.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v or "")
    return out


async def source_object(client: ObjectReader, resource: Resource, namespace: str, name: str, optional: bool) -> Obj:
    """The ConfigMap or Secret a volume source names; {} when it is missing and optional; VolumeError otherwise."""
    try:
        return await client.get(resource, name, namespace)
    except errors.NotFound:
        if not optional:
            raise VolumeError(f'{resource.kind.lower()} "{name}" not found') from None
        return {}
    except errors.StatusError as e:
        raise VolumeError(e.message) from None


async def object_payload(client: ObjectReader, resource: Resource, namespace: str, name: str, source: Obj,
                         default_mode: int | None, data_of: Callable[[Obj], dict[str, bytes]], *,
                         missing_key: str) -> dict[str, FileProjection]:
    """The files of a configMap or secret source that names object `name`: its data (`data_of`) as make_payload
    lays it out, with a projected volume's `default_mode` when given, else the source's own defaultMode."""
    optional = bool(source.get("optional"))
    mode = default_mode if default_mode is not None else source.get("defaultMode")
    obj = await source_object(client, resource, namespace, name, optional)
    return make_payload(list(source.get("items") or []), data_of(obj),
                        int(mode) if mode is not None else DEFAULT_MODE, optional, missing_key=missing_key)


async def payload(client: ObjectReader, namespace: str, source: Obj,
                  default_mode: int | None = None) -> dict[str, FileProjection]:
    """The files of a configMap volume source (or a projected configMap source with the volume's defaultMode)."""
    return await object_payload(client, kinds.CONFIGMAPS, namespace, str(source.get("name") or ""), source,
                                default_mode, configmap_data,
                                missing_key="configmap references non-existent config key")
