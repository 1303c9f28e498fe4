"""What the scheduler believes runs where: one NodeInfo per node, kept incrementally, plus assumed pods.

Upstream's cache (pkg/scheduler/backend/cache): assigned pods from the informer are added to their node's
NodeInfo; a pod the scheduler has just placed is *assumed* (counted on its node at once, before the binding
POST returns) so the next cycle sees its resources; the informer's echo of the bound pod confirms it; a failed
binding forgets it. With a TTL, an assumed pod whose binding finished but was never confirmed expires.

`Snapshot` is the view a scheduling cycle reads. A cycle runs without awaiting, so the snapshot reads the
cache's NodeInfos directly instead of copying them; only the node order (zones interleaved, as upstream's
node tree) is rebuilt, and only when nodes come or go or change zone (a node update keeps its place).

Every pod counted on a NodeInfo is also counted in a LabelSetIndex (label_index.py), which lets plugins match
a label selector per distinct label set and count pods per topology domain without visiting every pod.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from pyk8s.api.labels import Selector
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Obj
from pyk8s.scheduler.framework.types import (
    LABEL_REGION,
    LABEL_REGION_BETA,
    LABEL_ZONE,
    LABEL_ZONE_BETA,
    ImageState,
    LabelSetKey,
    NodeInfo,
    PodInfo,
)
from pyk8s.scheduler.label_index import LabelSetIndex, TopologyCounts

log = logging.getLogger("pyk8s.scheduler")

CLEANUP_ASSUMED_PERIOD = 1.0


class CacheError(Exception):
    """An inconsistent cache operation (e.g. assuming a pod twice)."""


def zone_key(node: Obj) -> str:
    """region + ":\\x00:" + zone, or "" without either label (upstream utilnode.GetZoneKey)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    zone = labels.get(LABEL_ZONE, labels.get(LABEL_ZONE_BETA, ""))
    region = labels.get(LABEL_REGION, labels.get(LABEL_REGION_BETA, ""))
    if not zone and not region:
        return ""
    return f"{region}:\x00:{zone}"


class _PodState:
    __slots__ = ("binding_finished", "deadline", "pod")

    def __init__(self, pod: PodInfo) -> None:
        self.pod = pod
        self.deadline: float | None = None
        self.binding_finished = False


