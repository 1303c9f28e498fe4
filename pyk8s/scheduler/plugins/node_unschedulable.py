"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods that tolerate the
node.kubernetes.io/unschedulable:NoSchedule taint (upstream plugins/nodeunschedulable)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.client.interface import Obj
from pyk8s.scheduler.framework.helpers import TAINT_NODE_UNSCHEDULABLE, pod_tolerations, tolerations_tolerate_taint
from pyk8s.scheduler.framework.interface import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    EventResource,
    Handle,
    QueueingHint,
    Status,
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
ERR_REASON_UNKNOWN_CONDITION = "node(s) had unknown conditions"

_UNSCHEDULABLE_TAINT = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": "NoSchedule"}
_REJECT = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE)
_UNKNOWN = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNKNOWN_CONDITION)


def tolerates_unschedulable(pod: Obj) -> bool:
    return tolerations_tolerate_taint(pod_tolerations(pod), _UNSCHEDULABLE_TAINT)


class NodeUnschedulable:
    name = NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            if node.node is None:
                return _UNKNOWN
            return None
        if tolerates_unschedulable(pod.pod):
            return None
        return _REJECT

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        suspects = [i for i, ni in enumerate(nodes) if ni.unschedulable or ni.node is None]
        if not suspects:
            return []
        out: list[tuple[int, Status]] = []
        for i in suspects:
            s = self.filter(state, pod, nodes[i])
            if s is not None:
                out.append((i, s))
        return out

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                                 self._node_hint),
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATION)),
        ]

    @staticmethod
    def _node_hint(pod: PodInfo, old: Obj | None, new: Obj | None) -> QueueingHint:
        if new is not None and not (new.get("spec") or {}).get("unschedulable"):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP


def new(args: Mapping[str, Any], handle: Handle) -> NodeUnschedulable:
    return NodeUnschedulable()
