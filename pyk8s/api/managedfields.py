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
from dataclasses import dataclass, replace
from json.encoder import encode_basestring
from typing import Any

import orjson

from pyk8s.api import schema as k8s_schema
from pyk8s.api.schema import Schema

# ---- path elements and paths ----------------------------------------------------------------------

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3  # also the order upstream sorts element kinds in

PathElement = tuple[int, Any]  # (FIELD, name) | (KEY, ((name, Value), ...)) | (VALUE, Value) | (INDEX, int)
Path = tuple[PathElement, ...]

_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (map keys sorted, HTML characters escaped)."""
    kind = type(value)
    if kind is str:  # what json.dumps does for a str, minus its overhead
        text: str = encode_basestring(value)
        if text.isascii() and "<" not in text and ">" not in text and "&" not in text:
            return text
        return text.translate(_GO_ESCAPES)
    if kind is int:
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).translate(_GO_ESCAPES)


def _order(v: Any) -> tuple[Any, ...]:
    """The identity and sort order of a JSON value inside a path element (numbers < strings < bools < ...)."""
    if type(v) is str:
        return (1, v)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, int | float):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if v is None:
        return (5, 0)
    return (3 if isinstance(v, list) else 4, go_json(v))


_FLOAT_VALUES = [0]  # how many Values holding a float were made: until one is, no element needs _holds_float


class Value(tuple[Any, ...]):
    """A JSON value inside a path element; equal and ordered like upstream (numbers < strings < bools < ...).

    The tuple itself is the order key (so hashing and comparing run at C speed in the hot sets); ``raw`` is the
    value as given, which encodings and messages print."""

    raw: Any

    @classmethod
    def of(cls, v: Any) -> Value:
        out = tuple.__new__(cls, _order(v))
        out.raw = v
        if type(v) is float:
            _FLOAT_VALUES[0] += 1
        return out

    @property
    def order(self) -> tuple[Any, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"Value({self.raw!r})"


# Encodings of key and value elements whose values are all strings: for those, equal elements encode alike
# (a number may be written 80 or 80.0 and is not cached).
_ENCODED: dict[PathElement, str] = {}
_ENCODED_MAX = 20_000


def encode_element(pe: PathElement) -> str:
    """The FieldsV1 key of a path element: ``f:name``, ``k:{"name":"x"}``, ``v:"x"`` or ``i:0``."""
    kind, data = pe
    if kind == FIELD:
        return "f:" + data  # type: ignore[no-any-return]
    text = _ENCODED.get(pe)
    if text is not None:
        return text
    if kind == KEY:
        text = "k:{" + ",".join(f"{go_json(n)}:{go_json(v.raw)}" for n, v in data) + "}"
        cacheable = all(type(v.raw) is str for _, v in data)
    elif kind == VALUE:
        text = "v:" + go_json(data.raw)
        cacheable = type(data.raw) is str
    else:
        return f"i:{data}"
    if cacheable:
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[pe] = text
    return text


# FieldsV1 keys seen before (most repeat across objects): the element, and whether encoding it gives the key back.
_DECODED: dict[str, tuple[PathElement | None, bool]] = {}
_DECODED_MAX = 20_000


def _decoded(text: str) -> tuple[PathElement | None, bool]:
    hit = _DECODED.get(text)
    if hit is None:
        pe = _decode_element(text)
        hit = (pe, pe is not None and encode_element(pe) == text)
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        _DECODED[text] = hit
    return hit


def decode_element(text: str) -> PathElement | None:
    """Parse a FieldsV1 key; None for element kinds upstream does not know either (they are dropped)."""
    return _decoded(text)[0]


def _decode_element(text: str) -> PathElement | None:
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

    __slots__ = ("_gone", "_paths", "_source")

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._paths: frozenset[Path] = frozenset(p for p in paths if p)
        # When known: the FieldsV1 JSON of this set, or of a set that is this one plus the paths in _gone.
        self._source: bytes | None = None
        self._gone: frozenset[Path] | None = None

    @classmethod
    def _of(cls, paths: frozenset[Path], source: bytes | None = None) -> FieldSet:
        """Wrap a frozenset of non-empty paths as is (set algebra on frozensets reuses their stored hashes)."""
        out = object.__new__(cls)
        out._paths = paths
        out._source = source
        out._gone = None
        return out

    # Operations that leave a set as it was return it, so it keeps its known encoding.

    def __or__(self, other: FieldSet) -> FieldSet:
        if len(other._paths) <= len(self._paths) and other._paths <= self._paths:
            return self
        if self._paths <= other._paths:
            return other
        return FieldSet._of(self._paths | other._paths)

    def __and__(self, other: FieldSet) -> FieldSet:
        return FieldSet._of(self._paths & other._paths)

    def __sub__(self, other: FieldSet) -> FieldSet:
        if self._paths.isdisjoint(other._paths):
            return self
        out = FieldSet._of(self._paths - other._paths)
        if self._source is not None:  # encode it later as the known encoding less a few paths
            gone = self._paths & other._paths
            if self._gone is not None:
                gone |= self._gone
            if len(gone) <= max(8, len(out._paths) // 4):
                out._source, out._gone = self._source, gone
        return out

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Drop every path that is in `other` or lies below a path in `other`."""
        drop = other._paths
        if not drop or not self._paths:
            return self
        firsts = {p[0] for p in drop}
        longest = max(len(p) for p in drop)
        gone = [p for p in self._paths
                if p[0] in firsts and any(p[:i] in drop for i in range(1, min(len(p), longest) + 1))]
        return FieldSet._of(self._paths.difference(gone)) if gone else self

    def trie(self) -> dict[PathElement, list[Any]] | None:
        """The paths as a trie: element -> [is a member, the level below] (what ``split`` gives, every level at
        once; read only). None when an element holds a float: 12.0 and 12 are the same element written two ways,
        and which one a level keeps is then up to ``split``."""
        root: dict[PathElement, list[Any]] = {}
        check = _FLOAT_VALUES[0] > 0
        for p in self._paths:
            level = root
            for pe in p:
                if check and pe[0] != FIELD and _holds_float(pe):
                    return None
                node: list[Any] = level.get(pe) or level.setdefault(pe, [False, {}])
                level = node[1]
            node[0] = True
        return root

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
        trie = self.trie()
        if trie is not None:
            return iter(_trie_paths(trie, ()))
        return self._split_iter()

    def _split_iter(self) -> Iterator[Path]:
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

    def __bool__(self) -> bool:
        return bool(self._paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self._paths == other._paths

    def __hash__(self) -> int:
        return hash(self._paths)

    def __repr__(self) -> str:
        return f"FieldSet({[path_string(p) for p in self]})"

    def to_fields_v1(self) -> dict[str, Any]:
        """The FieldsV1 JSON object: ``{"f:spec": {"f:replicas": {}}}``, ``"."`` marking a member with children."""
        if self._source is not None:
            out: dict[str, Any] = orjson.loads(self._source)
            if self._gone is None or all(_remove_member(out, p) for p in self._gone):
                return out
        trie = self.trie()
        return _trie_fields_v1(trie) if trie is not None else self._split_fields_v1()

    def _split_fields_v1(self) -> dict[str, Any]:
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
        # Whether `data` is exactly what to_fields_v1 makes of the result: keys written as encode_element writes
        # them, in element order, "." first, holding {} and only next to other keys, none dropped.
        canonical = "." not in data

        def read(obj: dict[str, Any], prefix: Path) -> bool:
            nonlocal canonical
            found = False
            previous: PathElement | None = None
            for key, sub in obj.items():
                if key == ".":
                    if found or sub != {}:
                        canonical = False
                    continue
                pe, same_text = _DECODED.get(key) or _decoded(key)
                if pe is None:
                    canonical = False
                    continue
                if not isinstance(sub, dict):
                    raise ValueError(f"FieldsV1 value of {key} is not an object")
                if not same_text or (previous is not None and not previous < pe):
                    canonical = False
                previous = pe
                path = (*prefix, pe)
                below = read(sub, path) if sub else False
                if not below:
                    paths.append(path)
                    if sub:  # only "." below: encodes as {}
                        canonical = False
                elif "." in sub:
                    paths.append(path)
                found = True
            return found

        read(data, ())
        return cls._of(frozenset(paths), orjson.dumps(data) if canonical else None)


def _remove_member(fields_v1: dict[str, Any], path: Path) -> bool:
    """Take `path` out of a FieldsV1 object as to_fields_v1 writes them (so the same as encoding the set less
    that path); False, leaving it half done, when `path` is not found as a member under its encoded keys."""
    chain: list[tuple[dict[str, Any], str]] = []
    node = fields_v1
    for pe in path:
        key = "f:" + pe[1] if pe[0] == FIELD else encode_element(pe)
        body = node.get(key)
        if body is None:
            return False
        chain.append((node, key))
        node = body
    if "." in node:  # a member with children: they stay
        del node["."]
        return True
    if node:  # children but no "."
        return False
    for parent, key in reversed(chain):
        del parent[key]
        if parent is fields_v1:
            break
        if parent:
            if len(parent) == 1 and "." in parent:  # a member left without children
                parent.clear()
            break
        # the parent was there only for this path: it goes too
    return True


def _holds_float(pe: PathElement) -> bool:
    kind, data = pe
    if kind == KEY:
        for _, v in data:
            if type(v.raw) is float:
                return True
        return False
    return kind == VALUE and type(data.raw) is float


def _trie_paths(level: dict[PathElement, list[Any]], prefix: Path) -> list[Path]:
    order = sorted(level)
    out = [(*prefix, pe) for pe in order if level[pe][0]]
    for pe in order:
        if level[pe][1]:
            out.extend(_trie_paths(level[pe][1], (*prefix, pe)))
    return out


def _trie_fields_v1(level: dict[PathElement, list[Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pe in sorted(level):
        member, below = level[pe]
        key = "f:" + pe[1] if pe[0] == FIELD else encode_element(pe)
        if below:
            body: dict[str, Any] = {".": {}} if member else {}
            body.update(_trie_fields_v1(below))
            out[key] = body
        else:
            out[key] = {}
    return out


# ---- objects under a schema ----------------------------------------------------------------------

LEAF, STRUCT, MAP, LIST = "leaf", "struct", "map", "list"
ABSENT: Any = object()  # a field missing on one side of a comparison or merge
_KEY_DEFAULTS = {"protocol": "TCP"}  # upstream +default markers on list-map keys (ContainerPort, ServicePort)


class SchemaInfo:
    """What the walks below need to know about one schema node, worked out once per node."""

    __slots__ = (
        "_extra_info",
        "_items_info",
        "declared",
        "dict_shape",
        "extra",
        "has_properties",
        "item_props",
        "items",
        "kids",
        "list_shape",
        "required",
        "sorted_keys",
    )

    def __init__(self, sch: Schema | None) -> None:
        s = k8s_schema.resolve(sch) if sch is not None else None
        self.declared: dict[str, Any] = (s.get("properties") or {}) if s else {}
        self.has_properties = bool(s) and "properties" in s  # type: ignore[operator]
        extra = s.get("additionalProperties") if s else None
        self.extra: Schema | None = extra if isinstance(extra, dict) else None
        self.items: Schema | None = k8s_schema.items_schema(sch)
        self.required: frozenset[str] = frozenset((s or {}).get("required") or ())
        self.dict_shape = self._dict_shape(sch)
        self.list_shape = self._list_shape(sch)
        self.sorted_keys = tuple(sorted(self.list_shape[1]))
        self.item_props: dict[str, Any] = (k8s_schema.resolve(self.items) or {}).get("properties") or {}
        self.kids: dict[str, SchemaInfo] = {}  # infos of declared fields looked up so far (see kid)
        self._extra_info: SchemaInfo | None = None
        self._items_info: SchemaInfo | None = None

    def kid(self, name: str) -> SchemaInfo:
        """The info of map entry `name`'s schema; ``kids.get(name)`` first is faster for declared fields."""
        sub = self.declared.get(name, _UNDECLARED)
        if sub is _UNDECLARED:
            if self._extra_info is None:
                self._extra_info = schema_info(self.extra)
            return self._extra_info
        info = self.kids[name] = schema_info(sub)
        return info

    @property
    def items_info(self) -> SchemaInfo:
        if self._items_info is None:
            self._items_info = schema_info(self.items)
        return self._items_info

    @staticmethod
    def _dict_shape(sch: Schema | None) -> tuple[str, tuple[str, ...]]:
        if sch is None:
            return MAP, ()
        if k8s_schema.map_type(sch) == "atomic":
            return LEAF, ()
        s = k8s_schema.resolve(sch) or {}
        if "properties" in s:
            return STRUCT, ()
        types = k8s_schema.types_of(s)
        return (MAP, ()) if ("additionalProperties" in s or "object" in types or not types) else (LEAF, ())

    @staticmethod
    def _list_shape(sch: Schema | None) -> tuple[str, tuple[str, ...]]:
        if sch is None:
            return LEAF, ()
        list_type = k8s_schema.list_type(sch)
        if list_type == "map":
            return LIST, tuple(k8s_schema.list_map_keys(sch))
        if list_type == "set":
            return LIST, ()
        if list_type is None and "merge" in k8s_schema.patch_strategy(sch):
            key = k8s_schema.patch_merge_key(sch)
            return LIST, ((key,) if key else ())
        return LEAF, ()

    def child(self, name: str) -> Schema | None:
        """The schema of map entry `name` (``child_schema`` without the declared flag)."""
        declared = self.declared.get(name, _UNDECLARED)
        return self.extra if declared is _UNDECLARED else declared  # type: ignore[no-any-return]


_UNDECLARED: Any = object()
_NO_SCHEMA = SchemaInfo(None)
# Per schema node, by id: (the node, kept alive so its id is not reused, and its info). Schemas are immutable
# module data; the bound only guards against callers passing throwaway dicts.
_INFOS: dict[int, tuple[Schema, SchemaInfo]] = {}
_INFOS_MAX = 50_000


def schema_info(sch: Schema | None) -> SchemaInfo:
    """What the walks need to know about schema node `sch` (computed once per node)."""
    if sch is None:
        return _NO_SCHEMA
    hit = _INFOS.get(id(sch))
    if hit is not None and hit[0] is sch:
        return hit[1]
    info = SchemaInfo(sch)
    if len(_INFOS) >= _INFOS_MAX:
        _INFOS.clear()
    _INFOS[id(sch)] = (sch, info)
    return info


_LEAF_SHAPE: tuple[str, tuple[str, ...]] = (LEAF, ())


def shape(sch: Schema | None, value: Any) -> tuple[str, tuple[str, ...]]:
    """How structured-merge-diff treats `value` under `sch`: a leaf (scalars, atomic lists and maps), a struct,
    a granular map, or an associative list with its key fields (none for a set). Lists default to atomic;
    ``x-kubernetes-list-type`` wins over the strategic-merge-patch strategy and merge key."""
    if isinstance(value, dict):
        return schema_info(sch).dict_shape
    if isinstance(value, list):
        return schema_info(sch).list_shape
    return _LEAF_SHAPE


def child_schema(sch: Schema | None, name: str) -> tuple[Schema | None, bool]:
    """The schema of map entry `name` and whether it is a declared struct field (None: deduced)."""
    info = schema_info(sch)
    declared = info.declared.get(name, _UNDECLARED)
    if declared is _UNDECLARED:
        return info.extra, False
    return declared, True


def item_element(item: Any, keys: tuple[str, ...], item_schema: Schema | None) -> PathElement:
    """The path element of one associative-list item; ValueError when the item cannot be keyed."""
    if keys:
        if not isinstance(item, dict):
            raise ValueError("associative list with keys may not have non-map elements")
        declared = schema_info(item_schema).declared
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
    return _elements(items, keys, schema_info(sch), path)


def _elements(items: list[Any], keys: tuple[str, ...], info: SchemaInfo, path: Path) -> list[PathElement]:
    out, item_schema = [], info.items
    for i, item in enumerate(items):
        try:
            out.append(item_element(item, keys, item_schema))
        except ValueError as e:
            raise ValueError(f"{path_string(path)}: element {i}: {e}") from None
    return out


def fields_of(obj: Any, sch: Schema | None, *, strict: bool = False, named: bool = False) -> FieldSet:
    """The fields `obj` specifies (upstream ``TypedValue.ToFieldSet``): leaves, atomic lists/maps as one leaf,
    associative-list items (also as members themselves), free-form map entries, and empty or null values.
    ``strict`` raises ValueError for lists that cannot be keyed or hold duplicates (apply configurations).
    ``named`` gives ``ensure_named_fields_are_members`` of that in the same walk."""
    out: set[Path] = set()
    _collect(obj, schema_info(sch), (), out, strict, named)
    return _field_set(out)


def _field_set(paths: set[Path]) -> FieldSet:
    paths.discard(())
    return FieldSet._of(frozenset(paths))


def _shape_in(info: SchemaInfo, value: Any) -> tuple[str, tuple[str, ...]]:
    if isinstance(value, dict):
        return info.dict_shape
    if isinstance(value, list):
        return info.list_shape
    return _LEAF_SHAPE


_NOTHING_ADDED, _ADDED_ITSELF, _ADDED_BELOW = 0, 1, 2


def _collect(value: Any, info: SchemaInfo, path: Path, out: set[Path], strict: bool, named: bool) -> int:
    """Add the fields of `value` at `path` to `out`; say whether that added nothing, `path` or paths below it."""
    if isinstance(value, dict):
        kind, keys = info.dict_shape
    elif isinstance(value, list):
        kind, keys = info.list_shape
    else:
        out.add(path)
        return _ADDED_ITSELF
    pes: list[PathElement] = []
    if kind == LIST:
        try:
            pes = _elements(value, keys, info, path)
        except ValueError:
            if strict:
                raise
            kind = LEAF
    if kind == LEAF:
        out.add(path)
        return _ADDED_ITSELF
    if kind == LIST:
        counts = Counter(pes)
        items_info = info.items_info
        for pe, item in zip(pes, value, strict=True):
            if strict and counts[pe] > 1:
                raise ValueError(f"{path_string(path)}: duplicate entries for key {path_string((pe,))}")
            out.add((*path, pe))
            if counts[pe] == 1:
                _collect(item, items_info, (*path, pe), out, strict, named)
        return _ADDED_BELOW if pes else _NOTHING_ADDED
    declared, kids = info.declared, info.kids
    found = _NOTHING_ADDED
    for name, v in value.items():
        p = (*path, (FIELD, name))
        if isinstance(v, dict | list):
            added = _collect(v, kids.get(name) or info.kid(name), p, out, strict, named)
            if v == {} or name not in declared or (named and added == _ADDED_BELOW):
                out.add(p)
                found = _ADDED_BELOW
            elif added:
                found = _ADDED_BELOW
        else:  # a leaf (null included)
            out.add(p)
            found = _ADDED_BELOW
    return found


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
    return Comparison(*(_field_set(s) for s in found))


def _empty(v: Any) -> bool:
    return v is ABSENT or v is None or v == {} or v == []


def _same_json(lhs: Any, rhs: Any) -> bool:
    """Whether two containers are the same JSON, types included (``1``, ``1.0`` and ``true`` differ), so that
    comparing them finds nothing; False when unsure. JSON has no NaN, the one value unequal to itself."""
    if lhs is rhs:
        return True
    if type(lhs) is not type(rhs) or lhs != rhs:
        return False
    try:
        return orjson.dumps(lhs) == orjson.dumps(rhs)
    except TypeError:  # orjson.JSONEncodeError: not JSON (e.g. an int beyond 64 bits); compare it the long way
        return False


def _compare(lhs: Any, rhs: Any, sch: Schema | None, path: Path, found: tuple[set[Path], ...]) -> None:
    added, modified, removed = found
    if isinstance(rhs, dict | list):
        if lhs is not ABSENT and _same_json(lhs, rhs):
            return  # an unchanged subtree: nothing below it is added, modified or removed
    elif rhs is not ABSENT:  # a scalar is a leaf whatever the schema says
        if lhs is ABSENT:
            added.add(path)
        elif lhs != rhs:
            modified.add(path)
        return
    info = schema_info(sch)
    kind, keys = _shape_in(info, rhs if rhs is not ABSENT else lhs)
    if kind != LEAF and lhs is not ABSENT and rhs is not ABSENT and _shape_in(info, lhs)[0] != kind:
        kind = LEAF
    groups: dict[PathElement, tuple[list[Any], list[Any]]] = {}
    if kind == LIST:
        try:
            for side, items in enumerate((lhs, rhs)):
                items = items if isinstance(items, list) else []
                for pe, item in zip(_elements(items, keys, info, ()), items, strict=True):
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
        item_schema = info.items
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
        child = info.child
        for name in {**lmap, **rmap}:
            _compare(lmap.get(name, ABSENT), rmap.get(name, ABSENT), child(name), (*path, (FIELD, name)), found)
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
    out: dict[str, Any] | None = None
    try:
        data = orjson.dumps(obj)
    except TypeError:  # not JSON: copy it the long way
        data = b'":null'
    if b'":null' not in data:  # no null map entry anywhere (a string holding this text only costs speed)
        copied = orjson.loads(data)
        if copied == obj:  # no tuples or other values JSON would turn into something else
            out = copied
    if out is None:
        out = without_nulls(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    return out


def _tracking_view(obj: dict[str, Any]) -> dict[str, Any]:
    """What ``comparable`` returns, for reading only: `obj` itself (shallow copies at most) when it has no nulls."""
    meta = obj.get("metadata")
    view = obj
    if isinstance(meta, dict) and "managedFields" in meta:
        view = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    try:
        clean = b'":null' not in orjson.dumps(view)
    except TypeError:
        clean = False
    return view if clean else comparable(obj)


# Value structs Go always serialises, so they exist in the empty object a create starts from.
_VALUE_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy", "updateStrategy", "resources"})


def zero_object(obj: Any, sch: Schema | None) -> dict[str, Any]:
    """The empty object of obj's type as upstream sees it before a create (``objectCreater.New``): value structs
    and required (non-omitempty) lists and maps exist, so they are not recorded as added themselves."""
    info = schema_info(sch)
    if not info.has_properties or not isinstance(obj, dict):
        return {}
    out: dict[str, Any] = {}
    for name, v in obj.items():
        sub = info.declared.get(name, _UNDECLARED)
        if sub is _UNDECLARED:
            continue
        kind = _shape_in(schema_info(sub), v)[0]
        if kind == STRUCT and (name in info.required or name in _VALUE_STRUCTS):
            out[name] = zero_object(v, sub)
        elif kind in (MAP, LIST) and name in info.required:
            out[name] = {} if kind == MAP else []
    return out


def ensure_named_fields_are_members(fields: FieldSet, sch: Schema | None) -> FieldSet:
    """Add every declared struct field that has owned fields below it as a member itself."""
    extra: list[Path] = []

    def walk(level: dict[PathElement, list[Any]], info: SchemaInfo, prefix: Path) -> None:
        for pe, (member, below) in level.items():
            if not below:
                continue
            path = (*prefix, pe)
            if pe[0] == FIELD:
                sub = info.declared.get(pe[1], _UNDECLARED)
                if sub is _UNDECLARED:
                    sub = info.extra
                elif not member:
                    extra.append(path)
            else:
                sub = info.items
            walk(below, schema_info(sub), path)

    trie = fields.trie()
    if trie is None:
        return _ensure_named_fields_by_prefix(fields, sch)
    walk(trie, schema_info(sch), ())
    return fields | FieldSet._of(frozenset(extra)) if extra else fields


def _ensure_named_fields_by_prefix(fields: FieldSet, sch: Schema | None) -> FieldSet:
    """ensure_named_fields_are_members path by path, for sets whose elements a trie would merge (see _trie)."""
    schemas: dict[Path, Schema | None] = {(): sch}

    def schema_at(path: Path) -> Schema | None:
        if path not in schemas:
            parent = schema_at(path[:-1])
            kind, data = path[-1]
            schemas[path] = child_schema(parent, data)[0] if kind == FIELD else schema_info(parent).items
        return schemas[path]

    extra: set[Path] = set()
    for p in fields:
        for i in range(1, len(p)):
            q = p[:i]
            if q[-1][0] == FIELD and q not in extra and q not in fields:
                if child_schema(schema_at(q[:-1]), q[-1][1])[1]:
                    extra.add(q)
    return fields | FieldSet(extra)


# ---- the fields a create sets, in one walk ----------------------------------------------------------
#
# A create by a non-apply write records, for its one manager, compare(zero_object(obj), obj) less the reset and
# stripped fields. The walk below computes that FieldsV1 directly: below a field the zero object lacks, every
# node is added (and so a member); in the value structs and required containers the zero object has, only what
# lies below counts. Filters: a path in the reset fields is dropped with all below it, a stripped path is only
# not a member itself.


class _Filter:
    """The reset (``drop``) and stripped paths at and below one field path."""

    __slots__ = ("below", "drop", "stripped")

    def __init__(self) -> None:
        self.drop = False
        self.stripped = False
        self.below: dict[str, _Filter] = {}


_FILTERS: dict[FieldSet, _Filter | None] = {}


def _filter_for(ignored: FieldSet) -> _Filter | None:
    """The filter trie of `ignored` and STRIPPED_FIELDS; None when a path in them is not made of field names."""
    if ignored in _FILTERS:
        return _FILTERS[ignored]
    root: _Filter | None = _Filter()
    for paths, stripped in ((ignored._paths, False), (STRIPPED_FIELDS._paths, True)):
        for p in paths:
            if root is None or any(kind != FIELD for kind, _ in p):
                root = None
                break
            node = root
            for _, name in p:
                node = node.below.setdefault(name, _Filter())
            if stripped:
                node.stripped = True
            else:
                node.drop = True
    if len(_FILTERS) >= 64:
        _FILTERS.clear()
    _FILTERS[ignored] = root
    return root


_Groups = dict[Any, list[Any]]  # element identity -> [its FieldsV1 key, item, item, ...]


def _list_groups(items: list[Any], info: SchemaInfo) -> _Groups | None:
    """An associative list's items grouped by element (as ``list_elements``); None if one cannot be keyed.
    Identities sort like the elements: with one key field, the key's order alone stands for the element."""
    groups: _Groups = {}
    keys = info.sorted_keys
    ident: Any
    if len(keys) == 1:
        k = keys[0]
        prefix = "k:{" + go_json(k) + ":"
        default = _KEY_DEFAULTS[k] if k in _KEY_DEFAULTS and k in info.item_props else _UNDECLARED
        for item in items:
            if not isinstance(item, dict):
                return None
            v = item[k] if k in item else default
            if v is _UNDECLARED:
                return None
            ident = _order(v)
            group = groups.get(ident)
            if group is None:
                groups[ident] = [prefix + go_json(v) + "}", item]
            else:
                group.append(item)
    elif keys:
        declared = info.item_props
        for item in items:
            if not isinstance(item, dict):
                return None
            fields: list[tuple[str, tuple[Any, ...]]] = []
            text: list[str] = []
            for k in keys:
                if k in item:
                    v = item[k]
                elif k in _KEY_DEFAULTS and k in declared:
                    v = _KEY_DEFAULTS[k]
                else:
                    continue
                fields.append((k, _order(v)))
                text.append(go_json(k) + ":" + go_json(v))
            if not fields:
                return None
            ident = tuple(fields)
            group = groups.get(ident)
            if group is None:
                groups[ident] = ["k:{" + ",".join(text) + "}", item]
            else:
                group.append(item)
    else:
        for item in items:
            if item is None or isinstance(item, dict | list):
                return None
            ident = _order(item)
            group = groups.get(ident)
            if group is None:
                groups[ident] = ["v:" + go_json(item), item]
            else:
                group.append(item)
    return groups


# _added is a pure function of (value, schema node). Pods of one template repeat the same containers,
# volumes and probes, so bodies of larger subtrees are memoised by their JSON bytes; callers get a copy.
_ADDED_MEMO: dict[tuple[SchemaInfo, bytes], bytes] = {}
_ADDED_MEMO_LIMIT = 4096
_ADDED_MEMO_MIN_KEYS = 4


def _added(value: dict[str, Any] | list[Any], info: SchemaInfo) -> dict[str, Any]:
    """The FieldsV1 body of a non-empty container the create adds whole, with no filter below it."""
    if len(value) < _ADDED_MEMO_MIN_KEYS:
        return _added_uncached(value, info)
    try:
        key = (info, orjson.dumps(value))  # the node itself (hashed by identity), so it stays alive
    except TypeError:
        return _added_uncached(value, info)
    hit = _ADDED_MEMO.get(key)
    if hit is not None:
        result: dict[str, Any] = orjson.loads(hit)
        return result
    body = _added_uncached(value, info)
    if len(_ADDED_MEMO) >= _ADDED_MEMO_LIMIT:
        _ADDED_MEMO.clear()
    _ADDED_MEMO[key] = orjson.dumps(body)
    return body


def _added_uncached(value: dict[str, Any] | list[Any], info: SchemaInfo) -> dict[str, Any]:
    body: dict[str, Any]
    if isinstance(value, dict):
        if info.dict_shape[0] == LEAF:
            return {}
        body = {".": {}}
        kids = info.kids
        for name in sorted(value):
            v = value[name]
            if v and isinstance(v, dict | list):
                body["f:" + name] = _added(v, kids.get(name) or info.kid(name))
            else:
                body["f:" + name] = {}
        return body
    groups = _list_groups(value, info) if info.list_shape[0] == LIST else None
    if groups is None:
        return {}
    body = {".": {}}
    _list_bodies(groups, info, body)
    return body


def _list_bodies(groups: _Groups, info: SchemaInfo, body: dict[str, Any]) -> None:
    """Add the bodies of an added list's items to `body`, in element order; duplicated items are members only."""
    items_info = info.items_info
    for ident in sorted(groups):
        group = groups[ident]
        item = group[1]
        if len(group) == 2 and item and isinstance(item, dict | list):
            body[group[0]] = _added(item, items_info)
        else:
            body[group[0]] = {}


def _added_body(value: Any, info: SchemaInfo, filt: _Filter | None) -> dict[str, Any] | None:
    """The FieldsV1 body of a value the create adds whole; None when the filters leave nothing of it."""
    if not value or not isinstance(value, dict | list):
        return {} if filt is None or not filt.stripped else None
    if filt is None:
        return _added(value, info)
    body: dict[str, Any] = {} if filt.stripped else {".": {}}
    if isinstance(value, dict):
        if info.dict_shape[0] == LEAF:
            return None if filt.stripped else {}
        _map_bodies(value, info, filt, body)
    else:
        groups = _list_groups(value, info) if info.list_shape[0] == LIST else None
        if groups is None:
            return None if filt.stripped else {}
        _list_bodies(groups, info, body)
    if filt.stripped:
        return body or None
    return body if len(body) > 1 else {}


def _map_bodies(value: dict[str, Any], info: SchemaInfo, filt: _Filter | None, body: dict[str, Any]) -> None:
    """Add the bodies of an added map's or struct's entries to `body`, in name order."""
    below = filt.below if filt is not None else None
    for name in sorted(value):
        f = below.get(name) if below else None
        if f is not None and f.drop:
            continue
        child = _added_body(value[name], info.kid(name), f)
        if child is not None:
            body["f:" + name] = child


def _zero_struct_body(value: dict[str, Any], info: SchemaInfo, filt: _Filter | None) -> dict[str, Any] | None:
    """The FieldsV1 body of a struct the zero object has (so not a member): what the create set below it."""
    body: dict[str, Any] = {}
    below = filt.below if filt is not None else None
    required = info.required
    for name in sorted(value):
        f = below.get(name) if below else None
        if f is not None and f.drop:
            continue
        v = value[name]
        child: dict[str, Any] | None
        if not isinstance(v, dict | list):  # a leaf, which the zero object lacks
            child = {} if f is None or not f.stripped else None
        elif name not in info.declared:
            child = _added_body(v, info.kid(name), f)
        else:
            sub_info = info.kid(name)
            kind = sub_info.dict_shape[0] if isinstance(v, dict) else sub_info.list_shape[0]
            if kind == STRUCT and (name in required or name in _VALUE_STRUCTS):
                child = _zero_struct_body(v, sub_info, f)  # type: ignore[arg-type]
            elif kind == MAP and name in required:
                child = {}
                _map_bodies(v, sub_info, f, child)  # type: ignore[arg-type]
                child = child or None
            elif kind == LIST and name in required and not v:
                child = None
            elif kind == LIST and name in required:
                child = _zero_list_body(v, sub_info, f)  # type: ignore[arg-type]
            else:
                child = _added_body(v, sub_info, f)
        if child is not None:  # {} only for a member the filters keep
            body["f:" + name] = child
    return body or None


def _zero_list_body(value: list[Any], info: SchemaInfo, filt: _Filter | None) -> dict[str, Any] | None:
    """The FieldsV1 body of a required, non-empty list the zero object has as ``[]``."""
    groups = _list_groups(value, info)
    if groups is None:  # compared as one leaf: modified
        return {} if filt is None or not filt.stripped else None
    body: dict[str, Any] = {}
    _list_bodies(groups, info, body)
    return body


def created_fields_v1(obj: dict[str, Any], sch: Schema | None, ignored: FieldSet) -> dict[str, Any] | None:
    """The FieldsV1 a non-apply create of `obj` (null-free, without managedFields) gives its manager, less the
    `ignored` subtrees and STRIPPED_FIELDS: ``{}`` when nothing is left. None when this walk does not cover the
    case (a root compared as a leaf, or `ignored` paths with list elements in them); then use ``record_update``."""
    filt = _filter_for(ignored)
    info = schema_info(sch)
    if filt is None or info.dict_shape[0] == LEAF:
        return None
    if info.has_properties:
        return _zero_struct_body(obj, info, filt) or {}
    body: dict[str, Any] = {}
    _map_bodies(obj, info, filt, body)
    return body


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


_NOTHING = FieldSet()
_SPEC, _STATUS = FieldSet([fpath("spec")]), FieldSet([fpath("status")])


def default_reset_fields(sch: Schema | None, subresource: str) -> FieldSet:
    """Fields a write through this endpoint may not set (strategy ``GetResetFields``): status on the main
    resource, spec on /status."""
    props = schema_info(sch).declared
    if subresource == "status":
        return _SPEC if "spec" in props else _NOTHING
    return _STATUS if "status" in props and not subresource else _NOTHING


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
    rhs = _tracking_view(new_obj)
    key = manager_key(manager or "unknown", "Update", api_version, subresource)
    if old_obj is None and not managed:  # a create: one manager, whose fields are all the object sets
        fields_v1 = created_fields_v1(rhs, schema, ignored)
        if fields_v1 is not None:
            if not fields_v1:
                return []
            entry: dict[str, Any] = {"manager": key[0], "operation": "Update", "apiVersion": api_version}
            if now:
                entry["time"] = now
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = fields_v1
            if subresource:
                entry["subresource"] = subresource
            return [entry]
    lhs = _tracking_view(old_obj) if old_obj is not None else zero_object(rhs, schema)
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
