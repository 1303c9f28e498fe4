"""NodePorts: a pod's hostPorts must be free on the node (upstream plugins/nodeports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.client.interface import Obj
from pyk8s.scheduler.framework.interface import (
    EVENT_ASSIGNED_POD_DELETE,
    EVENT_NODE_ADD,
    ClusterEventWithHint,
    Code,
    CycleState,
    Handle,
    PreFilterResult,
    QueueingHint,
    Status,
)
from pyk8s.scheduler.framework.types import HostPortInfo, NodeInfo, PodInfo, pod_host_ports

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"

_SKIP = Status(Code.SKIP)
_REJECT = Status(Code.UNSCHEDULABLE, ERR_REASON)


def fits_ports(wanted: Sequence[tuple[str, str, int]], used: HostPortInfo) -> bool:
    return not any(used.check_conflict(ip, proto, port) for ip, proto, port in wanted)


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if not pod.host_ports:
            return None, _SKIP
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.host_ports or not node.used_ports.by_ip:
            return None
        return None if fits_ports(pod.host_ports, node.used_ports) else _REJECT

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        wanted = pod.host_ports
        if not wanted:
            return []
        return [(i, _REJECT) for i, ni in enumerate(nodes)
                if ni.used_ports.by_ip and not fits_ports(wanted, ni.used_ports)]

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(EVENT_ASSIGNED_POD_DELETE, self._pod_deleted_hint),
                ClusterEventWithHint(EVENT_NODE_ADD)]

    @staticmethod
    def _pod_deleted_hint(pod: PodInfo, old: Obj | None, new: Obj | None) -> QueueingHint:
        if old is None:
            return QueueingHint.QUEUE
        freed = {(p, port) for _, p, port in pod_host_ports(old)}
        if any((p, port) in freed for _, p, port in pod.host_ports):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP


def new(args: Mapping[str, Any], handle: Handle) -> NodePorts:
    return NodePorts()
