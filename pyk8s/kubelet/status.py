"""The pod status a kubelet reports (upstream generateAPIPodStatus + status manager), and writing it.

Pure builders turn the runtime's view of a pod (pleg.RuntimePodStatus), the per-container failure reasons of
the last sync and the probe results into a v1 PodStatus: phase (upstream getPhase), the conditions
PodReadyToStartContainers, Initialized, ContainersReady and Ready (PodScheduled and other writers' conditions
are kept), containerStatuses/initContainerStatuses (waiting / running / terminated, lastState, ready,
started, restartCount, image, imageID, containerID "<runtime>://<id>"), podIP(s), hostIP(s) and startTime.
A condition keeps its lastTransitionTime while its status does not change.

`StatusManager` writes a status through a strategic-merge PATCH of pods/status (uid precondition) only when
it differs from what was last written or what the API object holds, and never moves a terminal phase back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pyk8s.api import errors, meta
from pyk8s.client.interface import Client, Obj
from pyk8s.client.kinds import PODS
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.hollow import normalize_image, readiness_gates_message
from pyk8s.kubelet.kuberuntime import cri_time, is_sidecar, should_container_be_restarted
from pyk8s.kubelet.pleg import RuntimePodStatus, restart_count_of

log = logging.getLogger("pyk8s.kubelet.status")

POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
INITIALIZED = "Initialized"
CONTAINERS_READY = "ContainersReady"
READY = "Ready"
KUBELET_CONDITIONS = (POD_READY_TO_START_CONTAINERS, INITIALIZED, READY, CONTAINERS_READY)
TERMINAL_PHASES = ("Succeeded", "Failed")

ContainerProbe = Callable[[Obj, str], bool]  # (container spec, container id) -> ready / started


def _always(_c: Obj, _id: str) -> bool:
    return True


@dataclass
class StatusInputs:
    """Everything besides the pod and the runtime view that a status is built from."""

    runtime_name: str = "runc"
    host_ips: list[str] = field(default_factory=list)
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)  # container name -> (reason, message)
    ready: ContainerProbe = _always  # readiness of a running, started container
    started: ContainerProbe = _always  # whether a running container has started (startup probe passed)
    pod_terminal: bool = False  # the pod worker has stopped the pod for good


# ---------------------------------------------------------------------------------------------- containers


def _container_state(c: cri.ContainerStatus, runtime_name: str) -> Obj:
    cid = f"{runtime_name}://{c.id}"
    if c.state == "CONTAINER_RUNNING":
        return {"running": {"startedAt": cri_time(c.started_at) or cri_time(c.created_at)}}
    if c.state == "CONTAINER_EXITED":
        term: Obj = {"exitCode": c.exit_code, "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error")}
        if c.message:
            term["message"] = c.message
        term.update(startedAt=cri_time(c.started_at), finishedAt=cri_time(c.finished_at), containerID=cid)
        return {"terminated": term}
    if c.state == "CONTAINER_CREATED":
        return {"waiting": {"reason": "ContainerCreating"}}
    return {"waiting": {}}


def container_statuses(pod: Obj, specs: list[Obj], status: RuntimePodStatus, inputs: StatusInputs, *,
                       init: bool) -> list[Obj]:
    """upstream convertToAPIContainerStatuses, for spec.containers or spec.initContainers."""
    has_init = bool((pod.get("spec") or {}).get("initContainers"))
    default_waiting = "PodInitializing" if has_init else "ContainerCreating"
    out: list[Obj] = []
    for spec in specs:
        name = str(spec.get("name", ""))
        st: Obj = {"name": name, "state": {"waiting": {"reason": default_waiting}}, "lastState": {},
                   "ready": False, "restartCount": 0, "image": normalize_image(str(spec.get("image", ""))),
                   "imageID": "", "started": False}
        history = status.all_of(name)
        if history:
            newest = history[0]
            st["state"] = _container_state(newest, inputs.runtime_name)
            st["restartCount"] = restart_count_of(newest)
            if newest.image and not newest.image.startswith("sha256:"):
                st["image"] = newest.image
            st["imageID"] = newest.image_ref
            st["containerID"] = f"{inputs.runtime_name}://{newest.id}"
            if newest.state == "CONTAINER_RUNNING":
                started = inputs.started(spec, newest.id)
                st["started"] = started
                st["ready"] = started and inputs.ready(spec, newest.id)
            if len(history) > 1:
                previous = _container_state(history[1], inputs.runtime_name)
                if "terminated" in previous:
                    st["lastState"] = previous
        skip = init and not is_sidecar(spec) and history and history[0].state == "CONTAINER_EXITED" \
            and history[0].exit_code == 0
        if not skip and should_container_be_restarted(spec, pod, status) and name in inputs.reasons:
            reason, message = inputs.reasons[name]
            if "terminated" in st["state"]:
                st["lastState"] = st["state"]
            waiting: Obj = {"reason": reason}
            if message:
                waiting["message"] = message
            st["state"] = {"waiting": waiting}
        if not history:
            st.pop("imageID")
        if init and not is_sidecar(spec) and "running" not in st["state"]:
            st["ready"] = "terminated" in st["state"] and st["state"]["terminated"].get("exitCode") == 0
        out.append(st)
    if not init:
        out.sort(key=lambda s: s["name"])
    return out


# ---------------------------------------------------------------------------------------------- phase


def get_phase(pod: Obj, statuses: list[Obj], pod_is_terminal: bool) -> str:
    """upstream getPhase over init and app container statuses (by name)."""
    spec = pod.get("spec") or {}
    by_name = {s["name"]: s for s in statuses}
    policy = spec.get("restartPolicy") or "Always"
    pending_init = pending_sidecar = failed_init = 0
    for c in spec.get("initContainers") or []:
        if is_sidecar(c):
            continue
        s = by_name.get(c.get("name"))
        if s is None:
            pending_init += 1
            continue
        state, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode") != 0:
                failed_init += 1
        elif "waiting" in state:
            if "terminated" in last:
                if last["terminated"].get("exitCode") != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for c in spec.get("initContainers") or []:
        if not is_sidecar(c):
            continue
        s = by_name.get(c.get("name"))
        if s is None:
            unknown += 1
            continue
        state, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in state:
            if not s.get("started"):
                pending_sidecar += 1
            running += 1
        elif "terminated" in state:
            pass
        elif "waiting" in state:
            if "terminated" not in last:
                pending_sidecar += 1
                waiting += 1
        else:
            pending_sidecar += 1
            unknown += 1
    for c in spec.get("containers") or []:
        s = by_name.get(c.get("name"))
        if s is None:
            unknown += 1
            continue
        state, last = s.get("state") or {}, s.get("lastState") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "waiting" in state:
            if "terminated" in last:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_init > 0 or (pending_sidecar > 0 and running == 0):
        return "Pending"
    if waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if pod_is_terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


# ---------------------------------------------------------------------------------------------- conditions


def _cond(type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": type_, "status": status}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def initialized_condition(pod: Obj, init_statuses: list[Obj], app_statuses: list[Obj], phase: str) -> Obj:
    inits = (pod.get("spec") or {}).get("initContainers") or []
    if not inits:
        return _cond(INITIALIZED, "True")
    by_name = {s["name"]: s for s in init_statuses}
    unknown, incomplete = [], []
    for c in inits:
        s = by_name.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
        elif is_sidecar(c):
            if not s.get("started"):
                incomplete.append(c["name"])
        elif "terminated" not in (s.get("state") or {}) or s["state"]["terminated"].get("exitCode") != 0:
            incomplete.append(c["name"])
    if phase == "Succeeded" and not unknown:
        return _cond(INITIALIZED, "True", "PodCompleted")
    if any("running" in (s.get("state") or {}) or "terminated" in (s.get("state") or {})
           or "terminated" in (s.get("lastState") or {}) for s in app_statuses):
        return _cond(INITIALIZED, "True")
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        msgs.append(f"containers with incomplete status: {_names(incomplete)}")
    if msgs:
        return _cond(INITIALIZED, "False", "ContainersNotInitialized", ", ".join(msgs))
    return _cond(INITIALIZED, "True")


def containers_ready_condition(pod: Obj, init_statuses: list[Obj], app_statuses: list[Obj], phase: str) -> Obj:
    spec = pod.get("spec") or {}
    unknown, unready = [], []
    inits = {s["name"]: s for s in init_statuses}
    for c in spec.get("initContainers") or []:
        if not is_sidecar(c):
            continue
        s = inits.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
        elif not s.get("ready"):
            unready.append(c["name"])
    apps = {s["name"]: s for s in app_statuses}
    for c in spec.get("containers") or []:
        s = apps.get(c.get("name"))
        if s is None:
            unknown.append(c["name"])
        elif not s.get("ready"):
            unready.append(c["name"])
    if phase == "Succeeded" and not unknown:
        return _cond(CONTAINERS_READY, "False", "PodCompleted")
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        msgs.append(f"containers with unready status: {_names(unready)}")
    if msgs:
        return _cond(CONTAINERS_READY, "False", "ContainersNotReady", ", ".join(msgs))
    return _cond(CONTAINERS_READY, "True")


def ready_condition(pod: Obj, containers_ready: Obj) -> Obj:
    if containers_ready["status"] != "True":
        return _cond(READY, containers_ready["status"], containers_ready.get("reason", ""),
                     containers_ready.get("message", ""))
    gates = readiness_gates_message(pod)
    if gates:
        return _cond(READY, "False", "ReadinessGatesNotReady", gates)
    return _cond(READY, "True")


def _with_times(new: Obj, old: Obj | None, now: str) -> Obj:
    out = dict(new)
    out["lastProbeTime"] = None
    same = old is not None and old.get("status") == new["status"]
    out["lastTransitionTime"] = (old or {}).get("lastTransitionTime") if same else now
    if out["lastTransitionTime"] is None:
        out["lastTransitionTime"] = now
    return out


# ---------------------------------------------------------------------------------------------- the pod


def build_pod_status(pod: Obj, status: RuntimePodStatus, inputs: StatusInputs, now: str) -> Obj:
    """The v1 PodStatus this kubelet reports for `pod` (see the module docstring)."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    inits = container_statuses(pod, list(spec.get("initContainers") or []), status, inputs, init=True)
    apps = container_statuses(pod, list(spec.get("containers") or []), status, inputs, init=False)
    phase = get_phase(pod, inits + apps, inputs.pod_terminal)
    if old.get("phase") in TERMINAL_PHASES and phase != old.get("phase"):
        phase = old["phase"]  # a terminal phase is final
    if phase in TERMINAL_PHASES:
        for st in apps + [s for s in inits if "terminated" not in s["state"]]:
            st["ready"] = False
            if "running" not in st["state"]:
                st["started"] = False

    sandbox = status.sandbox
    host_network = bool(spec.get("hostNetwork"))
    ready_to_start = sandbox is not None and sandbox.state == "SANDBOX_READY" and (host_network or bool(sandbox.ip))
    conditions = [_cond(POD_READY_TO_START_CONTAINERS, "True" if ready_to_start else "False"),
                  initialized_condition(pod, inits, apps, phase)]
    containers_ready = containers_ready_condition(pod, inits, apps, phase)
    conditions += [ready_condition(pod, containers_ready), containers_ready]
    if phase == "Failed":
        for c in conditions[2:]:
            if c["status"] == "True":
                c.update(status="False", reason="PodFailed")
                c.pop("message", None)
    old_conditions = {c.get("type"): c for c in old.get("conditions") or []}
    out_conditions = [_with_times(c, old_conditions.get(c["type"]), now) for c in conditions]
    out_conditions += [c for c in old.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]

    new: Obj = {"phase": phase, "conditions": out_conditions}
    if inputs.host_ips:
        new["hostIP"] = inputs.host_ips[0]
        new["hostIPs"] = [{"ip": ip} for ip in inputs.host_ips]
    ips = list(inputs.host_ips) if host_network else status.ips
    if ips:
        new["podIP"] = ips[0]
        new["podIPs"] = [{"ip": ip} for ip in ips]
    elif old.get("podIPs"):
        new["podIP"] = old.get("podIP")
        new["podIPs"] = old["podIPs"]
    new["startTime"] = old.get("startTime") or now
    if old.get("qosClass"):
        new["qosClass"] = old["qosClass"]
    if inits:
        new["initContainerStatuses"] = inits
    new["containerStatuses"] = apps
    return new


