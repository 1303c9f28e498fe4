"""downwardAPI volumes: the pod's metadata (fieldRef) and its containers' resources (resourceFieldRef) as files.

Values are rendered as for environment variables (labels/annotations as sorted `k="v"` lines); resource
limits left unset default to the node's allocatable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.kubelet.envvars import metadata_field_value, resource_field_value
from pyk8s.kubelet.volumes.atomic_writer import FileProjection
from pyk8s.kubelet.volumes.errors import VolumeError

Obj = dict[str, Any]

PLUGIN_DIR = "kubernetes.io~downward-api"
DEFAULT_MODE = 0o644


def payload(pod: Obj, items: list[Obj], default_mode: int | None, allocatable: Mapping[str, str]
            ) -> dict[str, FileProjection]:
    """Files for downwardAPI items; errors of every item are reported together, as upstream aggregates them."""
    mode_default = int(default_mode) if default_mode is not None else DEFAULT_MODE
    out: dict[str, FileProjection] = {}
    problems: list[str] = []
    for item in items:
        path = str(item.get("path") or "")
        mode = item.get("mode")
        try:
            if item.get("fieldRef") is not None:
                value = metadata_field_value(pod, str(item["fieldRef"].get("fieldPath") or ""))
            elif item.get("resourceFieldRef") is not None:
                value = resource_field_value(pod, {}, item["resourceFieldRef"], allocatable)
            else:
                continue
        except ValueError as e:
            problems.append(str(e))
            continue
        out[path] = FileProjection(value.encode(), int(mode) if mode is not None else mode_default)
    if problems:
        raise VolumeError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
    return out
