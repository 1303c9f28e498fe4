"""Kubernetes type schemas, loaded from the kubernetes-validate package.

These JSON Schema definitions carry upstream's ``x-kubernetes-*`` extensions (patch strategy and
merge keys, list types and map keys, group-version-kind), which drive strategic merge patch,
server-side apply, validation of unknown fields and the OpenAPI documents we serve. They are never
hand-copied: this module is the one door to them.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

import orjson

# The Kubernetes minor whose API pyk8s implements (also reported by /version).
KUBE_SCHEMA_VERSION = "v1.33.0"

Schema = dict[str, Any]
_REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, Schema]:
    """All definitions, keyed like ``io.k8s.api.apps.v1.Deployment``."""
    root = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"{KUBE_SCHEMA_VERSION}-local"
    data = orjson.loads((root / "_definitions.json").read_bytes())
    defs: dict[str, Schema] = data["$defs"]
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            # Prefer the definition whose name ends with the kind (Status/DeleteOptions appear under many GVKs).
            if key not in out or name.endswith("." + key[2]):
                out[key] = name
    return out


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition name for a group/version/kind, e.g. ("apps","v1","Deployment")."""
    return _gvk_index().get((group, version, kind))


def for_kind(group: str, version: str, kind: str) -> Schema | None:
    name = definition_name(group, version, kind)
    return definitions()[name] if name else None


# resolve() results of referring schemas, by id of the referring dict: (that dict, kept alive so its id is not
# reused, and its resolution). Schemas are immutable module data, so a resolution never goes stale; the bound
# only guards against callers that resolve throwaway dicts.
_RESOLVED: dict[int, tuple[Schema, Schema | None]] = {}
_RESOLVED_MAX = 100_000


def resolve(schema: Schema | None) -> Schema | None:
    """Follow ``$ref`` (also inside a single-element ``allOf``) to the referenced definition.

    The returned dict is the definition itself, merged with any ``x-kubernetes-*`` keys set next to the
    reference (upstream puts list/patch extensions on the referring property). Callers must not modify it:
    the result for a referring schema is computed once and shared.
    """
    if schema is None:
        return None
    hit = _RESOLVED.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    resolved = _resolve(schema)
    if resolved is not schema:
        if len(_RESOLVED) >= _RESOLVED_MAX:
            _RESOLVED.clear()
        _RESOLVED[id(schema)] = (schema, resolved)
    return resolved


def _resolve(schema: Schema | None) -> Schema | None:
    seen = 0
    while schema is not None and seen < 32:
        seen += 1
        ref = schema.get("$ref")
        if ref is None and len(schema.get("allOf", ())) == 1:
            ref = schema["allOf"][0].get("$ref")
        if ref is None:
            return schema
        target = definitions().get(ref[len(_REF_PREFIX):]) if ref.startswith(_REF_PREFIX) else None
        extras = {k: v for k, v in schema.items() if k.startswith("x-kubernetes-")}
        schema = {**target, **extras} if (target is not None and extras) else target
    return schema


def property_schema(schema: Schema | None, name: str) -> Schema | None:
    """The (unresolved) schema of property `name` of an object schema, or None if unknown."""
    s = resolve(schema)
    if not s:
        return None
    props = s.get("properties")
    if props and name in props:
        prop: Schema = props[name]
        return prop
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return None


def items_schema(schema: Schema | None) -> Schema | None:
    """The element schema of an array schema."""
    s = resolve(schema)
    if not s:
        return None
    items = s.get("items")
    return items if isinstance(items, dict) else None


def types_of(schema: Schema | None) -> set[str]:
    """JSON types a schema allows ("null" removed), empty when unconstrained."""
    s = resolve(schema)
    if not s:
        return set()
    t = s.get("type")
    if isinstance(t, str):
        out = {t}
    elif isinstance(t, list):
        out = set(t)
    else:
        out = set()
        for alt in [*s.get("oneOf", ()), *s.get("anyOf", ())]:
            out |= types_of(alt)
    out.discard("null")
    return out


def is_object(schema: Schema | None) -> bool:
    s = resolve(schema)
    return bool(s) and ("properties" in s or "object" in types_of(s))  # type: ignore[operator]


def is_map(schema: Schema | None) -> bool:
    """An object with free-form keys (``additionalProperties``), such as labels or ConfigMap data."""
    s = resolve(schema)
    return bool(s) and "additionalProperties" in s and "properties" not in s  # type: ignore[operator]


def patch_strategy(schema: Schema | None) -> set[str]:
    """Upstream's ``x-kubernetes-patch-strategy`` as a set, e.g. {"merge", "retainKeys"}."""
    if not schema:
        return set()
    raw = schema.get("x-kubernetes-patch-strategy") or (resolve(schema) or {}).get("x-kubernetes-patch-strategy")
    return set(raw.split(",")) if raw else set()


def patch_merge_key(schema: Schema | None) -> str | None:
    if not schema:
        return None
    key = schema.get("x-kubernetes-patch-merge-key") or (resolve(schema) or {}).get("x-kubernetes-patch-merge-key")
    return str(key) if key else None


def list_type(schema: Schema | None) -> str | None:
    """``atomic``, ``set`` or ``map`` (``x-kubernetes-list-type``), None when unspecified."""
    if not schema:
        return None
    t = schema.get("x-kubernetes-list-type") or (resolve(schema) or {}).get("x-kubernetes-list-type")
    return str(t) if t else None


def list_map_keys(schema: Schema | None) -> list[str]:
    if not schema:
        return []
    keys = schema.get("x-kubernetes-list-map-keys") or (resolve(schema) or {}).get("x-kubernetes-list-map-keys")
    return list(keys or [])


def map_type(schema: Schema | None) -> str | None:
    """``atomic`` or ``granular`` (``x-kubernetes-map-type``)."""
    if not schema:
        return None
    t = schema.get("x-kubernetes-map-type") or (resolve(schema) or {}).get("x-kubernetes-map-type")
    return str(t) if t else None


def at_path(root: Schema | None, path: list[str]) -> Schema | None:
    """Walk property names (and ``[]`` for array items) from a root schema."""
    s = root
    for part in path:
        s = items_schema(s) if part == "[]" else property_schema(s, part)
        if s is None:
            return None
    return s
