"""Server-side apply: merge an applied configuration into the live object and track who owns what.

This is what the apiserver does for ``PATCH`` with ``application/apply-patch+yaml`` (k8s.io/apimachinery
``pkg/util/managedfields`` over sigs.k8s.io/structured-merge-diff ``merge.Updater.Apply``): the config's
fields win, fields this manager applied before but left out now are removed unless someone else owns them,
changing a field another manager owns is a 409 conflict unless forced, and ``metadata.managedFields`` is
rewritten. The caller (the registry) still defaults, validates and stores the result and restores system
metadata (uid, creationTimestamp, resourceVersion) as for any update.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import yaml

from pyk8s.api import errors
from pyk8s.api import managedfields as mf
from pyk8s.api.managedfields import ABSENT, FieldSet, Managed, ManagerKey, PathElement
from pyk8s.api.schema import Schema, items_schema

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
_GONE: Any = object()  # a container emptied by removal


class _ApplyLoader(yaml.CSafeLoader):
    """YAML as sigs.k8s.io/yaml reads it: timestamps stay strings."""


_ApplyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_apply_patch(body: bytes) -> dict[str, Any]:
    """The apply body (JSON, or any YAML) as an object; BadRequest worded like upstream when it is not one."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            data = yaml.load(body, Loader=_ApplyLoader)
        except yaml.YAMLError as e:
            raise errors.BadRequest(f"error decoding patch: error converting YAML to JSON: yaml: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _not_an_object(data)
    return data


def _not_an_object(data: Any) -> errors.BadRequest:
    kind = {list: "array", str: "string", bool: "bool"}.get(type(data), "number")
    return errors.BadRequest("error decoding patch: error unmarshaling JSON: while decoding JSON: json: "
                             f"cannot unmarshal {kind} into Go value of type map[string]interface {{}}")


# ---- merge and removal (structured-merge-diff typed.Merge / RemoveItems) -----------------------------


def merge(lhs: Any, rhs: Any, sch: Schema | None) -> Any:
    """Merge `rhs` (the config) into `lhs` (live): leaves and atomic values come from rhs, maps merge by key,
    associative lists by element key in upstream's order. Nulls in rhs clear the field (None is returned)."""
    if rhs is ABSENT:
        return lhs
    if lhs is ABSENT:
        return mf.without_nulls(rhs)
    kind, keys = mf.shape(sch, rhs)
    if kind != mf.LEAF and mf.shape(sch, lhs)[0] != kind:
        kind = mf.LEAF
    if kind == mf.LEAF or (not lhs and not rhs):
        return mf.without_nulls(rhs)
    if kind == mf.LIST:
        try:
            lpes, rpes = mf.list_elements(lhs, keys, sch), mf.list_elements(rhs, keys, sch)
            return _merge_list(lhs, rhs, lpes, rpes, items_schema(sch))
        except ValueError:
            return mf.without_nulls(rhs)
    out = {}
    for name in {**lhs, **rhs}:
        value = merge(lhs.get(name, ABSENT), rhs.get(name, ABSENT), mf.child_schema(sch, name)[0])
        if value is not None:
            out[name] = value
    return out


def _merge_list(lhs: list[Any], rhs: list[Any], lpes: list[PathElement], rpes: list[PathElement],
                item_schema: Schema | None) -> list[Any]:
    """Items of both sides keep the config's relative order; live-only items stay where they were."""
    live: dict[PathElement, Any] = {}
    for pe, item in zip(lpes, lhs, strict=True):
        live.setdefault(pe, item)
    config = dict(zip(rpes, rhs, strict=True))
    shared = [pe for pe in rpes if pe in live]
    next_shared = 0
    done: set[PathElement] = set()
    out: list[Any] = []

    def emit(value: Any) -> None:
        if value is not None:
            out.append(value)

    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                done.add(pe)
                emit(merge(live[pe], config[pe], item_schema))
                li, ri, next_shared = li + 1, ri + 1, next_shared + 1
                continue
            if pe in config and next_shared < len(shared) and shared[next_shared] != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in config:
                emit(merge(lhs[li], ABSENT, item_schema))
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            done.add(pe)
            emit(merge(live.get(pe, ABSENT), config[pe], item_schema))
            ri += 1
            if next_shared < len(shared) and shared[next_shared] == pe:
                next_shared += 1
    return out


def remove_items(value: Any, fields: FieldSet, sch: Schema | None) -> Any:
    """A copy of `value` without the members of `fields` (subtrees included); emptied containers vanish."""
    trie = fields.trie()
    out = _remove(value, fields, sch) if trie is None else _remove_below(value, trie, sch)
    return {} if out is _GONE else out


def _remove_below(value: Any, level: dict[PathElement, list[Any]], sch: Schema | None) -> Any:
    """``_remove`` with the fields as a trie level (element -> [member, level below])."""
    kind, keys = mf.shape(sch, value)
    if kind == mf.LEAF or not value or not level:
        return value
    if kind == mf.LIST:
        try:
            pes = mf.list_elements(value, keys, sch)
        except ValueError:
            return value
        kept = []
        item_schema = items_schema(sch)
        for pe, item in zip(pes, value, strict=True):
            node = level.get(pe)
            if node is not None:
                if node[0]:
                    continue
                item = _remove_below(item, node[1], item_schema)
                if item is _GONE:
                    continue
            kept.append(item)
        return kept or _GONE
    out = {}
    for name, v in value.items():
        node = level.get((mf.FIELD, name))
        if node is not None:
            if node[0]:
                continue
            v = _remove_below(v, node[1], mf.child_schema(sch, name)[0])
            if v is _GONE:
                continue
        out[name] = v
    return out or _GONE


def _remove(value: Any, fields: FieldSet, sch: Schema | None) -> Any:
    kind, keys = mf.shape(sch, value)
    if kind == mf.LEAF or not value or not fields:
        return value
    level = fields.split()
    if kind == mf.LIST:
        try:
            pes = mf.list_elements(value, keys, sch)
        except ValueError:
            return value
        kept = []
        for pe, item in zip(pes, value, strict=True):
            member, below = level.get(pe, (False, FieldSet()))
            if not member:
                item = _remove(item, below, items_schema(sch))
                if item is not _GONE:
                    kept.append(item)
        return kept or _GONE
    out = {}
    for name, v in value.items():
        member, below = level.get((0, name), (False, FieldSet()))
        if not member:
            v = _remove(v, below, mf.child_schema(sch, name)[0])
            if v is not _GONE:
                out[name] = v
    return out or _GONE


def _prune(merged: Any, managed: Managed, last: FieldSet, sch: Schema | None) -> Any:
    """Upstream ``Updater.prune``: drop what the applier applied last time but not now, unless anyone owns it."""
    last_all = mf.ensure_named_fields_are_members(last, sch)
    owned = mf.ensure_named_fields_are_members(_union(managed), sch)
    merged_set = mf.fields_of(merged, sch, named=True)
    pruned = remove_items(merged, last_all, sch)
    pruned_set = mf.fields_of(pruned, sch, named=True)
    unowned = merged_set - (pruned_set | owned)
    if not unowned:  # then nothing below is removed either: what follows would give `merged` back
        return merged
    pruned = remove_items(merged, unowned, sch)
    pruned_set = mf.fields_of(pruned, sch, named=True)
    return remove_items(merged, (merged_set - pruned_set) & last_all, sch)


def _union(managed: Managed) -> FieldSet:
    out = FieldSet()
    for vs in managed.values():
        out = out | vs.fields
    return out


# ---- conflicts --------------------------------------------------------------------------------------


class _Conflicts(Exception):
    def __init__(self, conflicts: dict[ManagerKey, FieldSet]) -> None:
        super().__init__("apply conflicts")
        self.conflicts = conflicts


def conflict_error(conflicts: dict[ManagerKey, FieldSet]) -> errors.Conflict:
    """409 with upstream's message and one FieldManagerConflict cause per field."""
    ordered = sorted(conflicts.items(), key=lambda item: mf.manager_key_json(item[0]))
    pairs = [(key, path) for key, fields in ordered for path in fields]
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {mf.describe_manager(key)}",
               "field": mf.path_string(path)} for key, path in pairs]
    if len(pairs) == 1:
        key, path = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {mf.describe_manager(key)}: {mf.path_string(path)}"
    else:
        lines = []
        for key, fields in ordered:
            lines.append(f"conflicts with {mf.describe_manager(key)}:")
            lines.extend(f"- {mf.path_string(path)}" for path in fields)
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, details={"causes": causes})


