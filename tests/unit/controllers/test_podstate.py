"""The shared pod predicates (upstream IsPodActive, IsPodReady, IsPodAvailable and the phase checks)."""

from __future__ import annotations

import datetime

from pyk8s.client.interface import Obj
from pyk8s.controllers.framework.podstate import (
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    is_pod_terminating,
    is_terminal,
    is_terminating,
    phase_of,
    pod_condition,
    ready_condition,
    update_pod_condition,
)

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(*, phase: str | None = "Running", ready: bool | None = True, ready_ago: float = 600,
        deleting: bool = False) -> Obj:
    p: Obj = {"metadata": {"name": "p"}, "status": {}}
    if phase is not None:
        p["status"]["phase"] = phase
    if ready is not None:
        p["status"]["conditions"] = [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": ts(ready_ago)}]
    if deleting:
        p["metadata"]["deletionTimestamp"] = ts(0)
    return p


def test_phase_terminal_and_terminating() -> None:
    assert phase_of(pod()) == "Running"
    assert phase_of({"metadata": {}}) == "" and phase_of(pod(phase=None)) == ""
    assert is_terminal(pod(phase="Succeeded")) and is_terminal(pod(phase="Failed"))
    assert not is_terminal(pod(phase="Running")) and not is_terminal(pod(phase="Unknown"))
    assert is_terminating(pod(deleting=True)) and not is_terminating(pod())
    assert not is_terminating({})


def test_pod_terminating_is_being_deleted_but_not_finished() -> None:
    assert is_pod_terminating(pod(deleting=True))
    assert is_pod_terminating(pod(phase="Pending", deleting=True))
    assert not is_pod_terminating(pod(phase="Succeeded", deleting=True))
    assert not is_pod_terminating(pod(phase="Failed", deleting=True))
    assert not is_pod_terminating(pod())


def test_active_excludes_terminal_and_terminating() -> None:
    assert is_pod_active(pod())
    assert is_pod_active(pod(phase="Pending"))
    assert is_pod_active(pod(phase=None))
    assert not is_pod_active(pod(phase="Succeeded"))
    assert not is_pod_active(pod(phase="Failed"))
    assert not is_pod_active(pod(deleting=True))


def test_ready_condition_is_a_copy() -> None:
    p = pod()
    cond = ready_condition(p)
    assert cond is not None and cond["type"] == "Ready" and cond["status"] == "True"
    cond["status"] = "False"
    assert is_pod_ready(p)  # the pod (a cached object) was not changed
    assert ready_condition(pod(ready=None)) is None
    assert ready_condition({}) is None
    scheduled = pod_condition(p, "PodScheduled")
    assert scheduled is not None and scheduled["status"] == "True"
    assert pod_condition(p, "DisruptionTarget") is None


def test_ready() -> None:
    assert is_pod_ready(pod())
    assert not is_pod_ready(pod(ready=False))
    assert not is_pod_ready(pod(ready=None))
    unknown = pod()
    unknown["status"]["conditions"][1]["status"] = "Unknown"
    assert not is_pod_ready(unknown)


def test_available_after_min_ready_seconds() -> None:
    fresh = pod(ready_ago=5)
    assert is_pod_available(fresh, 0, NOW)
    assert not is_pod_available(fresh, 10, NOW)
    assert not is_pod_available(fresh, 5, NOW)  # strictly after lastTransitionTime + minReadySeconds
    assert is_pod_available(fresh, 4, NOW)
    assert not is_pod_available(pod(ready=False, ready_ago=1000), 0, NOW)
    assert not is_pod_available(pod(ready=None), 0, NOW)
    no_time = pod()
    del no_time["status"]["conditions"][1]["lastTransitionTime"]
    assert is_pod_available(no_time, 0, NOW) and not is_pod_available(no_time, 1, NOW)


def test_update_pod_condition_keeps_transition_time_when_status_is_unchanged() -> None:
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    status: Obj = {}
    cond = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC", "message": "m"}
    assert update_pod_condition(status, cond, t0)
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert not update_pod_condition(status, cond, t0 + datetime.timedelta(seconds=5))
    assert update_pod_condition(status, {**cond, "message": "other"}, t0 + datetime.timedelta(seconds=5))
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert update_pod_condition(status, {**cond, "status": "False"}, t0 + datetime.timedelta(seconds=9))
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:09Z"
    assert len(status["conditions"]) == 1
