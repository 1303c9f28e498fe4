"""Can a pod run on a node: required node affinity, nodeSelector and taints, as the DaemonSet controller checks them.

Upstream's daemon controller uses component-helpers' nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
and FindMatchingUntoleratedTaint; these are the same rules over plain dicts. A node selector term that
cannot be parsed matches nothing (upstream's lazy-error selector), and an empty term matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pyk8s.api.taints import tolerates

Obj = dict[str, Any]

NODE_FIELD_SELECTOR_KEY_NODE_NAME = "metadata.name"


def _int64(text: Any) -> int | None:
    try:
        return int(str(text), 10)
    except ValueError:
        return None


def requirement_matches(req: Mapping[str, Any], value: str | None) -> bool | None:
    """One NodeSelectorRequirement against one value (None = key absent); None when the requirement is invalid."""
    op = req.get("operator")
    values = list(req.get("values") or [])
    if op == "In":
        return None if not values else value is not None and value in values
    if op == "NotIn":
        return None if not values else value is None or value not in values
    if op == "Exists":
        return None if values else value is not None
    if op == "DoesNotExist":
        return None if values else value is None
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            return None
        bound = _int64(values[0])
        if bound is None:
            return None
        if value is None:
            return False
        have = _int64(value)
        if have is None:
            return False
        return have > bound if op == "Gt" else have < bound
    return None


def term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """A NodeSelectorTerm: every matchExpression (labels) and matchField (metadata.name) holds; empty matches nothing."""
    expressions = list(term.get("matchExpressions") or [])
    fields = list(term.get("matchFields") or [])
    if not expressions and not fields:
        return False
    meta = node.get("metadata") or {}
    labels: Mapping[str, str] = meta.get("labels") or {}
    for req in expressions:
        ok = requirement_matches(req, labels.get(str(req.get("key"))))
        if not ok:
            return False
    for req in fields:
        if req.get("key") != NODE_FIELD_SELECTOR_KEY_NODE_NAME or req.get("operator") not in ("In", "NotIn"):
            return False
        if len(req.get("values") or []) != 1:
            return False
        ok = requirement_matches(req, str(meta.get("name") or ""))
        if not ok:
            return False
    return True


def node_selector_matches(selector: Mapping[str, Any] | None, node: Obj) -> bool:
    """A NodeSelector: its terms are ORed; no terms matches nothing."""
    return any(term_matches(t, node) for t in (selector or {}).get("nodeSelectorTerms") or ())


def required_affinity_matches(pod_spec: Mapping[str, Any], node: Obj) -> bool:
    """spec.nodeSelector and requiredDuringSchedulingIgnoredDuringExecution node affinity both hold."""
    labels: Mapping[str, str] = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return node_selector_matches(required, node)


def find_untolerated_taint(taints: Iterable[Mapping[str, Any]], tolerations: Iterable[Mapping[str, Any]],
                           include: Callable[[Mapping[str, Any]], bool]) -> Mapping[str, Any] | None:
    """The first taint selected by `include` that no toleration tolerates, or None."""
    tols = list(tolerations)
    for taint in taints:
        if not include(taint):
            continue
        if not any(tolerates(t, taint) for t in tols):
            return taint
    return None
