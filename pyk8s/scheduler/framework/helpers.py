"""Pure scheduling helpers several plugins share: taint toleration, node selector terms, required node affinity.

These follow k8s.io/component-helpers/scheduling/corev1 (tolerations, nodeaffinity): a node selector term
without requirements matches nothing, an invalid term (bad operator or values) matches nothing, and
matchFields understands only metadata.name with In/NotIn and exactly one value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pyk8s.api.resources import Resource
from pyk8s.api.taints import tolerates
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import resource

TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

try:
    STORAGE_CLASSES: Resource | None = resource("storage.k8s.io/v1", "storageclasses")
except KeyError:  # not served (yet): unbound claims are then treated as binding Immediately
    STORAGE_CLASSES = None


# ---- taints and tolerations ----

def tolerations_tolerate_taint(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_matching_untolerated_taint(taints: Sequence[Obj], tolerations: Sequence[Mapping[str, Any]],
                                    include: Callable[[Obj], bool] | None = None) -> Obj | None:
    """The first taint (passing `include`) that no toleration tolerates, or None."""
    for taint in taints:
        if include is not None and not include(taint):
            continue
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def do_not_schedule_taint(taint: Obj) -> bool:
    return taint.get("effect") in ("NoSchedule", "NoExecute")


def pod_tolerations(pod: Obj) -> list[Obj]:
    return list((pod.get("spec") or {}).get("tolerations") or ())


# ---- node selectors ----

def _int64(text: str) -> int | None:
    try:
        return int(text, 10)
    except ValueError:
        return None


class _Requirement:
    __slots__ = ("key", "number", "op", "values")

    def __init__(self, key: str, op: str, values: frozenset[str], number: int | None) -> None:
        self.key = key
        self.op = op
        self.values = values
        self.number = number

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.op
        if op == "In":
            v = labels.get(self.key)
            return v is not None and v in self.values
        if op == "NotIn":
            v = labels.get(self.key)
            return v is None or v not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        v = labels.get(self.key)
        if v is None or self.number is None:
            return False
        have = _int64(v)
        if have is None:
            return False
        return have > self.number if op == "Gt" else have < self.number


def _parse_label_requirement(expr: Mapping[str, Any]) -> _Requirement | None:
    key = str(expr.get("key") or "")
    op = str(expr.get("operator") or "")
    values = [str(v) for v in expr.get("values") or ()]
    if not key:
        return None
    if op in ("In", "NotIn"):
        if not values:
            return None
        return _Requirement(key, op, frozenset(values), None)
    if op in ("Exists", "DoesNotExist"):
        if values:
            return None
        return _Requirement(key, op, frozenset(), None)
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            return None
        n = _int64(values[0])
        if n is None:
            return None
        return _Requirement(key, op, frozenset(values), n)
    return None


def _parse_field_requirement(expr: Mapping[str, Any]) -> _Requirement | None:
    key = str(expr.get("key") or "")
    op = str(expr.get("operator") or "")
    values = [str(v) for v in expr.get("values") or ()]
    if key != "metadata.name" or op not in ("In", "NotIn") or len(values) != 1:
        return None
    return _Requirement(key, op, frozenset(values), None)


class NodeSelectorTerm:
    """One parsed NodeSelectorTerm (the requirements are ANDed)."""

    __slots__ = ("fields", "labels", "valid")

    def __init__(self, term: Mapping[str, Any]) -> None:
        self.labels: list[_Requirement] = []
        self.fields: list[_Requirement] = []
        self.valid = True
        for expr in term.get("matchExpressions") or ():
            r = _parse_label_requirement(expr)
            if r is None:
                self.valid = False
            else:
                self.labels.append(r)
        for expr in term.get("matchFields") or ():
            r = _parse_field_requirement(expr)
            if r is None:
                self.valid = False
            else:
                self.fields.append(r)

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self.valid:
            return False
        for r in self.labels:
            if not r.matches(labels):
                return False
        if self.fields:
            fields = {"metadata.name": node_name}
            for r in self.fields:
                if not r.matches(fields):
                    return False
        return True


def _is_empty_term(term: Mapping[str, Any]) -> bool:
    return not term.get("matchExpressions") and not term.get("matchFields")


class NodeSelector:
    """NodeSelectorTerms ORed together; empty terms are dropped (they select nothing)."""

    __slots__ = ("terms",)

    def __init__(self, node_selector: Mapping[str, Any] | None) -> None:
        terms = (node_selector or {}).get("nodeSelectorTerms") or ()
        self.terms = [NodeSelectorTerm(t) for t in terms if not _is_empty_term(t)]

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        return any(t.matches(labels, node_name) for t in self.terms)


class PreferredSchedulingTerms:
    """Weighted preferred node selector terms; the score of a node is the sum of the matching weights."""

    __slots__ = ("terms",)

    def __init__(self, preferred: Sequence[Mapping[str, Any]]) -> None:
        self.terms: list[tuple[int, NodeSelectorTerm]] = []
        for p in preferred:
            weight = int(p.get("weight") or 0)
            pref = p.get("preference") or {}
            if weight == 0 or _is_empty_term(pref):
                continue
            self.terms.append((weight, NodeSelectorTerm(pref)))

    def score(self, labels: Mapping[str, str], node_name: str) -> int:
        return sum(w for w, t in self.terms if t.matches(labels, node_name))


class RequiredNodeAffinity:
    """spec.nodeSelector AND spec.affinity.nodeAffinity.requiredDuringScheduling... of a pod."""

    __slots__ = ("node_selector", "selector_labels")

    def __init__(self, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        self.selector_labels: dict[str, str] = dict(spec.get("nodeSelector") or {})
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.node_selector = NodeSelector(required) if required is not None else None

    def is_empty(self) -> bool:
        return not self.selector_labels and self.node_selector is None

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        for k, v in self.selector_labels.items():
            if labels.get(k) != v:
                return False
        if self.node_selector is not None:
            return self.node_selector.matches(labels, node_name)
        return True


def required_node_affinity(pod: Obj) -> RequiredNodeAffinity:
    return RequiredNodeAffinity(pod)
