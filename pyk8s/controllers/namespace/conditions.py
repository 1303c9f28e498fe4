"""The status conditions a terminating Namespace carries while the namespace controller empties it
(pkg/controller/namespace/deletion/status_condition_utils.go): every type is always present, True with
the problem while there is one, otherwise False with upstream's "all good" reason and message."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Final

from pyk8s.api.meta import now_rfc3339

Obj = dict[str, Any]

DISCOVERY_FAILURE: Final = "NamespaceDeletionDiscoveryFailure"
GROUP_VERSION_PARSING_FAILURE: Final = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE: Final = "NamespaceDeletionContentFailure"
CONTENT_REMAINING: Final = "NamespaceContentRemaining"
FINALIZERS_REMAINING: Final = "NamespaceFinalizersRemaining"

CONDITION_TYPES: Final = (DISCOVERY_FAILURE, GROUP_VERSION_PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING,
                          FINALIZERS_REMAINING)

OK_REASONS: Final = {
    DISCOVERY_FAILURE: "ResourcesDiscovered",
    GROUP_VERSION_PARSING_FAILURE: "ParsedGroupVersions",
    CONTENT_FAILURE: "ContentDeleted",
    CONTENT_REMAINING: "ContentRemoved",
    FINALIZERS_REMAINING: "ContentHasNoFinalizers",
}
OK_MESSAGES: Final = {
    DISCOVERY_FAILURE: "All resources successfully discovered",
    GROUP_VERSION_PARSING_FAILURE: "All legacy kube types successfully parsed",
    CONTENT_FAILURE: "All content successfully deleted, may be waiting on finalization",
    CONTENT_REMAINING: "All content successfully removed",
    FINALIZERS_REMAINING: "All content-preserving finalizers finished",
}


def _condition(type_: str, status: str, reason: str, message: str, now: datetime.datetime) -> Obj:
    return {"type": type_, "status": status, "lastTransitionTime": now_rfc3339(now), "reason": reason,
            "message": message}


@dataclass
class ConditionUpdater:
    """Collects what went wrong in one deletion pass, then writes it into a Namespace status."""

    now: datetime.datetime
    conditions: list[Obj] = field(default_factory=list)
    delete_content_errors: list[str] = field(default_factory=list)

    def discovery_failed(self, message: str) -> None:
        self.conditions.append(_condition(DISCOVERY_FAILURE, "True", "DiscoveryFailed", message, self.now))

    def delete_content_failed(self, message: str) -> None:
        self.delete_content_errors.append(message)

    def content_totals(self, remaining: dict[tuple[str, str], int], finalizers: dict[str, int]) -> None:
        """``remaining`` counts objects left per (resource, group); ``finalizers`` per finalizer."""
        if remaining:
            items = sorted(f"{resource}.{group} has {n} resource instances"
                           for (resource, group), n in remaining.items() if n)
            self.conditions.append(_condition(CONTENT_REMAINING, "True", "SomeResourcesRemain",
                                              f"Some resources are remaining: {', '.join(items)}", self.now))
        if finalizers:
            items = sorted(f"{name} in {n} resource instances" for name, n in finalizers.items() if n)
            self.conditions.append(_condition(
                FINALIZERS_REMAINING, "True", "SomeFinalizersRemain",
                f"Some content in the namespace has finalizers remaining: {', '.join(items)}", self.now))

    def update(self, status: Obj) -> bool:
        """Write the conditions into ``status`` (in place); True when anything changed."""
        new = list(self.conditions)
        if self.delete_content_errors and not any(c["type"] == CONTENT_FAILURE for c in new):
            msgs = sorted(self.delete_content_errors)
            new.append(_condition(CONTENT_FAILURE, "True", "ContentDeletionFailed",
                                  f"Failed to delete all resource types, {len(msgs)} remaining: {', '.join(msgs)}",
                                  self.now))
        existing: list[Obj] = status.setdefault("conditions", [])
        changed = False
        for type_ in CONDITION_TYPES:
            wanted = next((c for c in new if c["type"] == type_), None) or _condition(
                type_, "False", OK_REASONS[type_], OK_MESSAGES[type_], self.now)
            old = next((c for c in existing if c.get("type") == type_), None)
            if old is None:
                existing.append(wanted)
                changed = True
            elif (old.get("status"), old.get("reason"), old.get("message")) != (
                    wanted["status"], wanted["reason"], wanted["message"]):
                if old.get("status") != wanted["status"]:
                    old["lastTransitionTime"] = wanted["lastTransitionTime"]
                old.update(status=wanted["status"], reason=wanted["reason"], message=wanted["message"])
                changed = True
        return changed
