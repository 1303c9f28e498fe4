"""DefaultPreemption: when no node fits, find a node where evicting lower-priority pods lets the pod fit, evict
them and nominate the node (upstream plugins/defaultpreemption and framework/preemption).

Candidates come from the nodes that failed with plain Unschedulable (UnschedulableAndUnresolvable failures
cannot be fixed by eviction). On each, every lower-priority pod is removed, the filters rerun, then pods are
reprieved from the most important down (PDB-violating ones first) while the pod still fits; what remains are
the victims. Among candidates the node with the fewest PDB violations, then the lowest highest-victim priority,
the smallest priority sum, the fewest victims and the latest start time wins. Victims get a DisruptionTarget
condition and are deleted; the result nominates the node, which the scheduling cycle writes to the pod's
status.nominatedNodeName. A pod with preemptionPolicy Never never preempts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors, meta
from pyk8s.api.labels import NOTHING, from_label_selector
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import POD_DISRUPTION_BUDGETS, PODS
from pyk8s.scheduler.framework.interface import (
    Code,
    CycleState,
    Handle,
    NodeToStatus,
    PostFilterResult,
    Status,
)
from pyk8s.scheduler.framework.types import Diagnosis, FitError, NodeInfo, PodInfo

NAME = "DefaultPreemption"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
MAX_INT32 = 2**31 - 1
REASON_NOT_HELPFUL = "Preemption is not helpful for scheduling"
REASON_NO_VICTIMS = "No preemption victims found for incoming pod"
REASON_POLICY_NEVER = "not eligible due to preemptionPolicy=Never."
REASON_TERMINATING_ON_NOMINATED = "not eligible due to a terminating pod on the nominated node."
DISRUPTION_TARGET = "DisruptionTarget"
REASON_PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"


class Candidate:
    __slots__ = ("name", "num_pdb_violations", "victims")

    def __init__(self, name: str, victims: list[PodInfo], num_pdb_violations: int) -> None:
        self.name = name
        self.victims = victims
        self.num_pdb_violations = num_pdb_violations

    def __repr__(self) -> str:
        return f"Candidate({self.name} victims={[v.key for v in self.victims]} pdb={self.num_pdb_violations})"


def terminating_by_preemption(pod: Obj) -> bool:
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == DISRUPTION_TARGET:
            return c.get("status") == "True" and c.get("reason") == REASON_PREEMPTION_BY_SCHEDULER
    return False


def filter_pods_with_pdb_violation(pods: Sequence[PodInfo], pdbs: Sequence[Obj]) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating), each keeping the input order (upstream filterPodsWithPDBViolation)."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    selectors: list[Any] = []
    for p in pdbs:
        try:
            selectors.append(from_label_selector((p.get("spec") or {}).get("selector")))
        except errors.StatusError:
            selectors.append(NOTHING)
    violating: list[PodInfo] = []
    non_violating: list[PodInfo] = []
    for pi in pods:
        violated = False
        if pi.labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != pi.namespace:
                    continue
                sel = selectors[i]
                if sel is NOTHING or sel.empty() or not sel.matches(pi.labels):
                    continue
                if pi.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else non_violating).append(pi)
    return violating, non_violating


def earliest_start_time_of_highest_priority(victims: Sequence[PodInfo]) -> str:
    best = victims[0].start_time()
    top = victims[0].priority
    for v in victims:
        if v.priority == top:
            best = min(best, v.start_time())
        elif v.priority > top:
            top, best = v.priority, v.start_time()
    return best


def pick_one_node_for_preemption(candidates: Sequence[Candidate]) -> Candidate | None:
    """Upstream pickOneNodeForPreemption with the default ordered score functions."""
    if not candidates:
        return None
    score_funcs: list[Any] = [
        lambda c: -c.num_pdb_violations,
        lambda c: -c.victims[0].priority,
        lambda c: -sum(v.priority + MAX_INT32 + 1 for v in c.victims),
        lambda c: -len(c.victims),
        earliest_start_time_of_highest_priority_key,
    ]
    remaining = list(candidates)
    for f in score_funcs:
        scores = [f(c) for c in remaining]
        best = max(scores)
        remaining = [c for c, s in zip(remaining, scores, strict=True) if s == best]
        if len(remaining) == 1:
            return remaining[0]
    return remaining[0]


def earliest_start_time_of_highest_priority_key(c: Candidate) -> str:
    return earliest_start_time_of_highest_priority(c.victims)


class DefaultPreemption:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle, rng: random.Random | None = None) -> None:
        self.handle = handle
        self.min_candidate_nodes_percentage = int(args.get("minCandidateNodesPercentage",
                                                           MIN_CANDIDATE_NODES_PERCENTAGE))
        self.min_candidate_nodes_absolute = int(args.get("minCandidateNodesAbsolute", MIN_CANDIDATE_NODES_ABSOLUTE))
        self.rng = rng or random.Random()

    async def post_filter(self, state: CycleState, pod: PodInfo,
                          statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        result, status = await self.preempt(state, pod, statuses)
        msg = status.message() if status is not None else ""
        if msg:
            return result, Status(status.code if status is not None else Code.UNSCHEDULABLE, "preemption: " + msg)
        return result, status

    def calculate_num_candidates(self, num_nodes: int) -> int:
        n = num_nodes * self.min_candidate_nodes_percentage // 100
        n = max(n, self.min_candidate_nodes_absolute)
        return min(n, num_nodes)

    def _latest(self, pod: PodInfo) -> PodInfo | None:
        try:
            lister = self.handle.lister(PODS)
        except KeyError:
            return pod
        obj = lister.get(pod.key)
        if obj is None:
            return None
        return pod if obj is pod.pod else self.handle.pod_info(obj)

    def pod_eligible_to_preempt_others(self, pod: PodInfo, nominated_status: Status) -> tuple[bool, str]:
        spec = pod.pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return False, REASON_POLICY_NEVER
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        if nominated:
            if nominated_status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            ni = self.handle.snapshot().get(nominated)
            if ni is not None:
                for p in ni.pods.values():
                    if p.priority < pod.priority and terminating_by_preemption(p.pod):
                        return False, REASON_TERMINATING_ON_NOMINATED
        return True, ""

    async def preempt(self, state: CycleState, pod: PodInfo,
                      statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        latest = self._latest(pod)
        if latest is None:
            return None, Status.as_status(errors.not_found("pods", "", pod.name))
        pod = latest
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        ok, msg = self.pod_eligible_to_preempt_others(pod, statuses.get(nominated))
        if not ok:
            return None, Status(Code.UNSCHEDULABLE, msg)
        all_nodes = self.handle.snapshot().node_infos()
        if not all_nodes:
            return None, Status.as_status(Exception("no nodes available"))
        candidates, node_statuses, errs = self.find_candidates(state, pod, all_nodes, statuses)
        if errs and not candidates:
            return None, Status.as_status(errs[0])
        if not candidates:
            node_statuses.set_absent_nodes_status(Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, REASON_NOT_HELPFUL))
            fit = FitError(pod, len(all_nodes), Diagnosis(node_statuses))
            return PostFilterResult.with_nominated_node(""), Status(Code.UNSCHEDULABLE, str(fit))
        best = pick_one_node_for_preemption(candidates)
        if best is None or not best.name:
            return None, Status(Code.UNSCHEDULABLE, "no candidate node for preemption")
        s = await self.prepare_candidate(best, pod)
        if s is not None and s.code:
            return None, s
        return PostFilterResult.with_nominated_node(best.name), Status(Code.SUCCESS)

    def find_candidates(self, state: CycleState, pod: PodInfo, all_nodes: Sequence[NodeInfo],
                        statuses: NodeToStatus) -> tuple[list[Candidate], NodeToStatus, list[BaseException]]:
        potential = statuses.nodes_for_status_code(all_nodes, Code.UNSCHEDULABLE)
        if not potential:
            return [], NodeToStatus(), []
        try:
            pdbs = self.handle.lister(POD_DISRUPTION_BUDGETS).list()
        except KeyError:
            pdbs = []
        offset = self.rng.randrange(len(potential))
        return self.dry_run_preemption(state, pod, potential, pdbs, offset, self.calculate_num_candidates(len(potential)))

    def dry_run_preemption(self, state: CycleState, pod: PodInfo, potential: Sequence[NodeInfo], pdbs: Sequence[Obj],
                           offset: int, num_candidates: int) -> tuple[list[Candidate], NodeToStatus, list[BaseException]]:
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        node_statuses = NodeToStatus()
        errs: list[BaseException] = []
        no_victims = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, REASON_NO_VICTIMS)
        prio = pod.priority
        for i in range(len(potential)):
            original = potential[(offset + i) % len(potential)]
            if not any(p.priority < prio for p in original.pods.values()):
                # Nothing to evict here: skip copying the node and the cycle state.
                node_statuses.set(original.name, no_victims)
                continue
            ni = original.clone()
            victims, num_violations, status = self.select_victims_on_node(state.clone(), pod, ni, pdbs)
            if (status is None or status.code is Code.SUCCESS) and victims:
                c = Candidate(ni.name, victims, num_violations)
                target = non_violating if num_violations == 0 else violating
                if len(target) < num_candidates:
                    target.append(c)
                if non_violating and len(non_violating) + len(violating) >= num_candidates:
                    break
                continue
            if status is None or status.code is Code.SUCCESS:
                status = Status.as_status(Exception(f'expected at least one victim pod on node "{ni.name}"'))
            if status.code is Code.ERROR:
                errs.append(status.as_error())
            node_statuses.set(ni.name, status)
        return non_violating + violating, node_statuses, errs

    def select_victims_on_node(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                               pdbs: Sequence[Obj]) -> tuple[list[PodInfo], int, Status | None]:
        """Minimal victims on `node` (a copy this method changes) for `pod` to fit (upstream SelectVictimsOnNode)."""
        h = self.handle
        potential = [pi for pi in node.pods.values() if pi.priority < pod.priority]
        for pi in potential:
            node.remove_pod(pi)
            s = h.run_pre_filter_extension_remove_pod(state, pod, pi, node)
            if s is not None and s.code:
                return [], 0, s
        if not potential:
            return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, REASON_NO_VICTIMS)
        s = h.run_filter_plugins_with_nominated_pods(state, pod, node)
        if s is not None and s.code:
            return [], 0, s
        potential.sort(key=_importance_key)
        violating, non_violating = filter_pods_with_pdb_violation(potential, pdbs)
        victims: list[PodInfo] = []
        num_violations = 0

        def reprieve(pi: PodInfo) -> bool:
            node.add_pod(pi)
            h.run_pre_filter_extension_add_pod(state, pod, pi, node)
            st = h.run_filter_plugins_with_nominated_pods(state, pod, node)
            fits = st is None or st.code is Code.SUCCESS
            if not fits:
                node.remove_pod(pi)
                h.run_pre_filter_extension_remove_pod(state, pod, pi, node)
                victims.append(pi)
            return fits

        for pi in violating:
            if not reprieve(pi):
                num_violations += 1
        for pi in non_violating:
            reprieve(pi)
        if violating and non_violating:
            victims.sort(key=_importance_key)
        return victims, num_violations, Status(Code.SUCCESS)

    async def prepare_candidate(self, c: Candidate, pod: PodInfo) -> Status | None:
        """Evict the victims and clear the nomination of lower-priority pods nominated to the node."""
        client = self.handle.client
        scheduler_name = str((pod.pod.get("spec") or {}).get("schedulerName") or "default-scheduler")
        now = meta.now_rfc3339(self.handle.clock.now())
        for victim in c.victims:
            if victim.deleting:
                continue
            try:
                await client.patch(PODS, victim.name, {"status": {"conditions": [{
                    "type": DISRUPTION_TARGET, "status": "True", "reason": REASON_PREEMPTION_BY_SCHEDULER,
                    "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
                    "lastTransitionTime": now, "lastProbeTime": None}]}},
                    victim.namespace, patch_type="strategic", subresource="status")
                await client.delete(PODS, victim.name, victim.namespace)
            except errors.NotFound:
                continue
            except (errors.StatusError, ConnectionError) as e:
                return Status.as_status(e)
            self.handle.event(victim.pod, "Normal", "Preempted", f"Preempted by pod {pod.uid} on node {c.name}")
        for p in self.handle.nominated_pods_for_node(c.name):
            if p.priority >= pod.priority:
                continue
            if not (p.pod.get("status") or {}).get("nominatedNodeName"):
                continue
            try:
                await client.patch(PODS, p.name, {"status": {"nominatedNodeName": None}}, p.namespace,
                                   patch_type="strategic", subresource="status")
            except (errors.StatusError, ConnectionError):
                pass
        return None


def _importance_key(pi: PodInfo) -> tuple[int, str]:
    """Sort key putting more important pods first (higher priority, then earlier start)."""
    return (-pi.priority, pi.start_time())


def new(args: Mapping[str, Any], handle: Handle) -> DefaultPreemption:
    return DefaultPreemption(args, handle)

