"""Field ownership: FieldsV1 sets, ``metadata.managedFields`` entries and the bookkeeping of non-apply writes.

Every write to a Kubernetes object records which manager set which fields. This module holds the pure
pieces the apiserver's field manager is built from (sigs.k8s.io/structured-merge-diff ``fieldpath`` and
``typed``, k8s.io/apimachinery ``pkg/util/managedfields``): field paths and sets encoded exactly as upstream
stores them, the fields an object specifies under its schema, the comparison of two versions of an object,
and what a create/update/patch does to the ownership entries. Server-side apply builds on it in ``apply.py``.
"""

from __future__ import annotations

import datetime
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from pyk8s.api import schema as k8s_schema
from pyk8s.api.schema import Schema

# ---- path elements and paths ----------------------------------------------------------------------

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3  # also the order upstream sorts element kinds in

PathElement = tuple[int, Any]  # (FIELD, name) | (KEY, ((name, Value), ...)) | (VALUE, Value) | (INDEX, int)
Path = tuple[PathElement, ...]

_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (map keys sorted, HTML characters escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).translate(_GO_ESCAPES)


@dataclass(frozen=True, order=True)
class Value:
    """A JSON value inside a path element; equal and ordered like upstream (numbers < strings < bools < ...)."""

    order: tuple[Any, ...]
    raw: Any = field(compare=False)

    @classmethod
    def of(cls, v: Any) -> Value:
        if isinstance(v, bool):
            return cls((2, v), v)
        if isinstance(v, int | float):
            return cls((0, v), v)
        if isinstance(v, str):
            return cls((1, v), v)
        if v is None:
            return cls((5, 0), v)
        return cls((3 if isinstance(v, list) else 4, go_json(v)), v)


def encode_element(pe: PathElement) -> str:
    """The FieldsV1 key of a path element: ``f:name``, ``k:{"name":"x"}``, ``v:"x"`` or ``i:0``."""
    kind, data = pe
    if kind == FIELD:
        return "f:" + data
    if kind == KEY:
        return "k:{" + ",".join(f"{go_json(n)}:{go_json(v.raw)}" for n, v in data) + "}"
    if kind == VALUE:
        return "v:" + go_json(data.raw)
    return f"i:{data}"


def decode_element(text: str) -> PathElement | None:
    """Parse a FieldsV1 key; None for element kinds upstream does not know either (they are dropped)."""
    if len(text) < 2 or text[1] != ":":
        raise ValueError(f"missing colon: {text}")
    tag, body = text[0], text[2:]
    if tag == "f":
        return (FIELD, body)
    if tag == "v":
        return (VALUE, Value.of(json.loads(body)))
    if tag == "k":
        keys = json.loads(body)
        if not isinstance(keys, dict):
            raise ValueError(f"key element is not a JSON object: {text}")
        return (KEY, tuple(sorted((n, Value.of(v)) for n, v in keys.items())))
    if tag == "i":
        return (INDEX, int(body))
    return None


