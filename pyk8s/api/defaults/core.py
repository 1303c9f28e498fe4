"""core/v1 defaulting (k8s.io/kubernetes pkg/apis/core/v1/defaults.go and its generated call tree).

Also home of the small "is this field unset?" helpers the other group modules share: a field is
unset when it is absent or ``null``; string and non-pointer number fields are also unset when empty
or zero, exactly as Go's zero values are.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Final

import orjson

Obj = dict[str, Any]

TERMINATION_MESSAGE_PATH: Final = "/dev/termination-log"
DEFAULT_SCHEDULER: Final = "default-scheduler"
DEFAULT_GRACE_PERIOD: Final = 30
DEFAULT_FILE_MODE: Final = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
DEFAULT_CLIENT_IP_AFFINITY_SECONDS: Final = 10800


# ---------------------------------------------------------------- helpers shared by all groups


def obj_at(parent: Obj, key: str) -> Obj:
    """``parent[key]`` as a dict, creating ``{}`` when it is missing or null."""
    value = parent.get(key)
    if not isinstance(value, dict):
        value = {}
        parent[key] = value
    return value


def dicts(value: Any) -> list[Obj]:
    """The dict entries of a list field (anything else yields nothing)."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def default(d: Obj, key: str, value: Any) -> None:
    """Pointer semantics: set when absent or null."""
    if d.get(key) is None:
        d[key] = value


def default_zero(d: Obj, key: str, value: Any) -> None:
    """Value semantics: set when absent, null, "" or 0 (Go's zero value)."""
    current = d.get(key)
    if current is None or current == "" or (current == 0 and not isinstance(current, bool)):
        d[key] = value


def drop_nulls(value: Any, key: str = "") -> Any:
    """Remove null members recursively: upstream decodes ``null`` to a zero value and omits it again.

    ``metadata.creationTimestamp`` is the exception: Go encodes a zero metav1.Time as ``null``, so
    embedded templates keep ``"creationTimestamp": null`` exactly as a real apiserver returns them.
    """
    if not _may_hold_null(value):
        return value
    if isinstance(value, dict):
        _drop_nulls_in_dict(value, key)
    elif isinstance(value, list):
        _drop_nulls_in_list(value, key)
    return value


def _may_hold_null(value: Any) -> bool:
    """False only when no ``None`` occurs anywhere in `value` (most request bodies): serialising it with
    orjson and finding no ``null`` proves that, several times faster than walking it in Python."""
    try:
        return b"null" in orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a value JSON cannot hold (YAML's sets, bytes, int keys...)
        return True


# The walk only descends into containers.
def _drop_nulls_in_dict(d: Obj, key: str) -> None:
    if None in d.values():
        keep_timestamp = key == "metadata"
        for k in [k for k, v in d.items() if v is None and not (keep_timestamp and k == "creationTimestamp")]:
            del d[k]
    for k, v in d.items():
        if isinstance(v, dict):
            _drop_nulls_in_dict(v, k)
        elif isinstance(v, list):
            _drop_nulls_in_list(v, k)


def _drop_nulls_in_list(items: list[Any], key: str) -> None:
    for v in items:
        if isinstance(v, dict):
            _drop_nulls_in_dict(v, key)
        elif isinstance(v, list):
            _drop_nulls_in_list(v, key)


# ---------------------------------------------------------------- containers


def image_tag(image: str) -> str:
    """The tag upstream's parsers.ParseImageName reports: "latest" when neither tag nor digest is given,
    "" when the reference does not parse (an upper-case repository path)."""
    name, _, digest = image.partition("@")
    if not name:
        return ""
    repo, tag = name, ""
    if ":" in name.rsplit("/", 1)[-1]:
        repo, tag = name.rsplit(":", 1)
    first, _, rest = repo.partition("/")
    path = rest if rest and ("." in first or ":" in first or first == "localhost") else repo
    if path != path.lower():
        return ""
    if tag:
        return tag
    return "" if digest else "latest"


def _http_get(action: Any) -> None:
    if isinstance(action, dict):
        default_zero(action, "path", "/")
        default_zero(action, "scheme", "HTTP")


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    default_zero(probe, "timeoutSeconds", 1)
    default_zero(probe, "periodSeconds", 10)
    default_zero(probe, "successThreshold", 1)
    default_zero(probe, "failureThreshold", 3)
    _http_get(probe.get("httpGet"))
    if isinstance(probe.get("grpc"), dict):
        default(probe["grpc"], "service", "")


def field_ref(ref: Any) -> None:
    if isinstance(ref, dict):
        default_zero(ref, "apiVersion", "v1")


def container(ctr: Obj) -> None:
    """SetDefaults_Container plus the generated per-field defaults (ports, env, probes, lifecycle)."""
    if not ctr.get("imagePullPolicy"):
        ctr["imagePullPolicy"] = "Always" if image_tag(str(ctr.get("image") or "")) == "latest" else "IfNotPresent"
    default_zero(ctr, "terminationMessagePath", TERMINATION_MESSAGE_PATH)
    default_zero(ctr, "terminationMessagePolicy", "File")
    for port in dicts(ctr.get("ports")):
        default_zero(port, "protocol", "TCP")
    for env in dicts(ctr.get("env")):
        if isinstance(env.get("valueFrom"), dict):
            field_ref(env["valueFrom"].get("fieldRef"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(ctr.get(key))
    lifecycle = ctr.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), dict):
                _http_get(lifecycle[hook].get("httpGet"))


# ---------------------------------------------------------------- volumes


_SOURCES: Final = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)
_SOURCE_SET: Final = frozenset(_SOURCES)


