"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal fractions
(score = (1 - standard deviation of the fractions) * 100; upstream plugins/noderesources/balanced_allocation.go).
Best-effort pods (no requests) skip this plugin, as upstream does."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.scheduler.framework.interface import MAX_NODE_SCORE, Code, CycleState, Handle, Status
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo

NAME = "NodeResourcesBalancedAllocation"
PRE_SCORE_STATE_KEY = "PreScore" + NAME
DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
# Entries kept in the per-node score memo before it is reset (deleted nodes leave stale entries).
MEMO_LIMIT = 100_000

_SKIP = Status(Code.SKIP)


def balanced_score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    fractions: list[float] = []
    for r, a in zip(requested, allocatable, strict=True):
        if a == 0:
            continue
        f = r / a
        fractions.append(1.0 if f > 1 else f)
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class NodeResourcesBalancedAllocation:
    name = NAME
    scores_in_range = True

    def __init__(self, args: Mapping[str, Any]) -> None:
        resources = args.get("resources")
        self.resources = (tuple((str(r["name"]), int(r.get("weight") or 1)) for r in resources)
                          if resources else DEFAULT_RESOURCES)
        self._memo: dict[str, tuple[int, tuple[int, int], int]] = {}

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        reqs = [pod.requests.get(name) for name, _ in self.resources]
        if not any(reqs):
            return _SKIP
        state.write(PRE_SCORE_STATE_KEY, reqs)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        reqs = state.get(PRE_SCORE_STATE_KEY)
        if reqs is None:
            reqs = [pod.requests.get(name) for name, _ in self.resources]
        names = [name for name, _ in self.resources]
        if names == ["cpu", "memory"]:
            return self._cpu_memory(reqs[0], reqs[1], nodes), None
        scores: list[int] = []
        for ni in nodes:
            requested: list[int] = []
            allocatable: list[int] = []
            for name, preq in zip(names, reqs, strict=True):
                if preq == 0 and name not in ("cpu", "memory", "ephemeral-storage"):
                    requested.append(0)
                    allocatable.append(0)
                    continue
                requested.append(ni.requested.get(name) + preq)
                allocatable.append(ni.allocatable.get(name))
            scores.append(balanced_score(requested, allocatable))
        return scores, None

    def _cpu_memory(self, pc: int, pm: int, nodes: Sequence[NodeInfo]) -> list[int]:
        """The cpu/memory case, memoized per node generation and pod request (see NodeResourcesFit)."""
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
            if ac and am:
                fc = (ni.req_cpu + pc) / ac
                fm = (ni.req_mem + pm) / am
                if fc > 1:
                    fc = 1.0
                if fm > 1:
                    fm = 1.0
                score = int((1 - abs((fc - fm) / 2)) * MAX_NODE_SCORE)
            else:
                score = MAX_NODE_SCORE
            memo[ni.name] = (gen, sig, score)
            append(score)
        return out

    def score_extensions(self) -> None:
        return None


def new(args: Mapping[str, Any], handle: Handle) -> NodeResourcesBalancedAllocation:
    return NodeResourcesBalancedAllocation(args)
