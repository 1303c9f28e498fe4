"""The three PATCH flavours the apiserver applies, as pure functions on plain dicts.

JSON Patch (RFC 6902) runs through the ``jsonpatch`` library, adjusted where the evanphx/json-patch v4 library
inside kube-apiserver differs from the RFC. JSON merge patch (RFC 7386) and strategic merge patch are written here:
the latter follows k8s.io/apimachinery ``pkg/util/strategicpatch`` (server side: parallel lists are merged, unmatched
nulls ignored), with patch strategies and merge keys read from the schema definitions in :mod:`pyk8s.api.schema`.
Errors are the ``Status`` errors kube-apiserver's PATCH handler returns for each failure. Inputs are never mutated.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from types import MappingProxyType
from typing import Any

import jsonpatch
import jsonpointer
import orjson

from pyk8s.api import errors
from pyk8s.api.schema import Schema, items_schema, patch_merge_key, patch_strategy, property_schema

PATCH_CONTENT_TYPES: dict[str, str] = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}

# kube-apiserver refuses JSON patches with more operations than this (handlers/patch.go).
MAX_JSON_PATCH_OPERATIONS = 10000

# Upstream wraps every failure to apply a JSON patch in a generic 422 that drops the library's message.
_GENERIC_INVALID_MESSAGE = "the server rejected our request due to an error in our request"

# Messages of the sentinel errors in k8s.io/apimachinery pkg/util/mergepatch.
_BAD_JSON_DOC = "invalid JSON document"
_NO_LIST_OF_LISTS = "lists of lists are not supported"
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ELEMENT_ORDER = "$setElementOrder"
_DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

_GO_MAP = "map[string]interface {}"
_GO_SLICE = "[]interface {}"


# ---------------------------------------------------------------------------------------------------------------------
# shared helpers


def _json_copy(value: Any) -> Any:
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:  # ints beyond 64 bits, nesting deeper than orjson allows
        raise errors.BadRequest(_BAD_JSON_DOC) from exc


def _generic_invalid() -> errors.Invalid:
    return errors.Invalid(_GENERIC_INVALID_MESSAGE)


def _json_type(value: Any) -> str:
    """How Go's encoding/json names a JSON value in its unmarshal errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "number"


def _go_type(value: Any) -> str:
    """The Go type a decoded JSON value has (``reflect.TypeOf``), as printed by ``%s``."""
    if isinstance(value, dict):
        return _GO_MAP
    if isinstance(value, list):
        return _GO_SLICE
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    return "%!s(<nil>)"


def _go_format(value: Any) -> str:
    """A decoded JSON value as Go's ``%v`` prints it (maps with sorted keys)."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_format(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


# ---------------------------------------------------------------------------------------------------------------------
# JSON merge patch (RFC 7386)


def json_merge_patch(original: dict[str, Any], patch: Any) -> Any:
    """Apply an ``application/merge-patch+json`` body: ``null`` deletes a key, objects merge, anything else replaces.

    As in kube-apiserver the body itself must be an object: other JSON values are a 400.
    """
    if patch is None:
        raise errors.BadRequest("Invalid JSON Patch")
    if not isinstance(patch, dict):
        raise errors.BadRequest(
            f"error decoding patch: json: cannot unmarshal {_json_type(patch)} into Go value of type {_GO_MAP}"
        )
    target = _json_copy(original)
    _merge_patch_into(target, patch)
    return target


def _merge_patch_into(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            _merge_patch_into(current, value)
        elif isinstance(current, dict):
            # evanphx/json-patch hands a non-object patch value over an object through unpruned.
            target[key] = _json_copy(value)
        else:
            target[key] = _without_nulls(value)


def _without_nulls(value: Any) -> Any:
    """A copy of a patch value with null members of objects (at any depth) removed; null list items stay."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)


class _ReplaceOperation(jsonpatch.ReplaceOperation):
    """``replace`` of a missing object member sets it, as evanphx/json-patch v4 (used by kube-apiserver) does."""

    def apply(self, obj: Any) -> Any:
        subobj, part = self.pointer.to_last(obj)
        if isinstance(subobj, MutableMapping) and part is not None and part not in subobj:
            return jsonpatch.AddOperation(self.operation, pointer_cls=self.pointer_cls).apply(obj)
        return super().apply(obj)


