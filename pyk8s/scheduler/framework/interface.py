"""The scheduling framework's contracts: Status, CycleState, cluster events and one Protocol per extension point.

A plugin is any object with a `name` that implements the methods of the extension points it wants to join
(upstream's kube-scheduler framework/interface.go). "Does not fit" is never an exception: plugins return a
`Status`, and `None` means Success (Go's nil status). Statuses a plugin returns may be shared constants;
nobody mutates them except to record the plugin name, which is always the same plugin.

The scheduling cycle (PreEnqueue ... Permit) is synchronous and runs on the event loop without awaiting, so
the cache and snapshot cannot change under a plugin; the binding cycle (PreBind, Bind) and PostFilter may do
I/O and are coroutines. Every plugin receives the pod as a `PodInfo` (the pod dict plus values computed once:
requests, priority, parsed affinity terms).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pyk8s.api.resources import Resource
from pyk8s.base.clock import Clock
from pyk8s.client.interface import Client, Lister, Obj

if TYPE_CHECKING:
    from pyk8s.api.labels import Selector as LabelSelector
    from pyk8s.scheduler.framework.types import ImageState, LabelSetKey, NodeInfo, PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = 2**63 - 1


class Code(IntEnum):
    """Status codes, in upstream's order (Success is 0, so a code is truthy exactly when it is a failure)."""

    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5
    PENDING = 6

    def __str__(self) -> str:
        return _CODE_NAMES[self]


_CODE_NAMES = {
    Code.SUCCESS: "Success", Code.ERROR: "Error", Code.UNSCHEDULABLE: "Unschedulable",
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE: "UnschedulableAndUnresolvable", Code.WAIT: "Wait", Code.SKIP: "Skip",
    Code.PENDING: "Pending",
}
_REJECTED = frozenset({Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING})


class Status:
    """The result of running a plugin: a code, human reasons, the plugin that failed, maybe an error."""

    __slots__ = ("code", "error", "plugin", "reasons")

    def __init__(self, code: Code = Code.SUCCESS, *reasons: str, plugin: str = "",
                 error: BaseException | None = None) -> None:
        self.code = code
        self.reasons: tuple[str, ...] = reasons
        self.plugin = plugin
        self.error = error

    @classmethod
    def as_status(cls, err: BaseException) -> Status:
        """An Error status wrapping `err` (upstream AsStatus)."""
        return cls(Code.ERROR, error=err)

    def all_reasons(self) -> list[str]:
        """The reasons, led by the wrapped error's text when there is one (upstream Reasons())."""
        if self.error is not None:
            return [str(self.error), *self.reasons]
        return list(self.reasons)

    def message(self) -> str:
        """Reasons joined with ", " (upstream Message())."""
        if self.error is None:
            return ", ".join(self.reasons)
        return ", ".join(self.all_reasons())

    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    def is_wait(self) -> bool:
        return self.code is Code.WAIT

    def is_skip(self) -> bool:
        return self.code is Code.SKIP

    def is_rejected(self) -> bool:
        """Unschedulable, UnschedulableAndUnresolvable or Pending: the pod was rejected, not an error."""
        return self.code in _REJECTED

    def with_plugin(self, name: str) -> Status:
        self.plugin = name
        return self

    def as_error(self) -> BaseException:
        """The wrapped error, or a SchedulingError carrying the message."""
        if self.error is not None:
            return self.error
        return SchedulingError(self.message())

    def __repr__(self) -> str:
        who = f" plugin={self.plugin!r}" if self.plugin else ""
        return f"Status({self.code}{who}: {self.message()!r})"


def is_success(status: Status | None) -> bool:
    """None or a Success status."""
    return status is None or status.code is Code.SUCCESS


def code_of(status: Status | None) -> Code:
    return Code.SUCCESS if status is None else status.code


class SchedulingError(Exception):
    """An unexpected failure inside the scheduling framework (not "does not fit")."""


# ---- per-cycle state ----

class StateData(Protocol):
    def clone(self) -> StateData:
        """A copy safe to change independently (preemption dry-runs clone the whole CycleState)."""


