"""One pod at a time: the scheduling cycle, then the binding cycle as a concurrent task (upstream schedule_one.go).

Scheduling cycle (synchronous, on the event loop): PreFilter; Filter over the nodes starting where the last
cycle stopped, until enough feasible nodes are found (percentageOfNodesToScore: adaptive 50% - nodes/125,
at least 5% and at least 100 nodes); PreScore/Score/NormalizeScore with weights; the highest total wins,
ties broken at random; the pod is assumed in the cache; Reserve; Permit. When no node fits, PostFilter
(preemption) runs and the failure is recorded: a FailedScheduling event with upstream's FitError message and
a PodScheduled=False condition (and nominatedNodeName) patched on pods/status.

Binding cycle (a task, so the next pod is scheduled while the POST is in flight): wait on Permit, PreBind,
Bind, then the "Scheduled" event and PostBind. On failure the assumed pod is forgotten, Unreserve runs and the
pod is requeued.

`SchedulingAlgorithm.schedule_pod` is the pure decision (no I/O); `PodScheduler` adds the queue, the cache
writes and the API calls.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client, Obj
from pyk8s.client.kinds import PODS
from pyk8s.scheduler.cache import Cache, CacheError
from pyk8s.scheduler.framework.interface import (
    EVENT_ASSIGNED_POD_DELETE,
    Code,
    CycleState,
    NodeToStatus,
    NominatingInfo,
    NominatingMode,
    SchedulingError,
    SnapshotLister,
    Status,
)
from pyk8s.scheduler.framework.runtime import EventSink, Framework, filter_failure_status
from pyk8s.scheduler.framework.types import Diagnosis, FitError, NodeInfo, NoNodesAvailable, PodInfo
from pyk8s.scheduler.queue import QueueClosed, QueuedPodInfo, SchedulingQueue

log = logging.getLogger("pyk8s.scheduler")

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NOTE_LENGTH_LIMIT = 1024
MIN_FILTER_CHUNK = 16
COMPONENT = "default-scheduler"

CLEAR_NOMINATED_NODE = NominatingInfo("", NominatingMode.OVERRIDE)


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    suggested_host: str
    evaluated_nodes: int
    feasible_nodes: int


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes to find before scoring (upstream numFeasibleNodesToFind)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    n = num_all_nodes * percentage // 100
    return max(n, MIN_FEASIBLE_NODES_TO_FIND)


def truncate_message(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    suffix = " ..."
    return message[:NOTE_LENGTH_LIMIT - len(suffix)] + suffix


class SchedulingAlgorithm:
    """The decision part of a scheduling cycle: which node, or a FitError saying why none."""

    def __init__(self, percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None) -> None:
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        self.rng = rng or random.Random()

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: PodInfo,
                     snapshot: SnapshotLister) -> ScheduleResult:
        """Raises NoNodesAvailable, FitError, or SchedulingError (an unexpected plugin error)."""
        nodes = snapshot.node_infos()
        if not nodes:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit_pod(fwk, state, pod, nodes, snapshot)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, 1 + len(diagnosis.node_to_status), 1)
        scores = self.prioritize_nodes(fwk, state, pod, feasible)
        host = self.select_host(feasible, scores)
        return ScheduleResult(host, len(feasible) + len(diagnosis.node_to_status), len(feasible))

    def find_nodes_that_fit_pod(self, fwk: Framework, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo],
                                snapshot: SnapshotLister) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        pre_res, s, plugins = fwk.run_pre_filter_plugins(state, pod, nodes)
        diagnosis.unschedulable_plugins = plugins
        if s is not None:
            if not s.is_rejected():
                raise SchedulingError(s.message())
            diagnosis.node_to_status.set_absent_nodes_status(s)
            diagnosis.pre_filter_msg = s.message()
            diagnosis.add_plugin_status(s)
            return [], diagnosis
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            ni = snapshot.get(nominated)
            if ni is not None:
                # Try the node preemption freed for this pod first; its failure is not part of the diagnosis.
                feasible = self.find_nodes_that_pass_filters(fwk, state, pod, Diagnosis(), [ni], advance=False)
                if feasible:
                    return feasible, diagnosis
        candidates: Sequence[NodeInfo] = nodes
        if pre_res is not None and pre_res.node_names is not None:
            candidates = [ni for ni in (snapshot.get(n) for n in sorted(pre_res.node_names)) if ni is not None]
            diagnosis.node_to_status.set_absent_nodes_status(Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(plugins))}]"))
        feasible = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, candidates)
        processed = len(feasible) + len(diagnosis.node_to_status)
        self.next_start_node_index = (self.next_start_node_index + processed) % len(nodes)
        return feasible, diagnosis

    def find_nodes_that_pass_filters(self, fwk: Framework, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                                     nodes: Sequence[NodeInfo], *, advance: bool = True) -> list[NodeInfo]:
        n = len(nodes)
        if n == 0:
            return []
        percentage = fwk.profile.percentage_of_nodes_to_score
        if percentage is None:
            percentage = self.percentage_of_nodes_to_score
        to_find = num_feasible_nodes_to_find(percentage, n)
        if not fwk.has_score_plugins():
            to_find = 1
        start = self.next_start_node_index % n if advance else 0
        if not fwk.has_filter_plugins():
            return _circular_slice(nodes, start, to_find)
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        nominator = fwk.nominator
        if nominator is not None and nominator.has_nominated_pods():
            check = fwk.run_filter_plugins_with_nominated_pods
            for ni in _circular_slice(nodes, start, n):
                st = check(state, pod, ni)
                if st is None or not st.code:
                    feasible.append(ni)
                    if len(feasible) >= to_find:
                        break
                    continue
                if st.code is Code.ERROR:
                    raise SchedulingError(st.message())
                statuses.set(ni.name, st)
                diagnosis.add_plugin_status(st)
            return feasible
        # Filter chunk by chunk, each plugin over the whole chunk (the per-node loop runs inside the plugin);
        # a node leaves the chunk at its first failing plugin, so it reports the same reason as node-by-node.
        batches = state.filter_batches
        pos = 0
        while pos < n and len(feasible) < to_find:
            need = to_find - len(feasible)
            alive = _circular_slice(nodes, start + pos, min(max(need, MIN_FILTER_CHUNK), n - pos))
            pos += len(alive)
            for name, batch in batches:
                failed = batch(state, pod, alive)
                if not failed:
                    continue
                dead: set[int] = set()
                for i, s in failed:
                    st = filter_failure_status(name, s)
                    if st.code is Code.ERROR:
                        raise SchedulingError(st.message())
                    statuses.set(alive[i].name, st)
                    diagnosis.add_plugin_status(st)
                    dead.add(i)
                alive = [ni for i, ni in enumerate(alive) if i not in dead]
                if not alive:
                    break
            feasible.extend(alive[:need])
        return feasible

    def prioritize_nodes(self, fwk: Framework, state: CycleState, pod: PodInfo,
                         nodes: Sequence[NodeInfo]) -> list[int]:
        if not fwk.has_score_plugins():
            return [1] * len(nodes)
        s = fwk.run_pre_score_plugins(state, pod, nodes)
        if s is not None and s.code:
            raise SchedulingError(s.message())
        scores, s = fwk.run_score_plugins(state, pod, nodes)
        if s is not None and s.code:
            raise SchedulingError(s.message())
        return scores

    def select_host(self, nodes: Sequence[NodeInfo], scores: Sequence[int]) -> str:
        """The highest total score; ties broken uniformly at random."""
        best = max(scores)
        first = scores.index(best)
        ties = scores.count(best)
        if ties == 1:
            return nodes[first].name
        pick = self.rng.randrange(ties)
        for i in range(first, len(scores)):
            if scores[i] == best:
                if pick == 0:
                    return nodes[i].name
                pick -= 1
        return nodes[first].name


class PodScheduler:
    """Pops pods, runs the scheduling cycle, starts binding cycles, and handles failures."""

    def __init__(self, *, client: Client, cache: Cache, queue: SchedulingQueue, frameworks: dict[str, Framework],
                 recorder: EventSink | None = None, clock: Clock = REAL_CLOCK,
                 algorithm: SchedulingAlgorithm | None = None,
                 pod_lookup: Callable[[str], Obj | None] | None = None) -> None:
        self.client = client
        self.cache = cache
        self.queue = queue
        self.frameworks = frameworks
        self.recorder = recorder
        self.clock = clock
        self.algorithm = algorithm or SchedulingAlgorithm()
        self.pod_lookup = pod_lookup
        self._tasks: set[asyncio.Task[None]] = set()
        self.scheduled = 0
        self.failed = 0
        self.errors = 0

    # ---- loop ----

    async def run(self) -> None:
        """Schedule pods until the queue is closed or the task is cancelled."""
        try:
            while True:
                await self.schedule_one()
                # Let binding tasks and informer handlers run even while activeQ stays non-empty.
                await asyncio.sleep(0)
        except QueueClosed:
            return
        finally:
            for t in list(self._tasks):
                t.cancel()

    async def schedule_one(self) -> None:
        qpi = await self.queue.pop()
        await self.schedule_queued_pod(qpi)

    async def wait_for_tasks(self) -> None:
        """Wait for every binding / status-patch task started so far (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(with_pod_kind(obj), type_, reason, message)

    # ---- scheduling cycle ----

    async def schedule_queued_pod(self, qpi: QueuedPodInfo) -> None:
        pod = qpi.pod_info
        cycle = self.queue.scheduling_cycle
        scheduler_name = str((pod.pod.get("spec") or {}).get("schedulerName") or COMPONENT)
        fwk = self.frameworks.get(scheduler_name)
        if fwk is None:
            log.error("profile not found for scheduler name %r", scheduler_name)
            self.queue.done(pod.key)
            return
        if pod.deleting:
            self._event(pod.pod, "Warning", "FailedScheduling",
                        f"skip schedule deleting pod: {pod.namespace}/{pod.name}")
            self.queue.done(pod.key)
            return
        if self.cache.is_assumed(pod.uid_key):
            self.queue.done(pod.key)
            return
        if (pod.pod.get("spec") or {}).get("priority") is None:
            # Resolved from PriorityClasses, which may have changed since the pod was queued.
            pod.priority = fwk.priority_of(pod.pod)
        state = CycleState()
        try:
            result = self.algorithm.schedule_pod(fwk, state, pod, self.cache.snapshot)
        except NoNodesAvailable as e:
            self._fail(fwk, qpi, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, error=e), CLEAR_NOMINATED_NODE, cycle)
            return
        except FitError as fit:
            nominating: NominatingInfo | None = CLEAR_NOMINATED_NODE
            if fwk.has_post_filter_plugins():
                try:
                    r, s = await fwk.run_post_filter_plugins(state, pod, fit.diagnosis.node_to_status)
                except Exception:  # a plugin bug must not stop the scheduler
                    log.exception("PostFilter plugins failed for pod %s", pod.key)
                    r, s = None, Status(Code.ERROR, error=SchedulingError("PostFilter plugins failed"))
                fit.diagnosis.post_filter_msg = s.message()
                if s.code is Code.ERROR:
                    log.error("running PostFilter plugins for pod %s: %s", pod.key, s.message())
                nominating = r.nominating_info if r is not None else None
            self._fail(fwk, qpi, Status(Code.UNSCHEDULABLE, error=fit), nominating, cycle)
            return
        except SchedulingError as e:
            log.error("error selecting node for pod %s: %s", pod.key, e)
            self._fail(fwk, qpi, Status.as_status(e), CLEAR_NOMINATED_NODE, cycle)
            return
        except Exception as e:  # a plugin bug must not stop the scheduler: retry the pod after a backoff
            log.exception("unexpected error scheduling pod %s", pod.key)
            self._fail(fwk, qpi, Status.as_status(e), CLEAR_NOMINATED_NODE, cycle)
            return

        host = result.suggested_host
        assumed = pod.with_pod(with_node_name(pod.pod, host))
        try:
            self.cache.assume_pod(assumed)
        except CacheError as e:
            self._fail(fwk, qpi, Status.as_status(e), CLEAR_NOMINATED_NODE, cycle)
            return
        self.queue.delete_nominated_pod_if_exists(pod)
        try:
            reserved = fwk.run_reserve_plugins_reserve(state, assumed, host)
        except Exception as e:  # a plugin bug must not stop the scheduler: undo and retry the pod after a backoff
            log.exception("Reserve plugins failed for pod %s", pod.key)
            reserved = Status.as_status(e)
        if reserved is not None and reserved.code:
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self._fail(fwk, qpi, self._single_node_failure(pod, host, reserved), CLEAR_NOMINATED_NODE, cycle)
            return
        try:
            permitted = fwk.run_permit_plugins(state, assumed, host)
        except Exception as e:
            log.exception("Permit plugins failed for pod %s", pod.key)
            permitted = Status.as_status(e)
        if permitted is not None and permitted.code and permitted.code is not Code.WAIT:
            fwk.run_reserve_plugins_unreserve(state, assumed, host)
            self.cache.forget_pod(assumed)
            self._fail(fwk, qpi, self._single_node_failure(pod, host, permitted), CLEAR_NOMINATED_NODE, cycle)
            return
        self._spawn(self.binding_cycle(fwk, state, qpi, assumed, result, cycle))

    @staticmethod
    def _single_node_failure(pod: PodInfo, host: str, s: Status) -> Status:
        if not s.is_rejected():
            return s
        diagnosis = Diagnosis(NodeToStatus())
        diagnosis.node_to_status.set(host, s)
        diagnosis.add_plugin_status(s)
        return Status(s.code, error=FitError(pod, 1, diagnosis))

    # ---- binding cycle ----

    async def binding_cycle(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                            result: ScheduleResult, cycle: int) -> None:
        try:
            await self._binding_cycle(fwk, state, qpi, assumed, result, cycle)
        except Exception as e:
            log.exception("unexpected error binding pod %s", assumed.key)
            await self._binding_failed(fwk, state, qpi, assumed, result.suggested_host, Status.as_status(e), cycle)

    async def _binding_cycle(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                             result: ScheduleResult, cycle: int) -> None:
        host = result.suggested_host
        waited = await fwk.wait_on_permit(assumed)
        if waited is not None and waited.code:
            await self._binding_failed(fwk, state, qpi, assumed, host,
                                       self._single_node_failure(qpi.pod_info, host, waited), cycle)
            return
        self.queue.done(qpi.key)
        s = await fwk.run_pre_bind_plugins(state, assumed, host)
        if s is not None and s.code:
            await self._binding_failed(fwk, state, qpi, assumed, host, s, cycle)
            return
        s = await fwk.run_bind_plugins(state, assumed, host)
        self.cache.finish_binding(assumed)
        if s is not None and s.code:
            await self._binding_failed(fwk, state, qpi, assumed, host, s, cycle)
            return
        self.scheduled += 1
        self._event(assumed.pod, "Normal", "Scheduled",
                    f"Successfully assigned {assumed.namespace}/{assumed.name} to {host}")
        fwk.run_post_bind_plugins(state, assumed, host)

    async def _binding_failed(self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, assumed: PodInfo,
                              host: str, status: Status, cycle: int) -> None:
        log.info("failed to bind pod %s to %s: %s", assumed.key, host, status.message())
        fwk.run_reserve_plugins_unreserve(state, assumed, host)
        self.cache.forget_pod(assumed)
        # Forgetting the assumed pod frees what it held, like the deletion of an assigned pod.
        self.queue.move_all_to_active_or_backoff(EVENT_ASSIGNED_POD_DELETE, assumed.pod, None,
                                                 lambda p: p.uid_key != assumed.uid_key)
        self._fail(fwk, qpi, status, CLEAR_NOMINATED_NODE, cycle)

    # ---- failures ----

    def _fail(self, fwk: Framework, qpi: QueuedPodInfo, status: Status, nominating: NominatingInfo | None,
              cycle: int) -> None:
        """Requeue the pod (if it still exists unassigned), record FailedScheduling and patch its status."""
        pod = qpi.pod_info
        rejected = status.is_rejected()
        if rejected:
            self.failed += 1
        else:
            self.errors += 1
        err = status.error
        if isinstance(err, FitError):
            qpi.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
            qpi.pending_plugins = set(err.diagnosis.pending_plugins)
        elif not isinstance(err, NoNodesAvailable):
            qpi.unschedulable_plugins = set()
            qpi.pending_plugins = set()
        cached = self.pod_lookup(pod.key) if self.pod_lookup is not None else pod.pod
        current = pod
        if cached is None:
            log.info("pod %s doesn't exist in informer cache", pod.key)
            self.queue.done(pod.key)
        elif (cached.get("spec") or {}).get("nodeName"):
            log.info("pod %s has been assigned to node; not requeued", pod.key)
            self.queue.done(pod.key)
        else:
            if cached is not pod.pod:
                current = fwk.pod_info(cached)
                qpi.pod_info = current
            self.queue.add_unschedulable_if_not_present(qpi, cycle)
        self.queue.add_nominated_pod(current, nominating)
        message = status.message()
        if err is None and status.code is Code.SUCCESS:
            return
        self._event(current.pod, "Warning", "FailedScheduling", truncate_message(message))
        condition = {"type": "PodScheduled", "status": "False",
                     "reason": "Unschedulable" if rejected else "SchedulerError", "message": message}
        self._spawn(self.update_pod_status(current.pod, condition, nominating))

    async def update_pod_status(self, pod: Obj, condition: Obj | None, nominating: NominatingInfo | None) -> None:
        """Patch pods/status with the condition and nominatedNodeName when they change (upstream updatePod)."""
        status = pod.get("status") or {}
        nnn_needs = (nominating is not None and nominating.mode is NominatingMode.OVERRIDE
                     and (status.get("nominatedNodeName") or "") != nominating.nominated_node_name)
        body_status: Obj = {}
        if condition is not None:
            old = next((c for c in status.get("conditions") or () if c.get("type") == condition["type"]), None)
            new = dict(condition)
            new["lastProbeTime"] = None
            if old is not None and old.get("status") == new["status"]:
                new["lastTransitionTime"] = old.get("lastTransitionTime")
            else:
                new["lastTransitionTime"] = meta.now_rfc3339(self.clock.now())
            if old is None or any(old.get(k) != new.get(k) for k in ("status", "reason", "message")):
                body_status["conditions"] = [new]
        if nnn_needs:
            assert nominating is not None
            body_status["nominatedNodeName"] = nominating.nominated_node_name or None
        if not body_status:
            return
        md = pod.get("metadata") or {}
        try:
            await self.client.patch(PODS, md.get("name", ""), {"status": body_status}, md.get("namespace", ""),
                                    patch_type="strategic", subresource="status")
        except errors.NotFound:
            pass
        except (errors.StatusError, ConnectionError) as e:
            log.warning("error updating pod %s/%s: %s", md.get("namespace"), md.get("name"), e)


def _circular_slice(nodes: Sequence[NodeInfo], start: int, count: int) -> list[NodeInfo]:
    """`count` nodes from index `start`, wrapping around."""
    n = len(nodes)
    start %= n
    end = start + count
    if end <= n:
        return list(nodes[start:end])
    return [*nodes[start:], *nodes[:end - n]]


def with_pod_kind(pod: Obj) -> Obj:
    """`pod` with kind/apiVersion (list items from the API carry neither; events need them in involvedObject)."""
    if pod.get("kind"):
        return pod
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod.get("metadata") or {}}


def with_node_name(pod: Obj, node_name: str) -> Obj:
    """A shallow copy of `pod` with spec.nodeName set (the cached original stays untouched)."""
    spec = dict(pod.get("spec") or {})
    spec["nodeName"] = node_name
    out = dict(pod)
    out["spec"] = spec
    return out