class Snapshot:
    """The nodes one scheduling cycle sees (implements framework.SnapshotLister)."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    def node_infos(self) -> list[NodeInfo]:
        return self._cache.node_list()

    def get(self, name: str) -> NodeInfo | None:
        ni = self._cache.nodes.get(name)
        return ni if ni is not None and ni.node is not None else None

    def have_pods_with_affinity(self) -> list[NodeInfo]:
        return [ni for ni in self._cache.with_affinity.values() if ni.node is not None]

    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        return [ni for ni in self._cache.with_required_anti_affinity.values() if ni.node is not None]

    def num_nodes(self) -> int:
        return len(self._cache.node_list())

    def image_state(self, image: str) -> ImageState | None:
        return self._cache.image_states.get(image)

    def matching_label_sets(self, namespace: str, selector: Selector, *,
                            terminating: bool = False) -> frozenset[LabelSetKey]:
        return self._cache.label_index.matching(namespace, selector, terminating=terminating)

    def pod_namespaces(self) -> list[str]:
        return self._cache.label_index.namespaces()

    def topology_counts(self, topology_key: str) -> TopologyCounts | None:
        return self._cache.label_index.topology_counts(topology_key)

    def nodes_with_label(self, key: str) -> int:
        return self._cache.label_index.nodes_with_label(key)


class Cache:
    """NodeInfos by node name, assumed pods, and image states; see the module docstring."""

    def __init__(self, *, clock: Clock = REAL_CLOCK, assumed_pod_ttl: float = 0.0) -> None:
        self.clock = clock
        self.ttl = assumed_pod_ttl
        self.nodes: dict[str, NodeInfo] = {}
        self.with_affinity: dict[str, NodeInfo] = {}
        self.with_required_anti_affinity: dict[str, NodeInfo] = {}
        self.image_states: dict[str, ImageState] = {}
        self._pod_states: dict[str, _PodState] = {}
        self._assumed: set[str] = set()
        self._zones: dict[str, list[str]] = {}
        self._node_zone: dict[str, str] = {}
        self._list: list[NodeInfo] | None = None
        self.label_index = LabelSetIndex(self.nodes)
        self.snapshot = Snapshot(self)

    # ---- nodes ----

    def node_list(self) -> list[NodeInfo]:
        """Nodes in node-tree order: one node of each zone in turn."""
        if self._list is None:
            out: list[NodeInfo] = []
            zones = list(self._zones.values())
            longest = max((len(z) for z in zones), default=0)
            for i in range(longest):
                for z in zones:
                    if i < len(z):
                        out.append(self.nodes[z[i]])
            self._list = out
        return self._list

    def add_node(self, node: Obj) -> NodeInfo:
        """Add or replace a node. A replaced node keeps its place in the node order unless its zone changed."""
        name = (node.get("metadata") or {}).get("name") or ""
        ni = self.nodes.get(name)
        old_labels: Mapping[str, str] | None = None
        if ni is None:
            ni = NodeInfo()
            ni.indexed = True
            self.nodes[name] = ni
        elif ni.node is not None:
            old_labels = ni.labels
            self._remove_images(ni)
        ni.set_node(node)
        self._add_images(ni, node)
        zone = zone_key(node)
        if self._node_zone.get(name) != zone:
            self._tree_remove(name)
            self._tree_add(name, zone)
        self.label_index.node_changed(ni, old_labels, ni.labels)
        return ni

    def update_node(self, old: Obj | None, new: Obj) -> NodeInfo:
        return self.add_node(new)

    def remove_node(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name") or ""
        ni = self.nodes.get(name)
        if ni is None:
            return
        self._remove_images(ni)
        self._tree_remove(name)
        if ni.node is not None:
            self.label_index.node_changed(ni, ni.labels, None)
        # Pods may still be deleted after their node: keep their sums until then (upstream RemoveNode).
        if ni.pods:
            ni.remove_node()
        else:
            del self.nodes[name]

    def _tree_add(self, name: str, zone: str) -> None:
        self._zones.setdefault(zone, []).append(name)
        self._node_zone[name] = zone
        self._list = None

    def _tree_remove(self, name: str) -> None:
        zone = self._node_zone.pop(name, None)
        if zone is None:
            return
        names = self._zones.get(zone)
        if names is not None:
            try:
                names.remove(name)
            except ValueError:
                pass
            if not names:
                del self._zones[zone]
        self._list = None

    def _add_images(self, ni: NodeInfo, node: Obj) -> None:
        states: dict[str, ImageState] = {}
        for image in (node.get("status") or {}).get("images") or ():
            size = int(image.get("sizeBytes") or 0)
            for image_name in image.get("names") or ():
                st = self.image_states.get(image_name)
                if st is None:
                    st = ImageState(size)
                    self.image_states[image_name] = st
                st.nodes.add(ni.name)
                states[image_name] = st
        ni.image_states = states

    def _remove_images(self, ni: NodeInfo) -> None:
        for image_name, st in ni.image_states.items():
            st.nodes.discard(ni.name)
            if not st.nodes:
                self.image_states.pop(image_name, None)
        ni.image_states = {}

    # ---- pods ----

    def _node_for(self, node_name: str) -> NodeInfo:
        ni = self.nodes.get(node_name)
        if ni is None:
            ni = NodeInfo()
            ni.name = node_name
            ni.indexed = True
            self.nodes[node_name] = ni
        return ni

    def _add_to_node(self, pi: PodInfo) -> None:
        ni = self._node_for(pi.node_name)
        ni.add_pod(pi)
        self.label_index.pod_added(ni, pi)
        if pi.has_affinity:
            self.with_affinity[ni.name] = ni
        if pi.has_required_anti_affinity:
            self.with_required_anti_affinity[ni.name] = ni

    def _remove_from_node(self, pi: PodInfo) -> None:
        ni = self.nodes.get(pi.node_name)
        removed = ni.remove_pod(pi) if ni is not None else None
        if ni is None or removed is None:
            log.warning("pod %s was not found on node %s in the scheduler cache", pi.key, pi.node_name)
            return
        self.label_index.pod_removed(ni, removed)
        if pi.has_affinity and not ni.pods_with_affinity:
            self.with_affinity.pop(ni.name, None)
        if pi.has_required_anti_affinity and not ni.pods_with_required_anti_affinity:
            self.with_required_anti_affinity.pop(ni.name, None)
        if ni.node is None and not ni.pods:
            del self.nodes[ni.name]

    def assume_pod(self, pi: PodInfo) -> None:
        """Count `pi` (whose pod has spec.nodeName set) on its node before the binding is confirmed."""
        k = pi.uid_key
        if k in self._pod_states:
            raise CacheError(f"pod {pi.key}({k}) is in the cache, so can't be assumed")
        self._add_to_node(pi)
        self._pod_states[k] = _PodState(pi)
        self._assumed.add(k)

    def finish_binding(self, pi: PodInfo) -> None:
        """The binding call returned: start the assumed pod's expiry clock (when a TTL is set)."""
        st = self._pod_states.get(pi.uid_key)
        if st is not None and pi.uid_key in self._assumed:
            st.binding_finished = True
            if self.ttl > 0:
                st.deadline = self.clock.monotonic() + self.ttl

    def forget_pod(self, pi: PodInfo) -> None:
        """Drop an assumed pod (its binding failed)."""
        k = pi.uid_key
        st = self._pod_states.get(k)
        if st is None or k not in self._assumed:
            return
        self._remove_from_node(st.pod)
        del self._pod_states[k]
        self._assumed.discard(k)

    def add_pod(self, pi: PodInfo) -> None:
        """An assigned pod from the informer: confirms an assumed pod or adds a new one."""
        k = pi.uid_key
        st = self._pod_states.get(k)
        if st is None:
            self._add_to_node(pi)
            self._pod_states[k] = _PodState(pi)
            return
        # Confirmation of an assumed pod (possibly on another node than assumed), or a duplicate add.
        self._remove_from_node(st.pod)
        self._add_to_node(pi)
        st.pod = pi
        st.deadline = None
        self._assumed.discard(k)

    def update_pod(self, old: PodInfo | None, new: PodInfo) -> None:
        self.add_pod(new)

    def remove_pod(self, pi: PodInfo) -> None:
        k = pi.uid_key
        st = self._pod_states.pop(k, None)
        self._assumed.discard(k)
        if st is not None:
            self._remove_from_node(st.pod)

    def is_assumed(self, uid_key: str) -> bool:
        return uid_key in self._assumed

    def get_pod(self, uid_key: str) -> PodInfo | None:
        st = self._pod_states.get(uid_key)
        return st.pod if st is not None else None

    def pod_count(self) -> int:
        return len(self._pod_states)

    def assumed_count(self) -> int:
        return len(self._assumed)

    def cleanup_expired_assumed_pods(self) -> list[PodInfo]:
        """Forget assumed pods whose binding finished and whose TTL passed; returns them."""
        if self.ttl <= 0:
            return []
        now = self.clock.monotonic()
        expired: list[PodInfo] = []
        for k in list(self._assumed):
            st = self._pod_states[k]
            if st.binding_finished and st.deadline is not None and now >= st.deadline:
                log.warning("assumed pod %s expired", st.pod.key)
                expired.append(st.pod)
                self.forget_pod(st.pod)
        return expired

    async def run_cleanup(self) -> None:
        """Expire assumed pods every second, until cancelled."""
        while True:
            await self.clock.sleep(CLEANUP_ASSUMED_PERIOD)
            self.cleanup_expired_assumed_pods()

    def pods(self) -> Iterable[PodInfo]:
        return (st.pod for st in self._pod_states.values())
