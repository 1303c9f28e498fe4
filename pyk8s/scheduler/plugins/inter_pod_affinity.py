"""InterPodAffinity: required pod affinity / anti-affinity (the incoming pod's and the existing pods') filter
nodes by topology domain; preferred terms and existing pods' terms score them (upstream
plugins/interpodaffinity filtering.go and scoring.go).

The incoming pod's terms are tested against existing pods by label set, not pod by pod: a term matches the
label sets Snapshot.matching_label_sets finds, and each of the cache's NodeInfos counts its pods per label set
(NodeInfos from elsewhere are still visited pod by pod)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api.labels import NOTHING
from pyk8s.client.kinds import NAMESPACES
from pyk8s.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    EventResource,
    Handle,
    PreFilterResult,
    SnapshotLister,
    Status,
)
from pyk8s.scheduler.framework.types import AffinityTerm, LabelSetKey, NodeInfo, PodInfo, WeightedAffinityTerm

NAME = "InterPodAffinity"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME
ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
DEFAULT_HARD_POD_AFFINITY_WEIGHT = 1

_SKIP = Status(Code.SKIP)
_AFFINITY_FAIL = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY_RULES_NOT_MATCH)
_ANTI_AFFINITY_FAIL = Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
_EXISTING_ANTI_AFFINITY_FAIL = Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)

TopologyPair = tuple[str, str]


def _bump(counts: dict[TopologyPair, int], pair: TopologyPair, delta: int) -> None:
    n = counts.get(pair, 0) + delta
    if n == 0:
        counts.pop(pair, None)
    else:
        counts[pair] = n


def _matches(term: AffinityTerm, pod: PodInfo, ns_labels: Mapping[str, str] | None) -> bool:
    return term.matches(pod.namespace, pod.labels, ns_labels if term.needs_namespace_labels() else None)


def _matches_all(terms: Sequence[AffinityTerm], pod: PodInfo) -> bool:
    if not terms:
        return False
    return all(_matches(t, pod, {}) for t in terms)


def term_label_sets(snapshot: SnapshotLister, term: AffinityTerm) -> frozenset[LabelSetKey]:
    """The label sets of the cache's pods (terminating ones included) that `_matches(term, pod, {})` accepts."""
    if term.namespace_selector is not NOTHING and term.namespace_selector.matches({}):
        namespaces: Sequence[str] = snapshot.pod_namespaces()
    else:
        namespaces = sorted(term.namespaces)
    found: frozenset[LabelSetKey] = frozenset()
    for ns in namespaces:
        keys = snapshot.matching_label_sets(ns, term.selector, terminating=True)
        found = keys if not found else found | keys
    return found


class _FilterState:
    __slots__ = ("affinity_counts", "anti_affinity_counts", "existing_anti_affinity_counts", "namespace_labels",
                 "pod", "required_affinity", "required_anti_affinity")

    def __init__(self) -> None:
        self.pod: PodInfo | None = None
        self.required_affinity: list[AffinityTerm] = []
        self.required_anti_affinity: list[AffinityTerm] = []
        self.namespace_labels: Mapping[str, str] = {}
        self.existing_anti_affinity_counts: dict[TopologyPair, int] = {}
        self.affinity_counts: dict[TopologyPair, int] = {}
        self.anti_affinity_counts: dict[TopologyPair, int] = {}

    def clone(self) -> _FilterState:
        c = _FilterState()
        c.pod = self.pod
        c.required_affinity = self.required_affinity
        c.required_anti_affinity = self.required_anti_affinity
        c.namespace_labels = self.namespace_labels
        c.existing_anti_affinity_counts = dict(self.existing_anti_affinity_counts)
        c.affinity_counts = dict(self.affinity_counts)
        c.anti_affinity_counts = dict(self.anti_affinity_counts)
        return c

    def update_with_pod(self, other: PodInfo, node: NodeInfo, delta: int) -> None:
        labels = node.labels
        assert self.pod is not None
        for t in other.required_anti_affinity_terms:
            if _matches(t, self.pod, self.namespace_labels) and t.topology_key in labels:
                _bump(self.existing_anti_affinity_counts, (t.topology_key, labels[t.topology_key]), delta)
        if _matches_all(self.required_affinity, other):
            for t in self.required_affinity:
                if t.topology_key in labels:
                    _bump(self.affinity_counts, (t.topology_key, labels[t.topology_key]), delta)
        for t in self.required_anti_affinity:
            if _matches(t, other, {}) and t.topology_key in labels:
                _bump(self.anti_affinity_counts, (t.topology_key, labels[t.topology_key]), delta)


