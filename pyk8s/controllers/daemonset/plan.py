"""Which daemon pods to create and delete: upstream's podsShouldBeOnNode and rollingUpdate, as pure decisions.

`node_to_pods` maps a node name to the DaemonSet's pods targeting it (terminal pods that are being deleted
already left out). The controller turns the returned decisions into API calls.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.controllers.daemonset.daemonpods import (
    UNIQUE_LABEL_KEY,
    allows_surge,
    creation_order_key,
    is_pod_updated,
    node_should_run,
    template_generation,
)
from pyk8s.controllers.framework.podstate import is_pod_available, is_pod_ready, is_terminating, phase_of

Obj = dict[str, Any]


@dataclass
class NodeDecision:
    """What one node needs: a new pod, pods to delete, and failed/succeeded pods found there."""

    needs_pod: bool = False
    delete: list[Obj] = field(default_factory=list)
    failed: list[Obj] = field(default_factory=list)
    succeeded: list[Obj] = field(default_factory=list)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def pods_should_be_on_node(node: Obj, node_to_pods: Mapping[str, Sequence[Obj]], ds: Obj, hash_: str,
                           now: datetime.datetime) -> NodeDecision:
    """podsShouldBeOnNode. Failed pods are reported in `failed` (the caller applies backoff before deleting);
    succeeded pods are reported in `succeeded` and must be deleted."""
    out = NodeDecision()
    should_run, should_continue = node_should_run(node, ds)
    node_name = _name(node)
    exists = node_name in node_to_pods
    pods = list(node_to_pods.get(node_name, ()))
    if should_run and not exists:
        out.needs_pod = True
        return out
    if should_continue:
        running: list[Obj] = []
        for pod in pods:
            if is_terminating(pod):
                continue
            phase = phase_of(pod)
            if phase == "Failed":
                out.failed.append(pod)
            elif phase == "Succeeded":
                out.succeeded.append(pod)
            else:
                running.append(pod)
        running.sort(key=creation_order_key)
        if not allows_surge(ds):
            out.delete.extend(running[1:])
            return out
        if len(running) <= 1:
            out.needs_pod = not running and should_run
            return out
        # Surging: keep the oldest new pod and the oldest old pod; the old one goes once it is not
        # ready or once the new one is available.
        oldest_new: Obj | None = None
        oldest_old: Obj | None = None
        for pod in running:
            if ((pod.get("metadata") or {}).get("labels") or {}).get(UNIQUE_LABEL_KEY) == hash_:
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            out.delete.append(pod)
        if oldest_new is not None and oldest_old is not None:
            min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
            if not is_pod_ready(oldest_old) or is_pod_available(oldest_new, min_ready, now):
                out.delete.append(oldest_old)
        return out
    if exists:
        out.delete.extend(p for p in pods if not is_terminating(p))
    return out


def unscheduled_pods_without_node(node_names: set[str], node_to_pods: Mapping[str, Sequence[Obj]]) -> list[Obj]:
    """getUnscheduledPodsWithoutNode: unbound pods aimed at nodes that no longer exist (pod GC cannot see them)."""
    out: list[Obj] = []
    for name in sorted(node_to_pods):
        if name in node_names:
            continue
        out.extend(p for p in node_to_pods[name] if not (p.get("spec") or {}).get("nodeName"))
    return out


def find_updated_pods_on_node(ds: Obj, pods: Sequence[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode: (new pod, old pod, ok); not ok when there are two of either kind."""
    generation = template_generation(ds)
    new_pod: Obj | None = None
    old_pod: Obj | None = None
    for pod in pods:
        if is_terminating(pod):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new_pod is not None:
                return None, None, False
            new_pod = pod
        else:
            if old_pod is not None:
                return None, None, False
            old_pod = pod
    return new_pod, old_pod, True


@dataclass
class RollingDecision:
    delete: list[Obj] = field(default_factory=list)
    create_on: list[str] = field(default_factory=list)


def rolling_update(ds: Obj, node_to_pods: Mapping[str, Sequence[Obj]], hash_: str, max_surge: int,
                   max_unavailable: int, desired_number_scheduled: int, now: datetime.datetime,
                   should_run: Callable[[str], bool]) -> RollingDecision:
    """rollingUpdate: old pods to delete (and, when surging, nodes to start a new pod on) within the budget.

    `node_to_pods` must hold an entry (possibly empty) for every node that should run a pod.
    """
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    out = RollingDecision()
    if max_surge == 0:
        num_unavailable = 0
        replacements: list[Obj] = []
        candidates: list[Obj] = []
        for node_name in sorted(node_to_pods):
            new_pod, old_pod, ok = find_updated_pods_on_node(ds, node_to_pods[node_name], hash_)
            if not ok:
                num_unavailable += 1
                continue
            if (old_pod is None) == (new_pod is None):
                num_unavailable += 1  # nothing there yet, or both: the manage loop acts first
            elif new_pod is not None:
                if not is_pod_available(new_pod, min_ready, now):
                    num_unavailable += 1
            elif old_pod is not None:
                if not is_pod_available(old_pod, min_ready, now):
                    replacements.append(old_pod)
                    num_unavailable += 1
                elif num_unavailable < max_unavailable:
                    candidates.append(old_pod)
        remaining = max(0, max_unavailable - num_unavailable)
        out.delete = replacements + candidates[:remaining]
        return out

    num_surge = 0
    num_available = 0
    allowed_new: list[str] = []
    candidate_new: list[str] = []
    should_not_run: list[Obj] = []
    for node_name in sorted(node_to_pods):
        new_pod, old_pod, ok = find_updated_pods_on_node(ds, node_to_pods[node_name], hash_)
        if not ok:
            num_surge += 1
            continue
        counted = old_pod if old_pod is not None else new_pod
        if counted is not None and is_pod_available(counted, min_ready, now):
            num_available += 1
        if old_pod is None:
            continue
        if new_pod is None:
            if not is_pod_available(old_pod, min_ready, now):
                if not should_run(node_name):
                    out.delete.append(old_pod)
                    continue
                allowed_new.append(node_name)
            else:
                if not should_run(node_name):
                    should_not_run.append(old_pod)
                    continue
                if num_surge >= max_surge:
                    continue
                candidate_new.append(node_name)
        else:
            if not is_pod_available(new_pod, min_ready, now):
                num_surge += 1
                continue
            out.delete.append(old_pod)
    deletable = num_available - desired_number_scheduled
    if deletable > 0:
        out.delete.extend(should_not_run[:deletable])
    remaining = max(0, max_surge - num_surge)
    out.create_on = allowed_new + candidate_new[:remaining]
    return out
