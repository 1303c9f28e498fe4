"""batch/v1 defaulting: Job and CronJob (pkg/apis/batch/v1/defaults.go).

``generate_job_selector`` is the Job registry's PrepareForCreate step (selector and labels from the
Job's uid); callers run it once the uid is assigned and before validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pyk8s.api.defaults.core import Obj, default, default_zero, dicts, obj_at, pod_template

MAX_INT32: Final = 2**31 - 1
CONTROLLER_UID_LABEL: Final = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"


def _pod_failure_policy(policy: Any) -> None:
    if isinstance(policy, dict):
        for rule in dicts(policy.get("rules")):
            for pattern in dicts(rule.get("onPodConditions")):
                default_zero(pattern, "status", "True")


def job(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    default(spec, "parallelism", 1)
    default(spec, "backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6)
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    meta = obj_at(obj, "metadata")
    if isinstance(labels, dict) and not meta.get("labels"):
        # Upstream shares the map, so the labels generate_job_selector adds later land on the Job too.
        meta["labels"] = labels
    default(spec, "completionMode", "NonIndexed")
    default(spec, "suspend", False)
    _pod_failure_policy(spec.get("podFailurePolicy"))
    default(
        spec, "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
    )
    default(spec, "manualSelector", False)
    pod_template(spec.get("template"))


def cron_job(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    default_zero(spec, "concurrencyPolicy", "Allow")
    default(spec, "suspend", False)
    default(spec, "successfulJobsHistoryLimit", 3)
    default(spec, "failedJobsHistoryLimit", 1)
    job_spec = obj_at(obj_at(spec, "jobTemplate"), "spec")
    _pod_failure_policy(job_spec.get("podFailurePolicy"))
    pod_template(job_spec.get("template"))


def generate_job_selector(obj: Obj) -> None:
    """Unless ``manualSelector`` is true, select on the Job's uid and label the pod template to match."""
    spec = obj_at(obj, "spec")
    if spec.get("manualSelector") is True:
        return
    meta = obj.get("metadata") or {}
    uid, name = str(meta.get("uid") or ""), str(meta.get("name") or "")
    labels = obj_at(obj_at(obj_at(spec, "template"), "metadata"), "labels")
    for key, value in (
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
        ("controller-uid", uid),
        ("job-name", name),
    ):
        labels.setdefault(key, value)
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}


DEFAULTERS: Final[dict[str, Callable[[Obj], None]]] = {"Job": job, "CronJob": cron_job}
