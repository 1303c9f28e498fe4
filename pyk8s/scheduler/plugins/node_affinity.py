"""NodeAffinity: spec.nodeSelector and required node affinity filter nodes; preferred node affinity terms
score them by the sum of matching weights (upstream plugins/nodeaffinity)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.client.interface import Obj
from pyk8s.scheduler.framework.helpers import PreferredSchedulingTerms, RequiredNodeAffinity
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
    QueueingHint,
    Status,
    default_normalize_score,
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodeAffinity"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"

_SKIP = Status(Code.SKIP)
_REJECT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_POD)


def _required_terms(pod: Obj) -> list[Obj] | None:
    required = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return None
    return list(required.get("nodeSelectorTerms") or ())


def _preferred_terms(pod: Obj) -> list[Obj]:
    return list(((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                 .get("preferredDuringSchedulingIgnoredDuringExecution")) or ())


def node_names_from_terms(terms: list[Obj]) -> set[str] | None:
    """Node names every term pins with matchFields metadata.name In; None if some term pins none."""
    names: set[str] | None = None
    for t in terms:
        term_names: set[str] | None = None
        for r in t.get("matchFields") or ():
            if r.get("key") == "metadata.name" and r.get("operator") == "In":
                s = set(r.get("values") or ())
                term_names = s if term_names is None else term_names & s
        if term_names is None:
            return None
        names = term_names if names is None else names | term_names
    return names


class NodeAffinity:
    name = NAME
    scores_in_range = True

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        required = RequiredNodeAffinity(pod.pod)
        if required.is_empty():
            return None, _SKIP
        state.write(PRE_FILTER_STATE_KEY, required)
        terms = _required_terms(pod.pod)
        if not terms:
            return None, None
        names = node_names_from_terms(terms)
        if names is None:
            return None, None
        if not names:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_CONFLICT)
        return PreFilterResult(frozenset(names)), None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        required = state.get(PRE_FILTER_STATE_KEY)
        if required is None:
            required = RequiredNodeAffinity(pod.pod)
        if required.matches(node.labels, node.name):
            return None
        return _REJECT

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        required = state.get(PRE_FILTER_STATE_KEY)
        if required is None:
            required = RequiredNodeAffinity(pod.pod)
        matches = required.matches
        return [(i, _REJECT) for i, ni in enumerate(nodes) if not matches(ni.labels, ni.name)]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        preferred = _preferred_terms(pod.pod)
        if not preferred:
            return _SKIP
        state.write(PRE_SCORE_STATE_KEY, PreferredSchedulingTerms(preferred))
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        terms = state.get(PRE_SCORE_STATE_KEY)
        if terms is None:
            terms = PreferredSchedulingTerms(_preferred_terms(pod.pod))
        return [terms.score(ni.labels, ni.name) for ni in nodes], None

    def score_extensions(self) -> NodeAffinity:
        return self

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status | None:
        default_normalize_score(MAX_NODE_SCORE, False, scores)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(
            ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT),
            self._node_hint)]

    @staticmethod
    def _node_hint(pod: PodInfo, old: Obj | None, new: Obj | None) -> QueueingHint:
        if new is None:
            return QueueingHint.QUEUE_SKIP
        md = new.get("metadata") or {}
        if RequiredNodeAffinity(pod.pod).matches(md.get("labels") or {}, md.get("name") or ""):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP


def new(args: Mapping[str, Any], handle: Handle) -> NodeAffinity:
    return NodeAffinity()
