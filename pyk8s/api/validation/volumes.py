"""Pod volume validation (core validation's ValidateVolumes and the volume source checks)."""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import containers as ct
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj
from pyk8s.api.validation_names import is_dns1123_label

_VOLUME_SOURCES: Final = (
    "emptyDir",
    "hostPath",
    "gitRepo",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "flocker",
    "persistentVolumeClaim",
    "rbd",
    "cinder",
    "cephfs",
    "quobyte",
    "downwardAPI",
    "fc",
    "flexVolume",
    "configMap",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "storageos",
    "projected",
    "scaleIO",
    "csi",
    "ephemeral",
    "image",
)
_SOURCE_ORDER: Final = {kind: n for n, kind in enumerate(_VOLUME_SOURCES)}
# Upstream's "may not specify more than 1 volume type" errors use these (sometimes misspelt) names.
_FORBIDDEN_NAME: Final = {"cephfs": "cephFS", "downwardAPI": "downwarAPI"}
_HOST_PATH_TYPES: Final = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
]
_VOLUME_FIELD_PATHS: Final = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
]
_FILE_MODE_MSG: Final = "must be a number between 0 and 0777 (octal), both inclusive"


def _mode(value: Any, path: Path) -> Errs:
    if _mode_ok(value):
        return []
    return [fe.invalid(path, value, _FILE_MODE_MSG)]


def _mode_ok(value: Any) -> bool:
    return not isinstance(value, int) or 0 <= value <= 0o777


def _key_to_path(kp: Obj, path: Path) -> Errs:
    errs: Errs = []
    if not c.s(kp.get("key")):
        errs.append(fe.required(path.child("key")))
    if not c.s(kp.get("path")):
        errs.append(fe.required(path.child("path")))
    errs += ct.local_non_reserved_path(c.s(kp.get("path")), path.child("path"))
    return errs + _mode(kp.get("mode"), path.child("mode"))


def _downward_file(f: Obj, path: Path) -> Errs:
    errs: Errs = []
    if not c.s(f.get("path")):
        errs.append(fe.required(path.child("path")))
    errs += ct.local_non_reserved_path(c.s(f.get("path")), path.child("path"))
    if f.get("fieldRef") is not None:
        errs += ct.object_field_selector(c.dct(f["fieldRef"]), _VOLUME_FIELD_PATHS, path.child("fieldRef"))
        if f.get("resourceFieldRef") is not None:
            errs.append(
                fe.invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously")
            )
    elif f.get("resourceFieldRef") is None:
        errs.append(fe.required(path, "one of fieldRef and resourceFieldRef is required"))
    return errs + _mode(f.get("mode"), path.child("mode"))


