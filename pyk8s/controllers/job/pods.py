"""Facts about a Job's pods that the job controller reads beyond the shared framework.podstate predicates:
the tracking finalizer, when a pod finished, which active pods to delete first, and building a pod from the
Job's template.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any, Final

from pyk8s.api import meta
from pyk8s.api.meta import parse_time
from pyk8s.controllers.framework.podstate import is_pod_ready, phase_of, ready_condition
from pyk8s.controllers.job import indexes

Obj = dict[str, Any]

TRACKING_FINALIZER: Final = "batch.kubernetes.io/job-tracking"
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or ())


def count_ready(pods: Iterable[Obj]) -> int:
    return sum(1 for p in pods if is_pod_ready(p))


def finished_time(pod: Obj) -> datetime.datetime:
    """When the pod finished: the latest container finish time when every container terminated, else the
    Ready=False transition, else deletionTimestamp minus the grace period, else its creation time."""
    status = pod.get("status") or {}
    latest: datetime.datetime | None = None
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        finished = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if finished is None:
            latest = None
            break
        latest = finished if latest is None or finished > latest else latest
    if latest is not None:
        return latest
    ready = ready_condition(pod)
    if ready is not None and ready.get("status") == "False":
        t = parse_time(ready.get("lastTransitionTime"))
        if t is not None:
            return t
    m = pod.get("metadata") or {}
    deleted = parse_time(m.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - datetime.timedelta(seconds=int(m.get("deletionGracePeriodSeconds") or 0))
    return parse_time(m.get("creationTimestamp")) or _EPOCH


def _max_restarts(pod: Obj) -> int:
    return max((int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses") or ()),
               default=0)


_PHASE_RANK: Final = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_order_key(pod: Obj) -> tuple[Any, ...]:
    """controller.ActivePods ordering: the pods to delete first sort first (unscheduled, pending, not ready,
    ready for less time, more restarts, newer)."""
    ready = is_pod_ready(pod)
    ready_since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime")) if ready else None
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp")) or _EPOCH
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        _PHASE_RANK.get(phase_of(pod), 3),
        ready,
        -(ready_since or _EPOCH).timestamp(),
        -_max_restarts(pod),
        -created.timestamp(),
    )


def restart_count_sum(pods: Iterable[Obj]) -> int:
    """Container and init-container restarts of running and pending pods (restartPolicy OnFailure backoff)."""
    total = 0
    for p in pods:
        if phase_of(p) in ("Running", "Pending"):
            status = p.get("status") or {}
            for cs in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
                total += int(cs.get("restartCount") or 0)
    return total


def pod_from_template(job: Obj, controller_ref: Obj, index: int = indexes.UNKNOWN_INDEX,
                      index_failure_counts: tuple[int, int] | None = None) -> Obj:
    """The pod the job controller creates: the template's labels, annotations, finalizers (plus the tracking
    finalizer) and spec, owned by the Job; Indexed pods also get their index (annotation, label, hostname,
    JOB_COMPLETION_INDEX env from the label) and the generateName ``<job>-<index>-``."""
    template = meta.copy(((job.get("spec") or {}).get("template")) or {})
    tmeta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    job_name = meta.name_of(job)
    labels = dict(tmeta.get("labels") or {})
    annotations = dict(tmeta.get("annotations") or {})
    finalizers = list(tmeta.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    generate_name = f"{job_name}-"
    if index != indexes.UNKNOWN_INDEX:
        annotations[indexes.COMPLETION_INDEX_ANNOTATION] = str(index)
        labels[indexes.COMPLETION_INDEX_ANNOTATION] = str(index)
        spec["hostname"] = f"{job_name}-{index}"
        generate_name = indexes.generate_name_with_index(job_name, index)
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or ():
                env = container.setdefault("env", [])
                if not any(e.get("name") == indexes.COMPLETION_INDEX_ENV for e in env):
                    env.append({
                        "name": indexes.COMPLETION_INDEX_ENV,
                        "valueFrom": {"fieldRef": {
                            "fieldPath": f"metadata.labels['{indexes.COMPLETION_INDEX_ANNOTATION}']"}},
                    })
        if index_failure_counts is not None:
            failures, ignored = index_failure_counts
            annotations[indexes.INDEX_FAILURE_COUNT_ANNOTATION] = str(failures)
            if ignored > 0:
                annotations[indexes.INDEX_IGNORED_FAILURE_COUNT_ANNOTATION] = str(ignored)
    pod_meta: Obj = {"generateName": generate_name, "namespace": meta.namespace_of(job)}
    if labels:
        pod_meta["labels"] = labels
    if annotations:
        pod_meta["annotations"] = annotations
    pod_meta["finalizers"] = finalizers
    pod_meta["ownerReferences"] = [controller_ref]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