def _go_string(v: Any) -> str:
    """structured-merge-diff ``value.ToString``."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def path_string(path: Path) -> str:
    """Human form used in conflict messages: ``.spec.template.spec.containers[name="nginx"].image``."""
    parts = []
    for kind, data in path:
        if kind == FIELD:
            parts.append("." + data)
        elif kind == KEY:
            parts.append("[" + ",".join(f"{n}={_go_string(v.raw)}" for n, v in data) + "]")
        elif kind == VALUE:
            parts.append(f"[={_go_string(data.raw)}]")
        else:
            parts.append(f"[{data}]")
    return "".join(parts)


def fpath(*names: str) -> Path:
    """A path of field names, e.g. ``fpath("spec", "replicas")``."""
    return tuple((FIELD, n) for n in names)


# ---- field sets ----------------------------------------------------------------------------------


class FieldSet:
    """An immutable set of field paths (upstream ``fieldpath.Set``); a path is in it when it is a member."""

    __slots__ = ("_paths",)

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._paths: frozenset[Path] = frozenset(p for p in paths if p)

    def __or__(self, other: FieldSet) -> FieldSet:
        return FieldSet(self._paths | other._paths)

    def __and__(self, other: FieldSet) -> FieldSet:
        return FieldSet(self._paths & other._paths)

    def __sub__(self, other: FieldSet) -> FieldSet:
        return FieldSet(self._paths - other._paths)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Drop every path that is in `other` or lies below a path in `other`."""
        drop = other._paths
        return FieldSet(p for p in self._paths if not any(p[:i] in drop for i in range(1, len(p) + 1)))

    def split(self) -> dict[PathElement, tuple[bool, FieldSet]]:
        """One trie level: for each first element, whether it is a member itself and the set below it."""
        members: set[PathElement] = set()
        below: dict[PathElement, list[Path]] = {}
        for p in self._paths:
            if len(p) == 1:
                members.add(p[0])
            else:
                below.setdefault(p[0], []).append(p[1:])
        return {pe: (pe in members, FieldSet(below.get(pe, ()))) for pe in members | below.keys()}

    def __iter__(self) -> Iterator[Path]:
        """Upstream order: at each level the members (sorted), then each child's subtree (sorted)."""
        level = self.split()
        order = sorted(level)
        for pe in order:
            if level[pe][0]:
                yield (pe,)
        for pe in order:
            for rest in level[pe][1]:
                yield (pe, *rest)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def __len__(self) -> int:
        return len(self._paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self._paths == other._paths

    def __hash__(self) -> int:
        return hash(self._paths)

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self]})"

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 JSON object: ``{"f:spec": {"f:replicas": {}}}``, ``"."`` marking a member with children."""
        out: dict[str, Any] = {}
        for pe, (member, below) in sorted(self.split().items(), key=lambda item: item[0]):
            body: dict[str, Any] = {".": {}} if member and below else {}
            body.update(below.to_fields_v1())
            out[encode_element(pe)] = body
        return out

    @classmethod
    def from_fields_v1(cls, data: dict[str, Any] | str | bytes) -> FieldSet:
        if isinstance(data, str | bytes):
            data = json.loads(data)
        if not isinstance(data, dict):
            raise ValueError("FieldsV1 must be a JSON object")
        paths: list[Path] = []

        def read(obj: dict[str, Any], prefix: Path) -> bool:
            found = False
            for key, sub in obj.items():
                if key == ".":
                    continue
                pe = decode_element(key)
                if pe is None:
                    continue
                if not isinstance(sub, dict):
                    raise ValueError(f"FieldsV1 value of {key} is not an object")
                path = (*prefix, pe)
                if not read(sub, path) or "." in sub:
                    paths.append(path)
                found = True
            return found

        read(data, ())
        return cls(paths)


# ---- objects under a schema ----------------------------------------------------------------------

LEAF, STRUCT, MAP, LIST = "leaf", "struct", "map", "list"
ABSENT: Any = object()  # a field missing on one side of a comparison or merge
_KEY_DEFAULTS = {"protocol": "TCP"}  # upstream +default markers on list-map keys (ContainerPort, ServicePort)


def shape(sch: Schema | None, value: Any) -> tuple[str, tuple[str, ...]]:
    """How structured-merge-diff treats `value` under `sch`: a leaf (scalars, atomic lists and maps), a struct,
    a granular map, or an associative list with its key fields (none for a set). Lists default to atomic;
    ``x-kubernetes-list-type`` wins over the strategic-merge-patch strategy and merge key."""
    if isinstance(value, dict):
        if sch is None:
            return MAP, ()
        if k8s_schema.map_type(sch) == "atomic":
            return LEAF, ()
        s = k8s_schema.resolve(sch) or {}
        if "properties" in s:
            return STRUCT, ()
        types = k8s_schema.types_of(s)
        return (MAP, ()) if ("additionalProperties" in s or "object" in types or not types) else (LEAF, ())
    if isinstance(value, list) and sch is not None:
        list_type = k8s_schema.list_type(sch)
        if list_type == "map":
            return LIST, tuple(k8s_schema.list_map_keys(sch))
        if list_type == "set":
            return LIST, ()
        if list_type is None and "merge" in k8s_schema.patch_strategy(sch):
            key = k8s_schema.patch_merge_key(sch)
            return LIST, ((key,) if key else ())
    return LEAF, ()


def child_schema(sch: Schema | None, name: str) -> tuple[Schema | None, bool]:
    """The schema of map entry `name` and whether it is a declared struct field (None: deduced)."""
    s = k8s_schema.resolve(sch) if sch is not None else None
    if not s:
        return None, False
    props = s.get("properties") or {}
    if name in props:
        return props[name], True
    extra = s.get("additionalProperties")
    return (extra if isinstance(extra, dict) else None), False


def item_element(item: Any, keys: tuple[str, ...], item_schema: Schema | None) -> PathElement:
    """The path element of one associative-list item; ValueError when the item cannot be keyed."""
    if keys:
        if not isinstance(item, dict):
            raise ValueError("associative list with keys may not have non-map elements")
        declared = (k8s_schema.resolve(item_schema) or {}).get("properties") or {}
        fields = [(k, Value.of(item[k])) for k in keys if k in item]
        fields += [(k, Value.of(_KEY_DEFAULTS[k])) for k in keys
                   if k not in item and k in _KEY_DEFAULTS and k in declared]
        if not fields:
            names = " ".join(json.dumps(k) for k in keys)
            raise ValueError(f"associative list with keys has an element that omits all key fields [{names}] "
                             "(and doesn't have default values for any key fields)")
        return (KEY, tuple(sorted(fields)))
    if isinstance(item, dict):
        raise ValueError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ValueError("not supported: associative list with lists as elements")
    if item is None:
        raise ValueError("associative list without keys has an element that's an explicit null")
    return (VALUE, Value.of(item))


def list_elements(items: list[Any], keys: tuple[str, ...], sch: Schema | None, path: Path = ()) -> list[PathElement]:
    """Path elements of an associative list's items; ValueError naming the list and item otherwise."""
    out, item_schema = [], k8s_schema.items_schema(sch)
    for i, item in enumerate(items):
        try:
            out.append(item_element(item, keys, item_schema))
        except ValueError as e:
            raise ValueError(f"{path_string(path)}: element {i}: {e}") from None
    return out


