"""What differs between resources, written once per resource (upstream's RESTCreateStrategy & co.).

The generic handlers call these hooks in a fixed order: defaults -> prepare -> validate -> admission
-> store. A resource module subclasses Strategy and overrides only what it needs.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api import meta
from pyk8s.api.resources import Resource

Obj = dict[str, Any]

# Kinds whose metadata.generation upstream tracks (bumped on spec changes only).
GENERATION_KINDS = frozenset(
    {
        ("apps", "deployments"), ("apps", "replicasets"), ("apps", "daemonsets"), ("apps", "statefulsets"),
        ("batch", "jobs"), ("batch", "cronjobs"), ("", "replicationcontrollers"),
        ("autoscaling", "horizontalpodautoscalers"), ("policy", "poddisruptionbudgets"),
        ("discovery.k8s.io", "endpointslices"),
    }
)
# Kinds whose annotation changes bump generation too (a Deployment's annotations are copied to its ReplicaSets).
ANNOTATION_GENERATION_KINDS = frozenset({("apps", "deployments")})


@dataclass(slots=True)
class UserInfo:
    name: str
    groups: list[str] = field(default_factory=list)
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class RequestContext:
    user: UserInfo
    now: datetime.datetime
    dry_run: bool = False
    field_manager: str = ""
    warnings: list[str] = field(default_factory=list)
    # Allocations (node ports) an update attempt made; given back if it does not commit.
    reserved: list[Any] = field(default_factory=list)


_ANNOTATIONS_VIA_STATUS = frozenset({"deployments", "replicasets", "daemonsets", "statefulsets"})


class Strategy:
    """Default behaviour for a resource: generic metadata, spec/status split when status is a subresource."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.tracks_generation = (resource.group, resource.plural) in GENERATION_KINDS

    # ---- create ----
    def prepare_for_create(self, obj: Obj, ctx: RequestContext) -> None:
        if self.resource.has_status:
            status = self.initial_status(obj)
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
        if self.tracks_generation:
            meta.meta(obj)["generation"] = 1

    def initial_status(self, obj: Obj) -> Any:
        """Status a new object starts with when status is a subresource (upstream resets it to empty)."""
        return {}

    # ---- update of the main resource ----
    def prepare_for_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        if self.resource.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            old_gen = int(old.get("metadata", {}).get("generation") or 1)
            meta.meta(new)["generation"] = old_gen + 1 if self.spec_changed(new, old) else old_gen

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        ignore = {"metadata", "status", "apiVersion", "kind"}
        if (self.resource.group, self.resource.plural) in ANNOTATION_GENERATION_KINDS:
            new_ann = (new.get("metadata") or {}).get("annotations") or {}
            if new_ann != ((old.get("metadata") or {}).get("annotations") or {}):
                return True
        return {k: v for k, v in new.items() if k not in ignore} != {k: v for k, v in old.items() if k not in ignore}

    # ---- update of the status subresource ----
    def prepare_for_status_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        """Only status may change; everything else comes from the stored object.

        The apps workloads are older: upstream resets only their spec and labels on a status write, so
        annotations written with status stick (the deployment controller sets its revision annotation so).
        """
        status = new.get("status")
        annotations = (new.get("metadata") or {}).get("annotations")
        new.clear()
        new.update(meta.copy(old))
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status
        if self.resource.group == "apps" and self.resource.plural in _ANNOTATIONS_VIA_STATUS:
            if annotations:
                meta.meta(new)["annotations"] = annotations
            else:
                meta.meta(new).pop("annotations", None)

    # ---- side effects around the store write (allocations) ----
    async def before_create(self, obj: Obj, ctx: RequestContext) -> None:
        """Reserve what the object needs (cluster IPs, node ports) once it is valid; may raise API errors."""

    async def after_failed_create(self, obj: Obj) -> None:
        """Release what before_create reserved when the store write did not happen."""

    async def before_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        """Reserve/release what an update changes (e.g. a Service switching type)."""

    async def after_delete(self, obj: Obj) -> None:
        """Release what the deleted object held."""

    async def abort_update(self, ctx: RequestContext) -> None:
        """Give back what before_update reserved in an attempt that will not be stored (conflict retry, error)."""

    async def after_update(self, new: Obj, old: Obj, ctx: RequestContext) -> None:
        """Release what the old object held and the stored new one no longer does."""

    # ---- deletion ----
    def default_grace_period(self, obj: Obj) -> int:
        """Grace period when the client sends none; 0 deletes at once."""
        return 0

    def effective_grace_period(self, obj: Obj, requested: int) -> int:
        """The grace period actually used for a delete that asked for `requested` seconds."""
        return requested

    def pending_deletion(self, obj: Obj) -> bool:
        """True when something other than metadata.finalizers holds the object (a namespace's spec.finalizers)."""
        return False

    def mark_deleting(self, obj: Obj) -> None:
        """Changes made to an object when its deletion starts (e.g. a namespace's phase -> Terminating)."""

    def allow_create_on_update(self) -> bool:
        return False

    def allow_unconditional_update(self) -> bool:
        return True
