"""TaintToleration: a node's NoSchedule/NoExecute taints must be tolerated; untolerated PreferNoSchedule
taints lower the score (upstream plugins/tainttoleration)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.client.interface import Obj
from pyk8s.scheduler.framework.helpers import pod_tolerations, tolerations_tolerate_taint
from pyk8s.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    EventResource,
    Handle,
    QueueingHint,
    Status,
    default_normalize_score,
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo

NAME = "TaintToleration"
PRE_SCORE_STATE_KEY = "PreScore" + NAME

_SKIP = Status(Code.SKIP)


def untolerated_taint_reason(taint: Mapping[str, Any]) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '') or ''}}}"


def find_untolerated(taints: Sequence[Obj], tolerations: Sequence[Obj]) -> Obj | None:
    for taint in taints:
        if not tolerations_tolerate_taint(tolerations, taint):
            return taint
    return None


def count_intolerable_prefer_no_schedule(taints: Sequence[Obj], tolerations: Sequence[Obj]) -> int:
    return sum(1 for t in taints if not tolerations_tolerate_taint(tolerations, t))


class TaintToleration:
    name = NAME
    scores_in_range = True

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taints = node.filter_taints
        if not taints:
            return None
        taint = find_untolerated(taints, pod_tolerations(pod.pod))
        if taint is None:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, untolerated_taint_reason(taint))

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        suspects = [i for i, ni in enumerate(nodes) if ni.filter_taints]
        if not suspects:
            return []
        out: list[tuple[int, Status]] = []
        for i in suspects:
            s = self.filter(state, pod, nodes[i])
            if s is not None:
                out.append((i, s))
        return out

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        # Every node scores 0 when none has a PreferNoSchedule taint: skipping ranks nodes the same.
        if not [ni for ni in nodes if ni.prefer_taints]:
            return _SKIP
        tolerations = [t for t in pod_tolerations(pod.pod) if (t.get("effect") or "") in ("", "PreferNoSchedule")]
        state.write(PRE_SCORE_STATE_KEY, tolerations)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        tolerations = state.get(PRE_SCORE_STATE_KEY)
        if tolerations is None:
            tolerations = [t for t in pod_tolerations(pod.pod) if (t.get("effect") or "") in ("", "PreferNoSchedule")]
        return [count_intolerable_prefer_no_schedule(ni.prefer_taints, tolerations) if ni.prefer_taints else 0
                for ni in nodes], None

    def score_extensions(self) -> TaintToleration:
        return self

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status | None:
        default_normalize_score(MAX_NODE_SCORE, True, scores)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                 self._node_hint),
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATION)),
        ]

    @staticmethod
    def _node_hint(pod: PodInfo, old: Obj | None, new: Obj | None) -> QueueingHint:
        if new is None:
            return QueueingHint.QUEUE_SKIP
        taints = [t for t in (new.get("spec") or {}).get("taints") or () if t.get("effect") in ("NoSchedule", "NoExecute")]
        if find_untolerated(taints, pod_tolerations(pod.pod)) is None:
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP


def new(args: Mapping[str, Any], handle: Handle) -> TaintToleration:
    return TaintToleration()
