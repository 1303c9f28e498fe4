"""PodTopologySpread: spread matching pods evenly across topology domains (upstream plugins/podtopologyspread).

Filter enforces the pod's DoNotSchedule constraints: placing the pod on a node must keep
(matching pods in the node's domain + 1 if the pod matches itself - the global minimum) <= maxSkew, where the
minimum counts as 0 while fewer than minDomains domains exist. Score prefers nodes whose domains hold fewer
matching pods, for the pod's ScheduleAnyway constraints or, when the pod has none, the system default
constraints (hostname maxSkew 3, zone maxSkew 5) with a selector built from the Services, ReplicationControllers,
ReplicaSets and StatefulSets that select the pod.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import (
    EVERYTHING,
    NOTHING,
    Operator,
    Requirement,
    Selector,
    from_label_selector,
    selector_from_set,
)
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import REPLICA_SETS, REPLICATION_CONTROLLERS, SERVICES, STATEFUL_SETS
from pyk8s.scheduler.framework.helpers import (
    RequiredNodeAffinity,
    do_not_schedule_taint,
    find_matching_untolerated_taint,
)
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
    Status,
)
from pyk8s.scheduler.framework.types import LABEL_HOSTNAME, LABEL_ZONE, NodeInfo, PodInfo

NAME = "PodTopologySpread"
PRE_FILTER_STATE_KEY = "PreFilter" + NAME
PRE_SCORE_STATE_KEY = "PreScore" + NAME
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"
MAX_INT32 = 2**31 - 1

SYSTEM_DEFAULT_CONSTRAINTS: tuple[Obj, ...] = (
    {"topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": LABEL_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
)

_SKIP = Status(Code.SKIP)
_NOT_MATCH = Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH)
_LABEL_MISSING = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH)


class Constraint:
    """A parsed TopologySpreadConstraint."""

    __slots__ = ("max_skew", "min_domains", "node_affinity_policy", "node_taints_policy", "selector", "topology_key")

    def __init__(self, max_skew: int, topology_key: str, selector: Selector, min_domains: int = 1,
                 node_affinity_policy: str = HONOR, node_taints_policy: str = IGNORE) -> None:
        self.max_skew = max_skew
        self.topology_key = topology_key
        self.selector = selector
        self.min_domains = min_domains
        self.node_affinity_policy = node_affinity_policy
        self.node_taints_policy = node_taints_policy

    def matches_node_inclusion_policies(self, pod: PodInfo, node: NodeInfo, required: RequiredNodeAffinity) -> bool:
        if self.node_affinity_policy == HONOR and not required.matches(node.labels, node.name):
            return False
        if self.node_taints_policy == HONOR:
            tolerations = (pod.pod.get("spec") or {}).get("tolerations") or ()
            if find_matching_untolerated_taint(node.taints, tolerations, do_not_schedule_taint) is not None:
                return False
        return True


def parse_constraints(constraints: Sequence[Obj], pod_labels: Mapping[str, str], action: str) -> list[Constraint]:
    out: list[Constraint] = []
    for c in constraints:
        if c.get("whenUnsatisfiable", DO_NOT_SCHEDULE) != action:
            continue
        selector = from_label_selector(c.get("labelSelector"))
        keys = [k for k in c.get("matchLabelKeys") or () if k in pod_labels]
        if keys and selector is not NOTHING:
            selector = selector.add(*(Requirement(k, Operator.IN, (pod_labels[k],)) for k in keys))
        min_domains = c.get("minDomains")
        out.append(Constraint(int(c.get("maxSkew") or 1), str(c.get("topologyKey") or ""), selector,
                              int(min_domains) if min_domains is not None else 1,
                              c.get("nodeAffinityPolicy") or HONOR, c.get("nodeTaintsPolicy") or IGNORE))
    return out


def node_has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


def count_pods_match_selector(node: NodeInfo, selector: Selector, namespace: str) -> int:
    n = 0
    for pi in node.pods.values():
        if pi.namespace != namespace or pi.deleting:
            continue
        if selector.matches(pi.labels):
            n += 1
    return n


class _FilterState:
    __slots__ = ("constraints", "mins", "tp_counts")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.tp_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.mins: list[int] = [MAX_INT32] * len(constraints)

    def recompute(self, i: int) -> None:
        values = self.tp_counts[i].values()
        self.mins[i] = min(values) if values else MAX_INT32

    def min_match(self, i: int) -> int:
        if len(self.tp_counts[i]) < self.constraints[i].min_domains:
            return 0
        return self.mins[i]

    def clone(self) -> _FilterState:
        c = _FilterState.__new__(_FilterState)
        c.constraints = self.constraints
        c.tp_counts = [dict(d) for d in self.tp_counts]
        c.mins = list(self.mins)
        return c


class _ScoreState:
    __slots__ = ("constraints", "ignored_nodes", "tp_counts", "weights")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.ignored_nodes: set[str] = set()
        self.tp_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.weights: list[float] = []

    def clone(self) -> _ScoreState:
        return self


def round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


class PodTopologySpread:
    name = NAME
    scores_in_range = True

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        defaulting = args.get("defaultingType") or "System"
        if defaulting == "List":
            self.default_constraints: tuple[Obj, ...] = tuple(args.get("defaultConstraints") or ())
            self.system_defaulted = False
        else:
            self.default_constraints = SYSTEM_DEFAULT_CONSTRAINTS
            self.system_defaulted = True

    # ---- constraints ----

    def _lister_list(self, resource: Any, namespace: str) -> list[Obj]:
        try:
            return self.handle.lister(resource).list(namespace)
        except KeyError:
            return []

    def _lister_get(self, resource: Any, key: str) -> Obj | None:
        try:
            return self.handle.lister(resource).get(key)
        except KeyError:
            return None

    def default_selector(self, pod: PodInfo) -> Selector:
        """Selector of the Services, RC, ReplicaSet and StatefulSet selecting the pod (upstream DefaultSelector)."""
        label_set: dict[str, str] = {}
        for svc in self._lister_list(SERVICES, pod.namespace):
            sel = (svc.get("spec") or {}).get("selector")
            if sel is None:
                continue
            if selector_from_set(sel).matches(pod.labels):
                label_set.update(sel)
        selector = selector_from_set(label_set)
        owner = next((r for r in (pod.pod.get("metadata") or {}).get("ownerReferences") or () if r.get("controller")),
                     None)
        if owner is None:
            return selector
        kind, api_version = owner.get("kind"), owner.get("apiVersion")
        key = f"{pod.namespace}/{owner.get('name', '')}"
        if kind == "ReplicationController" and api_version == "v1":
            rc = self._lister_get(REPLICATION_CONTROLLERS, key)
            if rc is not None:
                label_set.update((rc.get("spec") or {}).get("selector") or {})
                selector = selector_from_set(label_set)
        elif (kind, api_version) in (("ReplicaSet", "apps/v1"), ("StatefulSet", "apps/v1")):
            owner_obj = self._lister_get(REPLICA_SETS if kind == "ReplicaSet" else STATEFUL_SETS, key)
            if owner_obj is not None:
                try:
                    other = from_label_selector((owner_obj.get("spec") or {}).get("selector"))
                except errors.StatusError:
                    return selector
                if other is not NOTHING and other.requirements:
                    selector = selector.add(*other.requirements)
        return selector

    def _default_constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        try:
            constraints = parse_constraints(self.default_constraints, pod.labels, action)
        except errors.StatusError:
            return []
        if not constraints:
            return []
        selector = self.default_selector(pod)
        if selector is EVERYTHING or selector.empty():
            return []
        for c in constraints:
            c.selector = selector
        return constraints

    def _constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        own = (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or ()
        if own:
            return parse_constraints(own, pod.labels, action)
        return self._default_constraints(pod, action)

    # ---- filtering ----

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        try:
            constraints = self._constraints(pod, DO_NOT_SCHEDULE)
        except errors.StatusError as e:
            return None, Status(Code.ERROR, f"get constraints from pod: {e.message}")
        if not constraints:
            return None, _SKIP
        s = _FilterState(constraints)
        required = RequiredNodeAffinity(pod.pod)
        for ni in nodes:
            labels = ni.labels
            if not node_has_all_keys(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.matches_node_inclusion_policies(pod, ni, required):
                    continue
                v = labels[c.topology_key]
                counts = s.tp_counts[i]
                counts[v] = counts.get(v, 0) + count_pods_match_selector(ni, c.selector, pod.namespace)
        for i in range(len(constraints)):
            s.recompute(i)
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> PodTopologySpread:
        return self

    def _update_with_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: _FilterState | None = state.get(PRE_FILTER_STATE_KEY)
        if s is None or other.namespace != pod.namespace or node.node is None:
            return
        if not node_has_all_keys(node.labels, s.constraints):
            return
        required = RequiredNodeAffinity(pod.pod)
        for i, c in enumerate(s.constraints):
            if not c.selector.matches(other.labels):
                continue
            if not c.matches_node_inclusion_policies(pod, node, required):
                continue
            v = node.labels[c.topology_key]
            s.tp_counts[i][v] = s.tp_counts[i].get(v, 0) + delta
            s.recompute(i)

    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status | None:
        self._update_with_pod(state, pod, to_add, node, 1)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status | None:
        self._update_with_pod(state, pod, to_remove, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.get(PRE_FILTER_STATE_KEY)
        if s is None:
            return Status(Code.ERROR, f'reading "{PRE_FILTER_STATE_KEY}" from cycleState: not found')
        labels = node.labels
        for i, c in enumerate(s.constraints):
            v = labels.get(c.topology_key)
            if v is None:
                return _LABEL_MISSING
            self_match = 1 if c.selector.matches(pod.labels) else 0
            skew = s.tp_counts[i].get(v, 0) + self_match - s.min_match(i)
            if skew > c.max_skew:
                return _NOT_MATCH
        return None

    # ---- scoring ----

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        all_nodes = self.handle.snapshot().node_infos()
        if not all_nodes:
            return _SKIP
        own = bool((pod.pod.get("spec") or {}).get("topologySpreadConstraints"))
        try:
            constraints = self._constraints(pod, SCHEDULE_ANYWAY)
        except errors.StatusError as e:
            return Status(Code.ERROR, f"obtaining pod's soft topology spread constraints: {e.message}")
        if not constraints:
            return _SKIP
        require_all = own or not self.system_defaulted
        s = _ScoreState(constraints)
        sizes = [0] * len(constraints)
        for ni in nodes:
            if require_all and not node_has_all_keys(ni.labels, constraints):
                s.ignored_nodes.add(ni.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue
                v = ni.labels.get(c.topology_key, "")
                if v not in s.tp_counts[i]:
                    s.tp_counts[i][v] = 0
                    sizes[i] += 1
        for i, c in enumerate(constraints):
            size = len(nodes) - len(s.ignored_nodes) if c.topology_key == LABEL_HOSTNAME else sizes[i]
            s.weights.append(math.log(size + 2))
        required = RequiredNodeAffinity(pod.pod)
        for ni in all_nodes:
            if require_all and not node_has_all_keys(ni.labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.matches_node_inclusion_policies(pod, ni, required):
                    continue
                counts = s.tp_counts[i]
                v = ni.labels.get(c.topology_key, "")
                if v not in counts:
                    continue
                counts[v] += count_pods_match_selector(ni, c.selector, pod.namespace)
        state.write(PRE_SCORE_STATE_KEY, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        s: _ScoreState | None = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return [0] * len(nodes), None
        out: list[int] = []
        for ni in nodes:
            if ni.name in s.ignored_nodes:
                out.append(0)
                continue
            total = 0.0
            for i, c in enumerate(s.constraints):
                v = ni.labels.get(c.topology_key)
                if v is None:
                    continue
                if c.topology_key == LABEL_HOSTNAME:
                    cnt = count_pods_match_selector(ni, c.selector, pod.namespace)
                else:
                    cnt = s.tp_counts[i].get(v, 0)
                total += cnt * s.weights[i] + (c.max_skew - 1)
            out.append(round_half_away(total))
        return out, None

    def score_extensions(self) -> PodTopologySpread:
        return self

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status | None:
        s: _ScoreState | None = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return None
        lo, hi = None, 0
        for ni, v in zip(nodes, scores, strict=True):
            if ni.name in s.ignored_nodes:
                continue
            lo = v if lo is None or v < lo else lo
            hi = max(hi, v)
        for i, ni in enumerate(nodes):
            if ni.name in s.ignored_nodes:
                scores[i] = 0
            elif hi == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (hi + (lo or 0) - scores[i]) // hi
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL
                                              | ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.DELETE
                                              | ActionType.UPDATE_NODE_LABEL | ActionType.UPDATE_NODE_TAINT)),
        ]


def new(args: Mapping[str, Any], handle: Handle) -> PodTopologySpread:
    return PodTopologySpread(args, handle)
