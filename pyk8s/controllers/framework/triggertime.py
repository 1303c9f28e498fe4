"""The endpoints.kubernetes.io/last-change-trigger-time annotation: when the change being published began.

Shared by the Endpoints and EndpointSlice controllers (upstream pkg/controller/util/endpoint
TriggerTimeTracker): per Service, remember the Pods' Ready-transition times and the Service's creation time
seen at the last sync. The trigger time of a sync is the earliest of those that changed since (the
Service's creation time on its first sync); None when nothing relevant changed. The annotation carries it
in Go's RFC3339Nano.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from pyk8s.api import meta
from pyk8s.client.interface import Obj
from pyk8s.controllers.framework.podstate import ready_condition

ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


def ready_transition_time(pod: Obj) -> datetime.datetime | None:
    """When the Pod's Ready condition last changed (the trigger time of its endpoint change)."""
    cond = ready_condition(pod)
    return meta.parse_time(cond.get("lastTransitionTime")) if cond is not None else None


@dataclass
class _ServiceState:
    service_time: datetime.datetime | None = None
    pod_times: dict[str, datetime.datetime] = field(default_factory=dict)


class TriggerTimeTracker:
    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _ServiceState] = {}

    def compute(self, namespace: str, service: Obj, pods: list[Obj]) -> datetime.datetime | None:
        """The trigger time for this sync of `service` with `pods`; updates the remembered state."""
        key = (namespace, service["metadata"]["name"])
        known = key in self._states
        state = self._states.get(key) or _ServiceState()
        earliest: datetime.datetime | None = None
        pod_times: dict[str, datetime.datetime] = {}
        for pod in pods:
            t = ready_transition_time(pod)
            if t is None:
                continue
            pod_times[meta.name_of(pod)] = t
            last = state.pod_times.get(meta.name_of(pod))
            if last is None or t > last:
                earliest = t if earliest is None or t < earliest else earliest
        created = meta.parse_time((service.get("metadata") or {}).get("creationTimestamp"))
        if created is not None and (state.service_time is None or created > state.service_time):
            earliest = created if earliest is None or created < earliest else earliest
        self._states[key] = _ServiceState(created, pod_times)
        if not known:
            return created
        return earliest

    def delete_service(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)


def format_trigger_time(t: datetime.datetime) -> str:
    """Go's time.RFC3339Nano in UTC (the annotation's format): fraction only when non-zero, no trailing 0s."""
    t = t.astimezone(datetime.UTC)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += "." + f"{t.microsecond:06d}".rstrip("0")
    return text + "Z"


def set_trigger_time(obj: Obj, trigger: datetime.datetime | None) -> None:
    """Set the annotation on `obj` (changed in place) to `trigger`, or remove it when None; an annotation
    map left empty is dropped."""
    md = obj.setdefault("metadata", {})
    annotations = dict(md.get("annotations") or {})
    if trigger is not None:
        annotations[ANNOTATION_TRIGGER_TIME] = format_trigger_time(trigger)
    else:
        annotations.pop(ANNOTATION_TRIGGER_TIME, None)
    if annotations:
        md["annotations"] = annotations
    else:
        md.pop("annotations", None)