class CycleState:
    """Data plugins pass from one extension point to another within one scheduling cycle, under their own keys.

    `read(key)` raises KeyError when absent. The framework also records here which plugins returned Skip at
    PreFilter / PreScore, so their Filter / Score is not run for this pod.
    """

    __slots__ = ("_data", "filter_batches", "filters", "read", "scorers", "skip_filter_plugins",
                 "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.read: Callable[[str], Any] = self._data.__getitem__
        self.skip_filter_plugins: frozenset[str] = frozenset()
        self.skip_score_plugins: frozenset[str] = frozenset()
        # Set by the framework after PreFilter / PreScore: the (name, bound method) pairs to run this cycle.
        self.filters: list[tuple[str, Any]] = []
        self.filter_batches: list[tuple[str, Any]] = []
        self.scorers: list[Any] = []

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        """Clone each value that has a `clone()`; others are shared (they must be read-only)."""
        copy = CycleState()
        for k, v in self._data.items():
            clone = getattr(v, "clone", None)
            copy._data[k] = clone() if clone is not None else v
        copy.skip_filter_plugins = self.skip_filter_plugins
        copy.skip_score_plugins = self.skip_score_plugins
        copy.filters = self.filters
        copy.filter_batches = self.filter_batches
        copy.scorers = self.scorers
        return copy


# ---- cluster events (what can make a rejected pod schedulable) ----

class ActionType(IntFlag):
    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 1 << 2
    UPDATE_NODE_LABEL = 1 << 3
    UPDATE_NODE_TAINT = 1 << 4
    UPDATE_NODE_CONDITION = 1 << 5
    UPDATE_NODE_ANNOTATION = 1 << 6
    UPDATE_POD_LABEL = 1 << 7
    UPDATE_POD_SCALE_DOWN = 1 << 8
    UPDATE_POD_TOLERATION = 1 << 9
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1 << 10
    # Any other update (of a resource with no finer action types).
    UPDATE_OTHER = 1 << 11
    UPDATE = ((1 << 12) - 1) & ~3
    ALL = (1 << 12) - 1


class EventResource:
    """Resource names of cluster events (strings, as upstream's fwk.EventResource)."""

    POD = "Pod"
    ASSIGNED_POD = "AssignedPod"
    UNSCHEDULED_POD = "UnscheduledPod"
    NODE = "Node"
    PERSISTENT_VOLUME = "PersistentVolume"
    PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"
    STORAGE_CLASS = "storage.k8s.io/StorageClass"
    WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: str
    action_type: ActionType
    label: str = ""

    def matches(self, incoming: ClusterEvent) -> bool:
        """True when `incoming` is this event or a more specific one (upstream MatchClusterEvents)."""
        if self.resource == EventResource.WILDCARD and self.action_type == ActionType.ALL:
            return True
        resource_ok = (self.resource == EventResource.WILDCARD or self.resource == incoming.resource
                       or (self.resource == EventResource.POD
                           and incoming.resource in (EventResource.ASSIGNED_POD, EventResource.UNSCHEDULED_POD)))
        return (resource_ok and bool(self.action_type & incoming.action_type)
                and incoming.action_type <= self.action_type)


class QueueingHint(IntEnum):
    QUEUE_SKIP = 0
    QUEUE = 1


# (pod being requeued, old object or None, new object or None) -> hint
QueueingHintFn = Callable[["PodInfo", Obj | None, Obj | None], QueueingHint]


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHintFn | None = None


EVENT_NODE_ADD = ClusterEvent(EventResource.NODE, ActionType.ADD, "NodeAdd")
EVENT_ASSIGNED_POD_ADD = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
EVENT_ASSIGNED_POD_DELETE = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
EVENT_UNSCHEDULABLE_TIMEOUT = ClusterEvent(EventResource.WILDCARD, ActionType.ALL, "UnschedulableTimeout")
EVENT_FORCE_ACTIVATE = ClusterEvent(EventResource.WILDCARD, ActionType.ALL, "ForceActivate")


# ---- results shared between the framework and plugins ----

@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """The nodes a PreFilter plugin already knows are the only candidates; None means every node."""

    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


class NominatingMode(IntEnum):
    NOOP = 0
    OVERRIDE = 1


@dataclass(frozen=True, slots=True)
class NominatingInfo:
    nominated_node_name: str = ""
    mode: NominatingMode = NominatingMode.NOOP


@dataclass(frozen=True, slots=True)
class PostFilterResult:
    nominating_info: NominatingInfo | None = None

    @classmethod
    def with_nominated_node(cls, node_name: str) -> PostFilterResult:
        return cls(NominatingInfo(node_name, NominatingMode.OVERRIDE))


class NodeToStatus:
    """Why each rejected node failed, plus one status for every node not listed (upstream NodeToStatus)."""

    __slots__ = ("_absent", "_map")

    def __init__(self, absent: Status | None = None) -> None:
        self._map: dict[str, Status] = {}
        self._absent = absent if absent is not None else Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def get(self, name: str) -> Status:
        return self._map.get(name, self._absent)

    def set(self, name: str, status: Status) -> None:
        self._map[name] = status

    def __len__(self) -> int:
        return len(self._map)

    def items(self) -> Iterable[tuple[str, Status]]:
        return self._map.items()

    @property
    def absent_nodes_status(self) -> Status:
        return self._absent

    def set_absent_nodes_status(self, status: Status) -> None:
        self._absent = status

    def nodes_for_status_code(self, all_nodes: Sequence[NodeInfo], code: Code) -> list[NodeInfo]:
        """The nodes whose status has `code`, counting unlisted nodes with the absent status."""
        absent_matches = self._absent.code == code
        out: list[NodeInfo] = []
        for ni in all_nodes:
            status = self._map.get(ni.name)
            if status is None:
                if absent_matches:
                    out.append(ni)
            elif status.code == code:
                out.append(ni)
        return out


# ---- what plugins may ask of the framework ----

class SnapshotLister(Protocol):
    """The nodes of the current cycle. NodeInfos are owned by the cache: read-only for plugins."""

    def node_infos(self) -> list[NodeInfo]:
        """Every node, in the order filtering visits them (zones interleaved)."""

    def get(self, name: str) -> NodeInfo | None: ...

    def have_pods_with_affinity(self) -> list[NodeInfo]:
        """Nodes that host at least one pod with (anti-)affinity terms."""

    def have_pods_with_required_anti_affinity(self) -> list[NodeInfo]: ...

    def num_nodes(self) -> int: ...

    def image_state(self, image: str) -> ImageState | None:
        """The image (by normalized name) if any node reports it."""

    def matching_label_sets(self, namespace: str, selector: LabelSelector, *,
                            terminating: bool = False) -> frozenset[LabelSetKey]:
        """The label sets of the cache's pods in `namespace` that `selector` matches (terminating pods' sets
        only if `terminating`); count them per node with NodeInfo.count_label_sets (for `indexed` nodes)."""

    def pod_namespaces(self) -> list[str]:
        """The namespaces of the cache's pods."""

    def topology_counts(self, topology_key: str) -> dict[LabelSetKey, dict[str | None, int]] | None:
        """Pods on every node per label set and per value of the node label `topology_key` (None: nodes
        without it); None when the key is not indexed. Read-only."""

    def nodes_with_label(self, key: str) -> int:
        """How many nodes carry the label `key`."""


class Handle(Protocol):
    """Services the framework offers plugins (upstream framework.Handle)."""

    client: Client
    clock: Clock

    def snapshot(self) -> SnapshotLister: ...

    def lister(self, resource: Resource) -> Lister:
        """The informer cache of `resource` (shared by the whole scheduler)."""

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record an Event about `obj` as the scheduler's component."""

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]: ...

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: PodInfo,
                                               node: NodeInfo) -> Status | None: ...

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo,
                                         node: NodeInfo) -> Status | None: ...

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo,
                                            node: NodeInfo) -> Status | None: ...

    def pod_info(self, pod: Obj) -> PodInfo:
        """A PodInfo for `pod` with its priority resolved as the scheduler resolves it."""


