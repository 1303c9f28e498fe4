"""Runs one profile's plugins at each extension point (upstream framework/runtime/framework.go).

A `Registry` maps plugin names to factories; a `Profile` names the enabled plugins in order with their score
weights (upstream's default MultiPoint list and weights); `Framework` instantiates them once and offers the
`run_*` methods the scheduling and binding cycles call, plus the `Handle` services plugins use.

A plugin joins every extension point whose method it defines (MultiPoint semantics). Plugin order is the
profile's order: for Filter it decides which failure reason a node reports (the first failing filter wins).
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyk8s.api.resources import Resource
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client, Lister, Obj
from pyk8s.scheduler.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    ClusterEventWithHint,
    Code,
    CycleState,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
    SchedulingError,
    SnapshotLister,
    Status,
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo, resolve_priority

log = logging.getLogger("pyk8s.scheduler")

DEFAULT_SCHEDULER_NAME = "default-scheduler"
MAX_PERMIT_TIMEOUT = 15 * 60.0

PluginFactory = Callable[[Mapping[str, Any], "Framework"], Any]
Registry = dict[str, PluginFactory]


@dataclass(frozen=True, slots=True)
class PluginSpec:
    name: str
    weight: int = 0


# Upstream's default plugins (apis/config/v1 getDefaultPlugins, MultiPoint) that pyk8s implements, in order,
# with their score weights.
DEFAULT_PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec("SchedulingGates"),
    PluginSpec("NodeUnschedulable"),
    PluginSpec("NodeName"),
    PluginSpec("TaintToleration", 3),
    PluginSpec("NodeAffinity", 2),
    PluginSpec("NodePorts"),
    PluginSpec("NodeResourcesFit", 1),
    PluginSpec("VolumeBinding"),
    PluginSpec("PodTopologySpread", 2),
    PluginSpec("InterPodAffinity", 2),
    PluginSpec("DefaultPreemption"),
    PluginSpec("NodeResourcesBalancedAllocation", 1),
    PluginSpec("ImageLocality", 1),
    PluginSpec("DefaultBinder"),
)


@dataclass
class Profile:
    """One scheduling profile: the pods whose spec.schedulerName is `scheduler_name` use these plugins."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: list[PluginSpec] = field(default_factory=lambda: list(DEFAULT_PLUGINS))
    plugin_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    # None: the scheduler-wide setting (0 = adaptive, as upstream).
    percentage_of_nodes_to_score: int | None = None

    def without(self, *names: str) -> Profile:
        """A copy with the named plugins disabled."""
        return Profile(self.scheduler_name, [p for p in self.plugins if p.name not in names],
                       dict(self.plugin_args), self.percentage_of_nodes_to_score)


def default_profile() -> Profile:
    return Profile()


class EventSink(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class Nominator(Protocol):
    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]: ...

    def has_nominated_pods(self) -> bool: ...


class _NoListers:
    def __call__(self, resource: Resource) -> Lister:
        raise KeyError(f"no informer for {resource.plural}")


class WaitingPod:
    """A pod some Permit plugin asked to wait for; allowed or rejected by plugins, or timed out."""

    def __init__(self, pod: PodInfo, plugin_timeouts: dict[str, float], clock: Clock) -> None:
        self.pod = pod
        self.pending = set(plugin_timeouts)
        loop = asyncio.get_running_loop()
        self._done: asyncio.Future[Status | None] = loop.create_future()
        self._timers = [asyncio.ensure_future(self._timeout(name, t, clock)) for name, t in plugin_timeouts.items()]

    async def _timeout(self, plugin: str, seconds: float, clock: Clock) -> None:
        await clock.sleep(seconds)
        self.reject(plugin, f"rejected due to timeout after waiting {seconds:g}s at plugin {plugin}")

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending and not self._done.done():
            self._done.set_result(None)
            self._cancel_timers()

    def reject(self, plugin: str, message: str) -> None:
        if not self._done.done():
            self._done.set_result(Status(Code.UNSCHEDULABLE, message, plugin=plugin))
            self._cancel_timers()

    def _cancel_timers(self) -> None:
        for t in self._timers:
            if not t.done() and t is not asyncio.current_task():
                t.cancel()

    async def wait(self) -> Status | None:
        return await self._done


