"""Table printers for core/v1 kinds (pods, services, nodes, events, ...), cell for cell as upstream's
``pkg/printers/internalversion`` renders them.
"""

from __future__ import annotations

import datetime
from typing import Any

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
    condition_true,
    container_cells,
    core,
    created_at,
    format_labels,
    get,
    is_deleting,
    join_limited,
    name_of,
    quantity,
    replica_printer,
)
from pyk8s.api.printers.duration import (
    UNKNOWN,
    human_duration,
    parse_timestamp,
    seconds_between,
    translate_timestamp_since,
)

# ---------------------------------------------------------------------------------------------- pods

_NODE_LOST = "NodeLost"  # node.NodeUnreachablePodReason
_SCHEDULING_GATED = "SchedulingGated"

POD_COLUMNS = (
    NAME,
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the "
                                 "last container in this pod has restarted."),
    AGE,
    Column("IP", "string", FieldDoc(core("PodStatus"), "podIP"), priority=1),
    Column("Node", "string", FieldDoc(core("PodSpec"), "nodeName"), priority=1),
    Column("Nominated Node", "string", FieldDoc(core("PodStatus"), "nominatedNodeName"), priority=1),
    Column("Readiness Gates", "string", FieldDoc(core("PodSpec"), "readinessGates"), priority=1),
)


def _is_restartable_init(container: Obj | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


def _has_pod_ready(conditions: Any) -> bool:
    return any(as_dict(c).get("type") == "Ready" and as_dict(c).get("status") == "True" for c in as_list(conditions))


def _later(current: datetime.datetime | None, candidate_ts: Any) -> datetime.datetime | None:
    """The later of ``current`` and a lastState.terminated.finishedAt (Go's ``Before`` against a zero time)."""
    candidate = parse_timestamp(candidate_ts)
    if candidate is None:
        return current
    if current is None or current < candidate:
        return candidate
    return current


def _terminated_reason(terminated: Obj, prefix: str) -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    signal = as_int(terminated.get("signal"))
    if signal != 0:
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{as_int(terminated.get('exitCode'))}"


def pod_cells(pod: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(pod.get("spec"))
    status = as_dict(pod.get("status"))
    conditions = status.get("conditions")

    restarts = 0
    restartable_init_restarts = 0
    total = len(as_list(spec.get("containers")))
    ready = 0
    last_restart: datetime.datetime | None = None
    last_restartable_init_restart: datetime.datetime | None = None

    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for cond in as_list(conditions):
        cond = as_dict(cond)
        if cond.get("type") == "PodScheduled" and cond.get("reason") == _SCHEDULING_GATED:
            reason = _SCHEDULING_GATED

    init_specs = [as_dict(c) for c in as_list(spec.get("initContainers"))]
    init_by_name = {str(c.get("name")): c for c in init_specs}
    total += sum(1 for c in init_specs if _is_restartable_init(c))

    initializing = False
    for i, cs in enumerate(as_list(status.get("initContainerStatuses"))):
        cs = as_dict(cs)
        state = as_dict(cs.get("state"))
        restartable = _is_restartable_init(init_by_name.get(str(cs.get("name"))))
        restarts += as_int(cs.get("restartCount"))
        last_terminated = get(cs, "lastState", "terminated")
        if isinstance(last_terminated, dict):
            last_restart = _later(last_restart, last_terminated.get("finishedAt"))
        if restartable:
            restartable_init_restarts += as_int(cs.get("restartCount"))
            if isinstance(last_terminated, dict):
                last_restartable_init_restart = _later(last_restartable_init_restart,
                                                       last_terminated.get("finishedAt"))
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if isinstance(terminated, dict) and as_int(terminated.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started") is True:
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(terminated, dict):
            reason = _terminated_reason(terminated, "Init:")
        elif isinstance(waiting, dict) and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or condition_true(conditions, "Initialized"):
        restarts = restartable_init_restarts
        last_restart = last_restartable_init_restart
        has_running = False
        for cs in reversed(as_list(status.get("containerStatuses"))):
            cs = as_dict(cs)
            state = as_dict(cs.get("state"))
            restarts += as_int(cs.get("restartCount"))
            last_terminated = get(cs, "lastState", "terminated")
            if isinstance(last_terminated, dict):
                last_restart = _later(last_restart, last_terminated.get("finishedAt"))
            waiting = state.get("waiting")
            terminated = state.get("terminated")
            if isinstance(waiting, dict) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, dict):
                reason = _terminated_reason(terminated, "")
            elif cs.get("ready") and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        # A Completed pod with a container still running is shown as Running (or NotReady).
        if reason == "Completed" and has_running:
            reason = "Running" if _has_pod_ready(conditions) else "NotReady"

    if is_deleting(pod) and status.get("reason") == _NODE_LOST:
        reason = "Unknown"
    elif is_deleting(pod) and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts != 0 and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(seconds_between(last_restart, now))} ago)"

    pod_ip = ""
    pod_ips = as_list(status.get("podIPs"))
    if pod_ips:
        pod_ip = str(as_dict(pod_ips[0]).get("ip") or "")
    if not pod_ip:
        pod_ip = str(status.get("podIP") or "")

    readiness_gates = NONE
    gates = as_list(spec.get("readinessGates"))
    if gates:
        true_count = 0
        for gate in gates:
            ctype = as_dict(gate).get("conditionType")
            for cond in as_list(conditions):
                cond = as_dict(cond)
                if cond.get("type") == ctype:
                    if cond.get("status") == "True":
                        true_count += 1
                    break
        readiness_gates = f"{true_count}/{len(gates)}"

    return [
        name_of(pod), f"{ready}/{total}", reason, restarts_text, translate_timestamp_since(created_at(pod), now),
        pod_ip or NONE, str(spec.get("nodeName") or "") or NONE, str(status.get("nominatedNodeName") or "") or NONE,
        readiness_gates,
    ]


