"""Pod status building: getPhase table, conditions, container states and reasons, writes only on change."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import PODS
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.pleg import RuntimePodStatus
from pyk8s.kubelet.status import StatusInputs, StatusManager, build_pod_status, get_phase

Obj = dict[str, Any]
NOW = "2026-01-01T00:00:10Z"
_t = iter(range(1, 10_000))


def pod(policy: str = "Always", containers: tuple[str, ...] = ("app",), init: tuple[str, ...] = (),
        gates: tuple[str, ...] = ()) -> Obj:
    spec: Obj = {"restartPolicy": policy, "containers": [{"name": n, "image": "busybox"} for n in containers]}
    if init:
        spec["initContainers"] = [{"name": n, "image": "busybox"} for n in init]
    if gates:
        spec["readinessGates"] = [{"conditionType": g} for g in gates]
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True"}]}}


def running(name: str) -> Obj:
    return {"name": name, "state": {"running": {}}, "lastState": {}, "started": True}


def terminated(name: str, code: int) -> Obj:
    return {"name": name, "state": {"terminated": {"exitCode": code}}, "lastState": {}}


def waiting(name: str, last_code: int | None = None) -> Obj:
    last = {"terminated": {"exitCode": last_code}} if last_code is not None else {}
    return {"name": name, "state": {"waiting": {"reason": "X"}}, "lastState": last}


@pytest.mark.parametrize("policy,statuses,terminal,phase", [
    ("Always", [waiting("app")], False, "Pending"),
    ("Always", [running("app")], False, "Running"),
    ("Always", [terminated("app", 1)], False, "Running"),
    ("Always", [waiting("app", 1)], False, "Running"),
    ("Always", [terminated("app", 0)], True, "Succeeded"),
    ("Always", [terminated("app", 143)], True, "Failed"),
    ("Never", [terminated("app", 0)], False, "Succeeded"),
    ("Never", [terminated("app", 1)], False, "Failed"),
    ("OnFailure", [terminated("app", 1)], False, "Running"),
    ("OnFailure", [terminated("app", 0)], False, "Succeeded"),
    ("Always", [], False, "Pending"),
])
def test_get_phase(policy: str, statuses: list[Obj], terminal: bool, phase: str) -> None:
    assert get_phase(pod(policy), statuses, terminal) == phase


def test_get_phase_init_containers() -> None:
    p = pod("Never", init=("i",))
    assert get_phase(p, [running("i"), waiting("app")], False) == "Pending"
    assert get_phase(p, [terminated("i", 1), waiting("app")], False) == "Failed"
    assert get_phase(pod("Always", init=("i",)), [waiting("i", 1), waiting("app")], False) == "Pending"


def sandbox(ip: str = "10.0.0.5") -> cri.PodSandboxStatus:
    return cri.PodSandboxStatus("s", cri.PodSandboxMetadata("p", "ns", "u1"), "SANDBOX_READY", next(_t), ip=ip)


def ctr(name: str, state: str = "CONTAINER_RUNNING", code: int = 0, reason: str = "",
        restart: int = 0) -> cri.ContainerStatus:
    t = next(_t)
    return cri.ContainerStatus(
        f"{name}-{t}", "s", cri.ContainerMetadata(name, restart), state, t * 10**9,  # type: ignore[arg-type]
        "docker.io/library/busybox:latest", "sha256:abc", started_at=t * 10**9,
        finished_at=(t + 1) * 10**9 if state == "CONTAINER_EXITED" else 0, exit_code=code, reason=reason,
        annotations={cri.ANNOTATION_RESTART_COUNT: str(restart)})


def rps(*cs: cri.ContainerStatus, sandboxes: list[cri.PodSandboxStatus] | None = None) -> RuntimePodStatus:
    return RuntimePodStatus("u1", "p", "ns", [sandbox()] if sandboxes is None else sandboxes,
                            sorted(cs, key=lambda c: c.created_at, reverse=True))


def cond(status: Obj, type_: str) -> Obj:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_running_and_ready() -> None:
    c = ctr("app")
    st = build_pod_status(pod(), rps(c), StatusInputs("runc", ["10.250.0.1"]), NOW)
    assert st["phase"] == "Running" and st["podIP"] == "10.0.0.5" and st["podIPs"] == [{"ip": "10.0.0.5"}]
    assert st["hostIPs"] == [{"ip": "10.250.0.1"}] and st["startTime"] == NOW and st["qosClass"] == "BestEffort"
    cs = st["containerStatuses"][0]
    assert cs["containerID"] == f"runc://{c.id}" and cs["ready"] and cs["started"] and cs["imageID"] == "sha256:abc"
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                     "ContainersReady", "PodScheduled"]
    assert all(cond(st, t)["status"] == "True" for t in ("PodReadyToStartContainers", "Ready", "ContainersReady"))
    assert cond(st, "Ready")["lastTransitionTime"] == NOW


def test_container_creating_then_crash_loop_message() -> None:
    st = build_pod_status(pod(), rps(), StatusInputs(), NOW)
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert st["phase"] == "Pending"
    ready = cond(st, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "ContainersNotReady",
                                                                     "containers with unready status: [app]")
    old, new = ctr("app", "CONTAINER_EXITED", 1, "Error", 0), ctr("app", "CONTAINER_EXITED", 1, "Error", 1)
    msg = "back-off 10s restarting failed container=app pod=p_ns(u1)"
    st = build_pod_status(pod(), rps(old, new), StatusInputs(reasons={"app": ("CrashLoopBackOff", msg)}), NOW)
    cs = st["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": msg}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["restartCount"] == 1
    assert st["phase"] == "Running"


def test_terminated_reasons_and_oom() -> None:
    st = build_pod_status(pod("Never"), rps(ctr("app", "CONTAINER_EXITED", 137, "OOMKilled")), StatusInputs(), NOW)
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137 and term["containerID"].startswith("runc://")
    assert st["phase"] == "Failed"
    assert cond(st, "Ready")["reason"] == "ContainersNotReady"


def test_succeeded_conditions() -> None:
    st = build_pod_status(pod("Never", init=("i",)), rps(ctr("i", "CONTAINER_EXITED", 0, "Completed"),
                                                         ctr("app", "CONTAINER_EXITED", 0, "Completed")),
                          StatusInputs(), NOW)
    assert st["phase"] == "Succeeded"
    assert cond(st, "Initialized")["reason"] == "PodCompleted"
    assert cond(st, "Ready")["reason"] == "PodCompleted" and cond(st, "ContainersReady")["status"] == "False"
    assert st["initContainerStatuses"][0]["ready"] is True


def test_pod_initializing_and_initialized_message() -> None:
    st = build_pod_status(pod(init=("a", "b")), rps(ctr("a")), StatusInputs(), NOW)
    assert st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing"
    init = cond(st, "Initialized")
    assert init["message"] == "containers with incomplete status: [a b]"
    assert init["reason"] == "ContainersNotInitialized"


def test_readiness_and_gates() -> None:
    c = ctr("app")
    st = build_pod_status(pod(), rps(c), StatusInputs(ready=lambda _c, _i: False), NOW)
    assert st["containerStatuses"][0]["ready"] is False and cond(st, "Ready")["status"] == "False"
    st = build_pod_status(pod(gates=("example.com/lb",)), rps(c), StatusInputs(), NOW)
    ready = cond(st, "Ready")
    assert ready["reason"] == "ReadinessGatesNotReady"
    assert ready["message"] == 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'


def test_transition_time_kept_while_unchanged() -> None:
    p = pod()
    p["status"]["conditions"].append({"type": "Ready", "status": "True", "lastTransitionTime": "EARLIER"})
    st = build_pod_status(p, rps(ctr("app")), StatusInputs(), NOW)
    assert cond(st, "Ready")["lastTransitionTime"] == "EARLIER"
    assert cond(st, "ContainersReady")["lastTransitionTime"] == NOW


def test_terminal_phase_is_final() -> None:
    p = pod("Never")
    p["status"]["phase"] = "Succeeded"
    st = build_pod_status(p, rps(ctr("app")), StatusInputs(), NOW)
    assert st["phase"] == "Succeeded"


async def test_status_manager_writes_only_changes() -> None:
    fake = FakeClient()
    created = await fake.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
                                       "spec": {"containers": [{"name": "app", "image": "busybox"}]}}, "ns")
    sm = StatusManager(fake)
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert await sm.set_status(created, status)
    assert not await sm.set_status(created, status)
    got = await fake.get(PODS, "p", "ns")
    assert got["status"]["phase"] == "Running"
    assert "reason" not in got["status"]["conditions"][0]
    writes = [a for a in fake.actions if a.verb == "patch" and a.subresource == "status"]
    assert len(writes) == 1 and writes[0].body["metadata"]["uid"] == created["metadata"]["uid"]
    assert not await sm.set_status(got, status)  # the object already says so
