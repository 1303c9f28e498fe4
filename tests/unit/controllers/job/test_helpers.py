"""Pure Job helpers: index interval lists, the pod failure and success policies, the failure backoff."""

from __future__ import annotations

import datetime

import pytest

from pyk8s.controllers.job import indexes as ix
from pyk8s.controllers.job.backoff import BackoffStore, remaining_for_failures
from pyk8s.controllers.job.policies import match_pod_failure_policy, match_success_policy

UTC = datetime.UTC


def test_interval_lists() -> None:
    assert ix.parse_indexes("0-2,4,6,7,9-20", 12) == [(0, 2), (4, 4), (6, 7), (9, 11)]
    assert ix.parse_indexes("1,2,x,3", 10) == [(1, 3)]
    assert ix.format_indexes([(0, 2), (4, 4), (6, 7)]) == "0-2,4,6,7"
    merged = ix.with_indexes([(0, 2), (6, 7)], [3, 9, 5])
    assert merged == [(0, 3), (5, 7), (9, 9)] and ix.total(merged) == 8
    assert ix.has(merged, 6) and not ix.has(merged, 4)
    assert ix.first_pending_indexes([(0, 1), (3, 3)], 3, 10) == [2, 4, 5]
    assert ix.first_pending_indexes([(0, 1)], 5, 3) == [2]
    assert ix.generate_name_with_index("x" * 60, 12) == "x" * 54 + "-12-"


def test_pod_failure_policy() -> None:
    policy = {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
    ]}

    def pod(code: int, conditions: list[dict[str, str]] | None = None) -> dict[str, object]:
        return {"metadata": {"name": "p", "namespace": "ns"}, "status": {
            "phase": "Failed", "conditions": conditions or [],
            "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": code}}}]}}

    assert match_pod_failure_policy(policy, pod(1, [{"type": "DisruptionTarget", "status": "True"}])) == (
        None, False, "Ignore")
    assert match_pod_failure_policy(policy, pod(42)) == (
        "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1", True, "FailJob")
    assert match_pod_failure_policy(policy, pod(3)) == (None, True, "Count")
    assert match_pod_failure_policy(policy, pod(1)) == (None, True, None)
    assert match_pod_failure_policy(None, pod(1)) == (None, True, None)


def test_success_policy() -> None:
    policy = {"rules": [{"succeededIndexes": "0-2", "succeededCount": 2}, {"succeededCount": 4}]}
    assert match_success_policy(policy, 10, [(1, 1)]) is None
    assert match_success_policy(policy, 10, [(1, 2)]) == "Matched rules at index 0"
    assert match_success_policy(policy, 10, [(5, 8)]) == "Matched rules at index 1"


def test_failure_backoff_doubles_up_to_the_cap() -> None:
    now = datetime.datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert remaining_for_failures(now, 10, 600, 0, None) == 0
    assert remaining_for_failures(now, 10, 600, 1, now) == 10
    assert remaining_for_failures(now, 10, 600, 3, now - datetime.timedelta(seconds=15)) == 25
    assert remaining_for_failures(now, 10, 600, 30, now) == 600


def test_backoff_record_resets_after_a_success() -> None:
    def finished(at: str) -> dict[str, object]:
        return {"metadata": {"creationTimestamp": at}, "status": {}}

    store = BackoffStore()
    rec = store.new_record("ns/j", [], [finished("2026-01-01T00:00:00Z"), finished("2026-01-01T00:01:00Z")])
    assert rec.failures_after_last_success == 2
    store.update(rec)
    rec = store.new_record("ns/j", [finished("2026-01-01T00:02:00Z")], [finished("2026-01-01T00:03:00Z")])
    assert rec.failures_after_last_success == 1
    assert rec.last_failure_time == datetime.datetime(2026, 1, 1, 0, 3, tzinfo=UTC)
    assert store.new_record("ns/j", [finished("2026-01-01T00:04:00Z")], []).failures_after_last_success == 0


@pytest.mark.parametrize(("value", "index"), [("3", 3), ("-1", -1), ("x", -1), (None, -1)])
def test_completion_index(value: str | None, index: int) -> None:
    annotations = {} if value is None else {ix.COMPLETION_INDEX_ANNOTATION: value}
    assert ix.completion_index({"metadata": {"annotations": annotations}}) == index
