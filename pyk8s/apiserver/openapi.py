"""The ``/openapi/v3`` documents: the discovery index and one OpenAPI 3.0 document per served group-version.

kubectl cannot apply, edit, ``create -f`` or ``replace`` without them: it looks for a path whose ``patch``
operation carries the object's ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` parameter, ``explain``
reads ``components.schemas``, and client-side apply takes its strategic-merge-patch metadata from the same schemas.
Schemas come from :mod:`pyk8s.api.schema` (JSON Schema 2020-12) and are rewritten into the OpenAPI 3.0 shape upstream
serves; paths and operations are generated from the resource table. Everything here is a pure function of the table
(no HTTP); documents are built lazily per group-version and cached as bytes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from pyk8s.api import schema as api_schema
from pyk8s.api.errors import NotFound
from pyk8s.api.resources import Resource, ResourceTable, Subresource

Schema = dict[str, Any]
Document = dict[str, Any]

OPENAPI_V3_PREFIX = "/openapi/v3/"
_SCHEMAS = "#/components/schemas/"
_DEFS = "#/$defs/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_STATUS = _META + "Status"
_DELETE_OPTIONS = _META + "DeleteOptions"
_WATCH_EVENT = _META + "WatchEvent"
_PATCH = _META + "Patch"
_API_RESOURCE_LIST = _META + "APIResourceList"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

# Definitions whose kubernetes-validate form (a oneOf of nullable types, no description) differs from what
# upstream publishes in its v3 documents. kubectl explain prints <IntOrString> / <Quantity> for fields that
# reference them because these carry no "type".
_REPLACED_DEFINITIONS: dict[str, Schema] = {
    _INT_OR_STRING: {
        "description": "Holds either an int32 or a string; JSON and YAML carry whichever of the two was set.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    _QUANTITY: {
        "description": (
            "A fixed-point amount written as a string with an optional decimal (k, M, G, ...), binary (Ki, Mi, "
            "Gi, ...) or exponent suffix, for example \"500m\", \"1.5Gi\" or \"2e3\"; plain numbers are accepted too."
        ),
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
}

_OBJECT_MEDIA = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
_STREAM_MEDIA = (
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
)
_PATCH_MEDIA = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
# Subresources that upgrade or proxy the connection instead of exchanging API objects.
_CONNECT_SUBRESOURCES = frozenset({"attach", "exec", "portforward", "proxy"})
# Resources whose DELETE answers with the object itself (graceful deletion) rather than a Status.
_DELETE_RETURNS_OBJECT = frozenset({("", "pods"), ("", "services")})
_VERB_METHOD = {"get": "get", "create": "post", "update": "put", "patch": "patch", "delete": "delete"}


# ---------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------


def group_version_path(group: str, version: str) -> str:
    """The index key and URL tail of a group-version document: ``api/v1`` or ``apis/apps/v1``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def parse_group_version_path(path: str) -> tuple[str, str] | None:
    """(group, version) for an index key such as ``apis/apps/v1`` (a leading ``/openapi/v3/`` is allowed)."""
    parts = path.removeprefix(OPENAPI_V3_PREFIX).strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api" and parts[1]:
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis" and parts[1] and parts[2]:
        return parts[1], parts[2]
    return None


def openapi_index(table: ResourceTable) -> dict[str, Any]:
    """The ``GET /openapi/v3`` discovery document: one entry per served group-version.

    Each URL carries ``?hash=`` with the document's digest so clients may cache it forever; the digest changes
    whenever the document does.
    """
    paths: dict[str, Any] = {}
    for group, versions in table.group_versions().items():
        for version in versions:
            key = group_version_path(group, version)
            digest = openapi_group_version_hash(table, group, version)
            paths[key] = {"serverRelativeURL": f"{OPENAPI_V3_PREFIX}{key}?hash={digest}"}
    return {"paths": paths}


def openapi_group_version(table: ResourceTable, group: str, version: str) -> bytes:
    """The OpenAPI 3.0 document (JSON bytes) for one served group-version; NotFound if none is served."""
    return _document(_resources_in(table, group, version), group, version)[0]


def openapi_group_version_hash(table: ResourceTable, group: str, version: str) -> str:
    """Upper-case hex SHA-512 of the document bytes, as upstream's ``?hash=`` and ETag."""
    return _document(_resources_in(table, group, version), group, version)[1]


# ---------------------------------------------------------------------------------------------------------------
# Document assembly
# ---------------------------------------------------------------------------------------------------------------