def _rbd(src: Obj) -> None:
    default_zero(src, "pool", "rbd")
    default_zero(src, "user", "admin")
    default_zero(src, "keyring", "/etc/ceph/keyring")


_LEGACY_SOURCES: Final = frozenset({"hostPath", "iscsi", "rbd", "azureDisk", "scaleIO"})


def _legacy_sources(holder: Obj) -> None:
    """Defaults of the in-tree plugins shared by Volume and PersistentVolume sources."""
    if isinstance(holder.get("hostPath"), dict):
        default(holder["hostPath"], "type", "")
    if isinstance(holder.get("iscsi"), dict):
        default_zero(holder["iscsi"], "iscsiInterface", "default")
    if isinstance(holder.get("rbd"), dict):
        _rbd(holder["rbd"])
    if isinstance(holder.get("azureDisk"), dict):
        az = holder["azureDisk"]
        default(az, "cachingMode", "ReadWrite")
        default(az, "fsType", "ext4")
        default(az, "readOnly", False)
        default(az, "kind", "Shared")
    if isinstance(holder.get("scaleIO"), dict):
        default_zero(holder["scaleIO"], "storageMode", "ThinProvisioned")
        default_zero(holder["scaleIO"], "fsType", "xfs")


def volume(vol: Obj) -> None:
    if not any(v is not None and k in _SOURCE_SET for k, v in vol.items()):
        vol["emptyDir"] = {}
    if not _LEGACY_SOURCES.isdisjoint(vol):
        _legacy_sources(vol)
    for key in ("secret", "configMap"):
        if isinstance(vol.get(key), dict):
            default(vol[key], "defaultMode", DEFAULT_FILE_MODE)
    dapi = vol.get("downwardAPI")
    if isinstance(dapi, dict):
        default(dapi, "defaultMode", DEFAULT_FILE_MODE)
        for item in dicts(dapi.get("items")):
            field_ref(item.get("fieldRef"))
    proj = vol.get("projected")
    if isinstance(proj, dict):
        default(proj, "defaultMode", DEFAULT_FILE_MODE)
        for src in dicts(proj.get("sources")):
            if isinstance(src.get("downwardAPI"), dict):
                for item in dicts(src["downwardAPI"].get("items")):
                    field_ref(item.get("fieldRef"))
            if isinstance(src.get("serviceAccountToken"), dict):
                default(src["serviceAccountToken"], "expirationSeconds", 3600)
    eph = vol.get("ephemeral")
    if isinstance(eph, dict) and isinstance(eph.get("volumeClaimTemplate"), dict):
        pvc_spec(obj_at(eph["volumeClaimTemplate"], "spec"))
    img = vol.get("image")
    if isinstance(img, dict) and not img.get("pullPolicy"):
        img["pullPolicy"] = "Always" if image_tag(str(img.get("reference") or "")) == "latest" else "IfNotPresent"


def pvc_spec(spec: Obj) -> None:
    default(spec, "volumeMode", "Filesystem")


