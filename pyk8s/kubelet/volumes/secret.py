"""secret volumes: a Secret's keys (base64-decoded) as files, like configMap volumes, on a tmpfs as upstream.

A missing Secret (or key) is an error unless the volume is optional; an optional missing Secret gives an
empty volume.
"""

from __future__ import annotations

from typing import Any

from pyk8s.client import kinds
from pyk8s.kubelet.envvars import secret_data
from pyk8s.kubelet.objectcache import ObjectReader
from pyk8s.kubelet.volumes.atomic_writer import FileProjection
from pyk8s.kubelet.volumes.configmap import object_payload

Obj = dict[str, Any]

PLUGIN_DIR = "kubernetes.io~secret"


async def payload(client: ObjectReader, namespace: str, source: Obj,
                  default_mode: int | None = None) -> dict[str, FileProjection]:
    """The files of a secret volume source (secretName) or a projected secret source (name)."""
    name = str(source.get("secretName") or source.get("name") or "")
    return await object_payload(client, kinds.SECRETS, namespace, name, source, default_mode, secret_data,
                                missing_key="references non-existent secret key")
