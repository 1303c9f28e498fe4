"""Adopting orphans and releasing strays through the ControllerRef (upstream's ControllerRefManager).

A controller owns the objects whose controller ownerReference carries its UID. Each sync it claims what its
selector (plus optional filters) matches: an owned object that still matches stays claimed; an owned object
that no longer matches is released (a patch deletes the reference, unless the owner is being deleted); an
orphan that matches is adopted (a patch adds a controller reference), but only after one live GET of the owner
confirmed it is the same object (UID) and is not being deleted (upstream's canAdopt/RecheckDeletionTimestamp).
Objects controlled by someone else are never touched. Both patches are strategic merge patches carrying the
object's UID as a precondition, as upstream's. Errors from the individual patches are aggregated.

The event handlers' side of the same relation is here too: which cached owner a ControllerRef names
(resolveControllerRef), and which cached owners would claim an orphan (GetPodReplicaSets and kin).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Sequence

from pyk8s.api import errors
from pyk8s.api.labels import Selector, from_label_selector
from pyk8s.api.resources import Resource
from pyk8s.client.interface import Client, Lister, Obj
from pyk8s.controllers.framework import controller_ref, new_controller_ref
from pyk8s.controllers.framework.labelmatch import label_matcher

log = logging.getLogger("pyk8s.controllers.ownership")


class AdoptionRefused(Exception):
    """The owner may not adopt: it is being deleted, was replaced by a new object of the same name, or could
    not be read."""


class ClaimError(Exception):
    """One or more adoptions or releases failed (upstream's aggregate error); the sync should be retried."""

    def __init__(self, failures: list[Exception]) -> None:
        self.errors = list(failures)
        text = [str(e) for e in self.errors]
        super().__init__(text[0] if len(text) == 1 else "[" + ", ".join(text) + "]")

    @property
    def reason(self) -> str:
        """The API reason all the failures share ("Conflict", ...), or "" (the controller logs by it)."""
        reasons = {getattr(e, "reason", "") for e in self.errors}
        return reasons.pop() if len(reasons) == 1 else ""


class Claim(enum.Enum):
    OWNED = "owned"  # ours and matching: keep
    ADOPT = "adopt"  # orphan that matches: take it
    RELEASE = "release"  # ours but no longer matching: let go
    IGNORE = "ignore"  # someone else's, or not ours to take


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


_NO_CONTROLLER = object()


def _controller_uid(md: Obj) -> object:
    """The uid of the controller reference in metadata `md` (no copy), or a sentinel equal to nothing."""
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid")
    return _NO_CONTROLLER


def resolve_controller_ref(owners: Lister, namespace: str, ref: Obj | None, kind: str) -> Obj | None:
    """The cached owner (of `kind`, in `namespace`) the controller reference `ref` names, if it still is that
    object (same UID); else None (upstream resolveControllerRef)."""
    if ref is None or ref.get("kind") != kind:
        return None
    owner = owners.get(f"{namespace}/{ref.get('name', '')}")
    if owner is None or _meta(owner).get("uid") != ref.get("uid"):
        return None
    return owner


def owners_selecting(owners: Lister, obj: Obj, *, match_empty: bool = False) -> list[Obj]:
    """The cached owners in `obj`'s namespace whose label selector matches `obj`'s labels (upstream
    GetPodReplicaSets and kin). An invalid selector matches nothing; so does an empty one unless
    `match_empty`."""
    labels = _meta(obj).get("labels") or {}
    found = []
    for owner in owners.list(_meta(obj).get("namespace") or ""):
        selector = spec_selector(owner)
        if selector is None:
            continue
        if (match_empty or not selector.empty()) and selector.matches(labels):
            found.append(owner)
    return found


def spec_selector(obj: Obj) -> Selector | None:
    """The workload's spec.selector parsed, or None when it is invalid."""
    try:
        return from_label_selector((obj.get("spec") or {}).get("selector"))
    except errors.StatusError:
        return None


def claim_action(obj: Obj, owner: Obj, matches: bool) -> Claim:
    """What `owner`'s controller should do with `obj` (upstream BaseControllerRefManager.ClaimObject)."""
    owner_meta = _meta(owner)
    owner_deleting = bool(owner_meta.get("deletionTimestamp"))
    ref = controller_ref(obj)
    if ref is not None:
        if ref.get("uid") != owner_meta.get("uid"):
            return Claim.IGNORE
        if matches:
            return Claim.OWNED  # still ours, even while the owner is being deleted
        return Claim.IGNORE if owner_deleting else Claim.RELEASE
    if owner_deleting or not matches or _meta(obj).get("deletionTimestamp"):
        return Claim.IGNORE
    owner_ns = owner_meta.get("namespace") or ""
    if owner_ns and owner_ns != (_meta(obj).get("namespace") or ""):
        return Claim.IGNORE
    return Claim.ADOPT


def adopt_patch(owner: Obj, owner_resource: Resource, obj_uid: str, finalizers: Sequence[str] = ()) -> Obj:
    """Strategic merge patch making `owner` the controller of the object with UID `obj_uid` and adding
    `finalizers` (merged into the object's own, as upstream's PodControllerRefManager adopts)."""
    ref = new_controller_ref(owner, owner_resource.api_version, owner_resource.kind)
    patch: Obj = {"metadata": {"ownerReferences": [ref], "uid": obj_uid}}
    if finalizers:
        patch["metadata"]["finalizers"] = list(finalizers)
    return patch


def release_patch(owner_uid: str, obj_uid: str) -> Obj:
    """Strategic merge patch deleting the ownerReference to `owner_uid` from the object with UID `obj_uid`."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": obj_uid}}


def adoption_refusal(fresh: Obj, owner: Obj, kind: str) -> str | None:
    """Why `owner` must not adopt, given `fresh` (a live read of it), or None (RecheckDeletionTimestamp)."""
    fm, om = _meta(fresh), _meta(owner)
    if fm.get("uid") != om.get("uid"):
        return (f"can't recheck DeletionTimestamp: original {kind} {om.get('namespace', '')}/{om.get('name', '')} "
                f"is gone: got uid {fm.get('uid', '')}, wanted {om.get('uid', '')}")
    if fm.get("deletionTimestamp"):
        return f"{fm.get('namespace', '')}/{fm.get('name', '')} has just been deleted at {fm['deletionTimestamp']}"
    return None


class ControllerRefManager:
    """Claims objects for one owner during one sync.

    `owner_resource` is the owner's own resource (its live GET and the apiVersion/kind of the reference).
    `adopt_finalizers` are added to every object adopted (the Job controller's tracking finalizer).
    The live recheck of the owner happens at most once per manager, on the first adoption: make a new
    manager for every sync.
    """

    def __init__(self, client: Client, owner: Obj, owner_resource: Resource, selector: Selector, *,
                 adopt_finalizers: Sequence[str] = ()) -> None:
        self.client = client
        self.owner = owner
        self.owner_resource = owner_resource
        self.selector = selector
        self.adopt_finalizers = tuple(adopt_finalizers)
        self._checked = False
        self._refusal: str | None = None

    async def claim(self, resource: Resource, candidates: Iterable[Obj],
                    *filters: Callable[[Obj], bool]) -> list[Obj]:
        """The `candidates` (of `resource`) the owner controls after adopting and releasing: those matching the
        selector and every filter. Returns the cached instances, unmodified. Raises ClaimError after trying every
        candidate if any adoption or release failed (objects that vanished meanwhile are skipped)."""
        claimed: list[Obj] = []
        failures: list[Exception] = []
        selector_matches = label_matcher(self.selector)
        owner_uid = _meta(self.owner).get("uid")
        for obj in candidates:
            md = obj.get("metadata") or {}
            matches = selector_matches(md.get("labels") or {}) and all(f(obj) for f in filters)
            if matches and _controller_uid(md) == owner_uid:
                claimed.append(obj)  # the common case, settled without claim_action: ours and still matching
                continue
            action = claim_action(obj, self.owner, matches)
            try:
                if action is Claim.OWNED:
                    claimed.append(obj)
                elif action is Claim.RELEASE:
                    await self.release(resource, obj)
                elif action is Claim.ADOPT:
                    await self.adopt(resource, obj)
                    claimed.append(obj)
            except errors.NotFound:
                continue
            except Exception as e:  # aggregated, as upstream's ClaimObject loop collects every error
                failures.append(e)
        if failures:
            raise ClaimError(failures)
        return claimed

    async def can_adopt(self) -> None:
        """Raise AdoptionRefused unless a live read shows the owner is the same object and not being deleted.
        Only the first call reads; later calls repeat its answer."""
        if not self._checked:
            self._checked = True
            om = _meta(self.owner)
            try:
                fresh = await self.client.get(self.owner_resource, om["name"], om.get("namespace") or "")
            except Exception as e:
                self._refusal = f"can't recheck DeletionTimestamp: {e}"
            else:
                self._refusal = adoption_refusal(fresh, self.owner, self.owner_resource.kind)
        if self._refusal is not None:
            raise AdoptionRefused(self._refusal)

    async def adopt(self, resource: Resource, obj: Obj) -> None:
        """Make the owner `obj`'s controller (after can_adopt), adding `adopt_finalizers`. Errors from the
        patch propagate."""
        m = _meta(obj)
        try:
            await self.can_adopt()
        except AdoptionRefused as e:
            raise AdoptionRefused(f"can't adopt {resource.kind} {m.get('namespace', '')}/{m.get('name', '')} "
                                  f"({m.get('uid', '')}): {e}") from None
        patch = adopt_patch(self.owner, self.owner_resource, str(m.get("uid")), self.adopt_finalizers)
        await self.client.patch(resource, m["name"], patch, m.get("namespace") or "", patch_type="strategic")

    async def release(self, resource: Resource, obj: Obj) -> None:
        """Remove the owner's reference from `obj`; NotFound (gone) and Invalid (no longer ours) are ignored."""
        m = _meta(obj)
        om = _meta(self.owner)
        log.debug("patching %s %s/%s to remove its controllerRef to %s %s", resource.kind, m.get("namespace", ""),
                  m.get("name"), self.owner_resource.kind, om.get("name"))
        try:
            await self.client.patch(resource, m["name"], release_patch(str(om.get("uid")), str(m.get("uid"))),
                                    m.get("namespace") or "", patch_type="strategic")
        except (errors.NotFound, errors.Invalid):
            return
