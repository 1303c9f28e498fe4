"""PodTopologySpread: spread matching pods evenly across topology domains (upstream plugins/podtopologyspread).

Filter enforces the pod's DoNotSchedule constraints: placing the pod on a node must keep
(matching pods in the node's domain + 1 if the pod matches itself - the global minimum) <= maxSkew, where the
minimum counts as 0 while fewer than minDomains domains exist. Score prefers nodes whose domains hold fewer
matching pods, for the pod's ScheduleAnyway constraints or, when the pod has none, the system default
constraints (hostname maxSkew 3, zone maxSkew 5) with a selector built from the Services, ReplicationControllers,
ReplicaSets and StatefulSets that select the pod.

Counting matching pods is the cost that grows with the cluster, so it never visits pods one by one on the
cache's nodes: the selector is matched once per distinct label set (Snapshot.matching_label_sets) and each
node's per-label-set counts are summed; PreScore's cluster-wide count per domain reads the cache's per-topology
totals (Snapshot.topology_counts) when every node is eligible, instead of visiting every node.
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
    SnapshotLister,
    Status,
)
from pyk8s.scheduler.framework.types import LABEL_HOSTNAME, LABEL_ZONE, LabelSetKey, NodeInfo, PodInfo

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
OWNER_SELECTOR_MEMO_LIMIT = 4096

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
    """Pods on `node` in `namespace`, not terminating, that `selector` matches, visiting every pod."""
    n = 0
    for pi in node.pods.values():
        if pi.namespace != namespace or pi.deleting:
            continue
        if selector.matches(pi.labels):
            n += 1
    return n


class MatchCounter:
    """count(node) = count_pods_match_selector(node, selector, namespace), through the cache's label-set index
    for the cache's own NodeInfos and pod by pod for others (clones, NodeInfos built by tests)."""

    __slots__ = ("keys", "namespace", "only", "selector")

    def __init__(self, snapshot: SnapshotLister, selector: Selector, namespace: str) -> None:
        self.selector = selector
        self.namespace = namespace
        self.keys: frozenset[LabelSetKey] = snapshot.matching_label_sets(namespace, selector)
        # The usual case, a ReplicaSet's pods: one label set.
        self.only: LabelSetKey | None = next(iter(self.keys)) if len(self.keys) == 1 else None

    def count(self, node: NodeInfo) -> int:
        if node.indexed:
            if self.only is not None:
                return node.label_sets.get(self.only, 0)
            return node.count_label_sets(self.keys)
        return count_pods_match_selector(node, self.selector, self.namespace)


def _counters(snapshot: SnapshotLister, constraints: Sequence[Constraint], namespace: str) -> list[MatchCounter]:
    by_selector: dict[Selector, MatchCounter] = {}
    out: list[MatchCounter] = []
    for c in constraints:
        counter = by_selector.get(c.selector)
        if counter is None:
            counter = by_selector[c.selector] = MatchCounter(snapshot, c.selector, namespace)
        out.append(counter)
    return out


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
    __slots__ = ("constraints", "counters", "ignored_nodes", "tp_counts", "weights")

    def __init__(self, constraints: list[Constraint], counters: list[MatchCounter]) -> None:
        self.constraints = constraints
        self.counters = counters
        self.ignored_nodes: set[str] = set()
        self.tp_counts: list[dict[str, int]] = [{} for _ in constraints]
        self.weights: list[float] = []

    def clone(self) -> _ScoreState:
        return self