def fields_of(obj: Any, sch: Schema | None, *, strict: bool = False) -> FieldSet:
    """The fields `obj` specifies (upstream ``TypedValue.ToFieldSet``): leaves, atomic lists/maps as one leaf,
    associative-list items (also as members themselves), free-form map entries, and empty or null values.
    ``strict`` raises ValueError for lists that cannot be keyed or hold duplicates (apply configurations)."""
    out: set[Path] = set()
    _collect(obj, sch, (), out, strict)
    return FieldSet(out)


def _collect(value: Any, sch: Schema | None, path: Path, out: set[Path], strict: bool) -> None:
    kind, keys = shape(sch, value)
    pes: list[PathElement] = []
    if kind == LIST:
        try:
            pes = list_elements(value, keys, sch, path)
        except ValueError:
            if strict:
                raise
            kind = LEAF
    if kind == LEAF:
        out.add(path)
    elif kind == LIST:
        counts = Counter(pes)
        for pe, item in zip(pes, value, strict=True):
            if strict and counts[pe] > 1:
                raise ValueError(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
            out.add((*path, pe))
            if counts[pe] == 1:
                _collect(item, k8s_schema.items_schema(sch), (*path, pe), out, strict)
    else:
        for name, v in value.items():
            sub, declared = child_schema(sch, name)
            p = (*path, (FIELD, name))
            _collect(v, sub, p, out, strict)
            if v is None or v == {} or not declared:
                out.add(p)


@dataclass(frozen=True)
class Comparison:
    """Fields added, changed and removed going from one version of an object to the next."""

    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def without(self, ignored: FieldSet) -> Comparison:
        return Comparison(*(s.recursive_difference(ignored) for s in (self.added, self.modified, self.removed)))


def compare(lhs: Any, rhs: Any, sch: Schema | None) -> Comparison:
    """Upstream ``TypedValue.Compare``: a container that appears or disappears is itself added or removed."""
    found: tuple[set[Path], set[Path], set[Path]] = (set(), set(), set())
    _compare(lhs, rhs, sch, (), found)
    return Comparison(*(FieldSet(s) for s in found))


def _empty(v: Any) -> bool:
    return v is ABSENT or v is None or v == {} or v == []


def _compare(lhs: Any, rhs: Any, sch: Schema | None, path: Path, found: tuple[set[Path], ...]) -> None:
    added, modified, removed = found
    kind, keys = shape(sch, rhs if rhs is not ABSENT else lhs)
    if kind != LEAF and lhs is not ABSENT and rhs is not ABSENT and shape(sch, lhs)[0] != kind:
        kind = LEAF
    groups: dict[PathElement, tuple[list[Any], list[Any]]] = {}
    if kind == LIST:
        try:
            for side, items in enumerate((lhs, rhs)):
                items = items if isinstance(items, list) else []
                for pe, item in zip(list_elements(items, keys, sch), items, strict=True):
                    groups.setdefault(pe, ([], []))[side].append(item)
        except ValueError:
            kind = LEAF
    if kind == LEAF or (_empty(lhs) and _empty(rhs)):
        if lhs is ABSENT:
            added.add(path)
        elif rhs is ABSENT:
            removed.add(path)
        elif lhs != rhs:
            modified.add(path)
        return
    if kind == LIST:
        item_schema = k8s_schema.items_schema(sch)
        for pe, (left, right) in groups.items():
            p = (*path, pe)
            if len(left) <= 1 and len(right) <= 1:
                _compare(left[0] if left else ABSENT, right[0] if right else ABSENT, item_schema, p, found)
            elif len(left) >= 2 and len(right) >= 2:
                if left != right:
                    modified.add(p)
            elif len(left) >= 2:
                if right:
                    _compare(ABSENT, right[0], item_schema, p, found)
                removed.add(p)
            else:
                if left:
                    _compare(left[0], ABSENT, item_schema, p, found)
                added.add(p)
    else:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        for name in {**lmap, **rmap}:
            sub, _ = child_schema(sch, name)
            _compare(lmap.get(name, ABSENT), rmap.get(name, ABSENT), sub, (*path, (FIELD, name)), found)
    if lhs is ABSENT:
        added.add(path)
    elif rhs is ABSENT:
        removed.add(path)


def without_nulls(value: Any) -> Any:
    """Drop null map entries: typed objects cannot tell null from absent."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of an object for ownership tracking: no nulls, no ``metadata.managedFields``."""
    out: dict[str, Any] = without_nulls(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    return out


# Value structs Go always serialises, so they exist in the empty object a create starts from.
_VALUE_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy", "updateStrategy", "resources"})


def zero_object(obj: Any, sch: Schema | None) -> dict[str, Any]:
    """The empty object of obj's type as upstream sees it before a create (``objectCreater.New``): value structs
    and required (non-omitempty) lists and maps exist, so they are not recorded as added themselves."""
    s = k8s_schema.resolve(sch) if sch is not None else None
    if not s or "properties" not in s or not isinstance(obj, dict):
        return {}
    required = set(s.get("required") or ())
    out: dict[str, Any] = {}
    for name, v in obj.items():
        sub, declared = child_schema(sch, name)
        kind = shape(sub, v)[0] if declared else LEAF
        if kind == STRUCT and (name in required or name in _VALUE_STRUCTS):
            out[name] = zero_object(v, sub)
        elif kind in (MAP, LIST) and name in required:
            out[name] = {} if kind == MAP else []
    return out


def ensure_named_fields_are_members(fields: FieldSet, sch: Schema | None) -> FieldSet:
    """Add every declared struct field that has owned fields below it as a member itself."""
    schemas: dict[Path, Schema | None] = {(): sch}

    def schema_at(path: Path) -> Schema | None:
        if path not in schemas:
            parent = schema_at(path[:-1])
            kind, data = path[-1]
            schemas[path] = child_schema(parent, data)[0] if kind == FIELD else k8s_schema.items_schema(parent)
        return schemas[path]

    extra: set[Path] = set()
    for p in fields:
        for i in range(1, len(p)):
            q = p[:i]
            if q[-1][0] == FIELD and q not in extra and q not in fields:
                if child_schema(schema_at(q[:-1]), q[-1][1])[1]:
                    extra.add(q)
    return fields | FieldSet(extra)


# ---- managers and managedFields entries ----------------------------------------------------------

ManagerKey = tuple[str, str, str, str]  # manager, operation, apiVersion ("" for Apply), subresource


@dataclass
class VersionedSet:
    """The fields one manager owns, at the API version it used."""

    fields: FieldSet
    api_version: str
    applied: bool
    time: str | None = None


Managed = dict[ManagerKey, VersionedSet]

# Fields nobody owns: identity and system-maintained metadata (upstream stripMetaManager).
STRIPPED_FIELDS = FieldSet([
    fpath("apiVersion"), fpath("kind"), fpath("metadata"), fpath("metadata", "name"), fpath("metadata", "namespace"),
    fpath("metadata", "creationTimestamp"), fpath("metadata", "selfLink"), fpath("metadata", "uid"),
    fpath("metadata", "clusterName"), fpath("metadata", "generation"), fpath("metadata", "managedFields"),
    fpath("metadata", "resourceVersion"),
])
MAX_UPDATE_MANAGERS = 10


def manager_key(manager: str, operation: str, api_version: str, subresource: str = "") -> ManagerKey:
    """The identity of a managedFields entry; Apply entries of one manager share it across versions."""
    return (manager, operation, "" if operation == "Apply" else api_version, subresource)


def manager_key_json(key: ManagerKey) -> str:
    """Upstream's manager identifier: the JSON of the entry without fields and time."""
    names = ("manager", "operation", "apiVersion", "subresource")
    return json.dumps({n: v for n, v in zip(names, key, strict=True) if v}, separators=(",", ":"),
                      ensure_ascii=False).translate(_GO_ESCAPES)


def describe_manager(key: ManagerKey) -> str:
    """How conflict messages name a manager: ``"kubectl-client-side-apply" using apps/v1``."""
    manager, operation, api_version, subresource = key
    text = json.dumps(manager, ensure_ascii=False)
    if subresource:
        text += f" with subresource {json.dumps(subresource, ensure_ascii=False)}"
    return f"{text} using {api_version}" if operation == "Update" else text


def decode_managed_fields(entries: Any) -> Managed:
    """Parse ``metadata.managedFields``; ValueError with upstream's reason when an entry is malformed."""
    managed: Managed = {}
    for i, entry in enumerate(entries or ()):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} is not an object")
        operation = entry.get("operation")
        if operation not in ("Apply", "Update"):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            raise ValueError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}' if fields_type
                             else f"missing fieldsType in managed fields entry {i}")
        key = manager_key(entry.get("manager") or "", operation, api_version, entry.get("subresource") or "")
        fields = FieldSet.from_fields_v1(entry.get("fieldsV1") or {})
        managed[key] = VersionedSet(fields, api_version, operation == "Apply", entry.get("time"))
    return managed


