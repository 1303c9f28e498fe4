"""The autoscaling/v1 Scale view of a scalable workload, as the scale subresource serves it.

One function for the apiserver's subresource and the fake client, so both answer with the same shape.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import labels

Obj = dict[str, Any]
SCALE_API_VERSION = "autoscaling/v1"


def scale_of(obj: Obj) -> Obj:
    """The Scale of a Deployment, ReplicaSet, StatefulSet or ReplicationController (spec.replicas defaults to 1;
    status.selector is the label selector as a string, a ReplicationController's map rendered k=v sorted)."""
    md = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        sel_text = ""
    elif obj.get("kind") == "ReplicationController":
        sel_text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    else:
        sel_text = labels.selector_to_string(selector)
    scale_md = {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md}
    out_status: Obj = {"replicas": int(status.get("replicas") or 0)}
    if sel_text:
        out_status["selector"] = sel_text
    replicas = spec.get("replicas")
    return {"kind": "Scale", "apiVersion": SCALE_API_VERSION, "metadata": scale_md,
            "spec": {"replicas": int(replicas) if replicas is not None else 1}, "status": out_status}