_POD_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def pod_conditions(pod: Obj) -> list[Obj] | None:
    phase = get(pod, "status", "phase")
    if phase == "Succeeded":
        return [dict(c) for c in _POD_SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _POD_FAILED]
    return None


# ------------------------------------------------------------------------------------- pod templates

POD_TEMPLATE_COLUMNS = (
    NAME,
    Column("Containers", "string", "Names of each container in the template."),
    Column("Images", "string", "Images referenced by each container in the template."),
    Column("Pod Labels", "string", "The labels for the pod template."),
)


def pod_template_cells(obj: Obj, now: datetime.datetime) -> Cells:
    names, images = container_cells(get(obj, "template", "spec", "containers"))
    return [name_of(obj), names, images, format_labels(get(obj, "template", "metadata", "labels"))]


# ------------------------------------------------------------------------------------------ services

SERVICE_COLUMNS = (
    NAME,
    Column("Type", "string", FieldDoc(core("ServiceSpec"), "type")),
    Column("Cluster-IP", "string", FieldDoc(core("ServiceSpec"), "clusterIP")),
    Column("External-IP", "string", FieldDoc(core("ServiceSpec"), "externalIPs")),
    Column("Port(s)", "string", FieldDoc(core("ServiceSpec"), "ports")),
    AGE,
    Column("Selector", "string", FieldDoc(core("ServiceSpec"), "selector"), priority=1),
)


def _load_balancer_ingress(status: Obj) -> str:
    """Sorted, de-duplicated ingress IPs (or hostnames). The server renders wide, so nothing is clipped."""
    found: set[str] = set()
    for ing in as_list(get(status, "loadBalancer", "ingress")):
        ing = as_dict(ing)
        if ing.get("ip"):
            found.add(str(ing["ip"]))
        elif ing.get("hostname"):
            found.add(str(ing["hostname"]))
    return ",".join(sorted(found))