class _TestOperation(jsonpatch.TestOperation):
    """``test`` for ``null`` also passes on a missing object member, as in evanphx/json-patch v4."""

    def apply(self, obj: Any) -> Any:
        if self.operation.get("value") is None:
            try:
                subobj, part = self.pointer.to_last(obj)
            except jsonpointer.JsonPointerException:
                subobj, part = None, None
            if isinstance(subobj, MutableMapping) and part is not None and subobj.get(part) is None:
                return obj
        return super().apply(obj)


class _UpstreamJsonPatch(jsonpatch.JsonPatch):
    operations = MappingProxyType({**jsonpatch.JsonPatch.operations, "replace": _ReplaceOperation, "test": _TestOperation})


# What the jsonpatch/jsonpointer libraries raise on a patch that does not apply (or on an odd document).
_JSON_PATCH_FAILURES = (
    jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, ValueError, KeyError, IndexError,
    AttributeError,
)


def json_patch(original: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply an ``application/json-patch+json`` body (a list of RFC 6902 operations).

    A body that does not decode as a list of operation objects is a 400; more than 10000 operations a 413; any
    operation that fails to apply (missing path, failed ``test``, bad index, unknown ``op``) the generic 422
    kube-apiserver returns.
    """
    ops = _decode_json_patch(operations)
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise errors.RequestEntityTooLarge(
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}"
        )
    document = _json_copy(original)
    try:
        result = _UpstreamJsonPatch(ops).apply(document, in_place=True)
    except _JSON_PATCH_FAILURES as exc:
        raise _generic_invalid() from exc
    if not isinstance(result, dict):
        raise _generic_invalid()
    return result


def _decode_json_patch(operations: Any) -> list[Any]:
    """Check the body the way upstream's strict decode into ``[]jsonPatchOp`` does; return the operations."""
    if operations is None:
        return []
    prefix = "error decoding patch: json: cannot unmarshal"
    if not isinstance(operations, list):
        raise errors.BadRequest(f"{prefix} {_json_type(operations)} into Go value of type []handlers.jsonPatchOp")
    ops: list[Any] = []
    for op in operations:
        if op is None:
            ops.append({})  # decodes to an empty operation, which then fails to apply
            continue
        if not isinstance(op, dict):
            raise errors.BadRequest(f"{prefix} {_json_type(op)} into Go value of type handlers.jsonPatchOp")
        for name in ("op", "path", "from"):
            value = op.get(name)
            if value is not None and not isinstance(value, str):
                raise errors.BadRequest(
                    f"{prefix} {_json_type(value)} into Go struct field jsonPatchOp.{name} of type string"
                )
        if op.get("op") in ("add", "replace") and "value" not in op:
            op = {**op, "value": None}  # evanphx/json-patch writes null for a missing value
        ops.append(op)
    return ops


# ---------------------------------------------------------------------------------------------------------------------
# strategic merge patch


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    """Apply an ``application/strategic-merge-patch+json`` body to `original`.

    `schema` is the object's top-level definition (``schema.for_kind(...)``); where it says nothing (None, or an
    unknown field) maps merge and lists are replaced, as in a JSON merge patch. Directives (``$patch``,
    ``$retainKeys``, ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``) are applied and never stored.
    """
    if patch is None:
        return _as_dict(_json_copy(original))
    if not isinstance(patch, dict):
        raise errors.BadRequest(f"json: cannot unmarshal {_json_type(patch)} into Go value of type {_GO_MAP}")
    try:
        return _merge_map(_as_dict(_json_copy(original)), _json_copy(patch), schema)
    except RecursionError as exc:
        raise errors.BadRequest(_BAD_JSON_DOC) from exc


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _struct_field(parent: Schema | None, key: str) -> tuple[Schema | None, str]:
    """Sub-schema and patch strategy (without ``retainKeys``) of an object-valued field."""
    field = property_schema(parent, key)
    return field, _other_strategy(field)


def _list_field(parent: Schema | None, key: str) -> tuple[Schema | None, str, str]:
    """Element schema, patch strategy (without ``retainKeys``) and merge key of a list-valued field."""
    field = property_schema(parent, key)
    return items_schema(field), _other_strategy(field), patch_merge_key(field) or ""


def _other_strategy(field: Schema | None) -> str:
    strategies = patch_strategy(field) - {"retainKeys"}
    return next(iter(strategies)) if len(strategies) == 1 else ""


def _merge_map(original: dict[str, Any], patch: dict[str, Any], sub: Schema | None) -> dict[str, Any]:
    """Merge `patch` into `original` (both owned by us and changed in place); return the merged map."""
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            return _decoded({k: v for k, v in patch.items() if k != _DIRECTIVE})
        if directive == "delete":
            return {}
        raise errors.BadRequest(f"unknown patch type: {_go_format(directive)} in map: {_go_format(patch)}")

    _apply_retain_keys(original, patch)
    _apply_set_element_order(original, patch, sub)

    for raw_key, value in list(patch.items()):
        key, is_delete_list = raw_key, False
        if raw_key.startswith(_DELETE_FROM_PRIMITIVE_LIST):
            key, is_delete_list = _directive_target(raw_key, _DELETE_FROM_PRIMITIVE_LIST, _BAD_PRIMITIVE_LIST), True
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not is_delete_list:
                _set_new_value(original, key, value)
            continue
        current = original[key]
        if isinstance(current, dict) and isinstance(value, dict):
            field, strategy = _struct_field(sub, key)
            original[key] = _decoded(value) if strategy == "replace" else _merge_map(current, value, field)
        elif isinstance(current, list) and isinstance(value, list):
            items, strategy, merge_key = _list_field(sub, key)
            original[key], _ = _merge_list_field(current, value, items, strategy, merge_key, is_delete_list)
        elif _go_type(current) != _go_type(value):
            if not is_delete_list:
                _set_new_value(original, key, value)
        else:
            original[key] = value
    return original


def _set_new_value(target: dict[str, Any], key: str, value: Any) -> None:
    """Store a patch value that has nothing to merge with: nulls and directives dropped (a map with ``$patch`` too)."""
    cleaned, keep = _remove_directives(_without_nulls(value))
    if keep:
        target[key] = cleaned
    else:
        target.pop(key, None)


def _is_directive_key(key: str) -> bool:
    return key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_SET_ELEMENT_ORDER + "/", _DELETE_FROM_PRIMITIVE_LIST + "/"))


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """Upstream's removeDirectives: a map holding ``$patch`` is dropped; other directive keys cannot be stored."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        out: dict[str, Any] = {}
        for k, v in value.items():
            if _is_directive_key(k):
                continue
            cleaned, keep = _remove_directives(v)
            if keep:
                out[k] = cleaned
        return out, True
    if isinstance(value, list):
        kept = [_remove_directives(v) for v in value]
        return [v for v, keep in kept if keep], True
    return value, True


def _decoded(value: Any) -> Any:
    """A patch value taken wholesale, as decoding it into the typed object would leave it: no nulls, no directives."""
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items() if v is not None and not _is_directive_key(k)}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _directive_target(key: str, prefix: str, bad_format: str) -> str:
    """``$setElementOrder/containers`` -> ``containers``."""
    head, sep, tail = key.partition("/")
    if not sep or head != prefix:
        raise errors.BadRequest(bad_format)
    return tail


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise errors.BadRequest(_BAD_RETAIN_KEYS)
    allowed = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((_DELETE_FROM_PRIMITIVE_LIST, _SET_ELEMENT_ORDER)):
            continue
        if key not in allowed:
            raise errors.BadRequest(_BAD_RETAIN_KEYS)
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _apply_set_element_order(original: dict[str, Any], patch: dict[str, Any], sub: Schema | None) -> None:
    """Merge each list named by a ``$setElementOrder/<list>`` directive and put it in the order the directive gives."""
    for directive_key in [k for k in patch if k.startswith(_SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type(_GO_SLICE, order)
        key = _directive_target(directive_key, _SET_ELEMENT_ORDER, _BAD_SET_ELEMENT_ORDER)
        found_original, found_patch = key in original, key in patch
        original_list = original.get(key) if found_original else []
        patch_list = patch.get(key) if found_patch else []
        if not isinstance(original_list, list):
            raise _bad_arg_type(_GO_SLICE, original_list)
        if not isinstance(patch_list, list):
            raise _bad_arg_type(_GO_SLICE, patch_list)
        items, strategy, merge_key = _list_field(sub, key)
        _check_patch_follows_order(patch_list, order, merge_key)

        live_order = original_list
        if found_original and not found_patch:
            merged = original_list
        elif found_patch and not found_original:
            merged, _ = _remove_directives(_without_nulls(patch_list))
        elif found_original and found_patch:
            merged, live_order = _merge_list_field(original_list, patch_list, items, strategy, merge_key, False)
        else:
            continue

        if original_list or patch_list:
            kind = _element_kind(original_list, patch_list)
            in_order, server_only = _partition(merged, order, merge_key)
            merged = _normalize_order(in_order, server_only, order, live_order, merge_key, kind)
        original[key] = merged
        patch.pop(key, None)


def _check_patch_follows_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Every non-deleting patch item must appear in ``$setElementOrder`` and in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg_type(_GO_MAP, item)
        items = [item for item in patch_list if item.get(_DIRECTIVE) != "delete"]
    at_item = at_order = 0
    while at_item < len(items) and at_order < len(order):
        item = items[at_item]
        if isinstance(item, dict) and _DIRECTIVE in item:
            at_item += 1
            continue
        if _same_merge_key(item, order[at_order], merge_key):
            at_item += 1
        at_order += 1
    if at_item < len(items):
        raise errors.BadRequest(
            f"The order in patch list:\n{_go_format(patch_list)}\n doesn't match {_SET_ELEMENT_ORDER} list:\n"
            f"{_go_format(order)}\n"
        )


def _same_merge_key(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _scalar_identity(left) == _scalar_identity(right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _bad_arg_type(_GO_MAP, item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return _scalar_identity(left[merge_key]) == _scalar_identity(right[merge_key])


def _merge_list_field(
    original: list[Any], patch: list[Any], items: Schema | None, strategy: str, merge_key: str, is_delete_list: bool
) -> tuple[list[Any], list[Any]]:
    """The merged list, and the live list as upstream's caller sees it afterwards (see :func:`_merge_list`)."""
    if strategy == "merge" or is_delete_list:
        return _merge_list(original, patch, items, merge_key, is_delete_list)
    return _decoded(patch), original


