"""Table printers for the smaller groups: leases, endpoint slices, horizontal pod autoscalers (v1 and v2),
pod disruption budgets, priority classes, RBAC bindings, certificate signing requests and
events.k8s.io Events, cell for cell as upstream's ``pkg/printers/internalversion`` renders them.

Roles and ClusterRoles have no upstream printer; they get the default Name / Created At table.
"""

from __future__ import annotations

import datetime
from typing import Any

from pyk8s.api.printers import core as core_printers
from pyk8s.api.printers.common import (
    AGE,
    NAME,
    NONE,
    UNSET,
    Cells,
    Column,
    FieldDoc,
    Obj,
    Printer,
    as_dict,
    as_int,
    as_list,
    created_at,
    get,
    int_or_string,
    join_limited,
    name_of,
    quantity_ptr,
)
from pyk8s.api.printers.duration import UNKNOWN, human_duration, translate_timestamp_since

# -------------------------------------------------------------------------------------------- leases

LEASE_COLUMNS = (
    NAME,
    Column("Holder", "string", FieldDoc("io.k8s.api.coordination.v1.LeaseSpec", "holderIdentity")),
    AGE,
)


def lease_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), str(get(obj, "spec", "holderIdentity") or ""), translate_timestamp_since(created_at(obj), now)]


# ----------------------------------------------------------------------------------- endpoint slices

_SLICE = "io.k8s.api.discovery.v1.EndpointSlice"
_MAX_LISTED = 3

ENDPOINT_SLICE_COLUMNS = (
    NAME,
    Column("AddressType", "string", FieldDoc(_SLICE, "addressType")),
    Column("Ports", "string", FieldDoc(_SLICE, "ports")),
    Column("Endpoints", "string", FieldDoc(_SLICE, "endpoints")),
    AGE,
)


def _list_with_more(items: list[str]) -> str:
    """First three items joined with commas, `` + N more...`` when there are more, ``<unset>`` when none."""
    return join_limited(items, _MAX_LISTED) or UNSET


def _slice_ports(ports: Any) -> str:
    shown = []
    for port in as_list(ports):
        port = as_dict(port)
        if port.get("port") is not None:
            shown.append(str(as_int(port.get("port"))))
        elif port.get("name") is not None:
            shown.append(str(port["name"]))
        else:
            shown.append("*")
    return _list_with_more(shown)


def _slice_endpoints(endpoints: Any) -> str:
    addresses = [str(a) for ep in as_list(endpoints) for a in as_list(as_dict(ep).get("addresses"))]
    return _list_with_more(addresses)


def endpoint_slice_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), str(obj.get("addressType") or ""), _slice_ports(obj.get("ports")),
            _slice_endpoints(obj.get("endpoints")), translate_timestamp_since(created_at(obj), now)]


# ---------------------------------------------------------------------- horizontal pod autoscalers

_HPA_SPEC = "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec"
_MAX_METRICS = 2

HPA_COLUMNS = (
    NAME,
    Column("Reference", "string", FieldDoc(_HPA_SPEC, "scaleTargetRef")),
    Column("Targets", "string", FieldDoc(_HPA_SPEC, "metrics")),
    Column("MinPods", "string", FieldDoc(_HPA_SPEC, "minReplicas")),
    Column("MaxPods", "string", FieldDoc(_HPA_SPEC, "maxReplicas")),
    Column("Replicas", "string", FieldDoc("io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
                                          "currentReplicas")),
    AGE,
)

_DEFAULT_CPU_UTILIZATION = 80  # autoscaling/v2 defaulting when no metric is given


def _cpu_metric(utilization: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                       "averageUtilization": utilization}}}


def hpa_metrics(hpa: Obj) -> tuple[list[Any], list[Any]]:
    """Metric specs and statuses in the v2 shape; an autoscaling/v1 object's CPU target is converted."""
    spec = as_dict(hpa.get("spec"))
    status = as_dict(hpa.get("status"))
    v1_shape = "targetCPUUtilizationPercentage" in spec or (
        str(hpa.get("apiVersion") or "") == "autoscaling/v1" and "metrics" not in spec)
    if not v1_shape:
        return as_list(spec.get("metrics")), as_list(status.get("currentMetrics"))
    target = spec.get("targetCPUUtilizationPercentage")
    specs = [_cpu_metric(as_int(target) if target is not None else _DEFAULT_CPU_UTILIZATION)]
    statuses: list[Any] = []
    if status.get("currentCPUUtilizationPercentage") is not None:
        statuses = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": as_int(status["currentCPUUtilizationPercentage"])}}}]
    return specs, statuses