def _resources_in(table: ResourceTable, group: str, version: str) -> tuple[Resource, ...]:
    found = tuple(table.in_group_version(group, version))
    if not found:
        raise NotFound("the server could not find the requested resource")
    return found


@functools.cache
def _document(resources: tuple[Resource, ...], group: str, version: str) -> tuple[bytes, str]:
    paths = _paths(resources, group, version)
    roots = {_STATUS, _DELETE_OPTIONS, _WATCH_EVENT, _PATCH, _API_RESOURCE_LIST, *_schema_refs_in(paths)}
    doc: Document = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": api_schema.KUBE_SCHEMA_VERSION},
        "paths": paths,
        "components": {
            "schemas": {name: _component(name) for name in _closure(roots)},
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey",
                }
            },
        },
    }
    data = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return data, hashlib.sha512(data).hexdigest().upper()


def _schema_refs_in(node: Any) -> Iterator[str]:
    """Definition names referenced anywhere below `node` (used on generated paths)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_SCHEMAS):
            yield ref[len(_SCHEMAS):]
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _schema_refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_refs_in(value)


# ---------------------------------------------------------------------------------------------------------------
# Schemas: JSON Schema 2020-12 (kubernetes-validate) -> OpenAPI 3.0 (as upstream publishes it)
# ---------------------------------------------------------------------------------------------------------------


@functools.cache
def _direct_refs(name: str) -> frozenset[str]:
    if name in _REPLACED_DEFINITIONS:
        return frozenset()
    out: set[str] = set()
    _collect_defs_refs(api_schema.definitions()[name], out)
    return frozenset(out)


def _collect_defs_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            out.add(ref[len(_DEFS):])
        for key, value in node.items():
            if not key.startswith("x-kubernetes-") and isinstance(value, dict | list):
                _collect_defs_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect_defs_refs(value, out)


def _closure(roots: Iterable[str]) -> list[str]:
    """`roots` plus every definition they reference, transitively, sorted; unknown names are skipped."""
    known = api_schema.definitions()
    seen: set[str] = set()
    stack = [r for r in roots if r in known]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(r for r in _direct_refs(name) if r not in seen and r in known)
    return sorted(seen)


@functools.cache
def _component(name: str) -> Schema:
    replaced = _REPLACED_DEFINITIONS.get(name)
    if replaced is not None:
        return replaced
    return _convert(api_schema.definitions()[name])


def _convert(node: Schema) -> Schema:
    """One JSON Schema node in OpenAPI 3.0 form.

    ``$ref: #/$defs/X`` becomes ``#/components/schemas/X``, wrapped in ``allOf`` when the node has other keys
    (description, x-kubernetes-* ...), as upstream writes it; ``type: [T, "null"]`` becomes ``type: T``.
    """
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type":
            _set_type(out, value)
        elif key == "properties":
            out[key] = {prop: _convert_property(prop, sub) for prop, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = _convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_convert(sub) for sub in value]
        else:
            out[key] = value
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = _SCHEMAS + ref.removeprefix(_DEFS)
        if not out:
            return {"$ref": target}
        out["allOf"] = [{"$ref": target}]
    return out


def _convert_property(name: str, node: Schema) -> Schema:
    converted = _convert(node)
    if name in ("apiVersion", "kind"):
        # kubernetes-validate pins these to the kind's own values; upstream documents them as free strings.
        converted.pop("enum", None)
    return converted


def _set_type(out: Schema, value: Any) -> None:
    if isinstance(value, str):
        if value != "null":
            out["type"] = value
        return
    types = [t for t in value if t != "null"]
    if len(types) == 1:
        out["type"] = types[0]
    elif types:
        out["oneOf"] = [{"type": t} for t in types]


# ---------------------------------------------------------------------------------------------------------------
# Paths and operations
# ---------------------------------------------------------------------------------------------------------------


def _paths(resources: tuple[Resource, ...], group: str, version: str) -> dict[str, Any]:
    naming = _Naming(group, version)
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: dict[str, Any] = {
        prefix + "/": {
            "get": {
                "description": "get available resources",
                "operationId": f"get{naming.gv}APIResources",
                "responses": _responses({"200": ("OK", _API_RESOURCE_LIST)}),
                "tags": [naming.tag],
            }
        }
    }
    for r in sorted(resources, key=lambda res: res.plural):
        paths.update(_resource_paths(r, prefix, naming))
    return dict(sorted(paths.items()))


class _Naming:
    """Upstream's operation ids (``patchAppsV1NamespacedDeployment``) and tags (``apps_v1``) for one GV."""

    def __init__(self, group: str, version: str) -> None:
        words = group.removesuffix(".k8s.io").split(".") if group else ["core"]
        group_camel = "".join(w[:1].upper() + w[1:] for w in words)
        self.gv = group_camel + version[:1].upper() + version[1:]
        self.tag = f"{group_camel[:1].lower()}{group_camel[1:]}_{version}"

    def op_id(self, verb: str, r: Resource, *, namespaced: bool, suffix: str = "", infix: str = "") -> str:
        """``verb + GV + infix + [Namespaced] + Kind + suffix``, e.g. deleteAppsV1CollectionNamespacedDeployment."""
        scope = "Namespaced" if namespaced and r.namespaced else ""
        return f"{verb}{self.gv}{infix}{scope}{r.kind}{suffix}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _operation(
    op_id: str, action: str, gvk: dict[str, str], tag: str, description: str, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """One operation; ``x-kubernetes-group-version-kind`` is what kubectl's validation and explain match on."""
    body: dict[str, Any] = {"description": description, "operationId": op_id, "responses": responses, "tags": [tag]}
    body.update(extra)
    body["x-kubernetes-action"] = action
    body["x-kubernetes-group-version-kind"] = gvk
    return body


