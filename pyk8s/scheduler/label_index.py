"""Pods counted by label set across the cache, so label selectors are matched per distinct label set, not per pod.

Deployment, ReplicaSet and StatefulSet pods share a few label sets, so a selector that PodTopologySpread or
InterPodAffinity would test against every pod of every node is tested once per distinct
(namespace, labels, terminating) key instead (`matching`), and each NodeInfo's `label_sets` counts then give
per-node totals. `topology_counts(key)` goes further for a topology key such as the zone: the pods of every
present node per label set and per value of that node label, kept up to date on every pod and node change,
so a cluster-wide count per domain costs O(matching label sets x domains) instead of O(nodes).

The Cache calls `pod_added` / `pod_removed` for every pod it counts on a NodeInfo (assumed pods included) and
`node_changed` when a node appears, disappears or is replaced; the index reads the NodeInfos' `label_sets`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyk8s.api.labels import Selector
from pyk8s.scheduler.framework.types import LabelSetKey, NodeInfo, PodInfo

# Topology keys aggregated at once (each costs a dict update per pod change); further keys are not indexed.
MAX_TOPOLOGY_KEYS = 8
# Selectors remembered per namespace before that namespace's memo is reset.
MATCH_MEMO_LIMIT = 256

TopologyCounts = dict[LabelSetKey, dict[str | None, int]]
"""label set -> node label value (None: a node without the label) -> pods."""


class _Match:
    """The label sets one selector matches in one namespace, kept current as label sets come and go."""

    __slots__ = ("frozen", "keys")

    def __init__(self, keys: set[LabelSetKey]) -> None:
        self.keys = keys
        self.frozen: frozenset[LabelSetKey] | None = None


class LabelSetIndex:
    """See the module docstring. `nodes` is the cache's NodeInfos by name (read when a topology key is first
    asked for)."""

    def __init__(self, nodes: Mapping[str, NodeInfo]) -> None:
        self._nodes = nodes
        self._refs: dict[LabelSetKey, int] = {}
        self._labels: dict[LabelSetKey, Mapping[str, str]] = {}
        self._by_namespace: dict[str, set[LabelSetKey]] = {}
        self._memo: dict[str, dict[tuple[Selector, bool], _Match]] = {}
        self._topologies: dict[str, TopologyCounts] = {}
        self._label_nodes: dict[str, int] = {}
        self.present_nodes = 0

    # ---- queries ----

    def matching(self, namespace: str, selector: Selector, *, terminating: bool = False) -> frozenset[LabelSetKey]:
        """The label sets of `namespace` that `selector` matches; terminating pods' sets only if `terminating`.
        Remembered per selector and updated as label sets appear and disappear."""
        memo = self._memo.get(namespace)
        if memo is None:
            memo = self._memo[namespace] = {}
        m = memo.get((selector, terminating))
        if m is None:
            labels = self._labels
            m = _Match({k for k in self._by_namespace.get(namespace, ())
                        if (terminating or not k[2]) and selector.matches(labels[k])})
            if len(memo) >= MATCH_MEMO_LIMIT:
                memo.clear()
            memo[(selector, terminating)] = m
        frozen = m.frozen
        if frozen is None:
            frozen = m.frozen = frozenset(m.keys)
        return frozen

    def namespaces(self) -> list[str]:
        """The namespaces that have pods in the index."""
        return list(self._by_namespace)

    def topology_counts(self, topology_key: str) -> TopologyCounts | None:
        """Pods on present nodes per label set and value of the node label `topology_key`; None when too many
        topology keys are indexed already. The mapping is live: read it, do not keep or change it."""
        counts = self._topologies.get(topology_key)
        if counts is not None:
            return counts
        if len(self._topologies) >= MAX_TOPOLOGY_KEYS:
            return None
        counts = {}
        for ni in self._nodes.values():
            if ni.node is None or not ni.label_sets:
                continue
            v = ni.labels.get(topology_key)
            for k, c in ni.label_sets.items():
                by_value = counts.get(k)
                if by_value is None:
                    by_value = counts[k] = {}
                by_value[v] = by_value.get(v, 0) + c
        self._topologies[topology_key] = counts
        return counts

    def nodes_with_label(self, key: str) -> int:
        """How many present nodes carry the label `key`."""
        return self._label_nodes.get(key, 0)

    def known(self, k: LabelSetKey) -> bool:
        return k in self._refs

    # ---- changes ----

    def pod_added(self, ni: NodeInfo, pi: PodInfo) -> None:
        k = pi.label_set
        refs = self._refs.get(k, 0)
        self._refs[k] = refs + 1
        if refs == 0:
            self._labels[k] = pi.labels
            self._by_namespace.setdefault(k[0], set()).add(k)
            memo = self._memo.get(k[0])
            if memo:
                for (selector, terminating), m in memo.items():
                    if (terminating or not k[2]) and selector.matches(pi.labels):
                        m.keys.add(k)
                        m.frozen = None
        if ni.node is not None and self._topologies:
            labels = ni.labels
            for tk, counts in self._topologies.items():
                v = labels.get(tk)
                by_value = counts.get(k)
                if by_value is None:
                    by_value = counts[k] = {}
                by_value[v] = by_value.get(v, 0) + 1

    def pod_removed(self, ni: NodeInfo, pi: PodInfo) -> None:
        k = pi.label_set
        refs = self._refs.get(k, 0) - 1
        if refs > 0:
            self._refs[k] = refs
        elif refs == 0:
            del self._refs[k]
            del self._labels[k]
            ns = self._by_namespace[k[0]]
            ns.discard(k)
            if not ns:
                del self._by_namespace[k[0]]
                self._memo.pop(k[0], None)
            memo = self._memo.get(k[0])
            if memo:
                for m in memo.values():
                    if k in m.keys:
                        m.keys.discard(k)
                        m.frozen = None
        if ni.node is not None and self._topologies:
            labels = ni.labels
            for tk, counts in self._topologies.items():
                _add(counts, k, labels.get(tk), -1)

    def node_changed(self, ni: NodeInfo, old_labels: Mapping[str, str] | None,
                     new_labels: Mapping[str, str] | None) -> None:
        """`ni`'s node went from `old_labels` to `new_labels` (None: no node object, its pods not counted)."""
        if old_labels is not None and new_labels is not None and old_labels == new_labels:
            return
        if old_labels is not None:
            self.present_nodes -= 1
            for key in old_labels:
                n = self._label_nodes.get(key, 0) - 1
                if n > 0:
                    self._label_nodes[key] = n
                else:
                    self._label_nodes.pop(key, None)
        if new_labels is not None:
            self.present_nodes += 1
            for key in new_labels:
                self._label_nodes[key] = self._label_nodes.get(key, 0) + 1
        if not self._topologies or not ni.label_sets:
            return
        for tk, counts in self._topologies.items():
            old_v = old_labels.get(tk) if old_labels is not None else None
            new_v = new_labels.get(tk) if new_labels is not None else None
            if old_labels is not None and new_labels is not None and old_v == new_v:
                continue
            for k, c in ni.label_sets.items():
                if old_labels is not None:
                    _add(counts, k, old_v, -c)
                if new_labels is not None:
                    _add(counts, k, new_v, c)


def _add(counts: TopologyCounts, k: LabelSetKey, v: str | None, delta: int) -> None:
    by_value = counts.get(k)
    if by_value is None:
        by_value = counts[k] = {}
    n = by_value.get(v, 0) + delta
    if n:
        by_value[v] = n
    else:
        del by_value[v]
        if not by_value:
            del counts[k]
