"""Helpers every verb handler shares: responses, body reading, type checks, warnings."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.apiserver.negotiation import MAX_BODY_BYTES

Obj = dict[str, Any]
JSON_CT = "application/json"


def json_response(obj: Any, status: int = 200, *, warnings: list[str] | None = None,
                  content_type: str = JSON_CT) -> web.Response:
    resp = web.Response(body=orjson.dumps(obj), status=status, content_type=content_type)
    add_warnings(resp, warnings)
    return resp


def add_warnings(resp: web.StreamResponse, warnings: list[str] | None) -> None:
    for w in warnings or ():
        text = w.replace('"', '\\"')
        resp.headers.add("Warning", f'299 - "{text}"')


def error_response(err: errors.StatusError) -> web.Response:
    resp = web.Response(body=orjson.dumps(err.status()), status=err.code, content_type=JSON_CT)
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


async def read_body(request: web.Request) -> bytes:
    """The request body, refusing more than upstream's 3 MiB limit with 413."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY_BYTES}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY_BYTES}")
        chunks.append(chunk)
    return b"".join(chunks)


def check_kind(obj: Any, r: Resource, *, expected_kind: str | None = None, expected_version: str | None = None) -> Obj:
    """Fill in or check apiVersion/kind of a body against the endpoint it was sent to."""
    kind = expected_kind or r.kind
    gv = expected_version or r.group_version
    if not isinstance(obj, dict):
        raise errors.BadRequest(f"the object provided is unrecognized (must be of type {kind}): "
                                "couldn't get version/kind; json parse error: cannot unmarshal into Go value "
                                f"of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; "
                                f"Kind string \"json:\\\"kind,omitempty\\\"\" }}")
    body_kind = obj.get("kind") or ""
    body_gv = obj.get("apiVersion") or ""
    if (body_kind and body_kind != kind) or (body_gv and body_gv != gv):
        shown_gv = body_gv or gv
        shown_kind = body_kind or kind
        raise errors.BadRequest(
            f"the API version in the data ({shown_gv}) does not match the expected API version ({gv})"
            if body_gv and body_gv != gv else
            f"{shown_kind} in version \"{r.version}\" cannot be handled as a {kind}: "
            f"no kind \"{shown_kind}\" is registered for version \"{shown_gv}\" in scheme \"pkg/api/legacyscheme/scheme.go:30\""
        )
    obj["kind"] = kind
    obj["apiVersion"] = gv
    md = obj.get("metadata")
    if md is None:
        obj["metadata"] = {}
    elif not isinstance(md, dict):
        raise errors.BadRequest(f"{kind} in version \"{r.version}\" cannot be handled as a {kind}: "
                                "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta")
    return obj


def check_namespace(obj: Obj, r: Resource, url_namespace: str) -> None:
    md = obj["metadata"]
    if r.namespaced:
        body_ns = md.get("namespace") or ""
        if body_ns and body_ns != url_namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request")
        md["namespace"] = url_namespace
    else:
        md.pop("namespace", None)


def status_success(r: Resource, name: str, uid: str) -> Obj:
    details: Obj = {"name": name, "kind": r.plural, "uid": uid}
    if r.group:
        details["group"] = r.group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
