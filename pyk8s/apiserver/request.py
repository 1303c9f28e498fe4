"""Turn an HTTP request path and query into what it asks for (upstream's RequestInfo).

Paths: /api/v1/... and /apis/<group>/<version>/..., then [namespaces/<ns>/]<plural>[/<name>[/<sub>]],
with /api/v1/namespaces/<name>[/<sub>] meaning the Namespace object itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from multidict import MultiMapping

from pyk8s.api import errors
from pyk8s.api.resources import Resource, ResourceTable

FIELD_VALIDATION_VALUES = ("Ignore", "Warn", "Strict")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    group: str
    version: str
    resource: Resource
    namespace: str          # "" for cluster-scoped or all-namespaces
    name: str               # "" for collections
    subresource: str        # "" for the main resource
    watch_path: bool = False  # legacy /watch/ prefix


def not_found_resource() -> errors.NotFound:
    return errors.NotFound("the server could not find the requested resource", details={})


def parse_path(table: ResourceTable, path: str) -> RequestInfo | None:
    """Resolve an API path; None when it is not a resource path (discovery etc.)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = False
    if rest and rest[0] == "watch":
        watch_path, rest = True, rest[1:]
        if not rest:
            raise not_found_resource()
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        candidate = table.lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
        elif group == "" and len(rest) == 3:
            # /api/v1/namespaces/<name>/<subresource>
            ns_res = table.lookup("", version, "namespaces")
            if ns_res is None or ns_res.subresource(rest[2]) is None:
                raise not_found_resource()
            return RequestInfo(group, version, ns_res, "", rest[1], rest[2], watch_path)
        else:
            raise not_found_resource()
    resource = table.lookup(group, version, rest[0])
    if resource is None or len(rest) > 3:
        raise not_found_resource()
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if sub and resource.subresource(sub) is None:
        raise not_found_resource()
    return RequestInfo(group, version, resource, namespace, name, sub, watch_path)


def query_flag(query: MultiMapping[str], name: str) -> bool:
    v = query.get(name, "")
    return v.lower() in ("true", "1")


def dry_run(query: MultiMapping[str], options_kind: str) -> bool:
    values = query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.invalid_options(options_kind, "dryRun", v, ["All"])
    return bool(values)


def field_validation(query: MultiMapping[str], options_kind: str) -> str:
    v = query.get("fieldValidation", "")
    if v == "":
        return "Warn"
    if v not in FIELD_VALIDATION_VALUES:
        raise errors.invalid_options(options_kind, "fieldValidation", v, list(FIELD_VALIDATION_VALUES))
    return v