def _resource_paths(r: Resource, prefix: str, naming: _Naming) -> dict[str, Any]:
    kind_ref = api_schema.definition_name(r.group, r.version, r.kind)
    list_ref = api_schema.definition_name(r.group, r.version, r.list_kind)
    gvk = _gvk(r.group, r.version, r.kind)
    verbs = set(r.verbs)
    paths: dict[str, Any] = {}

    scope_params = [_NAMESPACE_PARAM] if r.namespaced else []
    collection = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
    item = f"{collection}/{{name}}"
    watch_collection = (
        f"{prefix}/watch/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/watch/{r.plural}"
    )

    def op(op_id: str, action: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return _operation(op_id, action, gvk, naming.tag, description, responses, **extra)

    # Collection: list, create, deletecollection.
    coll: dict[str, Any] = {}
    if "list" in verbs and list_ref:
        coll["get"] = op(
            naming.op_id("list", r, namespaced=True), "list", f"list or watch objects of kind {r.kind}",
            _responses({"200": ("OK", list_ref)}, _STREAM_MEDIA), parameters=_LIST_PARAMS,
        )
    if "create" in verbs and kind_ref:
        coll["post"] = op(
            naming.op_id("create", r, namespaced=True), "post", f"create a {r.kind}",
            _responses({"200": ("OK", kind_ref), "201": ("Created", kind_ref), "202": ("Accepted", kind_ref)}),
            parameters=_WRITE_PARAMS, requestBody=_body(kind_ref),
        )
    if "deletecollection" in verbs:
        coll["delete"] = op(
            naming.op_id("delete", r, namespaced=True, infix="Collection"),
            "deletecollection", f"delete collection of {r.kind}",
            _responses({"200": ("OK", _STATUS)}), parameters=_DELETECOLLECTION_PARAMS,
            requestBody=_body(_DELETE_OPTIONS, required=False),
        )
    if coll:
        coll["parameters"] = _by_name(*scope_params, _PRETTY_PARAM)
        paths[collection] = coll

    # All namespaces: list only.
    if r.namespaced and "list" in verbs and list_ref:
        paths[f"{prefix}/{r.plural}"] = {
            "get": op(
                naming.op_id("list", r, namespaced=False, suffix="ForAllNamespaces"), "list",
                f"list or watch objects of kind {r.kind}", _responses({"200": ("OK", list_ref)}, _STREAM_MEDIA),
            ),
            "parameters": _LIST_PARAMS_WITH_PRETTY,
        }

    # One object: read, replace, patch, delete.
    one: dict[str, Any] = {}
    if "get" in verbs and kind_ref:
        one["get"] = op(
            naming.op_id("read", r, namespaced=True), "get", f"read the specified {r.kind}",
            _responses({"200": ("OK", kind_ref)}),
        )
    if "update" in verbs and kind_ref:
        one["put"] = op(
            naming.op_id("replace", r, namespaced=True), "put", f"replace the specified {r.kind}",
            _responses({"200": ("OK", kind_ref), "201": ("Created", kind_ref)}),
            parameters=_WRITE_PARAMS, requestBody=_body(kind_ref),
        )
    if "patch" in verbs and kind_ref:
        one["patch"] = op(
            naming.op_id("patch", r, namespaced=True), "patch", f"partially update the specified {r.kind}",
            _responses({"200": ("OK", kind_ref), "201": ("Created", kind_ref)}),
            parameters=_PATCH_PARAMS, requestBody=_PATCH_BODY,
        )
    if "delete" in verbs:
        deleted = kind_ref if (r.group, r.plural) in _DELETE_RETURNS_OBJECT and kind_ref else _STATUS
        one["delete"] = op(
            naming.op_id("delete", r, namespaced=True), "delete", f"delete a {r.kind}",
            _responses({"200": ("OK", deleted), "202": ("Accepted", deleted)}),
            parameters=_DELETE_PARAMS, requestBody=_body(_DELETE_OPTIONS, required=False),
        )
    if one:
        one["parameters"] = _by_name(_NAME_PARAM, *scope_params, _PRETTY_PARAM)
        paths[item] = one

    # Deprecated watch paths, still published upstream.
    if "watch" in verbs:
        watch_resp = _responses({"200": ("OK", _WATCH_EVENT)}, _STREAM_MEDIA)
        paths[watch_collection] = {
            "get": op(
                naming.op_id("watch", r, namespaced=True, suffix="List"), "watchlist",
                f"watch individual changes to a list of {r.kind} (deprecated: use a list with 'watch')", watch_resp,
            ),
            "parameters": _by_name(*scope_params, *_LIST_PARAMS_WITH_PRETTY),
        }
        paths[f"{watch_collection}/{{name}}"] = {
            "get": op(
                naming.op_id("watch", r, namespaced=True), "watch",
                f"watch changes to an object of kind {r.kind} (deprecated: use a list with 'watch' and a "
                "metadata.name field selector)",
                watch_resp,
            ),
            "parameters": _by_name(_NAME_PARAM, *scope_params, *_LIST_PARAMS_WITH_PRETTY),
        }
        if r.namespaced:
            paths[f"{prefix}/watch/{r.plural}"] = {
                "get": op(
                    naming.op_id("watch", r, namespaced=False, suffix="ListForAllNamespaces"), "watchlist",
                    f"watch individual changes to a list of {r.kind} (deprecated: use a list with 'watch')",
                    watch_resp,
                ),
                "parameters": _LIST_PARAMS_WITH_PRETTY,
            }

    for sub in r.subresources:
        paths.update(_subresource_paths(r, sub, item, scope_params, naming))
    return paths


def _subresource_paths(
    r: Resource, sub: Subresource, item: str, scope_params: list[Schema], naming: _Naming
) -> dict[str, Any]:
    title = sub.name[:1].upper() + sub.name[1:]
    path = f"{item}/{sub.name}"
    params = [_NAME_PARAM, *scope_params]
    gvk = _gvk(sub.group, sub.version, sub.kind)

    def op(op_id: str, action: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return _operation(op_id, action, gvk, naming.tag, description, responses, **extra)

    if sub.name in _CONNECT_SUBRESOURCES:
        ops: dict[str, Any] = {}
        for verb in sub.verbs:
            method = _VERB_METHOD.get(verb)
            if method is None:
                continue
            ops[method] = op(
                naming.op_id("connect", r, namespaced=True, infix=method.capitalize(), suffix=title),
                "connect", f"connect {method.upper()} requests to {sub.name} of {r.kind}",
                {"200": {"content": {"*/*": {"schema": {"type": "string"}}}, "description": "OK"},
                 "401": {"description": "Unauthorized"}},
            )
        out = {path: {**ops, "parameters": _by_name(*params, *_CONNECT_PARAMS.get(sub.name, []))}}
        if sub.name == "proxy":
            out[f"{path}/{{path}}"] = {
                **{m: {**o, "operationId": o["operationId"] + "WithPath"} for m, o in ops.items()},
                "parameters": _by_name(*params, _PROXY_PATH_PARAM),
            }
        return out

    if sub.name == "log":
        text = {"schema": {"type": "string"}}
        return {path: {
            "get": op(
                naming.op_id("read", r, namespaced=True, suffix=title), "get", f"read log of the specified {r.kind}",
                {"200": {"content": {m: text for m in ("application/json", "application/vnd.kubernetes.protobuf",
                                                        "application/yaml", "text/plain")},
                         "description": "OK"},
                 "401": {"description": "Unauthorized"}},
            ),
            "parameters": _by_name(*params, *_LOG_PARAMS, _PRETTY_PARAM),
        }}

    ref = api_schema.definition_name(sub.group, sub.version, sub.kind)
    if ref is None:
        return {}
    ops = {}
    for verb in sub.verbs:
        if verb == "get":
            ops["get"] = op(
                naming.op_id("read", r, namespaced=True, suffix=title), "get",
                f"read {sub.name} of the specified {r.kind}", _responses({"200": ("OK", ref)}),
            )
        elif verb == "update":
            ops["put"] = op(
                naming.op_id("replace", r, namespaced=True, suffix=title), "put",
                f"replace {sub.name} of the specified {r.kind}",
                _responses({"200": ("OK", ref), "201": ("Created", ref)}),
                parameters=_WRITE_PARAMS, requestBody=_body(ref),
            )
        elif verb == "patch":
            ops["patch"] = op(
                naming.op_id("patch", r, namespaced=True, suffix=title), "patch",
                f"partially update {sub.name} of the specified {r.kind}",
                _responses({"200": ("OK", ref), "201": ("Created", ref)}),
                parameters=_PATCH_PARAMS, requestBody=_PATCH_BODY,
            )
        elif verb == "create":
            ops["post"] = op(
                naming.op_id("create", r, namespaced=True, suffix=title), "post", f"create {sub.name} of a {r.kind}",
                _responses({"200": ("OK", ref), "201": ("Created", ref), "202": ("Accepted", ref)}),
                parameters=_WRITE_PARAMS, requestBody=_body(ref),
            )
    if not ops:
        return {}
    return {path: {**ops, "parameters": _by_name(*params, _PRETTY_PARAM)}}


def _content(ref: str, media: Iterable[str]) -> dict[str, Any]:
    schema = {"$ref": _SCHEMAS + ref}
    return {m: {"schema": schema} for m in media}


def _responses(codes: dict[str, tuple[str, str]], media: tuple[str, ...] = _OBJECT_MEDIA) -> dict[str, Any]:
    out: dict[str, Any] = {
        code: {"content": _content(ref, media), "description": text} for code, (text, ref) in codes.items()
    }
    out["401"] = {"description": "Unauthorized"}
    return out


def _body(ref: str, *, required: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"content": _content(ref, ("*/*",))}
    if required:
        body["required"] = True
    return body


def _query(name: str, type_: str, description: str) -> Schema:
    return {"description": description, "in": "query", "name": name, "schema": {"type": type_, "uniqueItems": True}}


def _by_name(*params: Schema) -> list[Schema]:
    """Parameters in upstream's order (by name)."""
    return sorted(params, key=lambda p: (p["name"], p["in"]))


def _path_param(name: str, description: str) -> Schema:
    return {
        "description": description, "in": "path", "name": name, "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


_NAME_PARAM = _path_param("name", "name of the object")
_NAMESPACE_PARAM = _path_param("namespace", "namespace of the objects (their name and authorization scope)")
_PRETTY_PARAM = _query("pretty", "string", "If 'true', the response is indented for reading.")
_PROXY_PATH_PARAM = _path_param("path", "path to the resource")
_PROXY_PATH_QUERY_PARAM = _query("path", "string", "path to the resource, when not given in the URL")

_DRY_RUN = _query("dryRun", "string", "'All' runs every stage of the request without persisting anything.")
_FIELD_MANAGER = _query(
    "fieldManager", "string",
    "Name of the actor making the change, recorded in managedFields (at most 128 printable characters). "
    "Required for apply patches.",
)
_FIELD_VALIDATION = _query(
    "fieldValidation", "string",
    "What to do with unknown or duplicate fields in the body: 'Ignore' drops them silently, 'Warn' drops them "
    "with a warning header (the default), 'Strict' rejects the request.",
)
_FORCE = _query("force", "boolean", "Re-acquire fields owned by other managers on apply; must be unset otherwise.")
_CONTINUE = _query("continue", "string", "Token from a previous chunked list to fetch the next chunk.")
_FIELD_SELECTOR = _query("fieldSelector", "string", "Only return objects whose fields match. Defaults to all.")
_LABEL_SELECTOR = _query("labelSelector", "string", "Only return objects whose labels match. Defaults to all.")
_LIMIT = _query("limit", "integer", "Maximum number of items to return; the list then carries a continue token.")
_RESOURCE_VERSION = _query("resourceVersion", "string", "Constrains which resource versions may be served.")
_RESOURCE_VERSION_MATCH = _query("resourceVersionMatch", "string", "How resourceVersion applies to a list.")
_SEND_INITIAL_EVENTS = _query(
    "sendInitialEvents", "boolean", "With watch=true, start with synthetic events for the current state."
)
_TIMEOUT_SECONDS = _query("timeoutSeconds", "integer", "Limit on the duration of the list or watch call.")
_WATCH = _query("watch", "boolean", "Stream added, modified and deleted events instead of returning a list.")
_ALLOW_WATCH_BOOKMARKS = _query("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events on a watch.")
_GRACE_PERIOD = _query(
    "gracePeriodSeconds", "integer", "Seconds before the object is deleted; 0 deletes immediately."
)
_IGNORE_STORE_READ_ERROR = _query(
    "ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
    "Delete an object that cannot be read back from storage, skipping finalizers and preconditions.",
)
_ORPHAN_DEPENDENTS = _query("orphanDependents", "boolean", "Deprecated; use propagationPolicy.")
_PROPAGATION_POLICY = _query(
    "propagationPolicy", "string", "Garbage collection of dependents: 'Orphan', 'Background' or 'Foreground'."
)

_LIST_PARAMS = [
    _ALLOW_WATCH_BOOKMARKS, _CONTINUE, _FIELD_SELECTOR, _LABEL_SELECTOR, _LIMIT, _RESOURCE_VERSION,
    _RESOURCE_VERSION_MATCH, _SEND_INITIAL_EVENTS, _TIMEOUT_SECONDS, _WATCH,
]
_LIST_PARAMS_WITH_PRETTY = _by_name(*_LIST_PARAMS, _PRETTY_PARAM)
_WRITE_PARAMS = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
_PATCH_PARAMS = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION, _FORCE]
_DELETE_PARAMS = [_DRY_RUN, _GRACE_PERIOD, _IGNORE_STORE_READ_ERROR, _ORPHAN_DEPENDENTS, _PROPAGATION_POLICY]
_DELETECOLLECTION_PARAMS = [
    _CONTINUE, _DRY_RUN, _FIELD_SELECTOR, _GRACE_PERIOD, _IGNORE_STORE_READ_ERROR, _LABEL_SELECTOR, _LIMIT,
    _ORPHAN_DEPENDENTS, _PROPAGATION_POLICY, _RESOURCE_VERSION, _RESOURCE_VERSION_MATCH, _SEND_INITIAL_EVENTS,
    _TIMEOUT_SECONDS,
]
_PATCH_BODY = {"content": _content(_PATCH, _PATCH_MEDIA), "required": True}

_CONTAINER = _query("container", "string", "Container to use; defaults to the only container of the pod.")
_STDIN = _query("stdin", "boolean", "Attach the standard input stream.")
_STDOUT = _query("stdout", "boolean", "Attach the standard output stream.")
_STDERR = _query("stderr", "boolean", "Attach the standard error stream.")
_TTY = _query("tty", "boolean", "Allocate a terminal; stderr is then merged into stdout.")
_CONNECT_PARAMS: dict[str, list[Schema]] = {
    "attach": [_CONTAINER, _STDERR, _STDIN, _STDOUT, _TTY],
    "exec": [
        _query("command", "string", "Command to run, one argument per parameter; not run through a shell."),
        _CONTAINER, _STDERR, _STDIN, _STDOUT, _TTY,
    ],
    "portforward": [_query("ports", "integer", "Pod ports to forward.")],
    "proxy": [_PROXY_PATH_QUERY_PARAM],
}
_LOG_PARAMS = [
    _query("container", "string", "Container whose log to read; defaults to the only container of the pod."),
    _query("follow", "boolean", "Keep streaming the log as it grows."),
    _query("insecureSkipTLSVerifyBackend", "boolean", "Do not verify the kubelet's serving certificate."),
    _query("limitBytes", "integer", "Stop after this many bytes."),
    _query("previous", "boolean", "Read the log of the previous, terminated container instance."),
    _query("sinceSeconds", "integer", "Only lines newer than this many seconds."),
    _query("stream", "string", "Which stream to read: 'All' (default), 'Stdout' or 'Stderr'."),
    _query("tailLines", "integer", "Only this many lines from the end of the log."),
    _query("timestamps", "boolean", "Prefix every line with its RFC 3339 timestamp."),
]
