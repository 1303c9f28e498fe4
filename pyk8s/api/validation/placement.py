"""Pod scheduling constraints: tolerations, node/pod affinity and topology spread constraints."""

from __future__ import annotations

from typing import Any

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation.common import Errs, Obj
from pyk8s.api.validation_names import is_qualified_name, is_valid_label_value


def tolerations(items: Any, path: Path) -> Errs:
    errs: Errs = []
    for n, t in c.each(c.lst(items)):
        key, op, value, effect = (c.s(t.get("key")), c.s(t.get("operator")), c.s(t.get("value")), c.s(t.get("effect")))
        if key:
            msgs = is_qualified_name(key)
            if msgs:
                errs += [fe.invalid(path.index(n).child("key"), key, m) for m in msgs]
        if not key and op != "Exists":
            errs.append(
                fe.invalid(
                    path.index(n).child("operator"),
                    op,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                fe.invalid(
                    path.index(n).child("effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if op in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                errs.append(fe.invalid(path.index(n).child("operator"), value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(
                    fe.invalid(
                        path.index(n).child("operator"), value, "value must be empty when `operator` is 'Exists'"
                    )
                )
        else:
            errs.append(fe.not_supported(path.index(n).child("operator"), op, ["Equal", "Exists"]))
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(
                fe.not_supported(path.index(n).child("effect"), effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"])
            )
    return errs


def node_selector_term(term: Obj, path: Path, allow_invalid_values: bool) -> Errs:
    errs: Errs = []
    for n, req in c.each(c.lst(term.get("matchExpressions"))):
        rp = path.child("matchExpressions").index(n)
        errs += c.selector_requirement(req, rp, allow_invalid_values, numeric_ops=True)
    for n, req in c.each(c.lst(term.get("matchFields"))):
        rp = path.child("matchFields").index(n)
        if req.get("operator") in ("In", "NotIn"):
            if len(c.lst(req.get("values"))) != 1:
                errs.append(
                    fe.required(
                        rp.child("values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    )
                )
        else:
            errs.append(fe.invalid(rp.child("operator"), c.s(req.get("operator")), "not a valid selector operator"))
        if req.get("key") != "metadata.name":
            errs.append(fe.invalid(rp.child("key"), c.s(req.get("key")), "not a valid field selector key"))
        else:
            for j, v in enumerate(c.lst(req.get("values"))):
                errs += [
                    fe.invalid(rp.child("values").index(j), c.s(v), m) for m in c.name_is_dns_subdomain(c.s(v), False)
                ]
    return errs


def _affinity_term(term: Obj, path: Path) -> Errs:
    errs: Errs = []
    for key in ("labelSelector", "namespaceSelector"):
        if isinstance(term.get(key), dict):
            errs += c.label_selector(term.get(key), path.child(key))
    for ns in c.lst(term.get("namespaces")):
        msgs = c.name_is_dns_label(c.s(ns), False)
        if msgs:
            errs += [fe.invalid(path.child("namespace"), c.s(ns), m) for m in msgs]
    topology_key = c.s(term.get("topologyKey"))
    if not topology_key:
        errs.append(fe.required(path.child("topologyKey"), "can not be empty"))
    msgs = is_qualified_name(topology_key)
    if msgs:
        errs += [fe.invalid(path.child("topologyKey"), topology_key, m) for m in msgs]
    return errs


def affinity(aff: Any, path: Path) -> Errs:
    a = c.dct(aff)
    errs: Errs = []
    na = a.get("nodeAffinity")
    if na is not None:
        np_ = path.child("nodeAffinity")
        req = c.get(na, "requiredDuringSchedulingIgnoredDuringExecution")
        if req is not None:
            tp = np_.child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
            terms = c.lst(c.get(req, "nodeSelectorTerms"))
            if not terms:
                errs.append(fe.required(tp, "must have at least one node selector term"))
            for n, term in c.each(terms):
                errs += node_selector_term(term, tp.index(n), False)
        for n, pref in c.each(c.lst(c.get(na, "preferredDuringSchedulingIgnoredDuringExecution"))):
            pp = np_.child("preferredDuringSchedulingIgnoredDuringExecution").index(n)
            w = c.i(pref.get("weight"))
            if not 0 < w <= 100:
                errs.append(fe.invalid(pp.child("weight"), w, "must be in the range 1-100"))
            errs += node_selector_term(c.dct(pref.get("preference")), pp.child("preference"), True)
    for key in ("podAffinity", "podAntiAffinity"):
        pa = a.get(key)
        if pa is None:
            continue
        kp = path.child(key)
        for n, term in c.each(c.lst(c.get(pa, "requiredDuringSchedulingIgnoredDuringExecution"))):
            errs += _affinity_term(term, kp.child("requiredDuringSchedulingIgnoredDuringExecution").index(n))
        for n, wt in c.each(c.lst(c.get(pa, "preferredDuringSchedulingIgnoredDuringExecution"))):
            wp = kp.child("preferredDuringSchedulingIgnoredDuringExecution").index(n)
            w = c.i(wt.get("weight"))
            if not 0 < w <= 100:
                errs.append(fe.invalid(wp.child("weight"), w, "must be in the range 1-100"))
            errs += _affinity_term(c.dct(wt.get("podAffinityTerm")), wp.child("podAffinityTerm"))
    return errs


def topology_spread(items: Any, path: Path) -> Errs:
    errs: Errs = []
    cons = [c.dct(x) for x in c.lst(items)]
    for n, tsc in enumerate(cons):
        ip = path.index(n)
        skew = c.i(tsc.get("maxSkew"))
        if skew <= 0:
            errs.append(fe.invalid(ip.child("maxSkew"), skew, c.NOT_POSITIVE_MSG))
        if not c.s(tsc.get("topologyKey")):
            errs.append(fe.required(ip.child("topologyKey"), "can not be empty"))
        action = c.s(tsc.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(fe.not_supported(ip.child("whenUnsatisfiable"), action, ["DoNotSchedule", "ScheduleAnyway"]))
        for other in cons[n + 1 :]:
            if other.get("topologyKey") == tsc.get("topologyKey") and other.get("whenUnsatisfiable") == action:
                errs.append(
                    fe.duplicate(
                        ip.child("{topologyKey, whenUnsatisfiable}"),
                        "{" + f"{c.s(tsc.get('topologyKey'))}, {action}" + "}",
                    )
                )
                break
        md = tsc.get("minDomains")
        if md is not None:
            if c.i(md) <= 0:
                errs.append(fe.invalid(ip.child("minDomains"), md, c.NOT_POSITIVE_MSG))
            if action != "DoNotSchedule":
                errs.append(
                    fe.invalid(
                        ip.child("minDomains"),
                        md,
                        f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}",
                    )
                )
        for pol in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            v = tsc.get(pol)
            if v is not None and v not in ("Honor", "Ignore"):
                errs.append(fe.not_supported(ip.child(pol), v, ["Honor", "Ignore"]))
        errs += c.label_selector(tsc.get("labelSelector"), ip.child("labelSelector"))
    return errs