# ---------------------------------------------------------------- pods and templates


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the generated container/volume defaults (used for templates too)."""
    default_zero(spec, "dnsPolicy", "ClusterFirst")
    default_zero(spec, "restartPolicy", "Always")
    default(spec, "securityContext", {})
    default(spec, "terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
    default_zero(spec, "schedulerName", DEFAULT_SCHEDULER)
    for vol in dicts(spec.get("volumes")):
        volume(vol)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for ctr in dicts(spec.get(key)):
            container(ctr)


def pod_template(template: Any) -> None:
    """Defaults of a PodTemplateSpec embedded in another object (no Pod-only defaults)."""
    if isinstance(template, dict):
        pod_spec(obj_at(template, "spec"))


def pod(obj: Obj) -> None:
    """SetDefaults_Pod, then the pod spec; plus the Priority admission plugin's no-class default."""
    spec = obj_at(obj, "spec")
    for key in ("containers", "initContainers"):
        for ctr in dicts(spec.get(key)):
            res = ctr.get("resources")
            if isinstance(res, dict) and isinstance(res.get("limits"), dict):
                requests = obj_at(res, "requests")
                for name, value in res["limits"].items():
                    requests.setdefault(name, value)
    default(spec, "enableServiceLinks", True)
    if spec.get("hostNetwork") is True:
        for key in ("containers", "initContainers"):
            for ctr in dicts(spec.get(key)):
                for port in dicts(ctr.get("ports")):
                    default_zero(port, "hostPort", port.get("containerPort"))
    pod_spec(spec)


def pod_template_object(obj: Obj) -> None:
    pod_template(obj.get("template"))


def replication_controller(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    template = spec.get("template")
    labels = template.get("metadata", {}).get("labels") if isinstance(template, dict) else None
    if isinstance(labels, dict):
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = obj_at(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    default(spec, "replicas", 1)
    pod_template(template)


# ---------------------------------------------------------------- services and endpoints


def service(obj: Obj) -> None:
    """SetDefaults_Service. Cluster IPs, ipFamilies and ipFamilyPolicy are filled by the REST layer."""
    spec = obj_at(obj, "spec")
    default_zero(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        timeout = (((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}).get("timeoutSeconds")
        if timeout is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}
    default_zero(spec, "type", "ClusterIP")
    for port in dicts(spec.get("ports")):
        default_zero(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    typ = spec["type"]
    externally = typ in ("LoadBalancer", "NodePort") or (typ == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally:
        default_zero(spec, "externalTrafficPolicy", "Cluster")
    if typ in ("NodePort", "LoadBalancer", "ClusterIP"):
        default(spec, "internalTrafficPolicy", "Cluster")
    if typ == "LoadBalancer":
        default(spec, "allocateLoadBalancerNodePorts", True)
        for ingress in dicts(((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")):
            if ingress.get("ip"):
                default(ingress, "ipMode", "VIP")


def endpoints(obj: Obj) -> None:
    for subset in dicts(obj.get("subsets")):
        for port in dicts(subset.get("ports")):
            default_zero(port, "protocol", "TCP")


# ---------------------------------------------------------------- the rest of core


def namespace(obj: Obj) -> None:
    meta = obj_at(obj, "metadata")
    if meta.get("name"):
        obj_at(meta, "labels")["kubernetes.io/metadata.name"] = meta["name"]
    default_zero(obj_at(obj, "status"), "phase", "Active")


def secret(obj: Obj) -> None:
    """Type Opaque; ``stringData`` folds into ``data`` (upstream does this while converting from v1)."""
    default_zero(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj_at(obj, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def node(obj: Obj) -> None:
    status = obj.get("status")
    if isinstance(status, dict) and isinstance(status.get("capacity"), dict) and status.get("allocatable") is None:
        status["allocatable"] = dict(status["capacity"])


def persistent_volume(obj: Obj) -> None:
    default_zero(obj_at(obj, "status"), "phase", "Pending")
    spec = obj_at(obj, "spec")
    default_zero(spec, "persistentVolumeReclaimPolicy", "Retain")
    default(spec, "volumeMode", "Filesystem")
    _legacy_sources(spec)


def persistent_volume_claim(obj: Obj) -> None:
    default_zero(obj_at(obj, "status"), "phase", "Pending")
    pvc_spec(obj_at(obj, "spec"))


def limit_range(obj: Obj) -> None:
    for item in dicts((obj.get("spec") or {}).get("limits")):
        if item.get("type") != "Container":
            continue
        dflt, dreq = obj_at(item, "default"), obj_at(item, "defaultRequest")
        for name, value in (item.get("max") or {}).items():
            dflt.setdefault(name, value)
        for name, value in dflt.items():
            dreq.setdefault(name, value)
        for name, value in (item.get("min") or {}).items():
            dreq.setdefault(name, value)


DEFAULTERS: Final[dict[str, Callable[[Obj], None]]] = {
    "Pod": pod,
    "PodTemplate": pod_template_object,
    "ReplicationController": replication_controller,
    "Service": service,
    "Endpoints": endpoints,
    "Namespace": namespace,
    "Secret": secret,
    "Node": node,
    "PersistentVolume": persistent_volume,
    "PersistentVolumeClaim": persistent_volume_claim,
    "LimitRange": limit_range,
}