def _merge_list(
    original: list[Any], patch: list[Any], items: Schema | None, merge_key: str, is_delete_list: bool
) -> tuple[list[Any], list[Any]]:
    """Merge a list with patch strategy ``merge``; return the merged list and the live order the caller then sees.

    Upstream deletes and appends items in place on the Go slice it was handed, so the ``$setElementOrder`` step
    that runs next orders server-only items against that rewritten slice, not the list as it was. That second
    value reproduces it: deletions shift later items left (the tail keeps stale copies), then new items fill the
    freed tail slots.
    """
    if not original and not patch:
        return original, original
    kind = _element_kind(original, patch)
    if kind != _GO_MAP:
        if is_delete_list:
            doomed = {_scalar_identity(v) for v in patch}
            return [v for v in original if _scalar_identity(v) not in doomed], original
        merged = _dedupe_scalars(original + patch)
        live_after = original
    else:
        if not merge_key:
            raise errors.BadRequest("cannot merge lists without merge key for struct")
        live_after = list(original)
        original, patch, replaced = _apply_list_element_directives(live_after, patch, merge_key)
        merged = _merge_keyed_items(original, patch, items, merge_key)
        if not replaced:
            added = merged[len(original):]
            free = len(live_after) - len(original)
            live_after[len(original):len(original) + min(free, len(added))] = added[:free]
    from_patch, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(from_patch, server_only, patch, original, merge_key, kind), live_after


