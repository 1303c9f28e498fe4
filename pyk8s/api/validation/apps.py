"""apps/v1 validation: Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision.

Follows k8s.io/kubernetes pkg/apis/apps/validation plus the apps/v1 registry rule that a workload's
``spec.selector`` is immutable after creation.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation import pod as vp
from pyk8s.api.validation.common import Errs, Obj

SPEC: Final = Path.of("spec")


def _selector(spec: Obj, what: str, required: bool = True) -> Errs:
    """Selector present, valid and non-empty (``empty selector is invalid for <what>``)."""
    sel = spec.get("selector")
    if sel is None:
        return [fe.required(SPEC.child("selector"))] if required else []
    errs = c.label_selector(sel, SPEC.child("selector"))
    if c.selector_is_empty(sel):
        errs.append(fe.invalid(SPEC.child("selector"), sel, f"empty selector is invalid for {what}"))
    return errs


def _template_for_replicas(spec: Obj, kind: str) -> Errs:
    """ValidatePodTemplateSpecForReplicaSet: selector matches labels, template valid, restartPolicy Always."""
    sel, tmpl, tp = spec.get("selector"), spec.get("template"), SPEC.child("template")
    if not c.selector_is_valid(sel):
        return [fe.invalid(SPEC.child("selector"), sel, "invalid label selector")]
    if tmpl is None:
        return [fe.required(tp)]
    labels = c.dct(c.get(tmpl, "metadata", "labels"))
    errs: Errs = []
    if not c.selector_is_empty(sel) and not c.selector_matches(sel, labels):
        errs.append(fe.invalid(tp.child("metadata", "labels"), labels, "`selector` does not match template `labels`"))
    errs += vp.pod_template_spec(tmpl, tp)
    errs += _restart_always(c.dct(c.get(tmpl, "spec")), tp, kind)
    return errs


def _restart_always(tspec: Obj, tp: Path, kind: str) -> Errs:
    errs: Errs = []
    restart = c.s(tspec.get("restartPolicy"))
    if restart != "Always":
        errs.append(fe.not_supported(tp.child("spec", "restartPolicy"), restart, ["Always"]))
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            fe.forbidden(tp.child("spec", "activeDeadlineSeconds"), f"activeDeadlineSeconds in {kind} is not Supported")
        )
    return errs


def _selector_immutable(new: Obj, old: Obj) -> Errs:
    return c.immutable(c.get(new, "spec", "selector"), c.get(old, "spec", "selector"), SPEC.child("selector"))


# ---------------------------------------------------------------- Deployment


def _rolling_update_deployment(ru: Obj, path: Path) -> Errs:
    mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = c.positive_int_or_percent(mu, path.child("maxUnavailable")) if mu is not None else []
    errs += c.positive_int_or_percent(ms, path.child("maxSurge")) if ms is not None else []
    if c.int_or_percent(mu) == 0 and c.int_or_percent(ms) == 0:
        errs.append(
            fe.invalid(path.child("maxUnavailable"), mu if mu is not None else 0, "may not be 0 when `maxSurge` is 0")
        )
    return errs + c.not_more_than_100_percent(mu, path.child("maxUnavailable"))


def _deployment_strategy(strategy: Any, path: Path) -> Errs:
    st = c.dct(strategy)
    typ = st.get("type")
    if typ == "Recreate":
        if st.get("rollingUpdate") is not None:
            return [
                fe.forbidden(path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")
            ]
        return []
    if typ == "RollingUpdate":
        if st.get("rollingUpdate") is None:
            return [fe.required(path.child("rollingUpdate"), "this should be defaulted and never be nil")]
        return _rolling_update_deployment(c.dct(st["rollingUpdate"]), path.child("rollingUpdate"))
    return [fe.not_supported(path, st, ["Recreate", "RollingUpdate"])]


def validate_deployment(dep: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(dep, old)
    spec = c.dct(dep.get("spec"))
    errs += c.nonnegative(spec.get("replicas"), SPEC.child("replicas"))
    errs += _selector(spec, "deployment")
    errs += _template_for_replicas(spec, "ReplicaSet")
    errs += _deployment_strategy(spec.get("strategy"), SPEC.child("strategy"))
    errs += c.nonnegative(spec.get("minReadySeconds"), SPEC.child("minReadySeconds"))
    errs += c.nonnegative(spec.get("revisionHistoryLimit"), SPEC.child("revisionHistoryLimit"))
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int):
        errs += c.nonnegative(pds, SPEC.child("progressDeadlineSeconds"))
        if pds <= c.i(spec.get("minReadySeconds")):
            errs.append(fe.invalid(SPEC.child("progressDeadlineSeconds"), pds, "must be greater than minReadySeconds"))
    if old is not None:
        errs += _selector_immutable(dep, old)
    return errs


# ---------------------------------------------------------------- ReplicaSet


def validate_replica_set(rs: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(rs, old)
    spec = c.dct(rs.get("spec"))
    errs += c.nonnegative(spec.get("replicas"), SPEC.child("replicas"))
    errs += c.nonnegative(spec.get("minReadySeconds"), SPEC.child("minReadySeconds"))
    errs += _selector(spec, "deployment")  # sic: upstream says "deployment" for ReplicaSets too
    errs += _template_for_replicas(spec, "ReplicaSet")
    if old is not None:
        errs += _selector_immutable(rs, old)
    return errs


# ---------------------------------------------------------------- DaemonSet


def _daemonset_strategy(strategy: Any, path: Path) -> Errs:
    st = c.dct(strategy)
    typ = st.get("type")
    if typ == "OnDelete":
        return []
    if typ != "RollingUpdate":
        return [fe.not_supported(path, st, ["RollingUpdate", "OnDelete"])]
    if st.get("rollingUpdate") is None:
        return [fe.required(path.child("rollingUpdate"))]
    ru, rp = c.dct(st["rollingUpdate"]), path.child("rollingUpdate")
    mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = c.positive_int_or_percent(mu, rp.child("maxUnavailable")) if mu is not None else []
    errs += c.positive_int_or_percent(ms, rp.child("maxSurge")) if ms is not None else []
    errs += c.not_more_than_100_percent(mu, rp.child("maxUnavailable"))
    errs += c.not_more_than_100_percent(ms, rp.child("maxSurge"))
    has_unavailable, has_surge = c.int_or_percent(mu) != 0, c.int_or_percent(ms) != 0
    if has_unavailable and has_surge:
        errs.append(fe.invalid(rp.child("maxSurge"), ms, "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(fe.required(rp.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return errs


def validate_daemon_set(ds: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta(ds, old)
    spec = c.dct(ds.get("spec"))
    sel, tmpl = spec.get("selector"), c.dct(spec.get("template"))
    errs += c.label_selector(sel, SPEC.child("selector"))
    labels = c.dct(c.get(tmpl, "metadata", "labels"))
    if c.selector_is_valid(sel) and not c.selector_matches(sel, labels) and not c.selector_is_empty(sel):
        errs.append(
            fe.invalid(
                SPEC.child("template", "metadata", "labels"), labels, "`selector` does not match template `labels`"
            )
        )
    if sel is not None and c.selector_is_empty(sel):
        errs.append(fe.invalid(SPEC.child("selector"), sel, "empty selector is invalid for daemonset"))
    errs += vp.pod_template_spec(tmpl, SPEC.child("template"))
    errs += _restart_always(c.dct(tmpl.get("spec")), SPEC.child("template"), "DaemonSet")
    errs += c.nonnegative(spec.get("minReadySeconds"), SPEC.child("minReadySeconds"))
    errs += _daemonset_strategy(spec.get("updateStrategy"), SPEC.child("updateStrategy"))
    errs += c.nonnegative(spec.get("revisionHistoryLimit"), SPEC.child("revisionHistoryLimit"))
    if old is not None:
        errs += _selector_immutable(ds, old)
    return errs


# ---------------------------------------------------------------- StatefulSet


def _statefulset_spec(spec: Obj) -> Errs:
    errs: Errs = []
    pmp = c.s(spec.get("podManagementPolicy"))
    if not pmp:
        errs.append(fe.required(SPEC.child("podManagementPolicy")))
    elif pmp not in ("OrderedReady", "Parallel"):
        errs.append(fe.invalid(SPEC.child("podManagementPolicy"), pmp, "must be 'OrderedReady' or 'Parallel'"))
    us = c.dct(spec.get("updateStrategy"))
    typ, up = c.s(us.get("type")), SPEC.child("updateStrategy")
    if not typ:
        errs.append(fe.required(up))
    elif typ == "OnDelete":
        if us.get("rollingUpdate") is not None:
            errs.append(
                fe.invalid(
                    up.child("rollingUpdate"), us["rollingUpdate"], "only allowed for updateStrategy 'RollingUpdate'"
                )
            )
    elif typ == "RollingUpdate":
        if us.get("rollingUpdate") is not None:
            ru, rp = c.dct(us["rollingUpdate"]), up.child("rollingUpdate")
            errs += c.nonnegative(ru.get("partition"), rp.child("partition"))
            mu = ru.get("maxUnavailable")
            if mu is not None:
                errs += c.positive_int_or_percent(mu, rp.child("maxUnavailable"))
                if c.int_or_percent(mu) == 0:
                    errs.append(fe.invalid(rp.child("maxUnavailable"), mu, "cannot be 0"))
                errs += c.not_more_than_100_percent(mu, rp.child("maxUnavailable"))
    else:
        errs.append(fe.invalid(up, us, "must be 'RollingUpdate' or 'OnDelete'"))
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if policy is not None:
        for fld in ("whenDeleted", "whenScaled"):
            v = c.s(c.get(policy, fld))
            if v not in ("Retain", "Delete"):
                errs.append(
                    fe.not_supported(SPEC.child("persistentVolumeClaimRetentionPolicy", fld), v, ["Retain", "Delete"])
                )
    errs += c.nonnegative(spec.get("replicas"), SPEC.child("replicas"))
    errs += c.nonnegative(spec.get("minReadySeconds"), SPEC.child("minReadySeconds"))
    if spec.get("ordinals") is not None:
        errs += c.nonnegative(c.get(spec, "ordinals", "start"), SPEC.child("ordinals.start"))
    if c.s(spec.get("serviceName")):
        errs += c.dns1123_label(c.s(spec.get("serviceName")), SPEC.child("serviceName"))
    errs += _selector(spec, "statefulset")
    sel, tmpl, tp = spec.get("selector"), c.dct(spec.get("template")), SPEC.child("template")
    if not c.selector_is_valid(sel):
        errs.append(fe.invalid(SPEC.child("selector"), sel, ""))
    else:
        labels = c.dct(c.get(tmpl, "metadata", "labels"))
        if not c.selector_is_empty(sel) and not c.selector_matches(sel, labels):
            errs.append(
                fe.invalid(tp.child("metadata", "labels"), labels, "`selector` does not match template `labels`")
            )
        errs += c.label_map(labels, tp.child("labels"))
        ann = c.get(tmpl, "metadata", "annotations")
        errs += c.annotation_map(ann, tp.child("annotations"))
        errs += vp.pod_specific_annotations(ann, c.dct(tmpl.get("spec")), tp.child("annotations"))
    return errs + _restart_always(c.dct(tmpl.get("spec")), tp, "StatefulSet")


_STS_MUTABLE: Final = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def validate_stateful_set(sts: Obj, old: Obj | None = None) -> Errs:
    spec = c.dct(sts.get("spec"))
    errs = vm.object_meta(sts, old, name_fn=c.name_is_dns_label) + _statefulset_spec(spec)
    if old is None:
        return errs
    ospec = c.dct(old.get("spec"))
    rest_new = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
    rest_old = {k: v for k, v in ospec.items() if k not in _STS_MUTABLE}
    if not c.semantic_equal(rest_new, rest_old):
        errs.append(
            fe.forbidden(
                SPEC,
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden",
            )
        )
    return errs


# ---------------------------------------------------------------- ControllerRevision


def validate_controller_revision(cr: Obj, old: Obj | None = None) -> Errs:
    errs = vm.object_meta_rechecked(cr, old)
    if cr.get("data") is None:
        errs.append(fe.required(Path.of("data"), "data is mandatory"))
    errs += c.nonnegative(cr.get("revision"), Path.of("revision"))
    if old is not None:
        errs += c.immutable(cr.get("data"), old.get("data"), Path.of("data"))
    return errs
