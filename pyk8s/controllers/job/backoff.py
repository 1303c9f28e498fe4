"""Delays before the job controller replaces failed pods (backoff_utils.go): 10s after the first failure,
doubling per consecutive failure since the last success, capped (10 minutes upstream). Per Job, in memory."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pyk8s.controllers.job import indexes
from pyk8s.controllers.job.pods import finished_time

Obj = dict[str, Any]

DEFAULT_POD_FAILURE_BACKOFF: Final = 10.0
MAX_POD_FAILURE_BACKOFF: Final = 600.0


@dataclass(frozen=True, slots=True)
class BackoffRecord:
    key: str
    failures_after_last_success: int = 0
    last_failure_time: datetime.datetime | None = None

    def remaining(self, now: datetime.datetime, base: float, cap: float) -> float:
        return remaining_for_failures(now, base, cap, self.failures_after_last_success, self.last_failure_time)


def remaining_for_failures(now: datetime.datetime, base: float, cap: float, failures: int,
                           last_failure: datetime.datetime | None) -> float:
    """Seconds still to wait after ``failures`` consecutive failures, the last at ``last_failure``."""
    if failures == 0 or last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= cap:
            delay = cap
            break
    elapsed = (now - last_failure).total_seconds()
    return 0.0 if delay < elapsed else delay - elapsed


def remaining_for_index(now: datetime.datetime, base: float, cap: float, last_failed_pod: Obj | None) -> float:
    """With backoffLimitPerIndex: the wait before an index's next pod, from its last failed pod."""
    if last_failed_pod is None:
        return 0.0
    failures = (indexes.parse_count_annotation(last_failed_pod, indexes.INDEX_FAILURE_COUNT_ANNOTATION)
                + indexes.parse_count_annotation(last_failed_pod, indexes.INDEX_IGNORED_FAILURE_COUNT_ANNOTATION) + 1)
    return remaining_for_failures(now, base, cap, failures, finished_time(last_failed_pod))


class BackoffStore:
    """The last known failure streak of each Job."""

    def __init__(self) -> None:
        self._records: dict[str, BackoffRecord] = {}

    def update(self, record: BackoffRecord) -> None:
        self._records[record.key] = record

    def remove(self, key: str) -> None:
        self._records.pop(key, None)

    def new_record(self, key: str, new_succeeded: Sequence[Obj], new_failed: Sequence[Obj]) -> BackoffRecord:
        """The record after this sync's newly finished pods: a success resets the streak to the failures that
        came after the latest success."""
        old = self._records.get(key, BackoffRecord(key))
        failed = sorted(new_failed, key=finished_time)
        if not new_succeeded:
            if not failed:
                return old
            return BackoffRecord(key, old.failures_after_last_success + len(failed), finished_time(failed[-1]))
        last_success = max(finished_time(p) for p in new_succeeded)
        count, last_failure = 0, None
        for pod in reversed(failed):
            t = finished_time(pod)
            if t <= last_success:
                break
            if last_failure is None:
                last_failure = t
            count += 1
        return BackoffRecord(key, count, last_failure)