class _ScoreState:
    __slots__ = ("topology_score",)

    def __init__(self) -> None:
        self.topology_score: dict[str, dict[str, int]] = {}

    def clone(self) -> _ScoreState:
        return self

    def process_term(self, term: AffinityTerm, weight: int, pod: PodInfo, ns_labels: Mapping[str, str] | None,
                     node_labels: Mapping[str, str], multiplier: int) -> None:
        if _matches(term, pod, ns_labels):
            v = node_labels.get(term.topology_key)
            if v is not None:
                by_value = self.topology_score.setdefault(term.topology_key, {})
                by_value[v] = by_value.get(v, 0) + weight * multiplier

    def process_terms(self, terms: Sequence[WeightedAffinityTerm], pod: PodInfo, ns_labels: Mapping[str, str] | None,
                      node_labels: Mapping[str, str], multiplier: int) -> None:
        for wt in terms:
            self.process_term(wt.term, wt.weight, pod, ns_labels, node_labels, multiplier)


class InterPodAffinity:
    name = NAME
    scores_in_range = True

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        self.hard_pod_affinity_weight = int(args.get("hardPodAffinityWeight", DEFAULT_HARD_POD_AFFINITY_WEIGHT))
        self.ignore_preferred_terms_of_existing_pods = bool(args.get("ignorePreferredTermsOfExistingPods", False))

    # ---- namespaces ----

    def _namespace_labels(self, namespace: str) -> Mapping[str, str]:
        try:
            ns = self.handle.lister(NAMESPACES).get(namespace)
        except KeyError:
            return {}
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def _merge_namespaces(self, term: AffinityTerm) -> AffinityTerm:
        """Resolve a non-empty namespaceSelector into the term's namespace list (upstream
        mergeAffinityTermNamespacesIfNotEmpty)."""
        sel = term.namespace_selector
        if sel is NOTHING or sel.empty():
            return term
        try:
            namespaces = self.handle.lister(NAMESPACES).list()
        except KeyError:
            namespaces = []
        names = {(n.get("metadata") or {}).get("name", "") for n in namespaces
                 if sel.matches(((n.get("metadata") or {}).get("labels")) or {})}
        return AffinityTerm(term.namespaces | names, term.selector, term.topology_key, NOTHING)

    def _merged(self, terms: Sequence[AffinityTerm]) -> list[AffinityTerm]:
        return [self._merge_namespaces(t) for t in terms]

    # ---- filtering ----

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if pod.parse_error:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"parsing pod: {pod.parse_error}")
        s = _FilterState()
        s.pod = pod
        s.required_affinity = self._merged(pod.required_affinity_terms)
        s.required_anti_affinity = self._merged(pod.required_anti_affinity_terms)
        with_anti = self.handle.snapshot().have_pods_with_required_anti_affinity()
        if with_anti or s.required_affinity or s.required_anti_affinity:
            s.namespace_labels = self._namespace_labels(pod.namespace)
        if with_anti:
            for ni in with_anti:
                labels = ni.labels
                for existing in ni.pods_with_required_anti_affinity.values():
                    for t in existing.required_anti_affinity_terms:
                        if t.topology_key in labels and _matches(t, pod, s.namespace_labels):
                            _bump(s.existing_anti_affinity_counts, (t.topology_key, labels[t.topology_key]), 1)
        if s.required_affinity or s.required_anti_affinity:
            snapshot = self.handle.snapshot()
            # Label sets matching every required affinity term, and those matching each anti-affinity term.
            affinity_keys: frozenset[LabelSetKey] = frozenset()
            for i, t in enumerate(s.required_affinity):
                keys = term_label_sets(snapshot, t)
                affinity_keys = keys if i == 0 else affinity_keys & keys
            anti_keys = [(t, term_label_sets(snapshot, t)) for t in s.required_anti_affinity]
            for ni in nodes:
                labels = ni.labels
                if not ni.indexed:
                    self._count_pod_by_pod(s, ni)
                    continue
                if affinity_keys:
                    n = ni.count_label_sets(affinity_keys)
                    if n:
                        for t in s.required_affinity:
                            if t.topology_key in labels:
                                _bump(s.affinity_counts, (t.topology_key, labels[t.topology_key]), n)
                for t, keys in anti_keys:
                    if t.topology_key in labels:
                        n = ni.count_label_sets(keys)
                        if n:
                            _bump(s.anti_affinity_counts, (t.topology_key, labels[t.topology_key]), n)
        if not s.existing_anti_affinity_counts and not s.required_affinity and not s.required_anti_affinity:
            return None, _SKIP
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    @staticmethod
    def _count_pod_by_pod(s: _FilterState, ni: NodeInfo) -> None:
        labels = ni.labels
        for existing in ni.pods.values():
            if s.required_affinity and _matches_all(s.required_affinity, existing):
                for t in s.required_affinity:
                    if t.topology_key in labels:
                        _bump(s.affinity_counts, (t.topology_key, labels[t.topology_key]), 1)
            for t in s.required_anti_affinity:
                if t.topology_key in labels and _matches(t, existing, {}):
                    _bump(s.anti_affinity_counts, (t.topology_key, labels[t.topology_key]), 1)

    def pre_filter_extensions(self) -> InterPodAffinity:
        return self

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status | None:
        s = state.get(PRE_FILTER_STATE_KEY)
        if s is not None:
            s.update_with_pod(to_add, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status | None:
        s = state.get(PRE_FILTER_STATE_KEY)
        if s is not None:
            s.update_with_pod(to_remove, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.get(PRE_FILTER_STATE_KEY)
        if s is None:
            return Status(Code.ERROR, f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        labels = node.labels
        if s.required_affinity:
            pods_exist = True
            for t in s.required_affinity:
                v = labels.get(t.topology_key)
                if v is None:
                    return _AFFINITY_FAIL
                if s.affinity_counts.get((t.topology_key, v), 0) <= 0:
                    pods_exist = False
            if not pods_exist and not (not s.affinity_counts and _matches_all(s.required_affinity, pod)):
                return _AFFINITY_FAIL
        for t in s.required_anti_affinity:
            v = labels.get(t.topology_key)
            if v is not None and s.anti_affinity_counts.get((t.topology_key, v), 0) > 0:
                return _ANTI_AFFINITY_FAIL
        if s.existing_anti_affinity_counts:
            counts = s.existing_anti_affinity_counts
            for pair in labels.items():
                if counts.get(pair, 0) > 0:
                    return _EXISTING_ANTI_AFFINITY_FAIL
        return None

    # ---- scoring ----

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        if not nodes:
            return _SKIP
        has_constraints = bool(pod.preferred_affinity_terms or pod.preferred_anti_affinity_terms)
        if self.ignore_preferred_terms_of_existing_pods and not has_constraints:
            return _SKIP
        snapshot = self.handle.snapshot()
        all_nodes = snapshot.node_infos() if has_constraints else snapshot.have_pods_with_affinity()
        if not all_nodes:
            return _SKIP
        preferred = [WeightedAffinityTerm(self._merge_namespaces(w.term), w.weight)
                     for w in pod.preferred_affinity_terms]
        preferred_anti = [WeightedAffinityTerm(self._merge_namespaces(w.term), w.weight)
                          for w in pod.preferred_anti_affinity_terms]
        ns_labels = self._namespace_labels(pod.namespace)
        s = _ScoreState()
        # The incoming pod's terms against every existing pod, by label set: (term, weight x sign, label sets).
        incoming = [(w.term, w.weight, term_label_sets(snapshot, w.term)) for w in preferred]
        incoming += [(w.term, -w.weight, term_label_sets(snapshot, w.term)) for w in preferred_anti]
        for ni in all_nodes:
            node_labels = ni.labels
            if not node_labels:
                continue
            if has_constraints:
                if ni.indexed:
                    for term, weight, keys in incoming:
                        v = node_labels.get(term.topology_key)
                        if v is None:
                            continue
                        n = ni.count_label_sets(keys)
                        if n:
                            by_value = s.topology_score.setdefault(term.topology_key, {})
                            by_value[v] = by_value.get(v, 0) + weight * n
                else:
                    for existing in ni.pods.values():
                        s.process_terms(preferred, existing, {}, node_labels, 1)
                        s.process_terms(preferred_anti, existing, {}, node_labels, -1)
            # The existing pods' own terms against the incoming pod.
            for existing in ni.pods_with_affinity.values():
                if self.hard_pod_affinity_weight > 0:
                    for t in existing.required_affinity_terms:
                        s.process_term(t, self.hard_pod_affinity_weight, pod, ns_labels, node_labels, 1)
                s.process_terms(existing.preferred_affinity_terms, pod, ns_labels, node_labels, 1)
                s.process_terms(existing.preferred_anti_affinity_terms, pod, ns_labels, node_labels, -1)
        if not s.topology_score:
            return _SKIP
        state.write(PRE_SCORE_STATE_KEY, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        s: _ScoreState | None = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return [0] * len(nodes), None
        out: list[int] = []
        for ni in nodes:
            total = 0
            labels = ni.labels
            for key, by_value in s.topology_score.items():
                v = labels.get(key)
                if v is not None:
                    total += by_value.get(v, 0)
            out.append(total)
        return out, None

    def score_extensions(self) -> InterPodAffinity:
        return self

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status | None:
        s: _ScoreState | None = state.get(PRE_SCORE_STATE_KEY)
        if s is None or not s.topology_score or not scores:
            return None
        lo, hi = min(scores), max(scores)
        diff = hi - lo
        for i, v in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * ((v - lo) / diff)) if diff > 0 else 0
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL
                                              | ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL
                                              | ActionType.UPDATE_NODE_TAINT)),
        ]


def new(args: Mapping[str, Any], handle: Handle) -> InterPodAffinity:
    return InterPodAffinity(args, handle)

