"""Job conditions and spec accessors (pkg/controller/job/util and the condition helpers of job_controller.go).

With the 1.33 defaults (JobManagedBy and JobPodReplacementPolicy on) a Job first gets the interim
``SuccessCriteriaMet`` / ``FailureTarget`` condition, and ``Complete`` / ``Failed`` only once every pod
finalizer is removed and no pod is terminating.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

from pyk8s.api.meta import now_rfc3339

Obj = dict[str, Any]

COMPLETE: Final = "Complete"
FAILED: Final = "Failed"
SUSPENDED: Final = "Suspended"
FAILURE_TARGET: Final = "FailureTarget"
SUCCESS_CRITERIA_MET: Final = "SuccessCriteriaMet"

REASON_BACKOFF_LIMIT_EXCEEDED: Final = "BackoffLimitExceeded"
REASON_DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
REASON_POD_FAILURE_POLICY: Final = "PodFailurePolicy"
REASON_MAX_FAILED_INDEXES_EXCEEDED: Final = "MaxFailedIndexesExceeded"
REASON_FAILED_INDEXES: Final = "FailedIndexes"
REASON_SUCCESS_POLICY: Final = "SuccessPolicy"
REASON_COMPLETIONS_REACHED: Final = "CompletionsReached"

MESSAGE_BACKOFF_LIMIT_EXCEEDED: Final = "Job has reached the specified backoff limit"
MESSAGE_DEADLINE_EXCEEDED: Final = "Job was active longer than specified deadline"
MESSAGE_MAX_FAILED_INDEXES_EXCEEDED: Final = "Job has exceeded the specified maximal number of failed indexes"
MESSAGE_FAILED_INDEXES: Final = "Job has failed indexes"
MESSAGE_COMPLETIONS_REACHED: Final = "Reached expected number of succeeded pods"

JOB_CONTROLLER_NAME: Final = "kubernetes.io/job-controller"
MAX_INT32: Final = 2**31 - 1


def new_condition(type_: str, status: str, reason: str, message: str, now: datetime.datetime) -> Obj:
    ts = now_rfc3339(now)
    c: Obj = {"type": type_, "status": status, "lastProbeTime": ts, "lastTransitionTime": ts}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def find_condition(conditions: list[Obj] | None, type_: str) -> Obj | None:
    for c in conditions or ():
        if c.get("type") == type_:
            return c
    return None


def ensure_condition_status(conditions: list[Obj], type_: str, status: str, reason: str, message: str,
                            now: datetime.datetime) -> bool:
    """Set (in place) the condition of ``type_``; a False condition is never added, only updated to.
    True when the list changed."""
    existing = find_condition(conditions, type_)
    if existing is not None:
        if (existing.get("status"), existing.get("reason", ""), existing.get("message", "")) != (
                status, reason, message):
            existing.clear()
            existing.update(new_condition(type_, status, reason, message, now))
            return True
        return False
    if status != "False":
        conditions.append(new_condition(type_, status, reason, message, now))
        return True
    return False


def finished_condition_type(job: Obj) -> str:
    """"Complete" or "Failed" when that condition is True, else "" (util.FinishedCondition)."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in (COMPLETE, FAILED) and c.get("status") == "True":
            return str(c["type"])
    return ""


def is_finished(job: Obj) -> bool:
    return finished_condition_type(job) != ""


def is_succeeded(job: Obj) -> bool:
    return finished_condition_type(job) == COMPLETE


def true_condition(job: Obj, type_: str) -> Obj | None:
    c = find_condition((job.get("status") or {}).get("conditions"), type_)
    return c if c is not None and c.get("status") == "True" else None


def spec_int(job: Obj, field: str, default: int | None = None) -> int | None:
    value = (job.get("spec") or {}).get(field)
    return default if value is None else int(value)


def completions(job: Obj) -> int | None:
    return spec_int(job, "completions")


def parallelism(job: Obj) -> int:
    return spec_int(job, "parallelism", 1) or 0


def backoff_limit(job: Obj) -> int:
    default = MAX_INT32 if (job.get("spec") or {}).get("backoffLimitPerIndex") is not None else 6
    value = spec_int(job, "backoffLimit", default)
    return default if value is None else value


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def has_backoff_limit_per_index(job: Obj) -> bool:
    return (job.get("spec") or {}).get("backoffLimitPerIndex") is not None


def suspended(job: Obj) -> bool:
    return bool((job.get("spec") or {}).get("suspend"))


def only_replace_failed_pods(job: Obj) -> bool:
    """podReplacementPolicy Failed (or a pod failure policy): wait for terminating pods before replacing them."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def managed_by_other(job: Obj) -> str | None:
    """spec.managedBy when it names a controller other than this one."""
    managed_by = (job.get("spec") or {}).get("managedBy")
    return str(managed_by) if managed_by is not None and managed_by != JOB_CONTROLLER_NAME else None