# ---- extension points ----

@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        """Gate the pod out of the active queue (non-success) until a registered event lets it in."""


class PreFilterExtensions(Protocol):
    def add_pod(self, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo) -> Status | None:
        """Update PreFilter state as if `to_add` ran on `node` (nominated pods, preemption reprieve)."""

    def remove_pod(self, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo) -> Status | None:
        """Update PreFilter state as if `to_remove` were gone from `node` (preemption victims)."""


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        """Compute per-pod data once for Filter. A Skip status means this plugin's Filter is not run for
        this pod; a rejecting status makes the pod unschedulable on every node."""

    def pre_filter_extensions(self) -> PreFilterExtensions | None: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Can `pod` run on `node`? Must use the given NodeInfo (preemption passes modified copies), never
        the snapshot, and must not modify it. Called for many nodes: keep it cheap."""


@runtime_checkable
class BatchFilterPlugin(FilterPlugin, Protocol):
    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[tuple[int, Status]]:
        """Optional fast path: Filter over many nodes at once, returning (index, status) of the nodes that fail,
        exactly as calling `filter` on each node would. The per-node loop then runs inside the plugin."""


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    async def post_filter(self, state: CycleState, pod: PodInfo,
                          statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        """Runs when no node passed Filter (e.g. preemption). Success stops the remaining PostFilters."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        """Compute per-pod data once for Score over the feasible `nodes`. Skip: Score not run for this pod."""


class ScoreExtensions(Protocol):
    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                        scores: list[int]) -> Status | None:
        """Rewrite `scores` (parallel to `nodes`) in place into [MIN_NODE_SCORE, MAX_NODE_SCORE]."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        """One score per node (parallel to `nodes`); batched so the loop runs inside the plugin. A plugin whose
        final scores are always within [MIN_NODE_SCORE, MAX_NODE_SCORE] by construction may set the class
        attribute `scores_in_range = True` to spare the framework's range check."""

    def score_extensions(self) -> ScoreExtensions | None: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Claim resources for the assumed pod. A failure triggers Unreserve of every Reserve plugin."""

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Undo reserve; must be idempotent and may be called even if reserve was not."""


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> tuple[Status | None, float]:
        """Success, a rejection, or Wait with a timeout in seconds (the binding cycle then waits)."""


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Prepare the binding (e.g. provision volumes). Failure aborts the binding and requeues the pod."""


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Bind the pod to the node, or return Skip to let the next Bind plugin do it."""


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Informational, after a successful bind."""


@runtime_checkable
class EnqueueExtensions(Plugin, Protocol):
    def events_to_register(self) -> list[ClusterEventWithHint]:
        """The cluster events that may make a pod this plugin rejected schedulable again."""


def default_normalize_score(max_priority: int, reverse: bool, scores: list[int]) -> None:
    """Scale `scores` so the highest becomes `max_priority` (reversed: highest becomes 0) — upstream helper."""
    max_count = max(scores) if scores else 0
    if max_count == 0:
        if reverse:
            for i in range(len(scores)):
                scores[i] = max_priority
        return
    for i, s in enumerate(scores):
        s = max_priority * s // max_count
        scores[i] = max_priority - s if reverse else s