def _service_external_ip(svc: Obj) -> str:
    spec = as_dict(svc.get("spec"))
    external_ips = [str(ip) for ip in as_list(spec.get("externalIPs"))]
    svc_type = spec.get("type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) if external_ips else NONE
    if svc_type == "LoadBalancer":
        lb = _load_balancer_ingress(as_dict(svc.get("status")))
        if external_ips:
            return ",".join([*(lb.split(",") if lb else []), *external_ips])
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return UNKNOWN


def _service_ports(ports: Any) -> str:
    pieces = []
    for port in as_list(ports):
        port = as_dict(port)
        protocol = port.get("protocol") or "TCP"
        node_port = as_int(port.get("nodePort"))
        if node_port > 0:
            pieces.append(f"{as_int(port.get('port'))}:{node_port}/{protocol}")
        else:
            pieces.append(f"{as_int(port.get('port'))}/{protocol}")
    return ",".join(pieces)


def service_cells(svc: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(svc.get("spec"))
    cluster_ips = as_list(spec.get("clusterIPs"))
    cluster_ip = str(cluster_ips[0]) if cluster_ips else str(spec.get("clusterIP") or "")
    return [
        name_of(svc), str(spec.get("type") or ""), cluster_ip or NONE, _service_external_ip(svc),
        _service_ports(spec.get("ports")) or NONE, translate_timestamp_since(created_at(svc), now),
        format_labels(spec.get("selector")),
    ]


# ----------------------------------------------------------------------------------------- endpoints

ENDPOINTS_COLUMNS = (NAME, Column("Endpoints", "string", FieldDoc(core("Endpoints"), "subsets")), AGE)

_MAX_LISTED = 3


def _join_host_port(host: str, port: int) -> str:
    """``net.JoinHostPort``: IPv6 hosts (anything with a colon) are bracketed."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(endpoints: Obj) -> str:
    subsets = as_list(endpoints.get("subsets"))
    if not subsets:
        return NONE
    entries: list[str] = []
    for ss in subsets:
        ss = as_dict(ss)
        addresses = [str(as_dict(a).get("ip") or "") for a in as_list(ss.get("addresses"))]
        ports = as_list(ss.get("ports"))
        if not ports:
            # Headless services may have no ports.
            entries += addresses
        for port in ports:
            number = as_int(as_dict(port).get("port"))
            entries += [_join_host_port(ip, number) for ip in addresses]
    return join_limited(entries, _MAX_LISTED)


def endpoints_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), format_endpoints(obj), translate_timestamp_since(created_at(obj), now)]


# --------------------------------------------------------------------------------------------- nodes

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"

NODE_COLUMNS = (
    NAME,
    Column("Status", "string", "The status of the node"),
    Column("Roles", "string", "The roles of the node"),
    AGE,
    Column("Version", "string", FieldDoc(core("NodeSystemInfo"), "kubeletVersion")),
    Column("Internal-IP", "string", FieldDoc(core("NodeStatus"), "addresses"), priority=1),
    Column("External-IP", "string", FieldDoc(core("NodeStatus"), "addresses"), priority=1),
    Column("OS-Image", "string", FieldDoc(core("NodeSystemInfo"), "osImage"), priority=1),
    Column("Kernel-Version", "string", FieldDoc(core("NodeSystemInfo"), "kernelVersion"), priority=1),
    Column("Container-Runtime", "string", FieldDoc(core("NodeSystemInfo"), "containerRuntimeVersion"), priority=1),
)


def node_roles(node: Obj) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` label keys and the ``kubernetes.io/role`` value, sorted."""
    roles: set[str] = set()
    for key, value in as_dict(get(node, "metadata", "labels")).items():
        if key.startswith(_ROLE_PREFIX):
            role = key[len(_ROLE_PREFIX):]
            if role:
                roles.add(role)
        elif key == _ROLE_LABEL and value:
            roles.add(str(value))
    return sorted(roles)


def _node_address(node: Obj, address_type: str) -> str:
    for addr in as_list(get(node, "status", "addresses")):
        addr = as_dict(addr)
        if addr.get("type") == address_type:
            return str(addr.get("address") or "")
    return NONE


def node_status(node: Obj) -> str:
    ready: Obj | None = None
    for cond in as_list(get(node, "status", "conditions")):
        cond = as_dict(cond)
        if cond.get("type") == "Ready":
            ready = cond  # upstream keeps the last one in a map
    states = []
    if ready is not None:
        states.append("Ready" if ready.get("status") == "True" else "NotReady")
    else:
        states.append("Unknown")
    if get(node, "spec", "unschedulable"):
        states.append("SchedulingDisabled")
    return ",".join(states)


def node_cells(node: Obj, now: datetime.datetime) -> Cells:
    info = as_dict(get(node, "status", "nodeInfo"))
    return [
        name_of(node), node_status(node), ",".join(node_roles(node)) or NONE,
        translate_timestamp_since(created_at(node), now), str(info.get("kubeletVersion") or ""),
        _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
        str(info.get("osImage") or "") or UNKNOWN, str(info.get("kernelVersion") or "") or UNKNOWN,
        str(info.get("containerRuntimeVersion") or "") or UNKNOWN,
    ]


# -------------------------------------------------------------------------------------------- events

EVENT_COLUMNS = (
    Column("Last Seen", "string", FieldDoc(core("Event"), "lastTimestamp")),
    Column("Type", "string", FieldDoc(core("Event"), "type")),
    Column("Reason", "string", FieldDoc(core("Event"), "reason")),
    Column("Object", "string", FieldDoc(core("Event"), "involvedObject")),
    Column("Subobject", "string", FieldDoc(core("ObjectReference"), "fieldPath"), priority=1),
    Column("Source", "string", FieldDoc(core("Event"), "source"), priority=1),
    Column("Message", "string", FieldDoc(core("Event"), "message")),
    Column("First Seen", "string", FieldDoc(core("Event"), "firstTimestamp"), priority=1),
    Column("Count", "string", FieldDoc(core("Event"), "count"), priority=1),
    Column("Name", "string", FieldDoc("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "name"), priority=1,
           format="name"),
)


def _event_source(event: Obj) -> str:
    source = as_dict(event.get("source"))
    component = str(source.get("component") or "") or str(event.get("reportingComponent") or "")
    instance = str(source.get("host") or "") or str(event.get("reportingInstance") or "")
    return f"{component}, {instance}" if instance else component


def event_cells(event: Obj, now: datetime.datetime) -> Cells:
    """A core/v1 Event's row (events.k8s.io/v1 Events are converted to this shape first)."""
    first_seen = translate_timestamp_since(event.get("firstTimestamp"), now)
    if parse_timestamp(event.get("firstTimestamp")) is None:
        first_seen = translate_timestamp_since(event.get("eventTime"), now)
    last_seen = translate_timestamp_since(event.get("lastTimestamp"), now)
    if parse_timestamp(event.get("lastTimestamp")) is None:
        last_seen = first_seen
    count = as_int(event.get("count"))
    series = event.get("series")
    if isinstance(series, dict):
        last_seen = translate_timestamp_since(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events carry no count in the new API
    involved = as_dict(event.get("involvedObject"))
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last_seen, str(event.get("type") or ""), str(event.get("reason") or ""), target,
        str(involved.get("fieldPath") or ""), _event_source(event), str(event.get("message") or "").strip(),
        first_seen, count, name_of(event),
    ]


# --------------------------------------------------------------------------------------- namespaces

NAMESPACE_COLUMNS = (NAME, Column("Status", "string", "The status of the namespace"), AGE)


def namespace_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), str(get(obj, "status", "phase") or ""), translate_timestamp_since(created_at(obj), now)]


# -------------------------------------------------------------------- secrets, config maps, accounts

SECRET_COLUMNS = (
    NAME,
    Column("Type", "string", FieldDoc(core("Secret"), "type")),
    Column("Data", "string", FieldDoc(core("Secret"), "data")),
    AGE,
)


def secret_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), str(obj.get("type") or ""), len(as_dict(obj.get("data"))),
            translate_timestamp_since(created_at(obj), now)]


