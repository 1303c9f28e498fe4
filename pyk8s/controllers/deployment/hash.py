"""The pod-template-hash that names a Deployment's ReplicaSets (upstream controller.ComputeHash).

Upstream hashes Go's own printout of the PodTemplateSpec struct (hashutil.DeepHashObject, spew) with
FNV-32a, mixes in `status.collisionCount` as 8 little-endian bytes, and renders the decimal value with
rand.SafeEncodeString. Go's struct printout cannot be reproduced from JSON, so our input is the template's
canonical JSON instead (keys sorted, nulls and empty maps/lists dropped). The result is deterministic and
stable across processes and releases, has the same alphabet and length range as upstream's (e.g.
"7c5ddbdf54"), changes when the template or the collision count changes, but is not byte-identical to the
hash a real kube-controller-manager would compute for the same template.
"""

from __future__ import annotations

import struct
from typing import Any

from pyk8s.controllers.framework.revisions import canonical_json, fnv32a, safe_encode


def normalize(value: Any) -> Any:
    """`value` without nulls and without empty maps or lists (Go's semantic equality treats them as unset)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            nv = normalize(v)
            if nv is None or nv == {} or nv == []:
                continue
            out[k] = nv
        return out
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def canonical_bytes(value: Any) -> bytes:
    return canonical_json(normalize(value))


def compute_hash(template: dict[str, Any], collision_count: int | None) -> str:
    """The pod-template-hash of `template` for a Deployment whose status.collisionCount is `collision_count`."""
    h = fnv32a(canonical_bytes(template))
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\x00" * 4, h)
    return safe_encode(str(h))
