"""Table printers for batch/v1 kinds (jobs, cron jobs), cell for cell as upstream's
``pkg/printers/internalversion`` renders them.
"""

from __future__ import annotations

import datetime

from pyk8s.api.printers.common import (
    NAME,
    NONE,
    Cells,
    Column,
    FieldDoc,
    Obj,
    Printer,
    as_dict,
    as_int,
    as_list,
    condition_true,
    container_cells,
    created_at,
    format_label_selector,
    get,
    is_deleting,
    name_of,
    print_bool_ptr,
    template_containers,
    workload_columns,
)
from pyk8s.api.printers.duration import human_duration, parse_timestamp, seconds_between, translate_timestamp_since


def batch(kind: str) -> str:
    return f"io.k8s.api.batch.v1.{kind}"


JOB_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", FieldDoc(batch("JobStatus"), "succeeded")),
    Column("Duration", "string", "Time required to complete the job."),
    *workload_columns(batch("JobSpec")),
)


def job_status(job: Obj) -> str:
    conditions = get(job, "status", "conditions")
    if condition_true(conditions, "Complete"):
        return "Complete"
    if condition_true(conditions, "Failed"):
        return "Failed"
    if is_deleting(job):
        return "Terminating"
    if condition_true(conditions, "Suspended"):
        return "Suspended"
    if condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_completions(job: Obj) -> str:
    spec = as_dict(job.get("spec"))
    succeeded = as_int(get(job, "status", "succeeded"))
    if spec.get("completions") is not None:
        return f"{succeeded}/{as_int(spec.get('completions'))}"
    parallelism = as_int(spec.get("parallelism"))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj, now: datetime.datetime) -> str:
    """Start to completion, or start to now while running; empty before the job starts."""
    start = parse_timestamp(get(job, "status", "startTime"))
    if start is None:
        return ""
    completion = parse_timestamp(get(job, "status", "completionTime"))
    return human_duration(seconds_between(start, completion if completion is not None else now))


def job_cells(job: Obj, now: datetime.datetime) -> Cells:
    names, images = template_containers(job)
    return [
        name_of(job), job_status(job), job_completions(job), job_duration(job, now),
        translate_timestamp_since(created_at(job), now), names, images,
        format_label_selector(get(job, "spec", "selector")),
    ]


CRONJOB_COLUMNS = (
    NAME,
    Column("Schedule", "string", FieldDoc(batch("CronJobSpec"), "schedule")),
    Column("Timezone", "string", FieldDoc(batch("CronJobSpec"), "timeZone")),
    Column("Suspend", "boolean", FieldDoc(batch("CronJobSpec"), "suspend")),
    Column("Active", "integer", FieldDoc(batch("CronJobStatus"), "active")),
    Column("Last Schedule", "string", FieldDoc(batch("CronJobStatus"), "lastScheduleTime")),
    *workload_columns(batch("JobSpec")),
)


def cronjob_cells(cj: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(cj.get("spec"))
    status = as_dict(cj.get("status"))
    last_schedule = NONE
    if status.get("lastScheduleTime") is not None:
        last_schedule = translate_timestamp_since(status.get("lastScheduleTime"), now)
    time_zone = str(spec["timeZone"]) if spec.get("timeZone") is not None else NONE
    job_spec = as_dict(get(spec, "jobTemplate", "spec"))
    names, images = container_cells(get(job_spec, "template", "spec", "containers"))
    return [
        # Upstream fills the boolean Suspend column with the strings True/False/<unset> (printBoolPtr).
        name_of(cj), str(spec.get("schedule") or ""), time_zone, print_bool_ptr(spec.get("suspend")),
        len(as_list(status.get("active"))), last_schedule, translate_timestamp_since(created_at(cj), now),
        names, images, format_label_selector(job_spec.get("selector")),
    ]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("batch", "jobs"): Printer(JOB_COLUMNS, job_cells),
    ("batch", "cronjobs"): Printer(CRONJOB_COLUMNS, cronjob_cells),
}
