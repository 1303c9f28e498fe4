"""Table printers for apps/v1 kinds (deployments, replica sets, daemon sets, stateful sets, controller
revisions), cell for cell as upstream's ``pkg/printers/internalversion`` renders them.
"""

from __future__ import annotations

import datetime

from pyk8s.api.printers.common import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    NONE,
    Cells,
    Column,
    FieldDoc,
    InvalidSelector,
    Obj,
    Printer,
    as_dict,
    as_int,
    as_list,
    core,
    created_at,
    format_label_selector,
    format_labels,
    get,
    name_of,
    replica_printer,
    selector_string,
    template_containers,
    workload_columns,
)
from pyk8s.api.printers.duration import translate_timestamp_since


def apps(kind: str) -> str:
    return f"io.k8s.api.apps.v1.{kind}"


DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", FieldDoc(apps("DeploymentStatus"), "updatedReplicas")),
    Column("Available", "string", FieldDoc(apps("DeploymentStatus"), "availableReplicas")),
    *workload_columns(apps("DeploymentSpec")),
)


def deployment_cells(obj: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(obj.get("spec"))
    status = as_dict(obj.get("status"))
    try:
        selector = selector_string(spec.get("selector"))
    except InvalidSelector:
        selector = "<invalid>"
    names, images = template_containers(obj)
    return [
        name_of(obj), f"{as_int(status.get('readyReplicas'))}/{as_int(spec.get('replicas'), 1)}",
        as_int(status.get("updatedReplicas")), as_int(status.get("availableReplicas")),
        translate_timestamp_since(created_at(obj), now), names, images, selector,
    ]


DAEMONSET_COLUMNS = (
    NAME,
    Column("Desired", "integer", FieldDoc(apps("DaemonSetStatus"), "desiredNumberScheduled")),
    Column("Current", "integer", FieldDoc(apps("DaemonSetStatus"), "currentNumberScheduled")),
    Column("Ready", "integer", FieldDoc(apps("DaemonSetStatus"), "numberReady")),
    Column("Up-to-date", "integer", FieldDoc(apps("DaemonSetStatus"), "updatedNumberScheduled")),
    Column("Available", "integer", FieldDoc(apps("DaemonSetStatus"), "numberAvailable")),
    Column("Node Selector", "string", FieldDoc(core("PodSpec"), "nodeSelector")),
    *workload_columns(apps("DaemonSetSpec")),
)


def daemonset_cells(obj: Obj, now: datetime.datetime) -> Cells:
    status = as_dict(obj.get("status"))
    names, images = template_containers(obj)
    return [
        name_of(obj), as_int(status.get("desiredNumberScheduled")), as_int(status.get("currentNumberScheduled")),
        as_int(status.get("numberReady")), as_int(status.get("updatedNumberScheduled")),
        as_int(status.get("numberAvailable")), format_labels(get(obj, "spec", "template", "spec", "nodeSelector")),
        translate_timestamp_since(created_at(obj), now), names, images,
        format_label_selector(get(obj, "spec", "selector")),
    ]


STATEFULSET_COLUMNS = (
    NAME,
    Column("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
)


def statefulset_cells(obj: Obj, now: datetime.datetime) -> Cells:
    names, images = template_containers(obj)
    ready = as_int(get(obj, "status", "readyReplicas"))
    desired = as_int(get(obj, "spec", "replicas"), 1)
    return [name_of(obj), f"{ready}/{desired}", translate_timestamp_since(created_at(obj), now), names, images]


CONTROLLER_REVISION_COLUMNS = (
    NAME,
    Column("Controller", "string", "Controller of the object"),
    Column("Revision", "string", FieldDoc(apps("ControllerRevision"), "revision")),
    AGE,
)


def _controller_name(obj: Obj) -> str:
    """``group-kind/name`` of the controlling owner, lower-cased (``deployment.apps/web``), or ``<none>``."""
    for ref in as_list(get(obj, "metadata", "ownerReferences")):
        ref = as_dict(ref)
        if ref.get("controller") is not True:
            continue
        api_version = str(ref.get("apiVersion") or "")
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        if not kind and not group:
            return name
        group_kind = f"{kind}.{group}" if group else kind
        return f"{group_kind.lower()}/{name}"
    return NONE


def controller_revision_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), _controller_name(obj), as_int(obj.get("revision")),
            translate_timestamp_since(created_at(obj), now)]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("apps", "deployments"): Printer(DEPLOYMENT_COLUMNS, deployment_cells),
    ("apps", "replicasets"): replica_printer(apps("ReplicaSetSpec"), apps("ReplicaSetStatus"), format_label_selector),
    ("apps", "daemonsets"): Printer(DAEMONSET_COLUMNS, daemonset_cells),
    ("apps", "statefulsets"): Printer(STATEFULSET_COLUMNS, statefulset_cells),
    ("apps", "controllerrevisions"): Printer(CONTROLLER_REVISION_COLUMNS, controller_revision_cells),
}
