"""Shared fixtures for scheduler tests: nodes, pods, dict-backed listers and a framework over a cache."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyk8s.api.resources import Resource
from pyk8s.client.interface import Lister, Obj, object_key
from pyk8s.scheduler.cache import Cache
from pyk8s.scheduler.framework.interface import CycleState, Status
from pyk8s.scheduler.framework.runtime import Framework, PluginSpec, Profile
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo
from pyk8s.scheduler.plugins.registry import in_tree_registry
from pyk8s.scheduler.simulate import build_cache, make_node, make_pod

ObjList = list[Obj]  # (module-level aliases: inside DictLister `list` names the method)
StrList = list[str]

__all__ = ["DictLister", "Events", "build_cache", "framework", "make_node", "make_pod", "node_info", "run_filter"]


class DictLister:
    """A Lister over a fixed list of objects."""

    def __init__(self, objs: Iterable[Obj] = ()) -> None:
        self.objs = {object_key(o): o for o in objs}

    def get(self, key: str) -> Obj | None:
        return self.objs.get(key)

    def list(self, namespace: str | None = None) -> ObjList:
        if namespace is None:
            return list(self.objs.values())
        return [o for o in self.objs.values() if (o.get("metadata") or {}).get("namespace") == namespace]

    def by_index(self, index_name: str, value: str) -> ObjList:
        raise KeyError(index_name)

    def keys(self) -> StrList:
        return list(self.objs)


class Events:
    """An EventSink that keeps (type, reason, "ns/name", message)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        md = obj.get("metadata") or {}
        self.items.append((type_, reason, f"{md.get('namespace', '')}/{md.get('name', '')}", message))

    def reasons(self) -> list[str]:
        return [r for _, r, _, _ in self.items]


def framework(cache: Cache, *, plugins: list[str] | None = None, listers: dict[Resource, Lister] | None = None,
              client: Any = None, args: dict[str, dict[str, Any]] | None = None, events: Events | None = None,
              weights: dict[str, int] | None = None) -> Framework:
    """A Framework over `cache` with the default profile, or only `plugins` (in that order)."""
    profile = Profile()
    if plugins is not None:
        defaults = {p.name: p.weight for p in profile.plugins}
        w = {**defaults, **(weights or {})}
        profile = Profile(plugins=[PluginSpec(n, w.get(n, 0)) for n in plugins])
    if args:
        profile.plugin_args.update(args)
    found = dict(listers or {})

    def lister(resource: Resource) -> Lister:
        if resource in found:
            return found[resource]
        raise KeyError(resource.plural)

    return Framework(profile, in_tree_registry(), client=client, snapshot=cache.snapshot, listers=lister,
                     recorder=events)


def node_info(node: Obj, pods: Iterable[Obj] = ()) -> NodeInfo:
    ni = NodeInfo(node)
    for p in pods:
        ni.add_pod(PodInfo(p))
    return ni


def run_filter(plugin: Any, pod: Obj | PodInfo, node: NodeInfo, nodes: list[NodeInfo] | None = None) -> Status | None:
    """PreFilter (when the plugin has it) then Filter of one plugin; a PreFilter Skip counts as success."""
    pi = pod if isinstance(pod, PodInfo) else PodInfo(pod)
    state = CycleState()
    if hasattr(plugin, "pre_filter"):
        _, s = plugin.pre_filter(state, pi, nodes if nodes is not None else [node])
        if s is not None and s.code:
            if s.is_skip():
                return None
            return s
    return plugin.filter(state, pi, node)