def _allowed_by_last_applied(live: dict[str, Any], sch: Schema | None, api_version: str) -> FieldSet:
    """Fields kubectl's client-side apply annotation still describes truthfully: kubectl may take them over."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION)
    try:
        last = json.loads(text) if text else None
        if not isinstance(last, dict) or last.get("apiVersion") != api_version:
            return FieldSet()
        fields = mf.fields_of(last, sch, strict=True)
    except ValueError:
        return FieldSet()
    diff = mf.compare(last, live, sch)
    return fields - diff.modified - diff.added - diff.removed


# ---- apply ------------------------------------------------------------------------------------------


def _group_version(api_version: str) -> tuple[str, str] | None:
    if not api_version or api_version == "/":
        return ("", "")
    parts = api_version.split("/")
    return ("", parts[0]) if len(parts) == 1 else (parts[0], parts[1]) if len(parts) == 2 else None


def _check_config(config: Any, api_version: str, kind: str) -> None:
    if not isinstance(config, dict):
        raise _not_an_object(config)
    raw_version, raw_kind = config.get("apiVersion"), config.get("kind")
    gv = _group_version(raw_version if isinstance(raw_version, str) else "")
    got = (*gv, raw_kind if isinstance(raw_kind, str) else "") if gv else ("", "", "")
    if got != (*(_group_version(api_version) or ("", "")), kind):
        raise errors.BadRequest(f"invalid object type: {got[0]}/{got[1]}, Kind={got[2]}")
    meta = config.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise errors.BadRequest("error decoding patch: metadata must be an object")
    if (meta or {}).get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")


def _kind_of(schema: Schema | None, api_version: str) -> str:
    group, version = _group_version(api_version) or ("", "")
    for gvk in (schema or {}).get("x-kubernetes-group-version-kind", ()):
        if gvk.get("group", "") == group and gvk.get("version") == version:
            return str(gvk.get("kind", ""))
    return ""


def _apply_once(live: dict[str, Any], config: dict[str, Any], managed: Managed, key: ManagerKey, force: bool,
                api_version: str, now: str, sch: Schema | None, ignored: FieldSet,
                describe: str) -> tuple[dict[str, Any], Managed]:
    """One pass of upstream's apply pipeline below the last-applied handling; raises _Conflicts."""
    managed = {k: mf.VersionedSet(vs.fields, vs.api_version, vs.applied, vs.time) for k, vs in managed.items()}
    if not managed:  # adopt what is already there (upstream skipNonAppliedManager)
        first = mf.manager_key(BEFORE_FIRST_APPLY, "Update", api_version)
        mf.record_update(mf.zero_object(live, sch), live, managed, first, api_version, now, sch, ignored)
    try:
        applied = mf.fields_of(config, sch, strict=True).recursive_difference(ignored)
    except ValueError as e:
        raise errors.InternalError(f"failed to create typed patch object ({describe}): {e}") from None
    merged = merge(live, config, sch)
    last = managed.get(key)
    managed[key] = mf.VersionedSet(applied, api_version, True, last.time if last else None)
    if last is not None and last.fields:
        merged = _prune(merged, managed, last.fields, sch)
    _, conflicts = mf.transfer_ownership(live, merged, managed, key, force, sch, ignored)
    if conflicts and not force:
        raise _Conflicts(conflicts)
    if key in managed:
        mine = managed[key]
        mine.fields = mine.fields - mf.STRIPPED_FIELDS
        if not mine.fields:
            del managed[key]
        elif merged != live:
            mine.time = now
    return merged, managed