def _value_or_average(spec_source: Obj, status_source: Any) -> str:
    """External and Object metrics: ``current/target`` with ``(avg)`` when the target is an average value."""
    target = as_dict(spec_source.get("target"))
    current_block = as_dict(status_source.get("current")) if isinstance(status_source, dict) else None
    if target.get("averageValue") is not None:
        current = UNKNOWN
        if current_block is not None and current_block.get("averageValue") is not None:
            current = str(current_block["averageValue"])
        return f"{current}/{target['averageValue']} (avg)"
    current = UNKNOWN
    if current_block is not None:
        current = quantity_ptr(current_block.get("value"))
    return f"{current}/{quantity_ptr(target.get('value'))}"


def _resource_metric(spec_source: Obj, status_source: Any) -> str:
    """Resource and ContainerResource metrics: ``cpu: 40%/80%`` or ``memory: 10Mi/100Mi``."""
    name = str(spec_source.get("name") or "")
    target = as_dict(spec_source.get("target"))
    current_block = as_dict(status_source.get("current")) if isinstance(status_source, dict) else None
    if target.get("averageValue") is not None:
        current = UNKNOWN
        if current_block is not None:
            current = quantity_ptr(current_block.get("averageValue"))
        return f"{name}: {current}/{target['averageValue']}"
    current = UNKNOWN
    if current_block is not None and current_block.get("averageUtilization") is not None:
        current = f"{as_int(current_block['averageUtilization'])}%"
    goal = "<auto>"
    if target.get("averageUtilization") is not None:
        goal = f"{as_int(target['averageUtilization'])}%"
    return f"{name}: {current}/{goal}"


def format_hpa_metrics(specs: list[Any], statuses: list[Any]) -> str:
    """The Targets cell: up to two metrics joined with ``, `` and `` + N more...`` (``formatHPAMetrics``)."""
    if not specs:
        return NONE
    shown: list[str] = []
    for i, spec in enumerate(specs):
        spec = as_dict(spec)
        status = as_dict(statuses[i]) if i < len(statuses) else {}
        mtype = spec.get("type")
        if mtype == "External":
            shown.append(_value_or_average(as_dict(spec.get("external")), status.get("external")))
        elif mtype == "Object":
            shown.append(_value_or_average(as_dict(spec.get("object")), status.get("object")))
        elif mtype == "Pods":
            current = UNKNOWN
            pods_status = status.get("pods")
            if isinstance(pods_status, dict):
                current = quantity_ptr(get(pods_status, "current", "averageValue"))
            shown.append(f"{current}/{quantity_ptr(get(spec, 'pods', 'target', 'averageValue'))}")
        elif mtype == "Resource":
            shown.append(_resource_metric(as_dict(spec.get("resource")), status.get("resource")))
        elif mtype == "ContainerResource":
            shown.append(_resource_metric(as_dict(spec.get("containerResource")), status.get("containerResource")))
        else:
            shown.append("<unknown type>")
    return join_limited(shown, _MAX_METRICS, ", ")


def hpa_cells(hpa: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(hpa.get("spec"))
    ref = as_dict(spec.get("scaleTargetRef"))
    specs, statuses = hpa_metrics(hpa)
    min_pods = str(as_int(spec["minReplicas"])) if spec.get("minReplicas") is not None else UNSET
    return [
        name_of(hpa), f"{ref.get('kind') or ''}/{ref.get('name') or ''}", format_hpa_metrics(specs, statuses),
        min_pods, as_int(spec.get("maxReplicas")), as_int(get(hpa, "status", "currentReplicas")),
        translate_timestamp_since(created_at(hpa), now),
    ]


# ------------------------------------------------------------------------- pod disruption budgets

PDB_COLUMNS = (
    NAME,
    Column("Min Available", "string", "The minimum number of pods that must be available."),
    Column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
    AGE,
)


def pdb_cells(obj: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(obj.get("spec"))
    min_available = int_or_string(spec["minAvailable"]) if spec.get("minAvailable") is not None else "N/A"
    max_unavailable = int_or_string(spec["maxUnavailable"]) if spec.get("maxUnavailable") is not None else "N/A"
    return [name_of(obj), min_available, max_unavailable, as_int(get(obj, "status", "disruptionsAllowed")),
            translate_timestamp_since(created_at(obj), now)]


# ----------------------------------------------------------------------------------- priority classes

_PRIORITY_CLASS = "io.k8s.api.scheduling.v1.PriorityClass"

PRIORITY_CLASS_COLUMNS = (
    NAME,
    Column("Value", "integer", FieldDoc(_PRIORITY_CLASS, "value")),
    Column("Global-Default", "boolean", FieldDoc(_PRIORITY_CLASS, "globalDefault")),
    AGE,
    Column("PreemptionPolicy", "string", FieldDoc(_PRIORITY_CLASS, "preemptionPolicy")),
)


def priority_class_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), as_int(obj.get("value")), bool(obj.get("globalDefault")),
            translate_timestamp_since(created_at(obj), now), str(obj.get("preemptionPolicy") or "")]


# ---------------------------------------------------------------------------------- RBAC bindings

