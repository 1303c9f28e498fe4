"""Field selectors: upstream's ``?fieldSelector=`` syntax, label checks and per-resource field sets.

Three upstream pieces live here so list, watch and the cacher agree on them:

* the parser and matcher of apimachinery ``pkg/fields`` (``a=b,c!=d``, ``==`` as a synonym of ``=``,
  ``\\``, ``\\,`` and ``\\=`` escapes in values, a missing field reads as "");
* the per-kind field-label conversion the apiserver applies before listing (which labels a resource
  accepts, the renames such as events.k8s.io ``regarding.name`` -> ``involvedObject.name``, and the
  per-kind error text such as ``field label not supported: foo``);
* the selectable field set each registry strategy computes from an object (``...ToSelectableFields``).

All errors are ``errors.BadRequest`` with upstream's message text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import go_quote
from pyk8s.api.resources import RESOURCES

EQUALS = "="
NOT_EQUALS = "!="

# Checked in this order at every position: "==" before "=" so no "=" is left on the value.
_TERM_OPERATORS = ("!=", "==", "=")


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One term; ``operator`` is ``=`` (also for ``==``) or ``!=``, ``value`` is unescaped."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return have == self.value if self.operator == EQUALS else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


TransformFunc = Callable[[str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """An AND of field terms. No terms selects everything."""

    terms: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def empty(self) -> bool:
        return not self.terms

    def requirements(self) -> tuple[FieldRequirement, ...]:
        return self.terms

    def requires_exact_match(self, field: str) -> str | None:
        """The value an ``=`` term demands for ``field`` (first such term), else None."""
        for t in self.terms:
            if t.field == field and t.operator == EQUALS:
                return t.value
        return None

    def transform(self, fn: TransformFunc) -> FieldSelector:
        """Rewrite every term's field and value; a term mapped to ("", "") is dropped (upstream Transform)."""
        out: list[FieldRequirement] = []
        for t in self.terms:
            field, value = fn(t.field, t.value)
            if field or value:
                out.append(FieldRequirement(field, t.operator, value))
        return FieldSelector(tuple(out))

    def __str__(self) -> str:
        return ",".join(str(t) for t in self.terms)


EVERYTHING = FieldSelector()


