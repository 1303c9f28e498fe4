"""Pod, PodSpec and pod-template validation (k8s.io/kubernetes pkg/apis/core/validation, pod parts).

``pod_spec`` is used for Pods and for every embedded template (Deployments, Jobs, ...); the
Pod-only checks and the update rule ("pod updates may not change fields other than ...") live here
too. Containers, volumes and scheduling constraints have their own modules.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Final

import orjson

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import containers as ct
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import placement as pl
from pyk8s.api.validation import volumes as vv
from pyk8s.api.validation.common import Errs, Obj

_DNS_POLICIES: Final = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_RESTART_POLICIES: Final = ["Always", "OnFailure", "Never"]
MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"
DELETION_COST_ANNOTATION: Final = "controller.kubernetes.io/pod-deletion-cost"
UPDATABLE_POD_SPEC_FIELDS: Final = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


# ---------------------------------------------------------------- containers lists


def _regular_containers(
    items: list[Any], vols: dict[str, Obj], grace: int | None, path: Path, host_users: bool
) -> Errs:
    if not items:
        return [fe.required(path)]
    errs: Errs = []
    names: set[str] = set()
    host_ports: set[str] = set()
    for n, ctr in c.each(items):
        ip = path.index(n)
        errs += ct.container_common(ctr, vols, ip, host_users)
        name = c.s(ctr.get("name"))
        if name in names:
            errs.append(fe.duplicate(ip.child("name"), name))
        else:
            names.add(name)
        errs += ct.probes_and_lifecycle(ctr, grace, ip)
        if ctr.get("restartPolicy") is not None:
            errs.append(fe.forbidden(ip.child("restartPolicy"), "may not be set for non-init containers"))
    for n, ctr in c.each(items):
        if _has_host_port(ctr):
            errs += _host_port_conflicts([ctr], path.index(n).child("ports"), host_ports)
    return errs


def _has_host_port(ctr: Obj) -> bool:
    """Whether any port of the container sets hostPort (only those can conflict)."""
    return any(isinstance(p, dict) and c.i(p.get("hostPort")) for p in c.lst(ctr.get("ports")))


def _host_port_conflicts(ctrs: list[Obj], ports_path: Path, seen: set[str]) -> Errs:
    errs: Errs = []
    for ctr in ctrs:
        for j, port in c.each(c.lst(ctr.get("ports"))):
            hp = c.i(port.get("hostPort"))
            if not hp:
                continue
            key = f"{c.s(port.get('protocol'))}/{c.s(port.get('hostIP'))}/{hp}"
            if key in seen:
                errs.append(fe.duplicate(ports_path.index(j).child("hostPort"), key))
            seen.add(key)
    return errs


def _init_containers(
    items: list[Any], regular: list[Any], vols: dict[str, Obj], grace: int | None, path: Path, host_users: bool
) -> Errs:
    if not items:
        return []
    errs: Errs = []
    names = {c.s(c.get(r, "name")) for r in regular}
    for n, ctr in c.each(items):
        ip = path.index(n)
        errs += ct.container_common(ctr, vols, ip, host_users)
        policy = ctr.get("restartPolicy")
        if policy is not None and policy != "Always":
            errs.append(fe.not_supported(ip.child("restartPolicy"), policy, ["Always"]))
        name = c.s(ctr.get("name"))
        if name in names:
            errs.append(fe.duplicate(ip.child("name"), name))
        elif name:
            names.add(name)
        errs += _host_port_conflicts([ctr], ip.child("ports"), set())
        if policy == "Always":
            errs += ct.probes_and_lifecycle(ctr, grace, ip)
        else:
            for fld in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(fld) is not None:
                    errs.append(
                        fe.forbidden(ip.child(fld), "may not be set for init containers without restartPolicy=Always")
                    )
    return errs


# ---------------------------------------------------------------- the rest of the pod spec


def _dns_config(cfg: Any, policy: str, path: Path) -> Errs:
    if policy == "None":
        if cfg is None:
            return [fe.required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not c.lst(c.get(cfg, "nameservers")):
            return [
                fe.required(
                    path.child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"
                )
            ]
    if cfg is None:
        return []
    d = c.dct(cfg)
    errs: Errs = []
    servers, searches = c.lst(d.get("nameservers")), [c.s(x) for x in c.lst(d.get("searches"))]
    if len(servers) > 3:
        errs.append(fe.invalid(path.child("nameservers"), servers, "must not have more than 3 nameservers"))
    for n, ns in enumerate(servers):
        errs += c.is_valid_ip(path.child("nameservers").index(n), c.s(ns))
    if len(searches) > 32:
        errs.append(fe.invalid(path.child("searches"), searches, "must not have more than 32 search paths"))
    if len(" ".join(searches)) > 2048:
        errs.append(
            fe.invalid(
                path.child("searches"),
                searches,
                "must not have more than 2048 characters (including spaces) in the search list",
            )
        )
    for n, search in enumerate(searches):
        if search != ".":
            name = search.removesuffix(".")
            if c.name_is_dns_subdomain(name.replace("_", "a"), False):
                errs.append(
                    fe.invalid(
                        path.child("searches").index(n),
                        name,
                        c.regex_error(
                            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                            "'_', '-' or '.', and must start and end with an alphanumeric character",
                            "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*",
                            "example.com",
                        ),
                    )
                )
    for n, opt in c.each(c.lst(d.get("options"))):
        if not c.s(opt.get("name")):
            errs.append(fe.required(path.child("options").index(n), "must not be empty"))
    return errs


def _pod_security_context(sc: Any, spec: Obj, path: Path) -> Errs:
    if sc is None:
        return []
    s = c.dct(sc)
    errs: Errs = []
    for fld in ("fsGroup", "runAsUser", "runAsGroup"):
        value = s.get(fld)
        if isinstance(value, int) and not 0 <= value <= c.MAX_INT32:
            errs += ct.id_range(value, path.child(fld))
    for n, g in enumerate(c.lst(s.get("supplementalGroups"))):
        if isinstance(g, int) and not 0 <= g <= c.MAX_INT32:
            errs += ct.id_range(g, path.child("supplementalGroups").index(n))
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        errs.append(
            fe.invalid(
                path.child("shareProcessNamespace"), True, "ShareProcessNamespace and HostPID cannot both be enabled"
            )
        )
    names: set[str] = set()
    for n, sysctl in c.each(c.lst(s.get("sysctls"))):
        name = c.s(sysctl.get("name"))
        if not name:
            errs.append(fe.required(path.child("sysctls").index(n).child("name")))
        elif name in names:
            errs.append(fe.duplicate(path.child("sysctls").index(n).child("name"), name))
        names.add(name)
    pol = s.get("fsGroupChangePolicy")
    if pol is not None and pol not in ("Always", "OnRootMismatch"):
        errs.append(fe.not_supported(path.child("fsGroupChangePolicy"), pol, ["Always", "OnRootMismatch"]))
    if s.get("seccompProfile") is not None:
        errs += ct.seccomp_profile(s.get("seccompProfile"), path.child("seccompProfile"))
    return errs


def pod_spec(spec: Obj, path: Path, is_pod: bool) -> Errs:
    """ValidatePodSpec."""
    # Hot (every pod and template): a check whose field is absent, or whose value cannot fail it, is skipped
    # without building its path; the errors and their order are those of running every check.
    errs: Errs = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(fe.required(path.child("terminationGracePeriodSeconds")))
    grace_i = grace if isinstance(grace, int) else None
    host_users = c.get(spec, "securityContext", "hostUsers") is not False
    vols, verrs = vv.volumes(spec.get("volumes"), path.child("volumes"), is_pod)
    errs += verrs
    regular = c.lst(spec.get("containers"))
    errs += _regular_containers(regular, vols, grace_i, path.child("containers"), host_users)
    init = c.lst(spec.get("initContainers"))
    if init:
        errs += _init_containers(init, regular, vols, grace_i, path.child("initContainers"), host_users)
    if spec.get("hostNetwork") is True:
        for n, ctr in c.each(regular):
            for j, port in c.each(c.lst(ctr.get("ports"))):
                hp, cp = c.i(port.get("hostPort")), c.i(port.get("containerPort"))
                if (is_pod or hp != 0) and hp != cp:
                    errs.append(
                        fe.invalid(
                            path.child("containers").index(n).child("ports").index(j).child("hostPort"),
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    restart = spec.get("restartPolicy")
    if restart not in _RESTART_POLICIES:
        errs += c.required_enum(c.s(restart), _RESTART_POLICIES, path.child("restartPolicy"))
    dns = c.s(spec.get("dnsPolicy"))
    if dns not in _DNS_POLICIES:
        errs += c.required_enum(dns, _DNS_POLICIES, path.child("dnsPolicy"))
    if spec.get("nodeSelector"):
        errs += c.label_map(spec.get("nodeSelector"), path.child("nodeSelector"))
    if spec.get("securityContext") is not None:
        errs += _pod_security_context(spec.get("securityContext"), spec, path.child("securityContext"))
    for n, ref in enumerate(c.lst(spec.get("imagePullSecrets"))):
        if not isinstance(ref, dict) or set(ref) - {"name"}:
            errs.append(fe.invalid(path.child("imagePullSecrets").index(n), ref, "only name may be set"))
    if spec.get("affinity"):
        errs += pl.affinity(spec.get("affinity"), path.child("affinity"))
    if spec.get("dnsConfig") is not None or dns == "None":
        errs += _dns_config(spec.get("dnsConfig"), dns, path.child("dnsConfig"))
    for n, gate in c.each(c.lst(spec.get("readinessGates"))):
        errs += c.qualified_name(
            c.s(gate.get("conditionType")), path.child("readinessGates").index(n).child("conditionType")
        )
    seen_gates: set[str] = set()
    for n, gate in c.each(c.lst(spec.get("schedulingGates"))):
        gname = c.s(gate.get("name"))
        errs += c.qualified_name(gname, path.child("schedulingGates").index(n))
        if gname in seen_gates:
            errs.append(fe.duplicate(path.child("schedulingGates").index(n), gname))
        seen_gates.add(gname)
    if spec.get("topologySpreadConstraints"):
        errs += pl.topology_spread(spec.get("topologySpreadConstraints"), path.child("topologySpreadConstraints"))
    if c.get(spec, "securityContext", "hostUsers") is False:
        for fld, label in (("hostNetwork", "hostNetwork"), ("hostPID", "HostPID"), ("hostIPC", "HostIPC")):
            if spec.get(fld) is True:
                errs.append(fe.forbidden(path.child(label), "when `pod.Spec.HostUsers` is false"))
    for fld in ("serviceAccountName", "nodeName"):
        v = c.s(spec.get(fld))
        if v:
            msgs = c.name_is_dns_subdomain(v, False)
            if msgs:
                errs += [fe.invalid(path.child(fld), v, m) for m in msgs]
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= c.MAX_INT32:
        errs.append(fe.invalid(path.child("activeDeadlineSeconds"), ads, c.range_error(1, c.MAX_INT32)))
    for fld in ("hostname", "subdomain"):
        if c.s(spec.get(fld)):
            errs += c.dns1123_label(c.s(spec.get(fld)), path.child(fld))
    if spec.get("tolerations"):
        errs += pl.tolerations(spec.get("tolerations"), path.child("tolerations"))
    for n, ha in c.each(c.lst(spec.get("hostAliases"))):
        alias_path = path.child("hostAliases").index(n)
        errs += c.is_valid_ip(alias_path.child("ip"), c.s(ha.get("ip")))
        for j, hn in enumerate(c.lst(ha.get("hostnames"))):
            errs += c.dns1123_subdomain(c.s(hn), alias_path.child("hostnames").index(j))
    pcn = c.s(spec.get("priorityClassName"))
    if pcn:
        msgs = c.name_is_dns_subdomain(pcn, False)
        if msgs:
            errs += [fe.invalid(path.child("priorityClassName"), pcn, m) for m in msgs]
    rcn = spec.get("runtimeClassName")
    if rcn is not None:
        errs += [
            fe.invalid(path.child("runtimeClassName"), c.s(rcn), m) for m in c.name_is_dns_subdomain(c.s(rcn), False)
        ]
    pp = spec.get("preemptionPolicy")
    if pp is not None and pp not in ("PreemptLowerPriority", "Never"):
        errs += preemption_policy(pp, path.child("preemptionPolicy"))
    os_ = spec.get("os")
    if os_ is not None:
        name = c.s(c.get(os_, "name"))
        if not name:
            errs.append(fe.required(path.child("os", "name"), "cannot be empty"))
        elif name not in ("linux", "windows"):
            errs.append(fe.not_supported(path.child("os"), name, ["linux", "windows"]))
    return errs


def preemption_policy(value: Any, path: Path) -> Errs:
    if value in ("PreemptLowerPriority", "Never"):
        return []
    if not value:
        return [fe.required(path)]
    return [fe.not_supported(path, value, ["PreemptLowerPriority", "Never"])]


def pod_specific_annotations(ann: Any, spec: Obj, path: Path) -> Errs:
    a = c.dct(ann)
    errs: Errs = []
    if MIRROR_POD_ANNOTATION in a and not c.s(spec.get("nodeName")):
        errs.append(
            fe.invalid(
                path.key(MIRROR_POD_ANNOTATION),
                c.s(a[MIRROR_POD_ANNOTATION]),
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    if DELETION_COST_ANNOTATION in a:
        v = c.s(a[DELETION_COST_ANNOTATION])
        ok = bool(v) and (v[0] == "-" or v == "0" or v[0] in "123456789")
        try:
            ok = ok and -(2**31) <= int(v) < 2**31
        except ValueError:
            ok = False
        if not ok:
            errs.append(fe.invalid(path.key(DELETION_COST_ANNOTATION), v, "must be a 32bit integer"))
    return errs


def pod_template_spec(tmpl: Any, path: Path) -> Errs:
    """ValidatePodTemplateSpec (labels, annotations, the spec; no ephemeral containers)."""
    t = c.dct(tmpl)
    m, spec = c.dct(t.get("metadata")), c.dct(t.get("spec"))
    errs = c.label_map(m.get("labels"), path.child("labels")) if m.get("labels") else []
    if m.get("annotations"):
        errs += c.annotation_map(m.get("annotations"), path.child("annotations"))
        errs += pod_specific_annotations(m.get("annotations"), spec, path.child("annotations"))
    errs += pod_spec(spec, path.child("spec"), is_pod=False)
    if c.lst(spec.get("ephemeralContainers")):
        errs.append(
            fe.forbidden(path.child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template")
        )
    return errs


# ---------------------------------------------------------------- Pod create / update


_METADATA_ANNOTATIONS: Final = Path.of("metadata", "annotations")
_SPEC: Final = Path.of("spec")


# pod_spec() is a pure function of the spec; the replicas of one template send identical specs, so specs that
# validated cleanly are remembered by their JSON bytes (errors are never cached: they are cheap to recompute).
_VALID_SPECS: set[bytes] = set()
_VALID_SPECS_LIMIT = 2048


def _pod_spec_errors(spec: Obj) -> Errs:
    try:
        key = orjson.dumps(spec)
    except TypeError:
        return pod_spec(spec, _SPEC, is_pod=True)
    if key in _VALID_SPECS:
        return []
    errs = pod_spec(spec, _SPEC, is_pod=True)
    if not errs:
        if len(_VALID_SPECS) >= _VALID_SPECS_LIMIT:
            _VALID_SPECS.clear()
        _VALID_SPECS.add(key)
    return errs


def _pod_metadata_and_spec(pod: Obj) -> Errs:
    spec, meta = c.dct(pod.get("spec")), c.dct(pod.get("metadata"))
    sp = _SPEC
    errs = vm.validate_object_meta(pod, True, c.name_is_dns_subdomain)
    if meta.get("annotations"):
        errs += pod_specific_annotations(meta.get("annotations"), spec, _METADATA_ANNOTATIONS)
    errs += _pod_spec_errors(spec)
    if not c.s(spec.get("serviceAccountName")):
        for n, vol in c.each(c.lst(spec.get("volumes"))):
            if not isinstance(vol.get("projected"), dict):
                continue
            for j, src in c.each(c.lst(c.get(vol, "projected", "sources"))):
                if src.get("serviceAccountToken") is not None:
                    errs.append(
                        fe.forbidden(
                            sp.child("volumes")
                            .index(n)
                            .child("projected", "sources")
                            .index(j)
                            .child("serviceAccountToken"),
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for n, ctr in c.each(c.lst(spec.get(key))):
            image = c.s(ctr.get("image"))
            if image and (image[0].isspace() or image[-1].isspace()):
                errs.append(
                    fe.invalid(
                        sp.child(key).index(n).child("image"), image, "must not have leading or trailing whitespace"
                    )
                )
    return errs


def validate_pod_create(pod: Obj) -> Errs:
    spec = c.dct(pod.get("spec"))
    errs = _pod_metadata_and_spec(pod)
    if c.lst(spec.get("ephemeralContainers")):
        errs.append(fe.forbidden(Path.of("spec", "ephemeralContainers"), "cannot be set on create"))
    if c.s(spec.get("nodeName")) and c.lst(spec.get("schedulingGates")):
        errs.append(
            fe.forbidden(Path.of("spec", "nodeName"), "cannot be set until all schedulingGates have been cleared")
        )
    return errs


def _container_updates(new: list[Any], old: list[Any], path: Path) -> tuple[Errs, bool]:
    if len(new) != len(old):
        return [fe.forbidden(path, "pod updates may not add or remove containers")], True
    errs: Errs = []
    for n, ctr in c.each(new):
        image = c.s(ctr.get("image"))
        if not image:
            errs.append(fe.required(path.index(n).child("image")))
        if image != image.strip():
            errs.append(fe.invalid(path.index(n).child("image"), image, "must not have leading or trailing whitespace"))
    return errs, False


def spec_diff(old: Any, new: Any) -> str:
    """A readable diff of two specs (upstream prints go-cmp's diff; the exact text differs)."""
    a = json.dumps(old, indent=2, sort_keys=True).splitlines()
    b = json.dumps(new, indent=2, sort_keys=True).splitlines()
    return "\n".join(
        line for line in difflib.unified_diff(a, b, lineterm="", n=1) if not line.startswith(("---", "+++", "@@"))
    )


def validate_pod_update(new: Obj, old: Obj) -> Errs:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations and a few others may change."""
    sp = Path.of("spec")
    nspec, ospec = c.dct(new.get("spec")), c.dct(old.get("spec"))
    errs = vm.validate_object_meta_update(new, old)
    errs += _pod_metadata_and_spec(new)
    na, oa = c.dct(c.get(new, "metadata", "annotations")), c.dct(c.get(old, "metadata", "annotations"))
    if MIRROR_POD_ANNOTATION in oa and na.get(MIRROR_POD_ANNOTATION) != oa[MIRROR_POD_ANNOTATION]:
        errs.append(
            fe.forbidden(
                Path.of("metadata", "annotations").key(MIRROR_POD_ANNOTATION),
                "may not remove or update mirror pod annotation",
            )
        )
    elif MIRROR_POD_ANNOTATION in na and MIRROR_POD_ANNOTATION not in oa:
        errs.append(
            fe.forbidden(
                Path.of("metadata", "annotations").key(MIRROR_POD_ANNOTATION), "may not add mirror pod annotation"
            )
        )
    for key in ("containers", "initContainers"):
        cerrs, stop = _container_updates(c.lst(nspec.get(key)), c.lst(ospec.get(key)), sp.child(key))
        errs += cerrs
        if stop:
            return errs
    new_ads, old_ads = nspec.get("activeDeadlineSeconds"), ospec.get("activeDeadlineSeconds")
    if new_ads is not None:
        if not 0 <= c.i(new_ads) <= c.MAX_INT32:
            return [*errs, fe.invalid(sp.child("activeDeadlineSeconds"), new_ads, c.range_error(0, c.MAX_INT32))]
        if old_ads is not None and c.i(old_ads) < c.i(new_ads):
            return [
                *errs,
                fe.invalid(sp.child("activeDeadlineSeconds"), new_ads, "must be less than or equal to previous value"),
            ]
    elif old_ads is not None:
        errs.append(
            fe.invalid(sp.child("activeDeadlineSeconds"), None, "must not update from a positive integer to nil value")
        )
    new_tols = [c.dct(t) for t in c.lst(nspec.get("tolerations"))]
    for old_t in c.lst(ospec.get("tolerations")):
        base = {k: v for k, v in c.dct(old_t).items() if k != "tolerationSeconds"}
        if not any(c.semantic_equal(base, {k: v for k, v in t.items() if k != "tolerationSeconds"}) for t in new_tols):
            errs.append(
                fe.forbidden(
                    sp.child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"
                )
            )
            break
    old_gates = {c.s(c.get(g, "name")) for g in c.lst(ospec.get("schedulingGates"))}
    for n, gate in c.each(c.lst(nspec.get("schedulingGates"))):
        if c.s(gate.get("name")) not in old_gates:
            errs.append(
                fe.forbidden(
                    sp.child("schedulingGates").index(n).child("name"),
                    f"only deletion is allowed, but found new scheduling gate '{c.s(gate.get('name'))}'",
                )
            )
    if c.semantic_equal(nspec, ospec):
        return errs
    munged = dict(nspec)
    for key in ("containers", "initContainers"):
        if key in nspec:
            olds = c.lst(ospec.get(key))
            munged[key] = [{**c.dct(ctr), "image": c.get(olds, n, "image")} for n, ctr in enumerate(c.lst(nspec[key]))]
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        munged.pop(key, None)
        if key in ospec:
            munged[key] = ospec[key]
    ogp, ngp = ospec.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if isinstance(ogp, int) and ogp < 0 and ngp == 1:
        munged["terminationGracePeriodSeconds"] = ogp
    if old_gates and not c.semantic_equal(munged.get("nodeSelector"), ospec.get("nodeSelector")):
        for k, v in c.dct(ospec.get("nodeSelector")).items():
            if c.dct(munged.get("nodeSelector")).get(k) != v:
                errs.append(
                    fe.invalid(
                        sp.child("nodeSelector"),
                        munged.get("nodeSelector"),
                        "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                    )
                )
                break
        munged["nodeSelector"] = ospec.get("nodeSelector")
    if not c.semantic_equal(munged, ospec):
        errs.append(
            fe.forbidden(
                sp,
                "pod updates may not change fields other than "
                f"{','.join(UPDATABLE_POD_SPEC_FIELDS)}\n{spec_diff(ospec, munged)}",
            )
        )
    return errs