CONFIGMAP_COLUMNS = (NAME, Column("Data", "string", FieldDoc(core("ConfigMap"), "data")), AGE)


def configmap_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), len(as_dict(obj.get("data"))) + len(as_dict(obj.get("binaryData"))),
            translate_timestamp_since(created_at(obj), now)]


SERVICE_ACCOUNT_COLUMNS = (NAME, Column("Secrets", "string", FieldDoc(core("ServiceAccount"), "secrets")), AGE)


def service_account_cells(obj: Obj, now: datetime.datetime) -> Cells:
    return [name_of(obj), len(as_list(obj.get("secrets"))), translate_timestamp_since(created_at(obj), now)]


# ----------------------------------------------------------------------------------- resource quotas

RESOURCE_QUOTA_COLUMNS = (
    NAME,
    Column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
    Column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent "
                              "of contention on the node."),
    AGE,
)


def resource_quota_cells(obj: Obj, now: datetime.datetime) -> Cells:
    hard = as_dict(get(obj, "status", "hard"))
    used = as_dict(get(obj, "status", "used"))
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        target = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        target.append(f"{resource}: {quantity(used.get(resource))}/{quantity(hard.get(resource))}")
    return [name_of(obj), ", ".join(requests), ", ".join(limits), translate_timestamp_since(created_at(obj), now)]


