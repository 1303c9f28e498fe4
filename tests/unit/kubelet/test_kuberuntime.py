"""compute_pod_actions: the decision table of upstream's computePodActions."""

from __future__ import annotations

from typing import Any

from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.kuberuntime import (
    compute_pod_actions,
    effective_grace_period,
    restart_count_from_logs,
    should_container_be_restarted,
)
from pyk8s.kubelet.pleg import RuntimePodStatus

Obj = dict[str, Any]
_t = iter(range(1, 10_000))


def pod(policy: str = "Always", containers: tuple[str, ...] = ("app",), init: tuple[str, ...] = (),
        sidecars: tuple[str, ...] = (), **md: Any) -> Obj:
    spec: Obj = {"restartPolicy": policy, "containers": [{"name": n, "image": "busybox"} for n in containers]}
    inits = [{"name": n, "image": "busybox"} for n in init]
    inits += [{"name": n, "image": "busybox", "restartPolicy": "Always"} for n in sidecars]
    if inits:
        spec["initContainers"] = inits
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", **md}, "spec": spec}


def sandbox(state: str = "SANDBOX_READY", attempt: int = 0, ip: str = "10.0.0.2") -> cri.PodSandboxStatus:
    return cri.PodSandboxStatus(f"s{attempt}", cri.PodSandboxMetadata("p", "ns", "u1", attempt), state,  # type: ignore[arg-type]
                                next(_t), ip=ip)


def container(name: str, state: str = "CONTAINER_RUNNING", exit_code: int = 0, hash_: str = "h",
              cid: str = "") -> cri.ContainerStatus:
    return cri.ContainerStatus(cid or f"{name}-{next(_t)}", "s0", cri.ContainerMetadata(name), state,  # type: ignore[arg-type]
                               next(_t), "busybox", "sha256:x", exit_code=exit_code,
                               annotations={cri.ANNOTATION_CONTAINER_HASH: hash_})


def status(*containers: cri.ContainerStatus, sandboxes: list[cri.PodSandboxStatus] | None = None) -> RuntimePodStatus:
    s = RuntimePodStatus("u1", "p", "ns", sandboxes if sandboxes is not None else [sandbox()],
                         sorted(containers, key=lambda c: c.created_at, reverse=True))
    return s


def h(_: Obj) -> str:
    return "h"


def test_new_pod_creates_sandbox_and_starts_all() -> None:
    a = compute_pod_actions(pod(containers=("a", "b")), status(sandboxes=[]), hash_of=h)
    assert a.create_sandbox and a.kill_pod and a.attempt == 0 and a.containers_to_start == [0, 1]


def test_new_pod_with_init_starts_first_init_only() -> None:
    a = compute_pod_actions(pod(init=("i1", "i2")), status(sandboxes=[]), hash_of=h)
    assert a.create_sandbox and a.init_containers_to_start == [0] and a.containers_to_start == []


def test_dead_sandbox_recreated_with_next_attempt() -> None:
    a = compute_pod_actions(pod(), status(container("app", "CONTAINER_EXITED", 137),
                                          sandboxes=[sandbox("SANDBOX_NOTREADY", 2)]), hash_of=h)
    assert a.create_sandbox and a.attempt == 3 and a.sandbox_id == "s2" and a.containers_to_start == [0]


def test_dead_sandbox_of_finished_never_pod_is_not_recreated() -> None:
    a = compute_pod_actions(pod("Never"), status(container("app", "CONTAINER_EXITED", 0),
                                                 sandboxes=[sandbox("SANDBOX_NOTREADY", 1)]), hash_of=h)
    assert not a.create_sandbox and a.kill_pod


def test_running_container_is_kept() -> None:
    a = compute_pod_actions(pod(), status(container("app")), hash_of=h)
    assert not a.kill_pod and not a.containers_to_start and not a.containers_to_kill