def status_patch(status: Obj) -> Obj:
    """A strategic-merge patch body for `status`: conditions merge by type, so a reason or message that went
    away must be deleted explicitly (null)."""
    body = meta.copy(status)
    for c in body.get("conditions") or []:
        if c.get("type") in KUBELET_CONDITIONS:
            c.setdefault("reason", None)
            c.setdefault("message", None)
    return body


def _comparable(status: Obj) -> Obj:
    return {k: v for k, v in status.items() if k not in ("qosClass", "nominatedNodeName", "resize")}


class StatusManager:
    """Writes pod statuses through the API when they change (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._written: dict[str, Obj] = {}

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)

    def last_written(self, uid: str) -> Obj | None:
        return self._written.get(uid)

    async def set_status(self, pod: Obj, status: Obj) -> bool:
        """PATCH pods/status when `status` differs from the last write and from the object; True if written."""
        md = pod.get("metadata") or {}
        uid = str(md.get("uid") or "")
        if status == self._written.get(uid) or _comparable(status) == _comparable(pod.get("status") or {}):
            self._written[uid] = status
            return False
        body = {"metadata": {"uid": uid}, "status": status_patch(status)}
        try:
            await self.client.patch(PODS, str(md.get("name", "")), body, str(md.get("namespace", "")),
                                    patch_type="strategic", subresource="status")
        except (errors.NotFound, errors.Conflict) as e:
            log.info("pod %s/%s: status not written: %s", md.get("namespace"), md.get("name"), e)
            return False
        self._written[uid] = status
        return True
