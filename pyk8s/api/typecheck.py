"""JSON type checks of whole objects against the Kubernetes schemas (what Go's decoder refuses).

Upstream decodes request bodies into Go structs, so a string where an integer belongs is a 400
("cannot unmarshal string into Go struct field ...") before defaulting or validation ever run. We keep
plain dicts, so this module runs the same check with jsonschema-rs over the kubernetes-validate schemas
(about a microsecond for a valid object) and words the first mismatch as Go does.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema_rs

from pyk8s.api import schema as S

_GO_TYPES = {("integer", "int32"): "int32", ("integer", "int64"): "int64", ("integer", None): "int64",
             ("number", None): "float64", ("number", "double"): "float64", ("string", None): "string",
             ("boolean", None): "bool", ("array", None): "[]interface {}", ("object", None): "map[string]interface {}"}


# jsonschema-rs error kinds that mean "wrong JSON type" (IntOrString and Quantity are oneOf/anyOf unions).
_TYPE_ERRORS = frozenset({"Type", "OneOfNotValid", "AnyOf"})


@functools.cache
def _validator(group: str, version: str, kind: str) -> Any | None:
    name = S.definition_name(group, version, kind)
    if name is None:
        return None
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": S.definitions(),
            "$ref": "#/$defs/" + name}
    return jsonschema_rs.validator_for(root)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _describe(group: str, version: str, kind: str, path: list[str | int]) -> tuple[str, str]:
    """(Go-ish field reference, Go type) for the schema node at `path`."""
    node: S.Schema | None = S.for_kind(group, version, kind)
    struct = kind
    names: list[str] = []
    for part in path:
        parent = S.resolve(node)
        if isinstance(part, int):
            node = S.items_schema(node)
            continue
        ref = (node or {}).get("$ref") or ""
        if parent and "properties" in parent:
            struct = ref.rsplit(".", 1)[-1] if ref else struct
            names.append(part)
        # A map value is reported as the map field itself, as Go does.
        node = S.property_schema(node, part)
    return f"{struct}.{'.'.join(names)}", _go_type(node)


def _go_name(ref: str) -> str:
    """``#/$defs/io.k8s.api.core.v1.Container`` -> ``v1.Container`` (Go's package.Type)."""
    parts = ref.rsplit("/", 1)[-1].split(".")
    return ".".join(parts[-2:])


def _go_type(node: S.Schema | None) -> str:
    ref = (node or {}).get("$ref") or ""
    if ref.endswith("intstr.IntOrString"):
        return "intstr.IntOrString"
    if ref.endswith("resource.Quantity"):
        return "resource.Quantity"
    resolved = S.resolve(node) or {}
    types = S.types_of(node)
    t = next(iter(sorted(types)), "object")
    if t == "array":
        items = (resolved.get("items") or {}).get("$ref") or ""
        return "[]" + _go_name(items) if items else "[]interface {}"
    if t == "object" and ref:
        return _go_name(ref)
    return _GO_TYPES.get((t, resolved.get("format")), _GO_TYPES.get((t, None), t))


def type_error(group: str, version: str, kind: str, obj: Any) -> str | None:
    """Go's decode error text for the first JSON type mismatch in `obj`, or None when the types are right."""
    validator = _validator(group, version, kind)
    if validator is None:
        return None
    try:
        if validator.is_valid(obj):
            return None
    except ValueError as e:  # a value JSON cannot hold (e.g. a non-string key)
        return f"json: unsupported value: {e}"
    for err in validator.iter_errors(obj):
        if type(err.kind).__name__ not in _TYPE_ERRORS:
            continue
        path = list(err.instance_path)
        value = err.instance
        field, go_type = _describe(group, version, kind, path)
        return f"json: cannot unmarshal {_json_type(value)} into Go struct field {field} of type {go_type}"
    return None
