"""ObjectMeta validation (create and update), with upstream's per-kind name rules.

Mirrors k8s.io/apimachinery/pkg/api/validation/objectmeta.go plus the extra finalizer-name check that
k8s.io/kubernetes' core validation adds. Which name format a kind uses (DNS-1123 subdomain, DNS-1123
label, DNS-1035 label, path segment, none) is decided here, once.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api.field_errors import Path
from pyk8s.api.validation import common as c
from pyk8s.api.validation.common import Errs, NameFn, Obj

META: Final = Path.of("metadata")

# (group, kind) -> name validation function; anything not listed uses DNS-1123 subdomain.
_NAME_FUNCS: Final[dict[tuple[str, str], NameFn]] = {
    ("", "Namespace"): c.name_is_dns_label,
    ("", "Service"): c.name_is_dns1035_label,
    ("apps", "StatefulSet"): c.name_is_dns_label,
    ("rbac.authorization.k8s.io", "Role"): c.path_segment_name,
    ("rbac.authorization.k8s.io", "ClusterRole"): c.path_segment_name,
    ("rbac.authorization.k8s.io", "RoleBinding"): c.path_segment_name,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): c.path_segment_name,
    ("certificates.k8s.io", "CertificateSigningRequest"): c.no_name_check,
}

# Finalizer names that need no domain prefix (core validation's standardFinalizers).
_STANDARD_FINALIZERS: Final = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def name_func(group: str, kind: str) -> NameFn:
    return _NAME_FUNCS.get((group, kind), c.name_is_dns_subdomain)


def _owner_references(refs: Any, path: Path) -> Errs:
    errs: Errs = []
    first_controller = ""
    for n, ref in c.each(c.lst(refs)):
        api_version = c.s(ref.get("apiVersion"))
        parts = api_version.split("/")
        if not api_version:
            errs.append(fe.required(path.index(n).child("apiVersion"), "must not be empty"))
        elif len(parts) > 2 or not parts[-1]:
            errs.append(
                fe.invalid(path.index(n).child("apiVersion"), api_version, "must be <group>/<version> or <version>")
            )
        for fld in ("kind", "name", "uid"):
            if not c.s(ref.get(fld)):
                errs.append(fe.required(path.index(n).child(fld), "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(fe.invalid(path.index(n), ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{c.s(ref.get('kind'))}/{c.s(ref.get('name'))}"
            if first_controller:
                errs.append(
                    fe.invalid(
                        path,
                        refs,
                        "Only one reference can have Controller set to true. Found "
                        f'"true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errs


def _finalizers(finalizers: Any, path: Path, kube_names: bool) -> Errs:
    if not isinstance(finalizers, list) or not finalizers:
        return []
    names = [c.s(f) for f in finalizers]
    errs: Errs = []
    for f in names:
        errs += c.qualified_name(f, path)
    if "orphan" in names and "foregroundDeletion" in names:
        errs.append(fe.invalid(path, names, "finalizer orphan and foregroundDeletion cannot be both set"))
    if kube_names:
        errs += kube_finalizer_names(names, path)
    return errs


def kube_finalizer_names(names: list[str], path: Path, indexed: bool = True) -> Errs:
    """Core validation's extra rule: unprefixed finalizers must be one of the standard names."""
    errs: Errs = []
    for n, f in enumerate(names):
        if "/" not in f and f not in _STANDARD_FINALIZERS:
            errs.append(
                fe.invalid(
                    path.index(n) if indexed else path,
                    f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            )
    return errs


def _common(m: Obj, namespaced: bool, path: Path) -> Errs:
    # Every create and update runs this: a field that is absent (or cannot fail) costs no path.
    errs: Errs = []
    ns = c.s(m.get("namespace"))
    if namespaced:
        if not ns:
            errs.append(fe.required(path.child("namespace")))
        else:
            msgs = c.name_is_dns_label(ns, False)
            if msgs:
                errs += [fe.invalid(path.child("namespace"), ns, msg) for msg in msgs]
    elif ns:
        errs.append(fe.forbidden(path.child("namespace"), "not allowed on this type"))
    generation = m.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs += c.nonnegative(generation, path.child("generation"))
    if m.get("labels"):
        errs += c.label_map(m.get("labels"), path.child("labels"))
    if m.get("annotations"):
        errs += c.annotation_map(m.get("annotations"), path.child("annotations"))
    if m.get("ownerReferences"):
        errs += _owner_references(m.get("ownerReferences"), path.child("ownerReferences"))
    return errs


def validate_object_meta(
    obj: Obj, namespaced: bool, name_fn: NameFn, path: Path = META, kube_finalizers: bool = True
) -> Errs:
    """ValidateObjectMeta for create: generateName, name, namespace, labels, annotations, owners, finalizers."""
    m = c.dct(obj.get("metadata"))
    errs: Errs = []
    gen = c.s(m.get("generateName"))
    if gen:
        msgs = name_fn(gen, True)
        if msgs:
            errs += [fe.invalid(path.child("generateName"), gen, msg) for msg in msgs]
    name = c.s(m.get("name"))
    if not name:
        errs.append(fe.required(path.child("name"), "name or generateName is required"))
    else:
        msgs = name_fn(name, False)
        if msgs:
            errs += [fe.invalid(path.child("name"), name, msg) for msg in msgs]
    errs += _common(m, namespaced, path)
    if m.get("finalizers"):
        errs += _finalizers(m.get("finalizers"), path.child("finalizers"), kube_finalizers)
    return errs


def validate_object_meta_update(new: Obj, old: Obj, path: Path = META, kube_finalizers: bool = True) -> Errs:
    """ValidateObjectMetaUpdate: immutable identity fields, resourceVersion required, no new finalizers on delete."""
    nm, om = c.dct(new.get("metadata")), c.dct(old.get("metadata"))
    errs: Errs = []
    if om.get("deletionTimestamp"):
        extra = sorted(set(c.lst(nm.get("finalizers"))) - set(c.lst(om.get("finalizers"))))
        if extra:
            listed = ", ".join(fe.go_quote(str(x)) for x in extra)
            errs.append(
                fe.forbidden(
                    path.child("finalizers"),
                    "no new finalizers can be added if the object is "
                    f"being deleted, found new finalizers []string{{{listed}}}",
                )
            )
    if not c.s(nm.get("resourceVersion")):
        errs.append(fe.invalid(path.child("resourceVersion"), "", "must be specified for an update"))
    errs += c.nonnegative(nm.get("generation"), path.child("generation"))
    if c.i(nm.get("generation")) < c.i(om.get("generation")):
        errs.append(fe.invalid(path.child("generation"), c.i(nm.get("generation")), "must not be decremented"))
    for fld, empty in (
        ("name", ""),
        ("namespace", ""),
        ("uid", ""),
        ("creationTimestamp", None),
        ("deletionTimestamp", None),
        ("deletionGracePeriodSeconds", None),
    ):
        new_v = nm.get(fld) if nm.get(fld) is not None else empty
        old_v = om.get(fld) if om.get(fld) is not None else empty
        if new_v != old_v:
            errs.append(fe.invalid(path.child(fld), new_v, c.IMMUTABLE_MSG))
    errs += c.label_map(nm.get("labels"), path.child("labels"))
    errs += c.annotation_map(nm.get("annotations"), path.child("annotations"))
    errs += _owner_references(nm.get("ownerReferences"), path.child("ownerReferences"))
    if kube_finalizers:
        errs += kube_finalizer_names([c.s(f) for f in c.lst(nm.get("finalizers"))], path.child("finalizers"))
    return errs


def object_meta(
    obj: Obj,
    old: Obj | None,
    namespaced: bool = True,
    name_fn: NameFn = c.name_is_dns_subdomain,
    kube_finalizers: bool = True,
) -> Errs:
    """``validate_object_meta`` on create, ``validate_object_meta_update`` on update (``old`` given)."""
    if old is None:
        return validate_object_meta(obj, namespaced, name_fn, kube_finalizers=kube_finalizers)
    return validate_object_meta_update(obj, old, kube_finalizers=kube_finalizers)


def object_meta_rechecked(
    obj: Obj, old: Obj | None, namespaced: bool = True, name_fn: NameFn = c.name_is_dns_subdomain
) -> Errs:
    """For kinds whose update also re-runs the create checks: ``validate_object_meta_update`` (on update)
    followed by ``validate_object_meta``."""
    errs = validate_object_meta_update(obj, old) if old is not None else []
    return errs + validate_object_meta(obj, namespaced, name_fn)


def template_object_meta(meta: Any, path: Path) -> Errs:
    """Embedded templates (PVC templates) may carry only labels and annotations."""
    m = c.dct(meta)
    errs = c.annotation_map(m.get("annotations"), path.child("annotations"))
    errs += c.label_map(m.get("labels"), path.child("labels"))
    for key in m:
        if key not in ("labels", "annotations") and m[key] not in (None, "", {}, []):
            errs.append(fe.forbidden(path.child(key), "cannot be set"))
    return errs
