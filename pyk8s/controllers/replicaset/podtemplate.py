"""The pod a ReplicaSet creates from its template (upstream controller_utils GetPodFromTemplate)."""

from __future__ import annotations

from typing import Any

from pyk8s.api.meta import copy
from pyk8s.controllers.framework import new_controller_ref

Obj = dict[str, Any]


class NoLabelsError(Exception):
    """A template without labels: the pods could never be selected again."""


def pod_from_template(owner: Obj, api_version: str, kind: str) -> Obj:
    """A Pod dict with generateName "<owner>-", the template's labels, annotations, finalizers and spec,
    and a controller ownerReference to `owner` (blockOwnerDeletion true)."""
    template = (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    if not labels:
        raise NoLabelsError("unable to create pods, no labels")
    om = owner["metadata"]
    metadata: Obj = {
        "generateName": f"{om['name']}-",
        "namespace": om.get("namespace", ""),
        "labels": labels,
        "ownerReferences": [new_controller_ref(owner, api_version, kind)],
    }
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        metadata["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": copy(template.get("spec") or {})}