def server_side_apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool,
                      api_version: str, now: str, schema: Schema | None, *, kind: str | None = None,
                      name: str | None = None, namespace: str | None = None, subresource: str = "",
                      reset_fields: FieldSet | None = None) -> dict[str, Any]:
    """The object after `manager` applies `config` to `live` (None: create), with its managedFields.

    `name`/`namespace` are the URL's (checked like upstream when given; namespace "" = cluster-scoped).
    Raises BadRequest for a body of the wrong type or version, Conflict (409, per-field causes) when the
    config changes fields other managers own and `force` is false."""
    kind = kind or (live or {}).get("kind") or _kind_of(schema, api_version)
    _check_config(config, api_version, kind)
    ignored = reset_fields if reset_fields is not None else mf.default_reset_fields(schema, subresource)
    base = mf.comparable(live) if live is not None else {}
    meta = config.get("metadata") or {}
    group, version = _group_version(api_version) or ("", "")
    describe = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {group}/{version}, Kind={kind}"
    try:
        managed = mf.decode_managed_fields(((live or {}).get("metadata") or {}).get("managedFields"))
    except ValueError as e:
        raise errors.InternalError(f"failed to decode managed fields: {e}") from None
    key = mf.manager_key(manager, "Apply", api_version, subresource)
    try:
        result, managed = _apply_once(base, config, managed, key, force, api_version, now, schema, ignored, describe)
    except _Conflicts as c:
        # kubectl may take over what its client-side apply annotation still describes (upstream lastAppliedManager)
        allowed = _allowed_by_last_applied(base, schema, api_version) if manager == "kubectl" else FieldSet()
        remaining = {k: FieldSet(p for p in fs if p not in allowed) for k, fs in c.conflicts.items()}
        remaining = {k: fs for k, fs in remaining.items() if fs}
        if remaining:
            raise conflict_error(remaining) from None
        result, managed = _apply_once(base, config, managed, key, True, api_version, now, schema, ignored, describe)
    if live is not None and result == base:  # nothing changed: hand back the live object as it was
        result = orjson.loads(orjson.dumps(live))
    result_meta = result.setdefault("metadata", {})
    annotations = result_meta.get("annotations") or {}
    if manager == "kubectl" and annotations.get(LAST_APPLIED_ANNOTATION):
        annotations[LAST_APPLIED_ANNOTATION] = _last_applied(config)
    if namespace is not None:  # upstream EnsureObjectNamespaceMatchesRequestNamespace
        object_namespace = result_meta.get("namespace") or ""
        if object_namespace and namespace and object_namespace != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on the "
                                    "request")
        if namespace:
            result_meta["namespace"] = namespace
        else:
            result_meta.pop("namespace", None)
    if name is not None and (result_meta.get("name") or "") != name:
        raise errors.BadRequest(f"the name of the object ({result_meta.get('name') or ''}) does not match the name "
                                f"on the URL ({name})")
    entries = mf.encode_managed_fields(managed)
    if entries:
        result_meta["managedFields"] = entries
    else:
        result_meta.pop("managedFields", None)
    return result


def _last_applied(config: dict[str, Any]) -> str:
    """The client-side apply annotation kubectl's server-side apply keeps in step: the config as JSON."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(config))
    meta = copy.get("metadata")
    if isinstance(meta, dict) and "annotations" in meta:
        if isinstance(meta["annotations"], dict):
            meta["annotations"].pop(LAST_APPLIED_ANNOTATION, None)
        else:
            del meta["annotations"]
    return mf.go_json(copy) + "\n"
