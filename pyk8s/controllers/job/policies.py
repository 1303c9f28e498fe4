"""spec.podFailurePolicy and spec.successPolicy matching (pod_failure_policy.go, success_policy.go)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyk8s.controllers.job import indexes

Obj = dict[str, Any]


def _matching_container(statuses: list[Obj], requirement: Obj) -> Obj | None:
    name = requirement.get("containerName")
    values = [int(v) for v in requirement.get("values") or ()]
    operator = requirement.get("operator")
    for cs in statuses:
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is None:
            continue
        if name is not None and name != cs.get("name"):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code == 0:
            continue
        if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
            return cs
    return None


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str | None, bool, str | None]:
    """For a failed pod: (the FailJob message or None, whether the failure counts toward backoffLimit,
    the action of the matched rule or None)."""
    if policy is None:
        return None, True, None
    status = pod.get("status") or {}
    m = pod.get("metadata") or {}
    for index, rule in enumerate(policy.get("rules") or ()):
        action = rule.get("action")
        on_exit = rule.get("onExitCodes")
        if on_exit is not None:
            cs = _matching_container(status.get("containerStatuses") or [], on_exit) or _matching_container(
                status.get("initContainerStatuses") or [], on_exit)
            if cs is None:
                continue
            if action == "FailJob":
                code = int(((cs.get("state") or {}).get("terminated") or {}).get("exitCode") or 0)
                return (f"Container {cs.get('name')} for pod {m.get('namespace')}/{m.get('name')} failed with exit "
                        f"code {code} matching FailJob rule at index {index}"), True, action
        elif rule.get("onPodConditions") is not None:
            matched: Obj | None = None
            for cond in status.get("conditions") or ():
                for pattern in rule["onPodConditions"]:
                    if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status",
                                                                                                    "True"):
                        matched = cond
                        break
                if matched is not None:
                    break
            if matched is None:
                continue
            if action == "FailJob":
                return (f"Pod {m.get('namespace')}/{m.get('name')} has condition {matched.get('type')} matching "
                        f"FailJob rule at index {index}"), True, action
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action in ("FailIndex", "Count"):
            return None, True, action
    return None, True, None


def _overlap_count(rule: Sequence[indexes.Interval], succeeded: Sequence[indexes.Interval]) -> int:
    return sum(max(0, min(r_last, s_last) - max(r_first, s_first) + 1)
               for r_first, r_last in rule for s_first, s_last in succeeded)


def match_success_policy(policy: Obj | None, completions: int,
                         succeeded: Sequence[indexes.Interval]) -> str | None:
    """The SuccessCriteriaMet message ("Matched rules at index N") when a rule is met, else None."""
    if policy is None or not succeeded:
        return None
    for index, rule in enumerate(policy.get("rules") or ()):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = indexes.parse_indexes(str(rule["succeededIndexes"]), completions)
            if not required:
                continue
            contains = _overlap_count(required, succeeded)
            if contains == indexes.total(required) or (count is not None and contains >= int(count)):
                return f"Matched rules at index {index}"
        elif count is not None and indexes.total(succeeded) >= int(count):
            return f"Matched rules at index {index}"
    return None