# -------------------------------------------------------------------------------- persistent volumes

_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"

PV_COLUMNS = (
    NAME,
    Column("Capacity", "string", FieldDoc(core("PersistentVolumeSpec"), "capacity")),
    Column("Access Modes", "string", FieldDoc(core("PersistentVolumeSpec"), "accessModes")),
    Column("Reclaim Policy", "string", FieldDoc(core("PersistentVolumeSpec"), "persistentVolumeReclaimPolicy")),
    Column("Status", "string", FieldDoc(core("PersistentVolumeStatus"), "phase")),
    Column("Claim", "string", FieldDoc(core("PersistentVolumeSpec"), "claimRef")),
    Column("StorageClass", "string", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    Column("Reason", "string", FieldDoc(core("PersistentVolumeStatus"), "reason")),
    AGE,
    Column("VolumeMode", "string", FieldDoc(core("PersistentVolumeSpec"), "volumeMode"), priority=1),
)


def access_modes(modes: Any) -> str:
    """``GetAccessModesAsString``: RWO, ROX, RWX, RWOP in that fixed order."""
    present = {str(m) for m in as_list(modes)}
    order = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
    return ",".join(short for mode, short in order if mode in present)


def pv_cells(obj: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(obj.get("spec"))
    claim = ""
    claim_ref = spec.get("claimRef")
    if isinstance(claim_ref, dict):
        claim = f"{claim_ref.get('namespace') or ''}/{claim_ref.get('name') or ''}"
    annotations = as_dict(get(obj, "metadata", "annotations"))
    storage_class = annotations[_BETA_STORAGE_CLASS] if _BETA_STORAGE_CLASS in annotations \
        else str(spec.get("storageClassName") or "")
    phase = "Terminating" if is_deleting(obj) else str(get(obj, "status", "phase") or "")
    return [
        name_of(obj), quantity(get(spec, "capacity", "storage")), access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy") or ""), phase, claim, str(storage_class),
        str(spec.get("volumeAttributesClassName") or UNSET), str(get(obj, "status", "reason") or ""),
        translate_timestamp_since(created_at(obj), now), str(spec.get("volumeMode") or UNSET),
    ]


PVC_COLUMNS = (
    NAME,
    Column("Status", "string", FieldDoc(core("PersistentVolumeClaimStatus"), "phase")),
    Column("Volume", "string", FieldDoc(core("PersistentVolumeClaimSpec"), "volumeName")),
    Column("Capacity", "string", FieldDoc(core("PersistentVolumeClaimStatus"), "capacity")),
    Column("Access Modes", "string", FieldDoc(core("PersistentVolumeClaimStatus"), "accessModes")),
    Column("StorageClass", "string", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", "string", FieldDoc(core("PersistentVolumeClaimSpec"), "volumeMode"), priority=1),
)


def pvc_cells(obj: Obj, now: datetime.datetime) -> Cells:
    spec = as_dict(obj.get("spec"))
    status = as_dict(obj.get("status"))
    phase = "Terminating" if is_deleting(obj) else str(status.get("phase") or "")
    capacity = ""
    modes = ""
    volume_name = str(spec.get("volumeName") or "")
    if volume_name:
        modes = access_modes(status.get("accessModes"))
        capacity = quantity(get(status, "capacity", "storage"))
    annotations = as_dict(get(obj, "metadata", "annotations"))
    if _BETA_STORAGE_CLASS in annotations:
        storage_class = str(annotations[_BETA_STORAGE_CLASS])
    else:
        storage_class = str(spec.get("storageClassName") or "")
    return [
        name_of(obj), phase, volume_name, capacity, modes, storage_class,
        str(spec.get("volumeAttributesClassName") or UNSET), translate_timestamp_since(created_at(obj), now),
        str(spec.get("volumeMode") or UNSET),
    ]


# -------------------------------------------------------------------------------- component statuses

COMPONENT_STATUS_COLUMNS = (
    NAME,
    Column("Status", "string", "Status of the component conditions"),
    Column("Message", "string", "Message of the component conditions"),
    Column("Error", "string", "Error of the component conditions"),
)


def component_status_cells(obj: Obj, now: datetime.datetime) -> Cells:
    status, message, error = "Unknown", "", ""
    for cond in as_list(obj.get("conditions")):
        cond = as_dict(cond)
        if cond.get("type") == "Healthy":
            status = "Healthy" if cond.get("status") == "True" else "Unhealthy"
            message = str(cond.get("message") or "")
            error = str(cond.get("error") or "")
            break
    return [name_of(obj), status, message, error]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "pods"): Printer(POD_COLUMNS, pod_cells, pod_conditions),
    ("", "podtemplates"): Printer(POD_TEMPLATE_COLUMNS, pod_template_cells),
    ("", "replicationcontrollers"): replica_printer(
        core("ReplicationControllerSpec"), core("ReplicationControllerStatus"), format_labels
    ),
    ("", "services"): Printer(SERVICE_COLUMNS, service_cells),
    ("", "endpoints"): Printer(ENDPOINTS_COLUMNS, endpoints_cells),
    ("", "nodes"): Printer(NODE_COLUMNS, node_cells),
    ("", "events"): Printer(EVENT_COLUMNS, event_cells),
    ("", "namespaces"): Printer(NAMESPACE_COLUMNS, namespace_cells),
    ("", "secrets"): Printer(SECRET_COLUMNS, secret_cells),
    ("", "configmaps"): Printer(CONFIGMAP_COLUMNS, configmap_cells),
    ("", "serviceaccounts"): Printer(SERVICE_ACCOUNT_COLUMNS, service_account_cells),
    ("", "resourcequotas"): Printer(RESOURCE_QUOTA_COLUMNS, resource_quota_cells),
    ("", "persistentvolumes"): Printer(PV_COLUMNS, pv_cells),
    ("", "persistentvolumeclaims"): Printer(PVC_COLUMNS, pvc_cells),
    ("", "componentstatuses"): Printer(COMPONENT_STATUS_COLUMNS, component_status_cells),
}
