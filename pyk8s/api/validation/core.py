"""Validation of the smaller core/v1 kinds: ConfigMap, Secret, Namespace, Node, PV, PVC,
ServiceAccount, PodTemplate and ReplicationController.

Pods live in ``pod.py``, Services and Endpoints in ``service.py``, Events in ``events.py``, LimitRange
and ResourceQuota in ``limits.py``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import containers as ct
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import pod as vp
from pyk8s.api.validation import resources as rs
from pyk8s.api.validation.common import Errs, Obj

MAX_SECRET_SIZE: Final = 1024 * 1024
SPEC: Final = Path.of("spec")
_ACCESS_MODES: Final = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
_VOLUME_MODES: Final = ["Block", "Filesystem"]


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(c.s(value), validate=True))
    except (binascii.Error, ValueError):
        return len(c.s(value)) * 3 // 4


# ---------------------------------------------------------------- ConfigMap and Secret


def validate_config_map(cm: Obj, old: Obj | None = None) -> Errs:
    errs: Errs = []
    if old is not None:
        errs += vm.validate_object_meta_update(cm, old)
        if old.get("immutable") is True:
            if cm.get("immutable") is not True:
                errs.append(fe.forbidden(Path.of("immutable"), "field is immutable when `immutable` is set"))
            for key in ("data", "binaryData"):
                if c.dct(cm.get(key)) != c.dct(old.get(key)):
                    errs.append(fe.forbidden(Path.of(key), "field is immutable when `immutable` is set"))
    errs += vm.validate_object_meta(cm, True, c.name_is_dns_subdomain)
    data, binary = c.dct(cm.get("data")), c.dct(cm.get("binaryData"))
    total = 0
    for key, value in data.items():
        kp = Path.of("data").key(key)
        errs += [fe.invalid(kp, key, m) for m in c.is_config_map_key(key)]
        if key in binary:
            errs.append(fe.invalid(kp, key, "duplicate of key present in binaryData"))
        total += len(c.s(value).encode())
    for key, value in binary.items():
        errs += [fe.invalid(Path.of("binaryData").key(key), key, m) for m in c.is_config_map_key(key)]
        total += _decoded_len(value)
    if total > MAX_SECRET_SIZE:
        errs.append(fe.too_long(Path.of(""), MAX_SECRET_SIZE))
    return errs


def _json_error(raw: bytes) -> str | None:
    try:
        json.loads(raw)
    except json.JSONDecodeError as e:
        return "unexpected end of JSON input" if not raw.strip() else f"invalid character: {e.msg}"
    except ValueError as e:
        return str(e)
    return None


def validate_secret(secret: Obj, old: Obj | None = None) -> Errs:
    errs: Errs = []
    if old is not None:
        errs += vm.validate_object_meta_update(secret, old)
        errs += c.immutable(secret.get("type", ""), old.get("type", ""), Path.of("type"))
        if old.get("immutable") is True:
            if secret.get("immutable") is not True:
                errs.append(fe.forbidden(Path.of("immutable"), "field is immutable when `immutable` is set"))
            if c.dct(secret.get("data")) != c.dct(old.get("data")):
                errs.append(fe.forbidden(Path.of("data"), "field is immutable when `immutable` is set"))
    errs += vm.validate_object_meta(secret, True, c.name_is_dns_subdomain)
    data_path = Path.of("data")
    data: dict[str, bytes] = {}
    for key, value in c.dct(secret.get("data")).items():
        try:
            data[key] = base64.b64decode(c.s(value), validate=True)
        except (binascii.Error, ValueError):
            data[key] = b"?" * _decoded_len(value)
    for key, value in c.dct(secret.get("stringData")).items():
        data[key] = c.s(value).encode()
    total = 0
    for key, raw in data.items():
        errs += [fe.invalid(data_path.key(key), key, m) for m in c.is_config_map_key(key)]
        total += len(raw)
    if total > MAX_SECRET_SIZE:
        errs.append(fe.too_long(data_path, MAX_SECRET_SIZE))
    typ = c.s(secret.get("type"))
    if typ == "kubernetes.io/service-account-token":
        if not c.s(c.get(secret, "metadata", "annotations", "kubernetes.io/service-account.name")):
            errs.append(fe.required(Path.of("metadata", "annotations").key("kubernetes.io/service-account.name")))
    elif typ in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if typ == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            errs.append(fe.required(data_path.key(key)))
        else:
            problem = _json_error(data[key])
            if problem:
                errs.append(fe.invalid(data_path.key(key), "<secret contents redacted>", problem))
    elif typ == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs += [fe.required(data_path.key("username")), fe.required(data_path.key("password"))]
    elif typ == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errs.append(fe.required(data_path.key("ssh-privatekey")))
    elif typ == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errs.append(fe.required(data_path.key(key)))
    return errs


# ---------------------------------------------------------------- Namespace, Node, ServiceAccount


def validate_namespace(ns: Obj, old: Obj | None = None) -> Errs:
    if old is not None:
        return vm.validate_object_meta_update(ns, old)
    errs = vm.validate_object_meta(ns, False, c.name_is_dns_label)
    path = SPEC.child("finalizers")
    for f in c.lst(c.get(ns, "spec", "finalizers")):
        errs += c.qualified_name(c.s(f), path) + vm.kube_finalizer_names([c.s(f)], path, indexed=False)
    return errs


def _taints(items: Any, path: Path) -> Errs:
    from pyk8s.api.validation_names import is_valid_label_value

    errs: Errs = []
    seen: set[tuple[str, str]] = set()
    for n, t in c.each(c.lst(items)):
        ip = path.index(n)
        key, value, effect = c.s(t.get("key")), c.s(t.get("value")), c.s(t.get("effect"))
        errs += c.label_name(key, ip.child("key"))
        msgs = is_valid_label_value(value)
        if msgs:
            errs.append(fe.invalid(ip.child("value"), value, ";".join(msgs)))
        errs += c.required_enum(effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"], ip.child("effect"))
        if (effect, key) in seen:
            errs.append(fe.FieldError(fe.DUPLICATE, str(ip), t, "taints must be unique by key and effect pair"))
            continue
        seen.add((effect, key))
    return errs


def _node_resources(node: Obj) -> Errs:
    errs: Errs = []
    for section in ("capacity", "allocatable"):
        for name, q in c.dct(c.get(node, "status", section)).items():
            errs += rs.quantity_value(name, q, Path.of("status", section, name))
    return errs


def validate_node(node: Obj, old: Obj | None = None) -> Errs:
    meta = Path.of("metadata")
    spec = c.dct(node.get("spec"))
    errs = vm.object_meta(node, old, namespaced=False)
    errs += _taints(spec.get("taints"), meta.child("taints")) if old is None else []
    errs += _node_resources(node)
    if old is None:
        cidrs = c.lst(spec.get("podCIDRs"))
        for n, cidr in enumerate(cidrs):
            errs += c.is_valid_cidr(SPEC.child("podCIDRs").index(n), c.s(cidr))
        return errs
    ospec = c.dct(old.get("spec"))
    seen_addr: list[Any] = []
    for n, addr in enumerate(c.lst(c.get(node, "status", "addresses"))):
        if addr in seen_addr:
            errs.append(fe.duplicate(Path.of("status", "addresses").index(n), addr))
        seen_addr.append(addr)
    old_cidrs = c.lst(ospec.get("podCIDRs"))
    if old_cidrs and old_cidrs != c.lst(spec.get("podCIDRs")):
        errs.append(fe.forbidden(SPEC.child("podCIDRs"), 'node updates may not change podCIDR except from "" to valid'))
    if c.s(ospec.get("providerID")) and ospec.get("providerID") != spec.get("providerID"):
        errs.append(
            fe.forbidden(SPEC.child("providerID"), 'node updates may not change providerID except from "" to valid')
        )
    errs += _taints(spec.get("taints"), meta.child("taints"))
    if spec.get("externalID") != ospec.get("externalID"):
        errs.append(fe.forbidden(SPEC.child("externalID"), "may not be updated"))
    return errs


def validate_service_account(sa: Obj, old: Obj | None = None) -> Errs:
    return vm.object_meta_rechecked(sa, old)


# ---------------------------------------------------------------- PersistentVolume(Claim)


def _access_modes(modes: list[Any], path: Path) -> Errs:
    errs: Errs = []
    rwop = other = False
    for mode in modes:
        if mode not in _ACCESS_MODES:
            errs.append(fe.not_supported(path, mode, _ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            rwop = True
        else:
            other = True
    if rwop and other:
        errs.append(fe.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _storage_class_and_volume_mode(spec: Obj, path: Path) -> Errs:
    """The storageClassName and volumeMode checks PersistentVolume and PersistentVolumeClaim specs share."""
    errs: Errs = []
    scn = c.s(spec.get("storageClassName"))
    if scn:
        errs += [fe.invalid(path.child("storageClassName"), scn, m) for m in c.name_is_dns_subdomain(scn, False)]
    vmode = spec.get("volumeMode")
    if vmode is not None and vmode not in _VOLUME_MODES:
        errs.append(fe.not_supported(path.child("volumeMode"), vmode, _VOLUME_MODES))
    return errs


def pvc_spec(spec: Obj, path: Path) -> Errs:
    errs: Errs = []
    modes = c.lst(spec.get("accessModes"))
    if not modes:
        errs.append(fe.required(path.child("accessModes"), "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs += c.label_selector(spec.get("selector"), path.child("selector"))
    errs += _access_modes(modes, path.child("accessModes"))
    storage = c.get(spec, "resources", "requests", "storage")
    sp = path.child("resources").key("storage")
    if storage is None:
        errs.append(fe.required(sp))
    else:
        q = c.parse_quantity(storage)
        if q is not None and q <= 0:
            errs.append(fe.invalid(sp, c.quantity_text(storage), c.NOT_POSITIVE_MSG))
    errs += _storage_class_and_volume_mode(spec, path)
    for key in ("dataSource", "dataSourceRef"):
        ref = spec.get(key)
        if ref is None:
            continue
        r, rp = c.dct(ref), path.child(key)
        for fld in ("name", "kind"):
            if not c.s(r.get(fld)):
                errs.append(fe.required(rp.child(fld)))
        if not c.s(r.get("apiGroup")) and r.get("kind") != "PersistentVolumeClaim":
            errs.append(
                fe.invalid(
                    rp, c.s(r.get("kind")), "must be 'PersistentVolumeClaim' when referencing the default apiGroup"
                )
            )
    return errs


def validate_pvc(pvc: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta_rechecked(pvc, old)
    spec = c.dct(pvc.get("spec"))
    errs += pvc_spec(spec, SPEC)
    if old is None:
        return errs
    ospec = c.dct(old.get("spec"))
    new_cmp, old_cmp = dict(spec), dict(ospec)
    if not c.s(ospec.get("volumeName")):
        old_cmp["volumeName"] = spec.get("volumeName")
    if c.get(pvc, "status", "phase") == "Bound":
        new_cmp["resources"] = {
            **c.dct(spec.get("resources")),
            "requests": {
                **c.dct(c.get(spec, "resources", "requests")),
                "storage": c.get(ospec, "resources", "requests", "storage"),
            },
        }
        new_cmp["volumeAttributesClassName"] = ospec.get("volumeAttributesClassName")
    if not c.semantic_equal(new_cmp, old_cmp):
        errs.append(
            fe.forbidden(
                SPEC,
                "spec is immutable after creation except resources.requests and "
                f"volumeAttributesClassName for bound claims\n{vp.spec_diff(old_cmp, new_cmp)}",
            )
        )
    new_size = c.parse_quantity(c.get(spec, "resources", "requests", "storage"))
    old_size = c.parse_quantity(c.get(ospec, "resources", "requests", "storage"))
    status_size = c.parse_quantity(c.get(old, "status", "capacity", "storage")) or 0
    if new_size is not None and old_size is not None and new_size < old_size and new_size <= status_size:
        errs.append(
            fe.forbidden(SPEC.child("resources", "requests", "storage"), "field can not be less than status.capacity")
        )
    return errs + c.immutable(spec.get("volumeMode"), ospec.get("volumeMode"), Path.of("volumeMode"))


_PV_SOURCES: Final = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
)


def _pv_spec(spec: Obj) -> Errs:
    errs: Errs = []
    modes = c.lst(spec.get("accessModes"))
    if not modes:
        errs.append(fe.required(SPEC.child("accessModes")))
    errs += _access_modes(modes, SPEC.child("accessModes"))
    cap = c.dct(spec.get("capacity"))
    if not cap:
        errs.append(fe.required(SPEC.child("capacity")))
    if "storage" not in cap or len(cap) > 1:
        errs.append(fe.not_supported(SPEC.child("capacity"), cap, ["storage"]))
    for name, q in cap.items():
        parsed = c.parse_quantity(q)
        if parsed is not None and parsed <= 0:
            errs.append(fe.invalid(SPEC.child("capacity").key(name), c.quantity_text(q), c.NOT_POSITIVE_MSG))
    policy = c.s(spec.get("persistentVolumeReclaimPolicy"))
    if policy and policy not in ("Delete", "Recycle", "Retain"):
        errs.append(
            fe.not_supported(SPEC.child("persistentVolumeReclaimPolicy"), policy, ["Delete", "Recycle", "Retain"])
        )
    count = 0
    for kind in _PV_SOURCES:
        if spec.get(kind) is None:
            continue
        if count and kind != "flexVolume":
            errs.append(
                fe.forbidden(
                    SPEC.child({"cephfs": "cephFS"}.get(kind, kind)), "may not specify more than 1 volume type"
                )
            )
            continue
        count += 1
        src, kp = c.dct(spec[kind]), SPEC.child(kind)
        if kind in ("hostPath", "local"):
            if not c.s(src.get("path")):
                errs.append(fe.required(kp.child("path")))
            else:
                errs += ct.no_backsteps(c.s(src.get("path")), kp.child("path"))
            if kind == "local" and spec.get("nodeAffinity") is None:
                errs.append(fe.required(SPEC.child("nodeAffinity"), "Local volume requires node affinity"))
        elif kind == "nfs":
            for fld in ("server", "path"):
                if not c.s(src.get(fld)):
                    errs.append(fe.required(kp.child(fld)))
        elif kind == "csi":
            if not c.s(src.get("driver")):
                errs.append(fe.required(kp.child("driver")))
            if not c.s(src.get("volumeHandle")):
                errs.append(fe.required(kp.child("volumeHandle")))
    if count == 0:
        errs.append(fe.required(SPEC, "must specify a volume type"))
    host_path = c.s(c.get(spec, "hostPath", "path"))
    if host_path and host_path.rstrip("/") == "" and policy == "Recycle":
        errs.append(
            fe.forbidden(
                SPEC.child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"
            )
        )
    return errs + _storage_class_and_volume_mode(spec, SPEC)


def validate_pv(pv: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta_rechecked(pv, old, namespaced=False) + _pv_spec(c.dct(pv.get("spec")))
    if old is None:
        return errs
    spec, ospec = c.dct(pv.get("spec")), c.dct(old.get("spec"))
    src_new = {k: spec.get(k) for k in _PV_SOURCES}
    src_old = {k: ospec.get(k) for k in _PV_SOURCES}
    if not c.semantic_equal(src_new, src_old):
        errs.append(
            fe.forbidden(
                Path.of("spec", "persistentvolumesource"),
                f"spec.persistentvolumesource is immutable after creation\n{vp.spec_diff(src_old, src_new)}",
            )
        )
    errs += c.immutable(spec.get("volumeMode"), ospec.get("volumeMode"), Path.of("volumeMode"))
    if ospec.get("nodeAffinity") is not None and not c.semantic_equal(
        spec.get("nodeAffinity"), ospec.get("nodeAffinity")
    ):
        errs.append(
            fe.invalid(
                Path.of("nodeAffinity"),
                spec.get("nodeAffinity"),
                c.IMMUTABLE_MSG + ", except for updating from beta label to GA",
            )
        )
    return errs


# ---------------------------------------------------------------- PodTemplate and ReplicationController


def validate_pod_template(pt: Obj, old: Obj | None = None) -> Errs:
    return vm.object_meta(pt, old) + vp.pod_template_spec(pt.get("template"), Path.of("template"))


def validate_replication_controller(rc: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(rc, old)
    spec = c.dct(rc.get("spec"))
    errs += c.nonnegative(spec.get("minReadySeconds"), SPEC.child("minReadySeconds"))
    selector = c.dct(spec.get("selector"))
    if not selector:
        errs.append(fe.required(SPEC.child("selector")))
    errs += c.nonnegative(spec.get("replicas"), SPEC.child("replicas"))
    tmpl, tp = spec.get("template"), SPEC.child("template")
    if tmpl is None:
        return [*errs, fe.required(tp)]
    tlabels = c.dct(c.get(tmpl, "metadata", "labels"))
    if selector and any(tlabels.get(k) != v for k, v in selector.items()):
        errs.append(fe.invalid(tp.child("metadata", "labels"), tlabels, "`selector` does not match template `labels`"))
    errs += vp.pod_template_spec(tmpl, tp)
    restart = c.s(c.get(tmpl, "spec", "restartPolicy"))
    if restart != "Always":
        errs.append(fe.not_supported(tp.child("spec", "restartPolicy"), restart, ["Always"]))
    if c.get(tmpl, "spec", "activeDeadlineSeconds") is not None:
        errs.append(
            fe.forbidden(
                tp.child("spec", "activeDeadlineSeconds"),
                "activeDeadlineSeconds in ReplicationController is not Supported",
            )
        )
    return errs