def _projected(src: Obj, path: Path) -> Errs:
    errs = _mode(src.get("defaultMode"), path.child("defaultMode"))
    for n, source in c.each(c.lst(src.get("sources"))):
        sp = path.child("sources").index(n)
        kinds = [
            k
            for k in ("secret", "configMap", "downwardAPI", "serviceAccountToken", "clusterTrustBundle")
            if source.get(k) is not None
        ]
        for kind in ("secret", "configMap"):
            if kind in kinds:
                v = c.dct(source[kind])
                if not c.s(v.get("name")):
                    errs.append(fe.required(sp.child(kind, "name")))
                for j, kp in c.each(c.lst(v.get("items"))):
                    errs += _key_to_path(kp, sp.child(kind, "items").index(j))
        if "downwardAPI" in kinds:
            for _, f in c.each(c.lst(c.dct(source["downwardAPI"]).get("items"))):
                errs += _downward_file(f, sp.child("downwardAPI"))
        if "serviceAccountToken" in kinds:
            tok = c.dct(source["serviceAccountToken"])
            exp = c.i(tok.get("expirationSeconds"))
            if exp < 600:
                errs.append(
                    fe.invalid(
                        sp.child("serviceAccountToken", "expirationSeconds"),
                        exp,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if exp > 1 << 32:
                errs.append(
                    fe.invalid(
                        sp.child("serviceAccountToken", "expirationSeconds"),
                        exp,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            if not c.s(tok.get("path")):
                errs.append(fe.required(path.child("path")))
            else:
                errs += ct.local_non_reserved_path(c.s(tok.get("path")), path.child("path"))
        if len(kinds) > 1:
            errs.append(fe.forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _source(kind: str, src: Obj, path: Path, is_pod: bool) -> Errs:
    """Checks for the sources pyk8s can actually run; the cloud/legacy ones are only counted."""
    errs: Errs = []
    if kind == "emptyDir":
        q = c.parse_quantity(src.get("sizeLimit"))
        if q is not None and q < 0:
            errs.append(fe.forbidden(path.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    elif kind == "hostPath":
        p = c.s(src.get("path"))
        if not p:
            return [fe.required(path.child("path"))]
        errs += ct.no_backsteps(p, path.child("path"))
        typ = src.get("type")
        if typ is not None and typ not in _HOST_PATH_TYPES:
            errs.append(fe.not_supported(path.child("type"), typ, _HOST_PATH_TYPES))
    elif kind == "gitRepo":
        if not c.s(src.get("repository")):
            errs.append(fe.required(path.child("repository")))
        errs += ct.local_descending_path(c.s(src.get("directory")), path.child("directory"))
    elif kind in ("secret", "configMap"):
        name_key = "secretName" if kind == "secret" else "name"
        if not c.s(src.get(name_key)):
            errs.append(fe.required(path.child(name_key)))
        if not _mode_ok(src.get("defaultMode")):
            errs += _mode(src.get("defaultMode"), path.child("defaultMode"))
        for n, kp in c.each(c.lst(src.get("items"))):
            errs += _key_to_path(kp, path.child("items").index(n))
    elif kind == "persistentVolumeClaim":
        if not c.s(src.get("claimName")):
            errs.append(fe.required(path.child("claimName")))
    elif kind == "nfs":
        if not c.s(src.get("server")):
            errs.append(fe.required(path.child("server")))
        if not c.s(src.get("path")):
            errs.append(fe.required(path.child("path")))
        if not c.s(src.get("path")).startswith("/"):
            errs.append(fe.invalid(path.child("path"), c.s(src.get("path")), "must be an absolute path"))
    elif kind == "downwardAPI":
        errs += _mode(src.get("defaultMode"), path.child("defaultMode"))
        for _, f in c.each(c.lst(src.get("items"))):
            errs += _downward_file(f, path)
    elif kind == "projected":
        errs += _projected(src, path)
    elif kind == "csi":
        drv = c.s(src.get("driver"))
        if not drv:
            errs.append(fe.required(path.child("driver")))
        if len(drv) > 63:
            errs.append(fe.too_long(path.child("driver"), 63))
        errs += [fe.invalid(path.child("driver"), drv, m) for m in c.name_is_dns_subdomain(drv.lower(), False)]
    elif kind == "ephemeral":
        tmpl = src.get("volumeClaimTemplate")
        if tmpl is None:
            errs.append(fe.required(path.child("volumeClaimTemplate")))
        else:
            from pyk8s.api.validation.core import pvc_spec

            tp = path.child("volumeClaimTemplate")
            errs += vm.template_object_meta(c.get(tmpl, "metadata"), tp.child("metadata"))
            errs += pvc_spec(c.dct(c.get(tmpl, "spec")), tp.child("spec"))
    elif kind == "image":
        if is_pod and not c.s(src.get("reference")):
            errs.append(fe.required(path.child("reference")))
        pull = c.s(src.get("pullPolicy"))
        if pull not in ("Always", "IfNotPresent", "Never"):
            errs.append(
                fe.required(path.child("pullPolicy"))
                if not pull
                else fe.not_supported(path.child("pullPolicy"), pull, ["Always", "IfNotPresent", "Never"])
            )
    return errs


def volumes(items: Any, path: Path, is_pod: bool) -> tuple[dict[str, Obj], Errs]:
    """ValidateVolumes: returns the valid volumes by name (mounts may only refer to those) and the errors."""
    errs: Errs = []
    valid: dict[str, Obj] = {}
    for n, vol in c.each(c.lst(items)):
        ip = path.index(n)
        el: Errs = []
        count = 0
        # The sources set, in upstream's order (looking up only the keys present).
        kinds = [k for k, v in vol.items() if v is not None and k in _SOURCE_ORDER]
        if len(kinds) > 1:
            kinds.sort(key=_SOURCE_ORDER.__getitem__)
        for kind in kinds:
            if count:
                el.append(
                    fe.forbidden(ip.child(_FORBIDDEN_NAME.get(kind, kind)), "may not specify more than 1 volume type")
                )
                continue
            count += 1
            sub = {"gcePersistentDisk": "persistentDisk"}.get(kind, kind)
            el += _source(kind, c.dct(vol[kind]), ip.child(sub), is_pod)
        if count == 0:
            el.append(fe.required(ip, "must specify a volume type"))
        name = c.s(vol.get("name"))
        if not name:
            el.append(fe.required(ip.child("name")))
        else:
            msgs = is_dns1123_label(name)
            if msgs:
                el += [fe.invalid(ip.child("name"), name, m) for m in msgs]
        if name in valid:
            el.append(fe.duplicate(ip.child("name"), name))
        if el:
            errs += el
        else:
            valid[name] = vol
    return valid, errs
