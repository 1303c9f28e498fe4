"""Scheduling without a cluster: build a cache from node and pod dicts and run the pure decision loop.

For benchmarks and profiling (bench/ calls `schedule_offline`) and for tests. `make_node` / `make_pod` follow
upstream scheduler_perf's default templates (node: 4 CPU, 32Gi, 110 pods; pod: requests 100m CPU, 500Mi).
Nothing here does I/O: binding is replaced by assuming the pod in the cache, as the real scheduling cycle does
before its binding task runs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyk8s.api.resources import Resource
from pyk8s.client.interface import Lister, Obj, object_key
from pyk8s.scheduler.cache import Cache
from pyk8s.scheduler.framework.interface import CycleState, SchedulingError
from pyk8s.scheduler.framework.runtime import Framework, Profile, Registry
from pyk8s.scheduler.framework.types import FitError, NoNodesAvailable, PodInfo
from pyk8s.scheduler.schedule_one import SchedulingAlgorithm, with_node_name


def make_node(name: str, *, cpu: str = "4", memory: str = "32Gi", pods: int = 110, zone: str = "",
              labels: Mapping[str, str] | None = None, taints: list[Obj] | None = None,
              unschedulable: bool = False, images: list[Obj] | None = None) -> Obj:
    node_labels = {"kubernetes.io/hostname": name, **(labels or {})}
    if zone:
        node_labels["topology.kubernetes.io/zone"] = zone
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    alloc = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    status: Obj = {"capacity": dict(alloc), "allocatable": alloc}
    if images:
        status["images"] = images
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": f"uid-node-{name}",
                                                               "labels": node_labels},
            "spec": spec, "status": status}


def make_pod(name: str, namespace: str = "default", *, cpu: str | None = "100m", memory: str | None = "500Mi",
             node_name: str = "", labels: Mapping[str, str] | None = None, priority: int | None = None,
             spec: Obj | None = None, uid: str | None = None) -> Obj:
    requests: Obj = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    container: Obj = {"name": "pause", "image": "registry.k8s.io/pause:3.10"}
    if requests:
        container["resources"] = {"requests": requests}
    pod_spec: Obj = {"schedulerName": "default-scheduler", "containers": [container]}
    if node_name:
        pod_spec["nodeName"] = node_name
    if priority is not None:
        pod_spec["priority"] = priority
    if spec:
        pod_spec.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{namespace}-{name}",
                         "labels": dict(labels or {}), "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": pod_spec, "status": {"phase": "Pending"}}


def build_cache(nodes: Iterable[Obj], assigned_pods: Iterable[Obj] = ()) -> Cache:
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    for p in assigned_pods:
        cache.add_pod(PodInfo(p))
    return cache


_ObjList = list[Obj]  # (module-level aliases: inside StaticLister `list` names the method)
_KeyList = list[str]


class StaticLister:
    """A read-only Lister over a fixed set of objects (what an informer's cache would hold)."""

    def __init__(self, objs: Iterable[Obj] = ()) -> None:
        self.objs: dict[str, Obj] = {object_key(o): o for o in objs}

    def get(self, key: str) -> Obj | None:
        return self.objs.get(key)

    def list(self, namespace: str | None = None) -> _ObjList:
        if namespace is None:
            return list(self.objs.values())
        return [o for o in self.objs.values() if (o.get("metadata") or {}).get("namespace") == namespace]

    def by_index(self, index_name: str, value: str) -> _ObjList:
        raise KeyError(index_name)

    def keys(self) -> _KeyList:
        return list(self.objs)


class StaticListers:
    """Listers by resource for plugins that read other objects (ReplicaSets, Services, Namespaces, ...).
    A resource given no objects has an empty lister, as a synced informer with nothing in it."""

    def __init__(self, objects: Mapping[Resource, Iterable[Obj]] | None = None) -> None:
        self._listers: dict[Resource, StaticLister] = {r: StaticLister(objs) for r, objs in (objects or {}).items()}

    def __call__(self, resource: Resource) -> Lister:
        found = self._listers.get(resource)
        if found is None:
            found = self._listers[resource] = StaticLister()
        return found


class _NoClient:
    """Stands in for the API client where nothing must call it."""

    def __getattr__(self, name: str) -> Any:
        raise SchedulingError(f"the offline scheduler makes no API calls ({name})")


def offline_framework(cache: Cache, *, profile: Profile | None = None, registry: Registry | None = None,
                      listers: Callable[[Resource], Lister] | None = None) -> Framework:
    """A Framework over `cache` that makes no API calls; `listers` (e.g. StaticListers) serve the objects
    plugins look up (without them every lister is missing, as for a scheduler with no such informer)."""
    if registry is None:
        from pyk8s.scheduler.plugins.registry import in_tree_registry

        registry = in_tree_registry()
    return Framework(profile or Profile(), registry, client=_NoClient(), snapshot=cache.snapshot, listers=listers)


@dataclass
class OfflineResult:
    placements: dict[str, str | None] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def pods_per_second(self) -> float:
        return len(self.placements) / self.seconds if self.seconds else 0.0


def schedule_offline(cache: Cache, pods: Iterable[Obj], *, profile: Profile | None = None,
                     registry: Registry | None = None, percentage_of_nodes_to_score: int = 0, seed: int = 0,
                     on_pod: Callable[[PodInfo, str | None], None] | None = None,
                     listers: Callable[[Resource], Lister] | None = None) -> OfflineResult:
    """Run the decision loop (PreFilter..Score, select host, assume, Reserve, Permit) for each pod in turn.

    `placements` maps "ns/name" to the chosen node (None when it did not fit; `failures` has the FitError
    message). The cache ends up with every placed pod assumed on its node.
    """
    fwk = offline_framework(cache, profile=profile, registry=registry, listers=listers)
    algo = SchedulingAlgorithm(percentage_of_nodes_to_score, random.Random(seed))
    snapshot = cache.snapshot
    out = OfflineResult()
    infos = [p if isinstance(p, PodInfo) else PodInfo(p) for p in pods]
    start = time.perf_counter()
    for pi in infos:
        state = CycleState()
        try:
            result = algo.schedule_pod(fwk, state, pi, snapshot)
        except (FitError, NoNodesAvailable, SchedulingError) as e:
            out.placements[pi.key] = None
            out.failures[pi.key] = str(e)
            if on_pod is not None:
                on_pod(pi, None)
            continue
        host = result.suggested_host
        assumed = pi.with_pod(with_node_name(pi.pod, host))
        cache.assume_pod(assumed)
        fwk.run_reserve_plugins_reserve(state, assumed, host)
        fwk.run_permit_plugins(state, assumed, host)
        out.placements[pi.key] = host
        if on_pod is not None:
            on_pod(pi, host)
    out.seconds = time.perf_counter() - start
    return out
