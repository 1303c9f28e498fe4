"""The patch bodies the garbage collector sends, as upstream builds them (patch.go, operations.go).

Dropping ownerReferences and unblocking them are strategic merge patches keyed by uid, with the dependent's
own uid as a precondition; removing a finalizer is a JSON merge patch of the whole finalizer list guarded by
the resourceVersion it was computed from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]


def delete_owner_refs_patch(dependent_uid: str, owner_uids: Iterable[str]) -> Obj:
    """Strategic merge patch removing the ownerReferences with `owner_uids`."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": u} for u in owner_uids],
                         "uid": dependent_uid}}


def unblock_owner_refs_patch(dependent_uid: str, owners: Iterable[Obj]) -> Obj:
    """Strategic merge patch setting blockOwnerDeletion false on every blocking ownerReference."""
    refs = [{"uid": r.get("uid"), "blockOwnerDeletion": False} for r in owners if r.get("blockOwnerDeletion") is True]
    return {"metadata": {"ownerReferences": refs, "uid": dependent_uid}}


def finalizers_patch(finalizers: list[str], resource_version: str) -> Obj:
    """JSON merge patch replacing metadata.finalizers (null when none are left), guarded by resourceVersion."""
    return {"metadata": {"finalizers": finalizers or None, "resourceVersion": resource_version}}


def without(items: list[str], item: str) -> tuple[list[str], bool]:
    """`items` minus every `item`, and whether any was there."""
    kept = [i for i in items if i != item]
    return kept, len(kept) != len(items)