def escape_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(text: str) -> str:
    """fields.UnescapeValue, raising BadRequest with upstream's wording for bad escapes."""
    if not any(c in text for c in "\\,="):
        return text
    out: list[str] = []
    in_slash = False
    for c in text:
        if in_slash:
            if c in "\\,=":
                out.append(c)
            else:
                raise errors.BadRequest(f"invalid field selector: invalid escape sequence: \\{c}")
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Upstream prints the rune with %v, i.e. as its number.
            raise errors.BadRequest(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise errors.BadRequest("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped (escapes stay in the terms)."""
    if not text:
        return []
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """fields.ParseSelector. Terms come out sorted by their text, as upstream sorts them."""
    terms: list[FieldRequirement] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise errors.BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        terms.append(FieldRequirement(lhs, NOT_EQUALS if op == NOT_EQUALS else EQUALS, unescape_value(rhs)))
    return FieldSelector(tuple(terms))


def selector_from_set(fields: Mapping[str, str]) -> FieldSelector:
    """An ``=`` term per entry (fields.SelectorFromSet), sorted by field."""
    return FieldSelector(tuple(FieldRequirement(k, EQUALS, v) for k, v in sorted(fields.items())))


# ---- which field labels each resource accepts (pkg/apis/<group>/<version>/conversion.go) ----

@dataclass(frozen=True, slots=True)
class _FieldLabels:
    accepted: frozenset[str]
    renames: Mapping[str, str]
    reject: Callable[[str], str]


def _not_supported(label: str) -> str:
    return f"field label not supported: {label}"


def _labels(*accepted: str, renames: Mapping[str, str] | None = None,
            reject: Callable[[str], str] = _not_supported) -> _FieldLabels:
    return _FieldLabels(frozenset(accepted), renames or {}, reject)


_META = ("metadata.name", "metadata.namespace")
_CORE_EVENT_FIELDS = (
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
    "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
    "reason", "reportingComponent", "source", "type",
)

_FIELD_LABELS: dict[tuple[str, str], _FieldLabels] = {
    ("", "pods"): _labels(
        *_META, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
        # Old v1 clients send spec.host.
        renames={"spec.host": "spec.nodeName"},
    ),
    ("", "nodes"): _labels("metadata.name", "spec.unschedulable"),
    ("", "replicationcontrollers"): _labels(*_META, "status.replicas"),
    ("", "events"): _labels(*_CORE_EVENT_FIELDS, *_META),
    ("", "namespaces"): _labels("status.phase", "metadata.name"),
    ("", "secrets"): _labels("type", *_META),
    ("", "services"): _labels(*_META, "spec.clusterIP", "spec.type"),
    ("batch", "jobs"): _labels(*_META, "status.successful",
                               reject=lambda label: f"field label {go_quote(label)} not supported for Job"),
    ("certificates.k8s.io", "certificatesigningrequests"): _labels("metadata.name", "spec.signerName"),
    ("certificates.k8s.io", "clustertrustbundles"): _labels("metadata.name", "spec.signerName"),
    ("certificates.k8s.io", "podcertificaterequests"): _labels(
        "metadata.name", "spec.signerName", "spec.podName", "spec.nodeName"),
    ("events.k8s.io", "events"): _labels(renames={
        "reason": "reason",
        "regarding.kind": "involvedObject.kind",
        "regarding.namespace": "involvedObject.namespace",
        "regarding.name": "involvedObject.name",
        "regarding.uid": "involvedObject.uid",
        "regarding.apiVersion": "involvedObject.apiVersion",
        "regarding.resourceVersion": "involvedObject.resourceVersion",
        "regarding.fieldPath": "involvedObject.fieldPath",
        "reportingController": "reportingComponent",
        "source": "source",
        "type": "type",
        "metadata.namespace": "metadata.namespace",
        "metadata.name": "metadata.name",
    }),
}


def _default_reject(label: str) -> str:
    return f"{go_quote(label)} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""


_DEFAULT_LABELS = _labels(*_META, reject=_default_reject)


def accepted_field_labels(resource_plural: str, group: str) -> frozenset[str]:
    """The field labels a ``fieldSelector`` may name for this resource."""
    spec = _FIELD_LABELS.get((group, resource_plural), _DEFAULT_LABELS)
    return spec.accepted | frozenset(spec.renames)


def convert_field_label(resource_plural: str, group: str, label: str, value: str) -> tuple[str, str]:
    """scheme.ConvertFieldLabel for one term: the internal label name, or BadRequest with upstream's text."""
    spec = _FIELD_LABELS.get((group, resource_plural), _DEFAULT_LABELS)
    if label in spec.renames:
        return spec.renames[label], value
    if label in spec.accepted:
        return label, value
    raise errors.BadRequest(spec.reject(label))


def selector_for_resource(selector: FieldSelector, resource_plural: str, group: str) -> FieldSelector:
    """Check and rename every term the way the apiserver does before a list or watch.

    The result names the keys of ``object_fields`` for the same resource.
    """
    return selector.transform(lambda label, value: convert_field_label(resource_plural, group, label, value))


def parse_for_resource(text: str, resource_plural: str, group: str) -> FieldSelector:
    """``parse_field_selector`` then ``selector_for_resource``: what a list handler needs from the query."""
    return selector_for_resource(parse_field_selector(text), resource_plural, group)


# ---- the selectable fields of an object (pkg/registry/*/*/strategy.go) ----

def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int_text(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "0"


_CLUSTER_SCOPED = frozenset((r.group, r.plural) for r in RESOURCES if not r.namespaced)
_KNOWN = frozenset((r.group, r.plural) for r in RESOURCES)


def _pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    pod_ips = _get(pod, "status", "podIPs")
    if isinstance(pod_ips, list) and pod_ips and isinstance(pod_ips[0], Mapping):
        pod_ip = _text(pod_ips[0].get("ip"))
    else:
        # The v1 API keeps podIP equal to podIPs[0].ip; fall back to it for objects without podIPs.
        pod_ip = _text(_get(pod, "status", "podIP"))
    return {
        "spec.nodeName": _text(_get(pod, "spec", "nodeName")),
        "spec.restartPolicy": _text(_get(pod, "spec", "restartPolicy")),
        "spec.schedulerName": _text(_get(pod, "spec", "schedulerName")),
        "spec.serviceAccountName": _text(_get(pod, "spec", "serviceAccountName")),
        "spec.hostNetwork": "true" if _get(pod, "spec", "hostNetwork") is True else "false",
        "status.phase": _text(_get(pod, "status", "phase")),
        "status.podIP": pod_ip,
        "status.nominatedNodeName": _text(_get(pod, "status", "nominatedNodeName")),
    }


def _event_fields(event: Mapping[str, Any]) -> dict[str, str]:
    """Events are selected by their core/v1 field names whichever API version the object is in."""
    api_version = _text(event.get("apiVersion"))
    if api_version.startswith("events.k8s.io/") or ("regarding" in event and "involvedObject" not in event):
        ref = event.get("regarding") or {}
        reporting = _text(event.get("reportingController"))
        component = _text(_get(event, "deprecatedSource", "component"))
    else:
        ref = event.get("involvedObject") or {}
        reporting = _text(event.get("reportingComponent"))
        component = _text(_get(event, "source", "component"))
    if not isinstance(ref, Mapping):
        ref = {}
    return {
        "involvedObject.kind": _text(ref.get("kind")),
        "involvedObject.namespace": _text(ref.get("namespace")),
        "involvedObject.name": _text(ref.get("name")),
        "involvedObject.uid": _text(ref.get("uid")),
        "involvedObject.apiVersion": _text(ref.get("apiVersion")),
        "involvedObject.resourceVersion": _text(ref.get("resourceVersion")),
        "involvedObject.fieldPath": _text(ref.get("fieldPath")),
        "reason": _text(event.get("reason")),
        "reportingComponent": reporting,
        "source": component or reporting,
        "type": _text(event.get("type")),
    }


_SPECIFIC_FIELDS: dict[tuple[str, str], Callable[[Mapping[str, Any]], dict[str, str]]] = {
    ("", "pods"): _pod_fields,
    ("", "events"): _event_fields,
    ("events.k8s.io", "events"): _event_fields,
    ("", "nodes"): lambda o: {"spec.unschedulable": "true" if _get(o, "spec", "unschedulable") is True else "false"},
    # "name" is a historical bug upstream keeps for compatibility.
    ("", "namespaces"): lambda o: {"status.phase": _text(_get(o, "status", "phase")),
                                   "name": _text(_get(o, "metadata", "name"))},
    ("", "persistentvolumes"): lambda o: {"name": _text(_get(o, "metadata", "name"))},
    ("", "persistentvolumeclaims"): lambda o: {"name": _text(_get(o, "metadata", "name"))},
    ("", "secrets"): lambda o: {"type": _text(o.get("type"))},
    ("", "services"): lambda o: {"spec.clusterIP": _text(_get(o, "spec", "clusterIP")),
                                 "spec.type": _text(_get(o, "spec", "type"))},
    ("", "replicationcontrollers"): lambda o: {"status.replicas": _int_text(_get(o, "status", "replicas"))},
    ("apps", "replicasets"): lambda o: {"status.replicas": _int_text(_get(o, "status", "replicas"))},
    ("batch", "jobs"): lambda o: {"status.successful": _int_text(_get(o, "status", "succeeded"))},
    ("certificates.k8s.io", "certificatesigningrequests"): lambda o: {
        "spec.signerName": _text(_get(o, "spec", "signerName"))},
    ("certificates.k8s.io", "clustertrustbundles"): lambda o: {"spec.signerName": _text(_get(o, "spec", "signerName"))},
    ("certificates.k8s.io", "podcertificaterequests"): lambda o: {
        "spec.signerName": _text(_get(o, "spec", "signerName")),
        "spec.podName": _text(_get(o, "spec", "podName")),
        "spec.nodeName": _text(_get(o, "spec", "nodeName")),
    },
}


def object_fields(resource_plural: str, group: str, obj: Mapping[str, Any], *,
                  namespaced: bool | None = None) -> dict[str, str]:
    """The field set a registry strategy exposes for selection (``metadata.name`` always, and
    ``metadata.namespace`` for namespaced resources, plus the resource's own fields).

    ``namespaced`` defaults to the resource table's scope; for a resource the table does not know,
    the object's own ``metadata.namespace`` decides.
    """
    meta = obj.get("metadata") or {}
    out: dict[str, str] = {"metadata.name": _text(meta.get("name"))}
    if namespaced is None:
        namespaced = (group, resource_plural) not in _CLUSTER_SCOPED
        if namespaced and (group, resource_plural) not in _KNOWN:
            namespaced = bool(meta.get("namespace"))
    if namespaced:
        out["metadata.namespace"] = _text(meta.get("namespace"))
    specific = _SPECIFIC_FIELDS.get((group, resource_plural))
    if specific is not None:
        out.update(specific(obj))
    return out


def matches_object(selector: FieldSelector, resource_plural: str, group: str, obj: Mapping[str, Any]) -> bool:
    """Whether an already converted selector (``selector_for_resource``) selects ``obj``."""
    if selector.empty():
        return True
    return selector.matches(object_fields(resource_plural, group, obj))