def _binding_columns(kind: str, noun: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column("Role", "string", FieldDoc(f"io.k8s.api.rbac.v1.{kind}", "roleRef")),
        AGE,
        Column("Users", "string", f"Users in the {noun}", priority=1),
        Column("Groups", "string", f"Groups in the {noun}", priority=1),
        Column("ServiceAccounts", "string", f"ServiceAccounts in the {noun}", priority=1),
    )


ROLE_BINDING_COLUMNS = _binding_columns("RoleBinding", "roleBinding")
CLUSTER_ROLE_BINDING_COLUMNS = _binding_columns("ClusterRoleBinding", "clusterRoleBinding")


def binding_cells(obj: Obj, now: datetime.datetime) -> Cells:
    role_ref = as_dict(obj.get("roleRef"))
    users: list[str] = []
    groups: list[str] = []
    service_accounts: list[str] = []
    for subject in as_list(obj.get("subjects")):
        subject = as_dict(subject)
        kind = subject.get("kind")
        name = str(subject.get("name") or "")
        if kind == "ServiceAccount":
            service_accounts.append(f"{subject.get('namespace') or ''}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return [
        name_of(obj), f"{role_ref.get('kind') or ''}/{role_ref.get('name') or ''}",
        translate_timestamp_since(created_at(obj), now), ", ".join(users), ", ".join(groups),
        ", ".join(service_accounts),
    ]


# --------------------------------------------------------------------- certificate signing requests

_CSR_SPEC = "io.k8s.api.certificates.v1.CertificateSigningRequestSpec"

CSR_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", "string", FieldDoc(_CSR_SPEC, "signerName")),
    Column("Requestor", "string", FieldDoc(_CSR_SPEC, "request")),
    Column("RequestedDuration", "string", FieldDoc(_CSR_SPEC, "expirationSeconds")),
    Column("Condition", "string", FieldDoc("io.k8s.api.certificates.v1.CertificateSigningRequestStatus",
                                           "conditions")),
)


def csr_condition(csr: Obj) -> str:
    """``Approved``/``Denied``/``Pending`` plus ``,Failed`` and ``,Issued`` (``extractCSRStatus``)."""
    types = {as_dict(c).get("type") for c in as_list(get(csr, "status", "conditions"))}
    if "Denied" in types:
        text = "Denied"
    elif "Approved" in types:
        text = "Approved"
    else:
        text = "Pending"
    if "Failed" in types:
        text += ",Failed"
    if get(csr, "status", "certificate"):
        text += ",Issued"
    return text


def csr_cells(csr: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(csr.get("spec"))
    requested = NONE
    if spec.get("expirationSeconds") is not None:
        requested = human_duration(as_int(spec["expirationSeconds"]))
    return [name_of(csr), translate_timestamp_since(created_at(csr), now), str(spec.get("signerName") or "") or NONE,
            str(spec.get("username") or ""), requested, csr_condition(csr)]


# ------------------------------------------------------------------------------ events.k8s.io Events

def events_v1_as_core(event: Obj) -> Obj:
    """The core/v1 shape of an events.k8s.io/v1 Event, as upstream converts it before printing."""
    return {
        "metadata": event.get("metadata") or {},
        "involvedObject": event.get("regarding") or {},
        "source": event.get("deprecatedSource") or {},
        "message": event.get("note") or "",
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "count": event.get("deprecatedCount") or 0,
        "eventTime": event.get("eventTime"),
        "series": event.get("series"),
        "reason": event.get("reason") or "",
        "type": event.get("type") or "",
        "reportingComponent": event.get("reportingController") or "",
        "reportingInstance": event.get("reportingInstance") or "",
    }


def events_v1_cells(event: Obj, now: datetime.datetime) -> Cells:
    return core_printers.event_cells(events_v1_as_core(event), now)


PRINTERS: dict[tuple[str, str], Printer] = {
    ("coordination.k8s.io", "leases"): Printer(LEASE_COLUMNS, lease_cells),
    ("discovery.k8s.io", "endpointslices"): Printer(ENDPOINT_SLICE_COLUMNS, endpoint_slice_cells),
    ("autoscaling", "horizontalpodautoscalers"): Printer(HPA_COLUMNS, hpa_cells),
    ("policy", "poddisruptionbudgets"): Printer(PDB_COLUMNS, pdb_cells),
    ("scheduling.k8s.io", "priorityclasses"): Printer(PRIORITY_CLASS_COLUMNS, priority_class_cells),
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(ROLE_BINDING_COLUMNS, binding_cells),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(CLUSTER_ROLE_BINDING_COLUMNS, binding_cells),
    ("certificates.k8s.io", "certificatesigningrequests"): Printer(CSR_COLUMNS, csr_cells),
    ("events.k8s.io", "events"): Printer(core_printers.EVENT_COLUMNS, events_v1_cells),
}
