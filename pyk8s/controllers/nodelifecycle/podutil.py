"""Pod helpers shared by the node lifecycle and taint eviction controllers: the spec.nodeName index and
object references for events."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

NODE_NAME_INDEX = "spec.nodeName"


def node_name_of(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def node_name_index(pod: Obj) -> list[str]:
    name = node_name_of(pod)
    return [name] if name else []


def pods_on_node(informer: Any, node_name: str) -> list[Obj]:
    """Pods bound to `node_name` from the pod informer (by index; a scan when the index is missing)."""
    try:
        return list(informer.lister.by_index(NODE_NAME_INDEX, node_name))
    except KeyError:
        return [p for p in informer.lister.list() if node_name_of(p) == node_name]


def pod_ref(pod: Obj) -> Obj:
    md = pod.get("metadata") or {}
    ref: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": md.get("name", ""),
                                                                "namespace": md.get("namespace", "")}}
    if md.get("uid"):
        ref["metadata"]["uid"] = md["uid"]
    return ref


def node_ref(node: Obj) -> Obj:
    md = node.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": md.get("name", ""), "uid": md.get("uid", "")}}
