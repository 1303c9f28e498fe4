"""DaemonSet template history as ControllerRevisions (upstream daemon/update.go snapshot, Match, getPatch).

A revision's `data` is the strategic merge patch that restores the template:
``{"spec": {"template": {..., "$patch": "replace"}}}`` — what `kubectl rollout undo` applies. The revision is
named ``<ds>-<hash>`` and labelled ``controller-revision-hash: <hash>``, where the hash covers the pod template
and the DaemonSet's collisionCount (upstream controller.ComputeHash: FNV-32a, then SafeEncodeString).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyk8s.controllers.daemonset.daemonpods import UNIQUE_LABEL_KEY
from pyk8s.controllers.framework.revisions import (
    canonical_json,
    fnv32a,
    new_template_revision,
    revision_number,
    safe_encode,
    template_revision_data,
)

Obj = dict[str, Any]


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """controller.ComputeHash over the pod template and the collision count."""
    data = canonical_json(template or {})
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\x00" * 4
    return safe_encode(str(fnv32a(data)))


def matches(ds: Obj, revision: Obj) -> bool:
    """Match: the revision records exactly this DaemonSet's template."""
    return canonical_json(revision.get("data")) == canonical_json(template_revision_data(ds))  # getPatch


def new_revision(ds: Obj, revision: int, hash_: str) -> Obj:
    """The ControllerRevision snapshot of `ds` (not yet created)."""
    return new_template_revision(ds, "DaemonSet", f"{ds['metadata']['name']}-{hash_}", UNIQUE_LABEL_KEY, hash_,
                                 template_revision_data(ds), revision)


def max_revision(revisions: Iterable[Obj]) -> int:
    return max((revision_number(r) for r in revisions), default=0)