def _epoch(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def encode_managed_fields(managed: Managed) -> list[dict[str, Any]]:
    """``metadata.managedFields`` in upstream's order: Apply before Update, then by time, manager, version."""
    entries = []
    for (manager, operation, _, subresource), vs in managed.items():
        entry: dict[str, Any] = {"manager": manager} if manager else {}
        entry["operation"] = "Apply" if vs.applied else operation
        entry["apiVersion"] = vs.api_version
        if vs.time:
            entry["time"] = vs.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = vs.fields.to_fields_v1()
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    entries.sort(key=lambda e: (e["operation"], _epoch(e.get("time")), e.get("manager", ""), e["apiVersion"],
                                e.get("subresource", "")))
    return entries


def default_reset_fields(sch: Schema | None, subresource: str) -> FieldSet:
    """Fields a write through this endpoint may not set (strategy ``GetResetFields``): status on the main
    resource, spec on /status."""
    props = (k8s_schema.resolve(sch) or {}).get("properties") or {} if sch is not None else {}
    if subresource == "status":
        return FieldSet([fpath("spec")] if "spec" in props else [])
    return FieldSet([fpath("status")] if "status" in props and not subresource else [])


def transfer_ownership(lhs: Any, rhs: Any, managed: Managed, acting: ManagerKey, force: bool, sch: Schema | None,
                       ignored: FieldSet) -> tuple[Comparison, dict[ManagerKey, FieldSet]]:
    """Upstream ``Updater.update``: fields the write added or changed are conflicts with their other owners;
    without `force` any conflict leaves `managed` untouched. Otherwise changed and removed fields leave every
    other manager, and managers left with nothing are dropped."""
    comparison = compare(lhs, rhs, sch).without(ignored)
    changed = comparison.added | comparison.modified
    conflicts = {k: vs.fields & changed for k, vs in managed.items() if k != acting and vs.fields & changed}
    if conflicts and not force:
        return comparison, conflicts
    for key, vs in list(managed.items()):
        if key != acting:
            vs.fields = vs.fields - changed - comparison.removed
        if not vs.fields:
            del managed[key]
    return comparison, conflicts


def record_update(lhs: Any, rhs: Any, managed: Managed, key: ManagerKey, api_version: str, now: str,
                  sch: Schema | None, ignored: FieldSet) -> None:
    """One non-apply write by `key`: it gains the fields it added or changed, which leave the other managers."""
    current: ManagerKey = ("current-operation", "", "", "")
    comparison, _ = transfer_ownership(lhs, rhs, managed, current, True, sch, ignored)
    fields = (comparison.added | comparison.modified).recursive_difference(ignored) - STRIPPED_FIELDS
    if fields:
        previous = managed.get(key)
        managed[key] = VersionedSet(fields | previous.fields if previous else fields, api_version, False, now)


def cap_update_managers(managed: Managed, maximum: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest Update entries into "ancient-changes" once there are more than `maximum`."""
    updaters = sorted((k for k, vs in managed.items() if not vs.applied),
                      key=lambda k: (_epoch(managed[k].time), manager_key_json(k)))
    first_by_version: dict[str, ManagerKey] = {}
    length = len(updaters)
    for key in updaters:
        if length <= maximum:
            break
        vs = managed[key]
        if vs.api_version not in first_by_version:
            first_by_version[vs.api_version] = key
            continue
        bucket = manager_key("ancient-changes", "Update", vs.api_version)
        if bucket not in managed:
            managed[bucket] = managed.pop(first_by_version[vs.api_version])
        managed[bucket] = replace(vs, fields=vs.fields | managed[bucket].fields)
        del managed[key]
        length -= 1


def _managed_for_update(old_obj: dict[str, Any] | None, new_obj: dict[str, Any], subresource: str) -> Managed:
    """Upstream ``decodeLiveOrNew``: the request's managedFields win unless absent or invalid; ``[]`` resets."""
    live = ((old_obj or {}).get("metadata") or {}).get("managedFields")
    requested = (new_obj.get("metadata") or {}).get("managedFields")
    try:
        if not subresource and requested is not None:
            if requested in ([], [{}]):
                return {}
            managed = decode_managed_fields(requested)
            if managed:
                return managed
        return decode_managed_fields(live)
    except ValueError:
        try:
            return decode_managed_fields(live)
        except ValueError:
            return {}


def update_managed_fields(old_obj: dict[str, Any] | None, new_obj: dict[str, Any], manager: str, operation: str,
                          api_version: str, now: str, schema: Schema | None, *, subresource: str = "",
                          reset_fields: FieldSet | None = None) -> list[dict[str, Any]]:
    """``metadata.managedFields`` for a create (`old_obj` None), update or non-apply patch by `manager`.

    An empty result means the object carries no managedFields: upstream does not start tracking on an
    existing object that has none (or whose request reset them with ``managedFields: []``)."""
    if operation != "Update":
        raise ValueError(f"non-apply writes record operation Update, not {operation!r}")
    managed = _managed_for_update(old_obj, new_obj, subresource)
    if not managed and old_obj is not None and (old_obj.get("metadata") or {}).get("uid"):
        return []
    ignored = reset_fields if reset_fields is not None else default_reset_fields(schema, subresource)
    rhs = comparable(new_obj)
    lhs = comparable(old_obj) if old_obj is not None else zero_object(rhs, schema)
    key = manager_key(manager or "unknown", "Update", api_version, subresource)
    record_update(lhs, rhs, managed, key, api_version, now, schema, ignored)
    cap_update_managers(managed)
    return encode_managed_fields(managed)


FIELD_MANAGER_MAX_LENGTH = 128


def manager_from_user_agent(user_agent: str) -> str:
    """Default manager name when a request has no fieldManager: the User-Agent up to its first "/",
    printable characters only, at most 128 bytes (``kubectl/v1.32.4 (linux/amd64)`` -> ``kubectl``)."""
    out, size = [], 0
    for ch in user_agent.split("/")[0]:
        if not ch.isprintable():
            continue
        size += len(ch.encode())
        if size > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
    return "".join(out)


def field_manager_name(field_manager: str | None, user_agent: str) -> str:
    """The manager a write is recorded under: the fieldManager parameter, else from the User-Agent."""
    return field_manager or manager_from_user_agent(user_agent)