def test_restart_policy_table() -> None:
    for policy, code, restart in [("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False),
                                  ("OnFailure", 1, True), ("Never", 0, False), ("Never", 1, False)]:
        st = status(container("app", "CONTAINER_EXITED", code))
        assert should_container_be_restarted({"name": "app"}, pod(policy), st) is restart, (policy, code)
        a = compute_pod_actions(pod(policy), st, hash_of=h)
        assert (a.containers_to_start == [0]) is restart, (policy, code)
        assert a.kill_pod is (not restart)


def test_deleted_pod_is_never_restarted() -> None:
    st = status(container("app", "CONTAINER_EXITED", 1))
    assert not should_container_be_restarted({"name": "app"}, pod(deletionTimestamp="x"), st)


def test_hash_change_restarts_even_with_never() -> None:
    c = container("app", hash_="old")
    a = compute_pod_actions(pod("Never"), status(c), hash_of=h)
    assert a.containers_to_start == [0]
    assert a.containers_to_kill[c.id].message == "Container app definition changed, will be restarted"


def test_liveness_failure_kills_and_restarts() -> None:
    c = container("app")
    a = compute_pod_actions(pod(), status(c), hash_of=h, liveness_failed=lambda cid: cid == c.id)
    assert a.containers_to_start == [0]
    info = a.containers_to_kill[c.id]
    assert info.message == "Container app failed liveness probe, will be restarted" and info.reason == "LivenessProbe"
    a = compute_pod_actions(pod("Never"), status(c), hash_of=h, liveness_failed=lambda cid: cid == c.id)
    assert a.containers_to_start == [] and a.containers_to_kill[c.id].message == "Container app failed liveness probe"
    assert a.kill_pod


def test_init_containers_in_order() -> None:
    p = pod(init=("i1", "i2"))
    a = compute_pod_actions(p, status(container("i1")), hash_of=h)
    assert a.init_containers_to_start == [] and a.containers_to_start == []
    a = compute_pod_actions(p, status(container("i1", "CONTAINER_EXITED", 0)), hash_of=h)
    assert a.init_containers_to_start == [1]
    a = compute_pod_actions(p, status(container("i1", "CONTAINER_EXITED", 0), container("i2", "CONTAINER_EXITED", 0)),
                            hash_of=h)
    assert a.init_containers_to_start == [] and a.containers_to_start == [0]


def test_failed_init_container() -> None:
    st = status(container("i1", "CONTAINER_EXITED", 1))
    a = compute_pod_actions(pod("Never", init=("i1",)), st, hash_of=h)
    assert a.kill_pod and a.containers_to_start == []
    a = compute_pod_actions(pod("Always", init=("i1",)), st, hash_of=h)
    assert not a.kill_pod and a.init_containers_to_start == [0]


def test_sidecar_keeps_running_and_app_starts() -> None:
    p = pod(init=("i1",), sidecars=("side",))
    a = compute_pod_actions(p, status(container("i1", "CONTAINER_EXITED", 0)), hash_of=h)
    assert a.init_containers_to_start == [1] and a.containers_to_start == []
    a = compute_pod_actions(p, status(container("i1", "CONTAINER_EXITED", 0), container("side")), hash_of=h)
    assert a.containers_to_start == [0]
    # A sidecar that dies after the pod initialised is restarted without re-running regular init containers.
    a = compute_pod_actions(p, status(container("i1", "CONTAINER_EXITED", 0), container("side", "CONTAINER_EXITED", 1),
                                      container("app")), hash_of=h)
    assert a.init_containers_to_start == [1] and a.containers_to_start == [] and not a.kill_pod


def test_effective_grace_period() -> None:
    assert effective_grace_period(pod()) == 30
    p = pod()
    p["spec"]["terminationGracePeriodSeconds"] = 5
    assert effective_grace_period(p) == 5
    p["metadata"]["deletionGracePeriodSeconds"] = 0
    assert effective_grace_period(p) == 1
    assert effective_grace_period(p, 12) == 12


def test_restart_count_from_logs(tmp_path: Any) -> None:
    assert restart_count_from_logs(str(tmp_path / "none")) == 0
    for n in ("0.log", "3.log", "junk"):
        (tmp_path / n).write_text("")
    assert restart_count_from_logs(str(tmp_path)) == 4