class Framework:
    """A profile's instantiated plugins and the code that runs them; also the plugins' `Handle`."""

    def __init__(self, profile: Profile, registry: Registry, *, client: Client, snapshot: SnapshotLister,
                 listers: Callable[[Resource], Lister] | None = None, recorder: EventSink | None = None,
                 clock: Clock = REAL_CLOCK, nominator: Nominator | None = None,
                 pod_info_factory: Callable[[Obj], PodInfo] | None = None,
                 priority_resolver: Callable[[Obj], int] | None = None) -> None:
        self.profile = profile
        self.client = client
        self.clock = clock
        self._snapshot = snapshot
        self._listers = listers or _NoListers()
        self.recorder = recorder
        self.nominator = nominator
        self._pod_info_factory = pod_info_factory or PodInfo
        self.priority_of: Callable[[Obj], int] = priority_resolver or resolve_priority
        self.waiting_pods: dict[str, WaitingPod] = {}
        self.plugins: dict[str, Any] = {}
        self.weights: dict[str, int] = {}
        for spec in profile.plugins:
            factory = registry.get(spec.name)
            if factory is None:
                raise SchedulingError(f"plugin \"{spec.name}\" is not registered")
            if spec.name in self.plugins:
                raise SchedulingError(f"plugin \"{spec.name}\" is enabled twice")
            self.plugins[spec.name] = factory(profile.plugin_args.get(spec.name) or {}, self)
            self.weights[spec.name] = spec.weight
        ps = list(self.plugins.values())
        self.pre_enqueue_plugins = [p for p in ps if hasattr(p, "pre_enqueue")]
        self.pre_filter_plugins = [p for p in ps if hasattr(p, "pre_filter")]
        self.filter_plugins = [p for p in ps if hasattr(p, "filter")]
        self.post_filter_plugins = [p for p in ps if hasattr(p, "post_filter")]
        self.pre_score_plugins = [p for p in ps if hasattr(p, "pre_score")]
        self.score_plugins = [p for p in ps if hasattr(p, "score")]
        self.reserve_plugins = [p for p in ps if hasattr(p, "reserve")]
        self.permit_plugins = [p for p in ps if hasattr(p, "permit")]
        self.pre_bind_plugins = [p for p in ps if hasattr(p, "pre_bind")]
        self.bind_plugins = [p for p in ps if hasattr(p, "bind")]
        self.post_bind_plugins = [p for p in ps if hasattr(p, "post_bind")]
        for p in self.score_plugins:
            if self.weights[p.name] <= 0:
                self.weights[p.name] = 1
        self._all_filters = [(p.name, p.filter) for p in self.filter_plugins]
        self._all_batches = [(p.name, p.filter_nodes if hasattr(p, "filter_nodes") else _per_node_batch(p.filter))
                             for p in self.filter_plugins]
        self._filter_lists: dict[frozenset[str], tuple[list[tuple[str, Any]], list[tuple[str, Any]]]] = {
            frozenset(): (self._all_filters, self._all_batches)}

    # ---- Handle ----

    @property
    def scheduler_name(self) -> str:
        return self.profile.scheduler_name

    def snapshot(self) -> SnapshotLister:
        return self._snapshot

    def lister(self, resource: Resource) -> Lister:
        return self._listers(resource)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record an Event; objects without a kind (API list items) are taken to be Pods."""
        if self.recorder is not None:
            if not obj.get("kind"):
                obj = {"apiVersion": "v1", "kind": "Pod", "metadata": obj.get("metadata") or {}}
            self.recorder.event(obj, type_, reason, message)

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return self.nominator.nominated_pods_for_node(node_name) if self.nominator is not None else []

    def pod_info(self, pod: Obj) -> PodInfo:
        return self._pod_info_factory(pod)

    def has_filter_plugins(self) -> bool:
        return bool(self.filter_plugins)

    def has_score_plugins(self) -> bool:
        return bool(self.score_plugins)

    def has_post_filter_plugins(self) -> bool:
        return bool(self.post_filter_plugins)

    def events_to_register(self) -> list[tuple[str, ClusterEventWithHint]]:
        """(plugin name, event) for every plugin with EnqueueExtensions."""
        out: list[tuple[str, ClusterEventWithHint]] = []
        for p in self.plugins.values():
            if hasattr(p, "events_to_register"):
                for ev in p.events_to_register():
                    out.append((p.name, ev))
        return out

    # ---- scheduling cycle ----

    def run_pre_enqueue_plugins(self, pod: PodInfo) -> Status | None:
        for p in self.pre_enqueue_plugins:
            s = p.pre_enqueue(pod)
            if s is not None and s.code:
                if s.is_rejected():
                    return s.with_plugin(p.name)
                return Status(Code.ERROR, error=SchedulingError(
                    f"running PreEnqueue plugin \"{p.name}\": {s.message()}"), plugin=p.name)
        return None

    def run_pre_filter_plugins(self, state: CycleState, pod: PodInfo,
                               nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        """(result, status, plugins that rejected). Records skipped plugins and the Filter list in `state`."""
        result: PreFilterResult | None = None
        skipped: set[str] = set()
        with_nodes: list[str] = []
        for p in self.pre_filter_plugins:
            r, s = p.pre_filter(state, pod, nodes)
            if s is not None and s.code:
                if s.code is Code.SKIP:
                    skipped.add(p.name)
                    continue
                if s.is_rejected():
                    return None, s.with_plugin(p.name), {p.name}
                return None, Status(Code.ERROR, error=SchedulingError(
                    f"running PreFilter plugin \"{p.name}\": {s.message()}"), plugin=p.name), set()
            if r is not None and not r.all_nodes():
                with_nodes.append(p.name)
                result = r.merge(result)
                if result.node_names is not None and not result.node_names:
                    names = sorted(with_nodes)
                    msg = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1
                           else f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously")
                    return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, msg, plugin=names[0]), set(names)
        key = frozenset(skipped)
        state.skip_filter_plugins = key
        lists = self._filter_lists.get(key)
        if lists is None:
            lists = ([(n, f) for n, f in self._all_filters if n not in key],
                     [(n, f) for n, f in self._all_batches if n not in key])
            self._filter_lists[key] = lists
        state.filters, state.filter_batches = lists
        return result, None, set(with_nodes)

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                                         node: NodeInfo) -> Status | None:
        return self._run_pre_filter_extension(state, pod, to_add, node, "AddPod")

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                                            node: NodeInfo) -> Status | None:
        return self._run_pre_filter_extension(state, pod, to_remove, node, "RemovePod")

    def _run_pre_filter_extension(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo,
                                  what: str) -> Status | None:
        """AddPod or RemovePod of every PreFilter plugin with extensions that this cycle did not skip."""
        for p in self.pre_filter_plugins:
            if p.name in state.skip_filter_plugins:
                continue
            ext = p.pre_filter_extensions()
            if ext is None:
                continue
            s = ext.add_pod(state, pod, other, node) if what == "AddPod" else ext.remove_pod(state, pod, other, node)
            if s is not None and s.code:
                return Status(Code.ERROR, error=SchedulingError(
                    f"running {what} on PreFilter plugin \"{p.name}\": {s.message()}"), plugin=p.name)
        return None

    def run_filter_plugins(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """The first failing Filter's status (plugin recorded), an Error status, or None."""
        for name, fn in state.filters:
            s = fn(state, pod, node)
            if s is not None and s.code:
                return filter_failure_status(name, s)
        return None

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: PodInfo,
                                               node: NodeInfo) -> Status | None:
        """Filter as if the pods nominated to `node` with priority >= the pod's were already there, and
        also without them (upstream RunFilterPluginsWithNominatedPods)."""
        nominated = self.nominated_pods_for_node(node.name) if self.nominator is not None else []
        if nominated:
            added = [pi for pi in nominated if pi.priority >= pod.priority and pi.uid_key != pod.uid_key]
            if added:
                state2 = state.clone()
                node2 = node.clone()
                for pi in added:
                    node2.add_pod(pi)
                    s = self.run_pre_filter_extension_add_pod(state2, pod, pi, node2)
                    if s is not None and s.code:
                        return s
                s = self.run_filter_plugins(state2, pod, node2)
                if s is not None and s.code:
                    return s
        return self.run_filter_plugins(state, pod, node)

    async def run_post_filter_plugins(self, state: CycleState, pod: PodInfo,
                                      statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status]:
        result: PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for p in self.post_filter_plugins:
            r, s = await p.post_filter(state, pod, statuses)
            if s is None or s.code is Code.SUCCESS:
                return r, s or Status()
            if s.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return r, s.with_plugin(p.name)
            if not s.is_rejected():
                return None, Status(Code.ERROR, error=s.as_error(), plugin=p.name)
            if r is not None and r.nominating_info is not None and r.nominating_info.mode:
                result = r
            reasons.extend(s.all_reasons())
            rejector = rejector or p.name
        return result, Status(Code.UNSCHEDULABLE, *reasons, plugin=rejector)

    def run_pre_score_plugins(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        skipped: set[str] = set()
        for p in self.pre_score_plugins:
            s = p.pre_score(state, pod, nodes)
            if s is not None and s.code:
                if s.code is Code.SKIP:
                    skipped.add(p.name)
                    continue
                return Status(Code.ERROR, error=SchedulingError(
                    f"running PreScore plugin \"{p.name}\": {s.message()}"), plugin=p.name)
        state.skip_score_plugins = frozenset(skipped)
        state.scorers = [(p, self.weights[p.name], p.score_extensions(), getattr(p, "scores_in_range", False))
                         for p in self.score_plugins if p.name not in skipped]
        return None

    def run_score_plugins(self, state: CycleState, pod: PodInfo,
                          nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        """Weighted total score per node (parallel to `nodes`)."""
        totals: list[int] | None = None
        for p, weight, ext, in_range in state.scorers:
            scores, s = p.score(state, pod, nodes)
            if s is not None and s.code:
                return [], Status(Code.ERROR, error=SchedulingError(
                    f"plugin \"{p.name}\" failed with: {s.message()}"), plugin=p.name)
            if ext is not None:
                s = ext.normalize_score(state, pod, nodes, scores)
                if s is not None and s.code:
                    return [], Status(Code.ERROR, error=SchedulingError(
                        f"plugin \"{p.name}\" failed with: {s.message()}"), plugin=p.name)
            if scores and not in_range:
                lo, hi = min(scores), max(scores)
                if lo < MIN_NODE_SCORE or hi > MAX_NODE_SCORE:
                    bad = lo if lo < MIN_NODE_SCORE else hi
                    return [], Status(Code.ERROR, error=SchedulingError(
                        f"plugin \"{p.name}\" returns an invalid score {bad}, it should in the range of "
                        f"[{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"), plugin=p.name)
            if weight != 1:
                scores = [x * weight for x in scores]
            totals = scores if totals is None else list(map(operator.add, totals, scores))
        return totals if totals is not None else [0] * len(nodes), None

    def run_reserve_plugins_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.reserve_plugins:
            s = p.reserve(state, pod, node_name)
            if s is not None and s.code:
                if s.is_rejected():
                    return s.with_plugin(p.name)
                return Status(Code.ERROR, error=SchedulingError(
                    f"running Reserve plugin \"{p.name}\": {s.message()}"), plugin=p.name)
        return None

    def run_reserve_plugins_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in reversed(self.reserve_plugins):
            try:
                p.unreserve(state, pod, node_name)
            except Exception:
                log.exception("unreserve of plugin %s failed for pod %s", p.name, pod.key)

    def run_permit_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        waits: dict[str, float] = {}
        for p in self.permit_plugins:
            s, timeout = p.permit(state, pod, node_name)
            if s is not None and s.code:
                if s.is_rejected():
                    return s.with_plugin(p.name)
                if s.code is Code.WAIT:
                    waits[p.name] = min(timeout, MAX_PERMIT_TIMEOUT)
                    continue
                return Status(Code.ERROR, error=SchedulingError(
                    f"running Permit plugin \"{p.name}\": {s.message()}"), plugin=p.name)
        if waits:
            self.waiting_pods[pod.uid_key] = WaitingPod(pod, waits, self.clock)
            return Status(Code.WAIT, f'one or more plugins asked to wait and no plugin rejected pod "{pod.name}"')
        return None

    def will_wait_on_permit(self, pod: PodInfo) -> bool:
        return pod.uid_key in self.waiting_pods

    def get_waiting_pod(self, uid_key: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid_key)

    async def wait_on_permit(self, pod: PodInfo) -> Status | None:
        wp = self.waiting_pods.get(pod.uid_key)
        if wp is None:
            return None
        try:
            return await wp.wait()
        finally:
            self.waiting_pods.pop(pod.uid_key, None)

    # ---- binding cycle ----

    async def run_pre_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for p in self.pre_bind_plugins:
            s = await p.pre_bind(state, pod, node_name)
            if s is not None and s.code and s.code is not Code.SKIP:
                if s.is_rejected():
                    return s.with_plugin(p.name)
                return Status(Code.ERROR, error=SchedulingError(
                    f"running PreBind plugin \"{p.name}\": {s.message()}"), plugin=p.name)
        return None

    async def run_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        if not self.bind_plugins:
            return Status(Code.SKIP)
        for p in self.bind_plugins:
            s = await p.bind(state, pod, node_name)
            if s is not None and s.code is Code.SKIP:
                continue
            if s is not None and s.code:
                if s.is_rejected():
                    return s.with_plugin(p.name)
                return Status(Code.ERROR, error=SchedulingError(
                    f"running Bind plugin \"{p.name}\": {s.message()}"), plugin=p.name)
            return None
        return Status(Code.SKIP)

    def run_post_bind_plugins(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for p in self.post_bind_plugins:
            try:
                p.post_bind(state, pod, node_name)
            except Exception:
                log.exception("postbind of plugin %s failed for pod %s", p.name, pod.key)


def _per_node_batch(fn: Callable[[CycleState, PodInfo, NodeInfo], Status | None]) -> Any:
    def filter_nodes(state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        out: list[tuple[int, Status]] = []
        for i, ni in enumerate(nodes):
            s = fn(state, pod, ni)
            if s is not None and s.code:
                out.append((i, s))
        return out
    return filter_nodes


def filter_failure_status(name: str, s: Status) -> Status:
    """The status a failed Filter reports: the rejection tagged with the plugin, or a wrapped Error."""
    if s.is_rejected():
        if s.plugin != name:
            s.plugin = name
        return s
    return Status(Code.ERROR, error=SchedulingError(f"running \"{name}\" filter plugin: {s.message()}"), plugin=name)
