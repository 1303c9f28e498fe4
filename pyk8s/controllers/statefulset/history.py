"""StatefulSet template history as ControllerRevisions (upstream pkg/controller/history and stateful_set_utils).

A revision's `data` is ``{"spec": {"template": {..., "$patch": "replace"}}}``, the strategic merge patch that
restores the template (what `kubectl rollout undo` applies). It is named "<set>-<hash>" where the hash is
FNV-32 of the data plus the set's collisionCount, SafeEncodeString'd, and labelled with the template's labels
plus controller.kubernetes.io/hash. Pods name their revision in the controller-revision-hash label.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyk8s.api.meta import copy
from pyk8s.controllers.framework.revisions import (
    canonical_json,
    fnv32,
    new_template_revision,
    revision_number,
    safe_encode,
    template_revision_data,
)

Obj = dict[str, Any]

HASH_LABEL = "controller.kubernetes.io/hash"  # history.ControllerRevisionHashLabel
_MAX_PREFIX = 223


def hash_revision(data: Obj, probe: int | None) -> str:
    raw = canonical_json(data)
    if probe is not None:
        raw += str(probe).encode()
    return safe_encode(str(fnv32(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:_MAX_PREFIX]}-{hash_}"


def new_revision(sts: Obj, revision: int, collision_count: int) -> Obj:
    """newRevision: the (not yet created) ControllerRevision recording `sts`'s template."""
    data = template_revision_data(sts)
    hash_ = hash_revision(data, collision_count)
    return new_template_revision(sts, "StatefulSet", revision_name(sts["metadata"]["name"], hash_), HASH_LABEL,
                                 hash_, data, revision)


def equal_revision(a: Obj | None, b: Obj | None) -> bool:
    """EqualRevision: both absent, or both recording the same data."""
    if a is None or b is None:
        return a is b
    return canonical_json(a.get("data")) == canonical_json(b.get("data"))


def find_equal_revisions(revisions: Iterable[Obj], needle: Obj) -> list[Obj]:
    return [r for r in revisions if equal_revision(r, needle)]


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """SortControllerRevisions: by revision, then creationTimestamp, then name."""
    return sorted(revisions, key=lambda r: (revision_number(r),
                                            str((r.get("metadata") or {}).get("creationTimestamp") or ""),
                                            str((r.get("metadata") or {}).get("name") or "")))


def next_revision(sorted_revisions: list[Obj]) -> int:
    return revision_number(sorted_revisions[-1]) + 1 if sorted_revisions else 1


def apply_revision(sts: Obj, revision: Obj) -> Obj:
    """ApplyRevision: a copy of `sts` whose template is the one `revision` recorded."""
    out: Obj = copy(sts)
    template = copy((((revision.get("data") or {}).get("spec") or {}).get("template")) or {})
    template.pop("$patch", None)
    out.setdefault("spec", {})["template"] = template
    return out
