"""Container validation shared by Pods and every pod template (core validation's validateContainerCommon).

Covers names, image, ports, env/envFrom, volume mounts/devices, pull policy, resources (see
``resources.py``), probes and lifecycle handlers, and the container security context, with
upstream's field paths and messages. Volumes themselves are validated in ``volumes.py``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import resources as rs
from pyk8s.api.validation.common import Errs, Obj
from pyk8s.api.validation_names import is_dns1123_label

_PULL_POLICIES: Final = ["Always", "IfNotPresent", "Never"]
_MOUNT_PROPAGATIONS: Final = ["Bidirectional", "HostToContainer", "None"]
_ENV_FIELD_PATHS: Final = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
# Everything ConvertDownwardAPIFieldLabel understands for v1 (the rest is "field label not supported").
_CONVERTIBLE_FIELD_PATHS: Final = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)
_RESOURCE_FIELD_PATHS: Final = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]
_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$")

# ---------------------------------------------------------------- ports, env


def ports(items: Any, path: Path) -> Errs:
    # Hot (every container of every pod): paths are only built for errors, and checks that cannot fail skipped.
    if not isinstance(items, list):
        return []
    errs: Errs = []
    names: set[str] = set()
    for n, port in enumerate(items):
        if not isinstance(port, dict):
            port = {}
        name = port.get("name")
        if name and isinstance(name, str):
            msgs = c.is_valid_port_name(name)
            if msgs:
                errs += [fe.invalid(path.index(n).child("name"), name, m) for m in msgs]
            elif name in names:
                errs.append(fe.duplicate(path.index(n).child("name"), name))
            else:
                names.add(name)
        cp = c.i(port.get("containerPort"))
        if cp == 0:
            errs.append(fe.required(path.index(n).child("containerPort")))
        elif not 1 <= cp <= 65535:
            errs += c.port_number(cp, path.index(n).child("containerPort"))
        hp = c.i(port.get("hostPort"))
        if hp and not 1 <= hp <= 65535:
            errs += c.port_number(hp, path.index(n).child("hostPort"))
        protocol = port.get("protocol")
        if protocol not in c.PROTOCOLS:
            errs += c.required_enum(c.s(protocol), c.PROTOCOLS, path.index(n).child("protocol"))
    return errs


def object_field_selector(ref: Obj, allowed: list[str], path: Path) -> Errs:
    api_version, field_path = c.s(ref.get("apiVersion")), c.s(ref.get("fieldPath"))
    if not api_version:
        return [fe.required(path.child("apiVersion"))]
    if not field_path:
        return [fe.required(path.child("fieldPath"))]
    if api_version != "v1":
        return [
            fe.invalid(
                path.child("fieldPath"),
                field_path,
                f"error converting fieldPath: unsupported pod version: {api_version}",
            )
        ]
    m = _SUBSCRIPT.match(field_path)
    base = m.group(1) if m else field_path
    if base not in _CONVERTIBLE_FIELD_PATHS:
        return [
            fe.invalid(
                path.child("fieldPath"),
                field_path,
                f"error converting fieldPath: field label not supported: {field_path}",
            )
        ]
    if m:
        key = m.group(2).lower() if base == "metadata.annotations" else m.group(2)
        return c.qualified_name(key, path)
    if "[" in field_path:
        return [fe.invalid(path, base, "does not support subscript")]
    if field_path not in allowed:
        return [fe.not_supported(path.child("fieldPath"), field_path, sorted(allowed))]
    return []


def _resource_field_selector(ref: Obj, path: Path, volume: bool) -> Errs:
    res = c.s(ref.get("resource"))
    if volume and not c.s(ref.get("containerName")):
        return [fe.required(path.child("containerName"))]
    if not res:
        return [fe.required(path.child("resource"))]
    if res not in _RESOURCE_FIELD_PATHS and not res.startswith(("requests.hugepages-", "limits.hugepages-")):
        return [fe.not_supported(path.child("resource"), res, _RESOURCE_FIELD_PATHS)]
    return []


def _key_selector(ref: Obj, path: Path) -> Errs:
    name = c.s(ref.get("name"))
    msgs = c.name_is_dns_subdomain(name, False)
    errs = [fe.invalid(path.child("name"), name, m) for m in msgs] if msgs else []
    key = c.s(ref.get("key"))
    if not key:
        errs.append(fe.required(path.child("key")))
    else:
        msgs = c.is_config_map_key(key)
        if msgs:
            errs += [fe.invalid(path.child("key"), key, m) for m in msgs]
    return errs


def _plain_value_from(vf: Any, ev: Obj) -> bool:
    """Whether `vf` is the usual valid ``valueFrom`` (one field, configMap or secret key reference with nothing
    for the checks below to report), so they can be skipped."""
    if not isinstance(vf, dict) or len(vf) != 1 or c.s(ev.get("value")):
        return False
    kind, ref = next(iter(vf.items()))
    if not isinstance(ref, dict):
        return False
    if kind == "fieldRef":
        return ref.get("apiVersion") == "v1" and ref.get("fieldPath") in _ENV_FIELD_PATHS
    if kind in ("configMapKeyRef", "secretKeyRef"):
        name, key = ref.get("name"), ref.get("key")
        return (
            isinstance(name, str)
            and isinstance(key, str)
            and bool(key)
            and not c.name_is_dns_subdomain(name, False)
            and not c.is_config_map_key(key)
        )
    return False


def env(items: Any, path: Path) -> Errs:
    if not isinstance(items, list):
        return []
    errs: Errs = []
    for n, ev in enumerate(items):
        if not isinstance(ev, dict):
            ev = {}
        name = c.s(ev.get("name"))
        if not name:
            errs.append(fe.required(path.index(n).child("name")))
        else:
            msgs = c.is_relaxed_env_var_name(name)
            if msgs:
                errs += [fe.invalid(path.index(n).child("name"), name, m) for m in msgs]
        value_from = ev.get("valueFrom")
        if value_from is None or _plain_value_from(value_from, ev):
            continue
        vf, vp = c.dct(value_from), path.index(n).child("valueFrom")
        sources = 0
        if vf.get("fieldRef") is not None:
            sources += 1
            errs += object_field_selector(c.dct(vf["fieldRef"]), _ENV_FIELD_PATHS, vp.child("fieldRef"))
        if vf.get("resourceFieldRef") is not None:
            sources += 1
            errs += _resource_field_selector(c.dct(vf["resourceFieldRef"]), vp.child("resourceFieldRef"), False)
        if vf.get("configMapKeyRef") is not None:
            sources += 1
            errs += _key_selector(c.dct(vf["configMapKeyRef"]), vp.child("configMapKeyRef"))
        if vf.get("secretKeyRef") is not None:
            sources += 1
            errs += _key_selector(c.dct(vf["secretKeyRef"]), vp.child("secretKeyRef"))
        if sources == 0:
            errs.append(
                fe.invalid(
                    vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
                )
            )
        elif c.s(ev.get("value")):
            errs.append(fe.invalid(vp, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errs.append(fe.invalid(vp, "", "may not have more than one field specified at a time"))
    return errs


def env_from(items: Any, path: Path) -> Errs:
    errs: Errs = []
    for n, ev in c.each(c.lst(items)):
        ip = path.index(n)
        prefix = c.s(ev.get("prefix"))
        if prefix:
            errs += [fe.invalid(ip.child("prefix"), prefix, m) for m in c.is_relaxed_env_var_name(prefix)]
        sources = 0
        for key in ("configMapRef", "secretRef"):
            if ev.get(key) is None:
                continue
            sources += 1
            name = c.s(c.dct(ev[key]).get("name"))
            if not name:
                errs.append(fe.required(ip.child(key, "name")))
            else:
                errs += [fe.invalid(ip.child(key, "name"), name, m) for m in c.name_is_dns_subdomain(name, True)]
        if sources == 0:
            errs.append(fe.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif sources > 1:
            errs.append(fe.invalid(path, "", "may not have more than one field specified at a time"))
    return errs


# ---------------------------------------------------------------- paths and mounts


def no_backsteps(target: str, path: Path) -> Errs:
    if ".." in target.replace("\\", "/").split("/"):
        return [fe.invalid(path, target, "must not contain '..'")]
    return []


def local_descending_path(target: str, path: Path) -> Errs:
    errs = [fe.invalid(path, target, "must be a relative path")] if target.startswith("/") else []
    return errs + no_backsteps(target, path)


def local_non_reserved_path(target: str, path: Path) -> Errs:
    errs = local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(fe.invalid(path, target, "must not start with '..'"))
    return errs


def volume_mounts(items: Any, devices: dict[str, str], volumes: dict[str, Obj], ctr: Obj, path: Path) -> Errs:
    errs: Errs = []
    mount_points: set[str] = set()
    privileged = c.get(ctr, "securityContext", "privileged") is True
    for n, mnt in c.each(c.lst(items)):
        name, mount_path = c.s(mnt.get("name")), c.s(mnt.get("mountPath"))
        if not name:
            errs.append(fe.required(path.index(n).child("name")))
        if name not in volumes:
            errs.append(fe.not_found(path.index(n).child("name"), name))
        if not mount_path:
            errs.append(fe.required(path.index(n).child("mountPath")))
        if mount_path in mount_points:
            errs.append(fe.invalid(path.index(n).child("mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)
        if name in devices:
            errs.append(fe.invalid(path.index(n).child("name"), name, "must not already exist in volumeDevices"))
        if mount_path in devices.values():
            errs.append(
                fe.invalid(
                    path.index(n).child("mountPath"), mount_path, "must not already exist as a path in volumeDevices"
                )
            )
        sub, sub_expr = c.s(mnt.get("subPath")), c.s(mnt.get("subPathExpr"))
        if sub:
            errs += local_descending_path(sub, path.child("subPath"))
        if sub_expr:
            if sub:
                errs.append(
                    fe.invalid(
                        path.index(n).child("subPathExpr"), sub_expr, "subPathExpr and subPath are mutually exclusive"
                    )
                )
            errs += local_descending_path(sub_expr, path.child("subPathExpr"))
        prop = mnt.get("mountPropagation")
        if prop is not None:
            pp = path.child("mountPropagation")
            if prop not in _MOUNT_PROPAGATIONS:
                errs.append(fe.not_supported(pp, prop, _MOUNT_PROPAGATIONS))
            if prop == "Bidirectional" and not privileged:
                errs.append(
                    fe.forbidden(pp, "Bidirectional mount propagation is available only to privileged containers")
                )
    return errs


def volume_devices(items: Any, mounts: dict[str, str], volumes: dict[str, Obj], path: Path) -> Errs:
    errs: Errs = []
    seen_paths: set[str] = set()
    seen_names: set[str] = set()
    for n, dev in c.each(c.lst(items)):
        ip = path.index(n)
        name, dev_path = c.s(dev.get("name")), c.s(dev.get("devicePath"))
        src = volumes.get(name)
        if not name:
            errs.append(fe.required(ip.child("name")))
        if name in seen_names:
            errs.append(fe.invalid(ip.child("name"), name, "must be unique"))
        if src is not None and src.get("persistentVolumeClaim") is None and src.get("ephemeral") is None:
            errs.append(
                fe.invalid(
                    ip.child("name"),
                    name,
                    "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode",
                )
            )
        if src is None:
            errs.append(fe.not_found(ip.child("name"), name))
        if not dev_path:
            errs.append(fe.required(ip.child("devicePath")))
        if dev_path in seen_paths:
            errs.append(fe.invalid(ip.child("devicePath"), dev_path, "must be unique"))
        if dev_path and no_backsteps(dev_path, path):
            errs.append(fe.invalid(ip.child("devicePath"), dev_path, "can not contain backsteps ('..')"))
        else:
            seen_paths.add(dev_path)
        if name in mounts:
            errs.append(fe.invalid(ip.child("name"), name, "must not already exist in volumeMounts"))
        if dev_path in mounts.values():
            errs.append(
                fe.invalid(ip.child("devicePath"), dev_path, "must not already exist as a path in volumeMounts")
            )
        if name:
            seen_names.add(name)
    return errs


# ---------------------------------------------------------------- probes and handlers


def handler(h: Obj, grace: int | None, path: Path, allow_sleep: bool) -> Errs:
    errs: Errs = []
    count = 0
    for kind in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        if h.get(kind) is None or (kind == "sleep" and not allow_sleep) or (kind == "grpc" and allow_sleep):
            continue
        hp = path.child(kind)
        if count:
            errs.append(fe.forbidden(hp, "may not specify more than 1 handler type"))
            continue
        count += 1
        v = c.dct(h[kind])
        if kind == "exec" and not c.lst(v.get("command")):
            errs.append(fe.required(hp.child("command")))
        elif kind == "httpGet":
            if not c.s(v.get("path")):
                errs.append(fe.required(hp.child("path")))
            port = v.get("port")
            if not c.port_num_or_name_ok(port):
                errs += c.port_num_or_name(port, hp.child("port"))
            if v.get("scheme") not in ("HTTP", "HTTPS"):
                errs.append(fe.not_supported(hp.child("scheme"), c.s(v.get("scheme")), ["HTTP", "HTTPS"]))
            for hdr in c.lst(v.get("httpHeaders")):
                hname = c.s(c.get(hdr, "name"))
                errs += [fe.invalid(hp.child("httpHeaders"), hname, m) for m in c.is_http_header_name(hname)]
        elif kind == "tcpSocket":
            port = v.get("port")
            if not c.port_num_or_name_ok(port):
                errs += c.port_num_or_name(port, hp.child("port"))
        elif kind == "grpc":
            errs += c.port_num_or_name(c.i(v.get("port")), hp.child("port"))
        elif kind == "sleep" and grace is not None:
            secs = c.i(v.get("seconds"))
            if secs < 0 or secs > grace:
                errs.append(
                    fe.invalid(hp, secs, f"must be non-negative and less than terminationGracePeriodSeconds ({grace})")
                )
    if count == 0:
        errs.append(fe.required(path, "must specify a handler type"))
    return errs


_PROBE_COUNTS: Final = (
    "initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"
)


def probe(p: Any, grace: int | None, path: Path, which: str) -> Errs:
    if p is None:
        return []
    pr = c.dct(p)
    errs = handler(pr, grace, path, allow_sleep=False)
    for fld in _PROBE_COUNTS:
        value = pr.get(fld)
        if isinstance(value, int) and value < 0:
            errs += c.nonnegative(value, path.child(fld))
    tgp = pr.get("terminationGracePeriodSeconds")
    if isinstance(tgp, int) and tgp <= 0:
        errs.append(fe.invalid(path.child("terminationGracePeriodSeconds"), tgp, "must be greater than 0"))
    if which in ("liveness", "startup") and c.i(pr.get("successThreshold")) != 1:
        errs.append(fe.invalid(path.child("successThreshold"), c.i(pr.get("successThreshold")), "must be 1"))
    if which == "readiness" and tgp is not None:
        errs.append(fe.invalid(path.child("terminationGracePeriodSeconds"), tgp, "must not be set for readinessProbes"))
    return errs


def lifecycle(lc: Any, grace: int | None, path: Path) -> Errs:
    errs: Errs = []
    for hook in ("postStart", "preStop"):
        h = c.get(lc, hook)
        if h is not None:
            errs += handler(c.dct(h), grace, path.child(hook), allow_sleep=True)
    return errs


def probes_and_lifecycle(ctr: Obj, grace: int | None, path: Path) -> Errs:
    errs = lifecycle(ctr["lifecycle"], grace, path.child("lifecycle")) if ctr.get("lifecycle") is not None else []
    for key, which in (("livenessProbe", "liveness"), ("readinessProbe", "readiness"), ("startupProbe", "startup")):
        p = ctr.get(key)
        if p is not None:
            errs += probe(p, grace, path.child(key), which)
    return errs


# ---------------------------------------------------------------- security context


def id_range(value: Any, path: Path) -> Errs:
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= c.MAX_INT32:
        return [fe.invalid(path, value, c.range_error(0, c.MAX_INT32))]
    return []


def seccomp_profile(sp: Any, path: Path) -> Errs:
    if sp is None:
        return []
    p = c.dct(sp)
    typ, local = c.s(p.get("type")), p.get("localhostProfile")
    errs = c.required_enum(
        typ, ["Localhost", "RuntimeDefault", "Unconfined"], path.child("type"), "type is required when seccompProfile is set"
    )
    if typ == "Localhost":
        if local is None:
            errs.append(fe.required(path.child("localhostProfile"), "must be set when seccomp type is Localhost"))
        else:
            errs += local_descending_path(c.s(local), path.child("localhostProfile"))
    elif local is not None:
        errs.append(fe.invalid(path.child("localhostProfile"), p, "can only be set when seccomp type is Localhost"))
    return errs


def security_context(sc: Any, path: Path, host_users: bool) -> Errs:
    if sc is None:
        return []
    s = c.dct(sc)
    errs: Errs = []
    for fld in ("runAsUser", "runAsGroup"):
        value = s.get(fld)
        if isinstance(value, int) and not 0 <= value <= c.MAX_INT32:
            errs += id_range(value, path.child(fld))
    proc = s.get("procMount")
    if proc is not None:
        if proc not in ("Default", "Unmasked"):
            errs.append(fe.not_supported(path.child("procMount"), proc, ["Default", "Unmasked"]))
        if host_users and proc == "Unmasked":
            errs.append(fe.invalid(path.child("procMount"), proc, "`hostUsers` must be false to use `Unmasked`"))
    if s.get("seccompProfile") is not None:
        errs += seccomp_profile(s.get("seccompProfile"), path.child("seccompProfile"))
    if s.get("allowPrivilegeEscalation") is False:
        if s.get("privileged") is True:
            errs.append(fe.invalid(path, s, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        if "CAP_SYS_ADMIN" in c.lst(c.get(s, "capabilities", "add")):
            errs.append(
                fe.invalid(
                    path, s, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"
                )
            )
    return errs


# ---------------------------------------------------------------- the common container checks


_TERMINATION_MESSAGE_POLICIES: Final = ["File", "FallbackToLogsOnError"]


def container_common(ctr: Obj, volumes: dict[str, Obj], path: Path, host_users: bool) -> Errs:
    # Runs for every container of every pod and template: a sub-check runs (and its path is built) only
    # when the field is there to check, which gives the same errors as running it on nothing.
    errs: Errs = []
    name = c.s(ctr.get("name"))
    if not name:
        errs.append(fe.required(path.child("name")))
    else:
        msgs = is_dns1123_label(name)
        if msgs:
            errs += [fe.invalid(path.child("name"), name, m) for m in msgs]
    if not c.s(ctr.get("image")):
        errs.append(fe.required(path.child("image")))
    policy = ctr.get("terminationMessagePolicy")
    if policy not in _TERMINATION_MESSAGE_POLICIES:
        errs += c.required_enum(c.s(policy), _TERMINATION_MESSAGE_POLICIES, path.child("terminationMessagePolicy"))
    mount_list, device_list = c.lst(ctr.get("volumeMounts")), c.lst(ctr.get("volumeDevices"))
    if ctr.get("ports"):
        errs += ports(ctr.get("ports"), path.child("ports"))
    if ctr.get("env"):
        errs += env(ctr.get("env"), path.child("env"))
    if ctr.get("envFrom"):
        errs += env_from(ctr.get("envFrom"), path.child("envFrom"))
    if mount_list:
        devices = {c.s(d.get("name")): c.s(d.get("devicePath")) for _, d in c.each(device_list)}
        errs += volume_mounts(mount_list, devices, volumes, ctr, path.child("volumeMounts"))
    if device_list:
        mounts = {c.s(m.get("name")): c.s(m.get("mountPath")) for _, m in c.each(mount_list)}
        errs += volume_devices(device_list, mounts, volumes, path.child("volumeDevices"))
    pull = ctr.get("imagePullPolicy")
    if pull not in _PULL_POLICIES:
        errs += c.required_enum(c.s(pull), _PULL_POLICIES, path.child("imagePullPolicy"))
    if ctr.get("resources"):
        errs += rs.resource_requirements(ctr.get("resources"), path.child("resources"))
    if ctr.get("securityContext") is not None:
        errs += security_context(ctr.get("securityContext"), path.child("securityContext"), host_users)
    return errs
