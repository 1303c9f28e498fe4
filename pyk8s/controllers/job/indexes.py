"""Completion indexes of Indexed Jobs: the compressed interval lists of ``status.completedIndexes`` /
``status.failedIndexes`` ("1,3-5,7") and the per-pod index annotation (pkg/controller/job/indexed_job_utils.go).

Intervals are tuples ``(first, last)`` in increasing order with no two touching.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

COMPLETION_INDEX_ANNOTATION: Final = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT_ANNOTATION: Final = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT_ANNOTATION: Final = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV: Final = "JOB_COMPLETION_INDEX"
UNKNOWN_INDEX: Final = -1
MAX_GENERATED_NAME_LENGTH: Final = 58  # names.MaxGeneratedNameLength: 63 minus the 5 random characters

Interval = tuple[int, int]
Intervals = list[Interval]


def parse_indexes(text: str | None, completions: int) -> Intervals:
    """Parse "1,3-5"; intervals at or beyond ``completions`` are dropped or cut; corrupt items are skipped."""
    if not text:
        return []
    out: Intervals = []
    for item in text.split(","):
        limits = item.split("-")
        try:
            first = int(limits[0])
        except ValueError:
            continue
        if first >= completions:
            break
        last = first
        if len(limits) > 1:
            try:
                last = int(limits[1])
            except ValueError:
                continue
            last = min(last, completions - 1)
        if out and out[-1][1] == first - 1:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def merge(a: Sequence[Interval], b: Sequence[Interval]) -> Intervals:
    """The union of two ordered interval lists, as an ordered interval list."""
    out: Intervals = []
    for first, last in sorted([*a, *b]):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return out


def with_indexes(intervals: Sequence[Interval], indexes: Iterable[int]) -> Intervals:
    return merge(intervals, [(i, i) for i in sorted(set(indexes))])


def total(intervals: Sequence[Interval]) -> int:
    return sum(last - first + 1 for first, last in intervals)


def has(intervals: Sequence[Interval], index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def format_indexes(intervals: Sequence[Interval]) -> str:
    """ "0-2,4,6,7": a pair of neighbours is written with a comma, longer runs with a dash."""
    parts: list[str] = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def completion_index(pod: dict[str, Any]) -> int:
    """The pod's completion index annotation, or UNKNOWN_INDEX when absent, malformed or negative."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION)
    if value is None:
        return UNKNOWN_INDEX
    try:
        index = int(str(value))
    except ValueError:
        return UNKNOWN_INDEX
    return index if index >= 0 else UNKNOWN_INDEX


def valid_index(pod: dict[str, Any], completions: int) -> int:
    """The completion index if it lies in [0, completions), else UNKNOWN_INDEX."""
    index = completion_index(pod)
    return index if 0 <= index < completions else UNKNOWN_INDEX


def first_pending_indexes(non_pending: Sequence[Interval], count: int, completions: int) -> list[int]:
    """The ``count`` lowest indexes below ``completions`` not covered by ``non_pending``."""
    out: list[int] = []
    candidate = 0
    for first, last in non_pending:
        while candidate < completions and len(out) < count and candidate < first:
            out.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    while candidate < completions and len(out) < count:
        out.append(candidate)
        candidate += 1
    return out


def generate_name_with_index(job_name: str, index: int) -> str:
    """``<job>-<index>-``, with the job name cut so the random suffix still fits."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def parse_count_annotation(pod: dict[str, Any], key: str) -> int:
    """A non-negative int32 annotation value, 0 when absent or invalid (upstream's parseInt32)."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    if value is None:
        return 0
    try:
        n = int(str(value))
    except ValueError:
        return 0
    return n if 0 <= n <= 2**31 - 1 else 0
