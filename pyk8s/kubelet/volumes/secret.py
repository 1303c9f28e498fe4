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
from pyk8s.kubelet.volumes.configmap import make_payload, source_object

Obj = dict[str, Any]

PLUGIN_DIR = "kubernetes.io~secret"
DEFAULT_MODE = 0o644


async def payload(client: ObjectReader, namespace: str, source: Obj,
                  default_mode: int | None = None) -> dict[str, FileProjection]:
    """The files of a secret volume source (secretName) or a projected secret source (name)."""
    name = str(source.get("secretName") or source.get("name") or "")
    optional = bool(source.get("optional"))
    mode = default_mode if default_mode is not None else source.get("defaultMode")
    secret = await source_object(client, kinds.SECRETS, namespace, name, optional)
    return make_payload(list(source.get("items") or []), secret_data(secret),
                        int(mode) if mode is not None else DEFAULT_MODE, optional,
                        missing_key="references non-existent secret key")