def _apply_list_element_directives(
    backing: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any], bool]:
    """Handle ``$patch`` list items: delete by merge key, or replace the whole list with the other items.

    Returns the list to merge into, the patch items without directives, and whether the list was replaced.
    Deletions are done on `backing` the way Go's ``append(s[:i], s[i+1:]...)`` does them.
    """
    plain: list[Any] = []
    replace = False
    length = len(backing)
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[_DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            doomed = _scalar_identity(item[merge_key])
            at = 0
            while at < length:
                if merge_key in backing[at] and _scalar_identity(backing[at][merge_key]) == doomed:
                    backing[at:length - 1] = backing[at + 1:length]
                    length -= 1
                else:
                    at += 1
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise errors.BadRequest("merging lists cannot yet be specified in the patch")
        else:
            raise errors.BadRequest(f"unknown patch type: {_go_format(directive)} in map: {_go_format(item)}")
    if replace:
        return _decoded(plain), [], True
    return backing[:length], plain, False


def _merge_keyed_items(original: list[Any], patch: list[Any], items: Schema | None, merge_key: str) -> list[Any]:
    merged = list(original)
    appended: list[int] = []
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        wanted = _scalar_identity(item[merge_key])
        at = next((i for i, o in enumerate(merged) if merge_key in o and _scalar_identity(o[merge_key]) == wanted), -1)
        if at >= 0:
            merged[at] = _merge_map(merged[at], item, items)
        else:
            appended.append(len(merged))
            merged.append(item)
    for at in appended:
        merged[at] = _decoded(merged[at])
    return merged


def _element_kind(*lists: list[Any]) -> str:
    """The one Go type every item of the lists has; lists of lists and mixed lists are refused as upstream does."""
    kind = ""
    for values in lists:
        for value in values:
            current = _go_type(value)
            if not kind:
                if current == _GO_SLICE:
                    # Upstream answers with the generic 422; the reason stays on the exception for logs.
                    raise _generic_invalid() from ValueError(_NO_LIST_OF_LISTS)
                kind = current
            elif current != kind:
                raise errors.BadRequest(f"list element types are not identical: {_go_format(list(lists))}")
    return kind


def _scalar_identity(value: Any) -> Any:
    """Equality as Go's ``==`` on decoded JSON values: the type counts (1 is not 1.0, true is not 1)."""
    if isinstance(value, dict | list):
        return (_go_type(value), orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return (_go_type(value), value)


def _dedupe_scalars(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for value in values:
        identity = _scalar_identity(value)
        if identity not in seen:
            seen.add(identity)
            out.append(value)
    return out


def _identity_function(merge_key: str) -> Callable[[Any], Any]:
    if not merge_key:
        return _scalar_identity
    return lambda item: _scalar_identity(item.get(merge_key)) if isinstance(item, dict) else None


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split `merged` into items present in `by` (compared by merge key, or by value) and the rest."""
    if merge_key:
        for item in merged:
            if not isinstance(item, dict):
                raise _bad_arg_type(_GO_MAP, item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
    identity = _identity_function(merge_key)
    wanted = {identity(v) for v in by}
    present = [v for v in merged if identity(v) in wanted]
    absent = [v for v in merged if identity(v) not in wanted]
    return present, absent


def _normalize_order(
    patch_items: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any],
    merge_key: str, kind: str,
) -> list[Any]:
    """Sort patch items by `patch_order` and server-only items by `server_order`, then interleave them.

    Upstream's mergeSortedSlice: a server-only item goes before a patch item only when the live list already had it
    in front of that item; so items new to the list come before the server-only items that follow them.
    """
    patch_items = _sort_by(patch_items, patch_order, merge_key, kind)
    server_only = _sort_by(server_only, server_order, merge_key, kind)
    identity = _identity_function(merge_key)
    server_index: dict[Any, int] = {}
    for i, item in enumerate(server_order):
        server_index.setdefault(identity(item), i)
    out: list[Any] = []
    left = right = 0
    while left < len(server_only) or right < len(patch_items):
        if right >= len(patch_items):
            out.append(server_only[left])
            left += 1
        elif left >= len(server_only):
            out.append(patch_items[right])
            right += 1
        else:
            li = server_index.get(identity(server_only[left]), -1)
            ri = server_index.get(identity(patch_items[right]), -1)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(server_only[left])
                left += 1
            else:
                out.append(patch_items[right])
                right += 1
    return out


def _sort_by(values: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """Stable sort of `values` by position in `order`; items marked ``$patch: delete`` go last."""
    trailing: list[Any] = []
    if kind == _GO_MAP:
        for item in (*values, *order):
            if not isinstance(item, dict):
                raise _bad_arg_type(_GO_MAP, item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        trailing = [v for v in values if v.get(_DIRECTIVE) == "delete"]
        values = [v for v in values if v.get(_DIRECTIVE) != "delete"]
    identity = _identity_function(merge_key)
    position: dict[Any, int] = {}
    for i, item in enumerate(order):
        position.setdefault(identity(item), i)
    return sorted(values, key=lambda v: position.get(identity(v), -1)) + trailing


def _bad_arg_type(expected: str, actual: Any) -> errors.BadRequest:
    return errors.BadRequest(f"expected a {expected}, but received a {_go_type(actual)}")


def _no_merge_key(item: dict[str, Any], merge_key: str) -> errors.BadRequest:
    return errors.BadRequest(f"map: {_go_format(item)} does not contain declared merge key: {merge_key}")
