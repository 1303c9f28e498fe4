"""The deprecated server-side rollback (upstream rollback.go): the `deprecated.deployment.rollback.to`
annotation, which extensions/v1beta1 and apps/v1beta1 clients set. Modern kubectl rolls back client-side by
patching the template, which needs nothing from the controller."""

from __future__ import annotations

from typing import Any

from pyk8s.api.meta import copy
from pyk8s.controllers.deployment.util import (
    DEPRECATED_ROLLBACK_TO,
    UNIQUE_LABEL_KEY,
    annotations_of,
    set_deployment_annotations_to,
)

Obj = dict[str, Any]


def rollback_to(d: Obj) -> int | None:
    """The requested revision (0 = the previous one), or None when no (valid) rollback is requested."""
    value = annotations_of(d).get(DEPRECATED_ROLLBACK_TO, "")
    if not value:
        return None
    try:
        return int(value, 10)
    except ValueError:
        return None


def clear_rollback_to(d: Obj) -> None:
    anns = (d.get("metadata") or {}).get("annotations")
    if isinstance(anns, dict):
        anns.pop(DEPRECATED_ROLLBACK_TO, None)


def apply_rollback(d: Obj, rs: Obj) -> None:
    """Give `d` the template of `rs` (without the hash label) and that ReplicaSet's annotations."""
    template = copy((rs.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(UNIQUE_LABEL_KEY, None)
    d.setdefault("spec", {})["template"] = template
    set_deployment_annotations_to(d, rs)
