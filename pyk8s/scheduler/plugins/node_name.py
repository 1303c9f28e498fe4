"""NodeName: a pod with spec.nodeName fits only that node (upstream plugins/nodename)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework.interface import (
    EVENT_NODE_ADD,
    ClusterEventWithHint,
    Code,
    CycleState,
    Handle,
    PreFilterResult,
    Status,
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"

_SKIP = Status(Code.SKIP)
_MISMATCH = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    return not pod.node_name or pod.node_name == node.name


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.node_name:
            return None, _SKIP
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.node_name and pod.node_name != node.name:
            return _MISMATCH
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        want = pod.node_name
        if not want:
            return []
        return [(i, _MISMATCH) for i, ni in enumerate(nodes) if ni.name != want]

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(EVENT_NODE_ADD)]


def new(args: Mapping[str, Any], handle: Handle) -> NodeName:
    return NodeName()
