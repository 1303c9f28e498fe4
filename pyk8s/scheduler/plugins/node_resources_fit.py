"""NodeResourcesFit: the pod's requests must fit the node's allocatable minus what its pods request; nodes are
scored LeastAllocated by default (upstream plugins/noderesources/fit.go, least_allocated.go).

A request larger than the node's whole allocatable makes the node UnschedulableAndUnresolvable (preemption
cannot help); otherwise a shortage is Unschedulable. Reasons: "Too many pods", "Insufficient cpu",
"Insufficient memory", "Insufficient ephemeral-storage", "Insufficient <extended resource>".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.client.interface import Obj
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
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo, Resource

NAME = "NodeResourcesFit"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
# Entries kept in the per-node score memo before it is reset (deleted nodes leave stale entries).
MEMO_LIMIT = 100_000

REASON_TOO_MANY_PODS = "Too many pods"


class InsufficientResource:
    __slots__ = ("capacity", "reason", "requested", "resource_name", "unresolvable", "used")

    def __init__(self, resource_name: str, reason: str, requested: int, used: int, capacity: int,
                 unresolvable: bool) -> None:
        self.resource_name = resource_name
        self.reason = reason
        self.requested = requested
        self.used = used
        self.capacity = capacity
        self.unresolvable = unresolvable

    def __repr__(self) -> str:
        return f"InsufficientResource({self.reason}: {self.requested} + {self.used} > {self.capacity})"


def fits_request(req: Resource, node: NodeInfo, ignored: frozenset[str] = frozenset(),
                 ignored_groups: frozenset[str] = frozenset()) -> list[InsufficientResource]:
    """Every resource the node lacks for `req` (upstream fitsRequest)."""
    out: list[InsufficientResource] = []
    alloc = node.allocatable
    used = node.requested
    n = len(node.pods)
    if n + 1 > alloc.allowed_pod_number:
        out.append(InsufficientResource("pods", REASON_TOO_MANY_PODS, 1, n, alloc.allowed_pod_number, False))
    if not req.milli_cpu and not req.memory and not req.ephemeral_storage and not req.scalar:
        return out
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(InsufficientResource("cpu", "Insufficient cpu", req.milli_cpu, used.milli_cpu, alloc.milli_cpu,
                                        req.milli_cpu > alloc.milli_cpu))
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        out.append(InsufficientResource("memory", "Insufficient memory", req.memory, used.memory, alloc.memory,
                                        req.memory > alloc.memory))
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        out.append(InsufficientResource("ephemeral-storage", "Insufficient ephemeral-storage", req.ephemeral_storage,
                                        used.ephemeral_storage, alloc.ephemeral_storage,
                                        req.ephemeral_storage > alloc.ephemeral_storage))
    for name, q in req.scalar.items():
        if q == 0:
            continue
        if "/" in name and not name.startswith("kubernetes.io/"):
            if name in ignored or (ignored_groups and name.split("/", 1)[0] in ignored_groups):
                continue
        have = alloc.scalar.get(name, 0)
        in_use = used.scalar.get(name, 0)
        if q > have - in_use:
            out.append(InsufficientResource(name, f"Insufficient {name}", q, in_use, have, q > have))
    return out


def fits(pod: PodInfo, node: NodeInfo) -> list[InsufficientResource]:
    return fits_request(pod.requests, node)


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    if requested > capacity:
        requested = capacity
    return requested * MAX_NODE_SCORE // capacity


def scoring_request(pod: PodInfo, resource: str) -> int:
    """The pod's request counted for scoring: cpu/memory with the non-zero defaults, others as requested."""
    if resource == "cpu":
        return pod.non_zero_cpu
    if resource == "memory":
        return pod.non_zero_mem
    return pod.requests.get(resource)


def node_scoring_requested(node: NodeInfo, resource: str) -> int:
    if resource == "cpu":
        return node.non_zero_cpu
    if resource == "memory":
        return node.non_zero_mem
    return node.requested.get(resource)


