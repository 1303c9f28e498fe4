"""rbac.authorization.k8s.io/v1 validation: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

Role and binding names only need to be valid path segments; rules and subjects use upstream's messages.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Errs, Obj

RBAC_GROUP: Final = "rbac.authorization.k8s.io"


def _meta(obj: Obj, namespaced: bool, old: Obj | None) -> Errs:
    errs = vm.validate_object_meta(obj, namespaced, c.path_segment_name)
    return errs + (vm.validate_object_meta_update(obj, old) if old is not None else [])


def _rule(rule: Obj, namespaced: bool, path: Path) -> Errs:
    errs: Errs = []
    if not c.lst(rule.get("verbs")):
        errs.append(fe.required(path.child("verbs"), "verbs must contain at least one value"))
    urls = c.lst(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            errs.append(
                fe.invalid(path.child("nonResourceURLs"), urls, "namespaced rules cannot apply to non-resource URLs")
            )
        if c.lst(rule.get("apiGroups")) or c.lst(rule.get("resources")) or c.lst(rule.get("resourceNames")):
            errs.append(
                fe.invalid(
                    path.child("nonResourceURLs"),
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not c.lst(rule.get("apiGroups")):
        errs.append(fe.required(path.child("apiGroups"), "resource rules must supply at least one api group"))
    if not c.lst(rule.get("resources")):
        errs.append(fe.required(path.child("resources"), "resource rules must supply at least one resource"))
    if c.lst(rule.get("resourceNames")) and len(c.lst(rule.get("resources"))) > 1:
        errs.append(fe.required(path.child("resourceNames"), "resource names cannot apply to multiple resources"))
    return errs


def validate_role(role: Obj, namespaced: bool, old: Obj | None = None) -> Errs:
    errs = _meta(role, namespaced, old)
    for n, rule in c.each(c.lst(role.get("rules"))):
        errs += _rule(rule, namespaced, Path.of("rules").index(n))
    return errs


def _subject(subject: Obj, namespaced: bool, path: Path) -> Errs:
    errs: Errs = []
    name, kind, group = c.s(subject.get("name")), c.s(subject.get("kind")), c.s(subject.get("apiGroup"))
    if not name:
        errs.append(fe.required(path.child("name")))
    if kind == "ServiceAccount":
        if name:
            errs += [fe.invalid(path.child("name"), name, m) for m in c.name_is_dns_subdomain(name, False)]
        if group:
            errs.append(fe.not_supported(path.child("apiGroup"), group, [""]))
        if not namespaced and not c.s(subject.get("namespace")):
            errs.append(fe.required(path.child("namespace")))
    elif kind in ("User", "Group"):
        if not name:
            errs.append(fe.invalid(path.child("name"), name, f"{kind.lower()} name cannot be empty"))
        if group != RBAC_GROUP:
            errs.append(fe.not_supported(path.child("apiGroup"), group, [RBAC_GROUP]))
    else:
        errs.append(fe.not_supported(path.child("kind"), kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _role_ref_key(ref: Any) -> tuple[str, str, str]:
    return c.s(c.get(ref, "apiGroup")), c.s(c.get(ref, "kind")), c.s(c.get(ref, "name"))


def validate_binding(binding: Obj, namespaced: bool, old: Obj | None = None) -> Errs:
    errs = _meta(binding, namespaced, old)
    group, kind, name = _role_ref_key(binding.get("roleRef"))
    ref = Path.of("roleRef")
    if group != RBAC_GROUP:
        errs.append(fe.not_supported(ref.child("apiGroup"), group, [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in kinds:
        errs.append(fe.not_supported(ref.child("kind"), kind, kinds))
    if not name:
        errs.append(fe.required(ref.child("name")))
    else:
        errs += [fe.invalid(ref.child("name"), name, m) for m in c.path_segment_name(name, False)]
    for n, subject in c.each(c.lst(binding.get("subjects"))):
        errs += _subject(subject, namespaced, Path.of("subjects").index(n))
    if old is not None and _role_ref_key(old.get("roleRef")) != (group, kind, name):
        errs.append(fe.invalid(ref, binding.get("roleRef"), "cannot change roleRef"))
    return errs