def round_half_away(x: float) -> int:
    """Go's math.Round: halves away from zero (floor(x + 0.5) would round 0.49999999999999994 up)."""
    if x < 0:
        return -round_half_away(-x)
    t = math.floor(x)
    return t + 1 if x - t >= 0.5 else t


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
        # "ns/name" of a ReplicaSet / StatefulSet -> (the object, its parsed spec.selector or None if invalid);
        # valid while the lister returns that same object.
        self._owner_selectors: dict[tuple[str, str], tuple[Obj, Selector | None]] = {}

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
                other = self._owner_selector(kind, key, owner_obj)
                if other is None:
                    return selector
                if other is not NOTHING and other.requirements:
                    selector = selector.add(*other.requirements)
        return selector

    def _owner_selector(self, kind: str, key: str, owner: Obj) -> Selector | None:
        """The owner's parsed spec.selector (None when invalid), parsed once per version of the object."""
        hit = self._owner_selectors.get((kind, key))
        if hit is not None and hit[0] is owner:
            return hit[1]
        try:
            parsed: Selector | None = from_label_selector((owner.get("spec") or {}).get("selector"))
        except errors.StatusError:
            parsed = None
        if len(self._owner_selectors) >= OWNER_SELECTOR_MEMO_LIMIT:
            self._owner_selectors.clear()
        self._owner_selectors[(kind, key)] = (owner, parsed)
        return parsed

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
        counters = _counters(self.handle.snapshot(), constraints, pod.namespace)
        for ni in nodes:
            labels = ni.labels
            if not node_has_all_keys(labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.matches_node_inclusion_policies(pod, ni, required):
                    continue
                v = labels[c.topology_key]
                counts = s.tp_counts[i]
                counts[v] = counts.get(v, 0) + counters[i].count(ni)
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
        snapshot = self.handle.snapshot()
        all_nodes = snapshot.node_infos()
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
        s = _ScoreState(constraints, _counters(snapshot, constraints, pod.namespace))
        eligible: Sequence[NodeInfo] = nodes
        if require_all:
            eligible = []
            for ni in nodes:
                if node_has_all_keys(ni.labels, constraints):
                    eligible.append(ni)
                else:
                    s.ignored_nodes.add(ni.name)
        for i, c in enumerate(constraints):
            key = c.topology_key
            if key == LABEL_HOSTNAME:
                s.weights.append(math.log(len(eligible) + 2))
                continue
            # The domains of the filtered nodes (a missing label reads as ""), each starting at 0.
            domains = {ni.labels.get(key, "") for ni in eligible}
            s.tp_counts[i] = dict.fromkeys(domains, 0)
            s.weights.append(math.log(len(domains) + 2))
        required = RequiredNodeAffinity(pod.pod)
        # Hostname domains are counted node by node in Score: only the other constraints count here.
        pending = [i for i, c in enumerate(constraints) if c.topology_key != LABEL_HOSTNAME and s.tp_counts[i]]
        if pending and self._every_node_counts(snapshot, constraints, required, require_all, len(all_nodes)):
            pending = [i for i in pending if not self._count_from_topology(snapshot, s, i, require_all)]
        if pending:
            for ni in all_nodes:
                if require_all and not node_has_all_keys(ni.labels, constraints):
                    continue
                for i in pending:
                    c = constraints[i]
                    if not c.matches_node_inclusion_policies(pod, ni, required):
                        continue
                    counts = s.tp_counts[i]
                    v = ni.labels.get(c.topology_key, "")
                    if v not in counts:
                        continue
                    counts[v] += s.counters[i].count(ni)
        state.write(PRE_SCORE_STATE_KEY, s)
        return None

    @staticmethod
    def _every_node_counts(snapshot: SnapshotLister, constraints: Sequence[Constraint], required: RequiredNodeAffinity,
                           require_all: bool, num_nodes: int) -> bool:
        """Would PreScore's loop over all nodes count every node for every constraint (no inclusion policy
        excludes one, and a node missing some topology key only ever misses the constraint's own key)?"""
        for c in constraints:
            if c.node_taints_policy == HONOR or (c.node_affinity_policy == HONOR and not required.is_empty()):
                return False
        if require_all and len({c.topology_key for c in constraints}) > 1:
            return all(snapshot.nodes_with_label(c.topology_key) == num_nodes for c in constraints)
        return True

    @staticmethod
    def _count_from_topology(snapshot: SnapshotLister, s: _ScoreState, i: int, require_all: bool) -> bool:
        """Fill tp_counts[i] from the cache's per-topology totals; False when the key is not indexed."""
        totals = snapshot.topology_counts(s.constraints[i].topology_key)
        if totals is None:
            return False
        counts = s.tp_counts[i]
        for k in s.counters[i].keys:
            by_value = totals.get(k)
            if not by_value:
                continue
            for v, n in by_value.items():
                if v is None:
                    if require_all:
                        continue  # upstream skips nodes without every topology key
                    v = ""  # a missing label reads as ""
                if v in counts:
                    counts[v] += n
        return True

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        s: _ScoreState | None = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return [0] * len(nodes), None
        # Constraint by constraint over all nodes, each node's float sum built in constraint order as upstream
        # does node by node; a node without the constraint's topology label skips it.
        totals = [0.0] * len(nodes)
        for i, c in enumerate(s.constraints):
            key, weight, base = c.topology_key, s.weights[i], c.max_skew - 1
            if key != LABEL_HOSTNAME:
                counts = s.tp_counts[i]
                totals = [t + (counts.get(v, 0) * weight + base) if (v := ni.labels.get(key)) is not None else t
                          for t, ni in zip(totals, nodes, strict=True)]
                continue
            counter = s.counters[i]
            only = counter.only
            if only is not None and all(ni.indexed for ni in nodes):
                totals = [t + (ni.label_sets.get(only, 0) * weight + base) if key in ni.labels else t
                          for t, ni in zip(totals, nodes, strict=True)]
            else:
                count = counter.count
                totals = [t + (count(ni) * weight + base) if key in ni.labels else t
                          for t, ni in zip(totals, nodes, strict=True)]
        # round_half_away of a non-negative total: int() truncates, then halves go up.
        out = [(r := int(t)) + (t - r >= 0.5) for t in totals]
        ignored = s.ignored_nodes
        if ignored:
            out = [0 if ni.name in ignored else v for ni, v in zip(nodes, out, strict=True)]
        return out, None

    def score_extensions(self) -> PodTopologySpread:
        return self

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status | None:
        s: _ScoreState | None = state.get(PRE_SCORE_STATE_KEY)
        if s is None:
            return None
        if not s.ignored_nodes:
            if not scores:
                return None
            least, top = min(scores), max(max(scores), 0)
            if top == 0:
                scores[:] = [MAX_NODE_SCORE] * len(scores)
            else:
                total = top + least
                scores[:] = [MAX_NODE_SCORE * (total - v) // top for v in scores]
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