class NodeResourcesFit:
    name = NAME
    scores_in_range = True

    def __init__(self, args: Mapping[str, Any]) -> None:
        strategy = args.get("scoringStrategy") or {}
        self.strategy = str(strategy.get("type") or LEAST_ALLOCATED)
        if self.strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
            raise ValueError(f"scoring strategy {self.strategy} is not supported")
        resources = strategy.get("resources")
        self.resources: tuple[tuple[str, int], ...] = (
            tuple((str(r["name"]), int(r.get("weight") or 1)) for r in resources) if resources else DEFAULT_RESOURCES)
        self.ignored = frozenset(args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(args.get("ignoredResourceGroups") or ())
        self._fast_default = self.resources == DEFAULT_RESOURCES and self.strategy == LEAST_ALLOCATED
        self._memo: dict[str, tuple[int, tuple[int, int], int]] = {}
        self._statuses: dict[tuple[Code, tuple[str, ...]], Status] = {}

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        req = pod.requests
        if (len(node.pods) < node.alloc_pods
                and req.milli_cpu + node.req_cpu <= node.alloc_cpu
                and req.memory + node.req_mem <= node.alloc_mem
                and req.ephemeral_storage + node.req_eph <= node.alloc_eph and not req.scalar):
            return None
        return self._slow_filter(req, node)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        req = pod.requests
        pc, pm, pe = req.milli_cpu, req.memory, req.ephemeral_storage
        if req.scalar:
            suspects = range(len(nodes))
        else:
            suspects = [i for i, ni in enumerate(nodes)  # type: ignore[assignment]
                        if len(ni.pods) >= ni.alloc_pods or pc + ni.req_cpu > ni.alloc_cpu
                        or pm + ni.req_mem > ni.alloc_mem or pe + ni.req_eph > ni.alloc_eph]
        out: list[tuple[int, Status]] = []
        for i in suspects:
            s = self._slow_filter(req, nodes[i])
            if s is not None:
                out.append((i, s))
        return out

    def _slow_filter(self, req: Resource, node: NodeInfo) -> Status | None:
        insufficient = fits_request(req, node, self.ignored, self.ignored_groups)
        if not insufficient:
            return None
        code = Code.UNSCHEDULABLE
        if any(r.unresolvable for r in insufficient):
            code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        reasons = tuple(r.reason for r in insufficient)
        # Many nodes fail the same way: share one Status per (code, reasons).
        status = self._statuses.get((code, reasons))
        if status is None:
            status = Status(code, *reasons, plugin=NAME)
            if len(self._statuses) < 1024:
                self._statuses[(code, reasons)] = status
        return status

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        if self._fast_default:
            return self._least_allocated_cpu_memory(pod, nodes), None
        scorer = least_requested_score if self.strategy == LEAST_ALLOCATED else most_requested_score
        pod_reqs = [(name, weight, scoring_request(pod, name)) for name, weight in self.resources]
        scores: list[int] = []
        for ni in nodes:
            total = weight_sum = 0
            for name, weight, preq in pod_reqs:
                if preq == 0 and name not in ("cpu", "memory", "ephemeral-storage"):
                    continue
                alloc = ni.allocatable.get(name)
                if alloc == 0:
                    continue
                total += scorer(node_scoring_requested(ni, name) + preq, alloc) * weight
                weight_sum += weight
            scores.append(total // weight_sum if weight_sum else 0)
        return scores, None

    def _least_allocated_cpu_memory(self, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """LeastAllocated over cpu and memory (weights 1). A node's score changes only when its NodeInfo does
        (new generation) or the pod's requests differ, so scores are memoized per node."""
        pc = pod.non_zero_cpu
        pm = pod.non_zero_mem
        sig = (pc, pm)
        memo = self._memo
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        get = memo.get
        out: list[int] = []
        append = out.append
        for ni in nodes:
            gen = ni.generation
            hit = get(ni.name)
            if hit is not None and hit[0] == gen and hit[1] == sig:
                append(hit[2])
                continue
            ac = ni.alloc_cpu
            am = ni.alloc_mem
            total = w = 0
            if ac:
                r = ni.non_zero_cpu + pc
                total += (ac - r) * MAX_NODE_SCORE // ac if r <= ac else 0
                w += 1
            if am:
                r = ni.non_zero_mem + pm
                total += (am - r) * MAX_NODE_SCORE // am if r <= am else 0
                w += 1
            score = total // w if w else 0
            memo[ni.name] = (gen, sig, score)
            append(score)
        return out

    def score_extensions(self) -> None:
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.DELETE), self._pod_hint),
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE
                                              | ActionType.UPDATE_NODE_TAINT | ActionType.UPDATE_NODE_LABEL),
                                 self._node_hint),
        ]

    @staticmethod
    def _pod_hint(pod: PodInfo, old: Obj | None, new: Obj | None) -> QueueingHint:
        if old is not None and not (old.get("spec") or {}).get("nodeName"):
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE

    @staticmethod
    def _node_hint(pod: PodInfo, old: Obj | None, new: Obj | None) -> QueueingHint:
        if new is None:
            return QueueingHint.QUEUE_SKIP
        if fits(pod, NodeInfo(new)):  # something would still be missing on the empty node
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE


def new(args: Mapping[str, Any], handle: Handle) -> NodeResourcesFit:
    return NodeResourcesFit(args)
