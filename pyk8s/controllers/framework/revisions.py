"""Template history and template hashes shared by the DaemonSet, StatefulSet and Deployment controllers.

The hash pieces upstream's controller.ComputeHash and history.HashControllerRevision are built from (FNV-32
and FNV-32a, rand.SafeEncodeString, and the canonical JSON a map-shaped value is hashed as), and the
ControllerRevision snapshot of a workload's pod template: its `data` is the strategic merge patch
``{"spec": {"template": {..., "$patch": "replace"}}}`` that restores the template (what `kubectl rollout
undo` applies), and its `revision` number orders the history.
"""

from __future__ import annotations

from typing import Any

import orjson

from pyk8s.api.meta import copy
from pyk8s.client.interface import Obj
from pyk8s.controllers.framework import new_controller_ref

FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193
_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery util/rand: no vowels, no confusables


def fnv32(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1 (hash/fnv.New32), continuing from `h`."""
    for b in data:
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
        h ^= b
    return h


def fnv32a(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1a (hash/fnv.New32a), continuing from `h`."""
    for b in data:
        h ^= b
        h = (h * FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: map every byte onto an alphabet that cannot spell words."""
    return "".join(_SAFE_ALPHANUMS[b % len(_SAFE_ALPHANUMS)] for b in text.encode())


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: Go's encoding of a map-shaped value."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def template_revision_data(workload: Obj) -> Obj:
    """The revision data recording `workload`'s pod template: the patch that puts it back."""
    template: Obj = copy(((workload.get("spec") or {}).get("template")) or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_number(revision: Obj) -> int:
    """A ControllerRevision's `revision` (0 when unset)."""
    return int(revision.get("revision") or 0)


def new_template_revision(workload: Obj, kind: str, name: str, hash_label: str, hash_: str, data: Obj,
                          revision: int) -> Obj:
    """The (not yet created) ControllerRevision `name` of the apps/v1 `workload` of `kind`: in its namespace,
    controlled by it, labelled with its template's labels plus `hash_label`: `hash_`, carrying its annotations."""
    m = workload["metadata"]
    labels = dict((((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
    labels[hash_label] = hash_
    meta: Obj = {
        "name": name,
        "namespace": m.get("namespace") or "",
        "labels": labels,
        "ownerReferences": [new_controller_ref(workload, "apps/v1", kind)],
    }
    if m.get("annotations"):
        meta["annotations"] = dict(m["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": data,
            "revision": revision}
