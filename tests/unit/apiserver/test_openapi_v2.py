"""The /openapi/v2 document and its gnostic protobuf encoding, checked the way kubectl 1.27/1.28 read them."""

from __future__ import annotations

import functools
import struct
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import yaml

from pyk8s.api.resources import TABLE, Resource, ResourceTable
from pyk8s.apiserver import openapi_v2
from pyk8s.apiserver.openapi_v2 import (
    JSON_CONTENT_TYPE,
    PROTOBUF_ACCEPT,
    PROTOBUF_CONTENT_TYPE,
    decode_message,
    encode_message,
    negotiate_openapi_v2,
    openapi_v2_document,
    openapi_v2_json,
    openapi_v2_protobuf,
    openapi_v2_representation,
)

METHODS = ("get", "put", "post", "delete", "patch")
DEFINITIONS = "#/definitions/"
PATCHABLE = [r for r in TABLE.resources if r.stored and "patch" in r.verbs]


def doc() -> dict[str, Any]:
    return openapi_v2_document(TABLE)


@functools.cache
def decoded() -> dict[str, Any]:
    """The protobuf as the module's decoder reads it back (shared: do not mutate)."""
    result: dict[str, Any] = decode_message("Document", openapi_v2_protobuf(TABLE))
    return result


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


# ---------------------------------------------------------------------------------------------------------------
# Raw protobuf reading, independent of the module's decoder (what Go's generated code sees)
# ---------------------------------------------------------------------------------------------------------------


def raw_fields(data: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = raw_varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = raw_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = raw_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((number, wire, value))
    return out


def raw_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def only(fields: list[tuple[int, int, Any]], number: int) -> list[Any]:
    return [value for n, _, value in fields if n == number]


def named(entries: list[bytes], name: str) -> bytes:
    """The value (field 2) of the Named* entry whose name (field 1) is `name`."""
    for entry in entries:
        fields = raw_fields(entry)
        if only(fields, 1) == [name.encode()]:
            value: bytes = only(fields, 2)[0]
            return value
    raise AssertionError(f"no entry named {name}")


# ---------------------------------------------------------------------------------------------------------------
# Document shape
# ---------------------------------------------------------------------------------------------------------------


def test_document_is_swagger_2_with_upstream_top_level_keys() -> None:
    d = doc()
    assert d["swagger"] == "2.0"
    assert d["info"]["title"] == "Kubernetes" and d["info"]["version"].startswith("v1.")
    assert d["securityDefinitions"]["BearerToken"] == {
        "description": "Bearer Token authentication", "in": "header", "name": "authorization", "type": "apiKey",
    }
    assert d["security"] == [{"BearerToken": []}]
    assert "components" not in d and "openapi" not in d
    assert list(d["paths"]) == sorted(d["paths"]) and list(d["definitions"]) == sorted(d["definitions"])


def test_every_served_group_version_has_paths() -> None:
    paths = doc()["paths"]
    for group, versions in TABLE.group_versions().items():
        for version in versions:
            prefix = f"/apis/{group}/{version}/" if group else f"/api/{version}/"
            assert prefix in paths, prefix


def test_nothing_of_openapi_3_is_left() -> None:
    for node in walk(doc()):
        assert not {"requestBody", "content", "nullable", "oneOf", "anyOf"} & set(node), node
        ref = node.get("$ref")
        if ref is not None:
            assert ref.startswith(DEFINITIONS), ref
            assert ref[len(DEFINITIONS):] in doc()["definitions"], ref


def test_parameters_are_v2_style() -> None:
    for path, item in doc()["paths"].items():
        params = list(item.get("parameters", []))
        for _, _, op in operations({"paths": {path: item}}):
            params.extend(op.get("parameters", []))
        for p in params:
            assert p["in"] in ("path", "query", "body"), p
            assert "schema" in p if p["in"] == "body" else ("type" in p and "schema" not in p), p
            if p["in"] == "path":
                assert p["required"] is True and p["name"] in path


def test_writes_take_a_body_parameter_and_list_media_types() -> None:
    ops = list(operations(doc()))
    deployment = doc()["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert any(m in ("post", "put", "patch") for _, m, _ in ops)
    for path, method, op in ops:
        bodies = [p for p in op.get("parameters", []) if p["in"] == "body"]
        if method in ("post", "put", "patch") and not path.endswith(("/exec", "/attach", "/portforward")) \
                and "/proxy" not in path:
            assert len(bodies) == 1, (path, method)
            assert bodies[0]["required"] is True and bodies[0]["name"] == "body"
        assert op["consumes"] and op["schemes"] == ["https"]
    patch = deployment["patch"]
    assert patch["consumes"] == [
        "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ]
    assert patch["parameters"][0]["schema"] == {"$ref": DEFINITIONS + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}
    assert patch["responses"]["200"] == {"description": "OK",
                                         "schema": {"$ref": DEFINITIONS + "io.k8s.api.apps.v1.Deployment"}}
    assert patch["responses"]["401"] == {"description": "Unauthorized"}
    assert "application/json" in patch["produces"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment", "version": "v1"}
    put = deployment["put"]
    assert put["consumes"] == ["*/*"]
    assert put["parameters"][0]["schema"] == {"$ref": DEFINITIONS + "io.k8s.api.apps.v1.Deployment"}
    assert {p["name"] for p in put["parameters"]} == {"body", "dryRun", "fieldManager", "fieldValidation"}


def test_same_operations_as_the_v3_documents() -> None:
    from pyk8s.apiserver.openapi import openapi_group_version

    for group, versions in TABLE.group_versions().items():
        for version in versions:
            v3 = orjson.loads(openapi_group_version(TABLE, group, version))
            for path, item in v3["paths"].items():
                v2_item = doc()["paths"][path]
                for method in METHODS:
                    if method not in item:
                        assert method not in v2_item
                        continue
                    v3_op, v2_op = item[method], v2_item[method]
                    assert v2_op["operationId"] == v3_op["operationId"]
                    for ext in ("x-kubernetes-action", "x-kubernetes-group-version-kind"):
                        assert v2_op.get(ext) == v3_op.get(ext), (path, method, ext)
                    v3_names = {p["name"] for p in v3_op.get("parameters", [])}
                    assert {p["name"] for p in v2_op.get("parameters", []) if p["in"] != "body"} == v3_names


@pytest.mark.parametrize("r", PATCHABLE, ids=lambda r: f"{r.group or 'core'}/{r.version}/{r.kind}")
def test_first_patch_operation_of_every_gvk_lists_field_validation(r: Resource) -> None:
    """kubectl's query-param verifier stops at the first PATCH whose GVK extension matches, reading the YAML."""
    want = {"group": r.group, "kind": r.kind, "version": r.version}
    for _, method, op in operations(decoded()):
        if method != "patch" or op.get("x-kubernetes-group-version-kind") != want:
            continue
        query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert "fieldValidation" in query
        return
    raise AssertionError(f"no patch operation for {want}")


# ---------------------------------------------------------------------------------------------------------------
# Definitions: the shapes kube-openapi's proto.NewOpenAPIData accepts, and upstream's special types
# ---------------------------------------------------------------------------------------------------------------


def kube_openapi_errors(definitions: dict[str, Any]) -> Iterator[str]:
    """The rules kube-openapi's ParseSchema enforces, as errors it would return."""

    def check(s: dict[str, Any], where: str) -> Iterator[str]:
        if "$ref" in s:
            if "properties" in s or "type" in s:
                yield f"{where}: reference with a type or properties"
            if s["$ref"][len(DEFINITIONS):] not in definitions or not s["$ref"].startswith(DEFINITIONS):
                yield f"{where}: unknown reference {s['$ref']}"
            return
        t = s.get("type")
        if isinstance(t, list):
            yield f"{where}: multiple types"
            return
        if t == "array":
            if not isinstance(s.get("items"), dict):
                yield f"{where}: array without exactly one items schema"
                return
            yield from check(s["items"], where + "[]")
        elif t is None or t == "object":
            for name, sub in s.get("properties", {}).items():
                yield from check(sub, f"{where}.{name}")
            if "properties" not in s and isinstance(s.get("additionalProperties"), dict):
                yield from check(s["additionalProperties"], where + "{}")
        elif t not in ("string", "number", "integer", "boolean"):
            yield f"{where}: unknown primitive {t}"

    for name, schema in definitions.items():
        yield from check(schema, name)


def test_every_definition_parses_under_kube_openapi_rules() -> None:
    assert list(kube_openapi_errors(decoded()["definitions"])) == []


def test_kinds_carry_their_gvk_and_patch_metadata() -> None:
    defs = doc()["definitions"]
    deployment = defs["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert deployment["properties"]["spec"]["$ref"] == DEFINITIONS + "io.k8s.api.apps.v1.DeploymentSpec"
    assert deployment["properties"]["spec"]["description"]
    assert "enum" not in deployment["properties"]["kind"] and deployment["properties"]["kind"]["type"] == "string"
    containers = defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["type"] == "array"
    assert containers["items"] == {"$ref": DEFINITIONS + "io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["replicas"]["type"] == "integer"


def test_int_or_string_quantity_and_time_as_upstream_writes_them() -> None:
    defs = doc()["definitions"]
    ios = defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["type"] == "string" and ios["format"] == "int-or-string" and ios["description"]
    quantity = defs["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["type"] == "string" and "format" not in quantity
    time_ = defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]
    assert time_["type"] == "string" and time_["format"] == "date-time"


# ---------------------------------------------------------------------------------------------------------------
# Protobuf encoding
# ---------------------------------------------------------------------------------------------------------------


def test_protobuf_round_trips_through_the_decoder() -> None:
    assert decoded() == orjson.loads(openapi_v2_json(TABLE))


def test_document_field_numbers_on_the_wire() -> None:
    fields = raw_fields(openapi_v2_protobuf(TABLE))
    assert only(fields, 1) == [b"2.0"]  # swagger
    info = raw_fields(only(fields, 2)[0])
    assert only(info, 1) == [b"Kubernetes"]
    paths = raw_fields(only(fields, 8)[0])  # Paths: path entries are field 2
    assert paths and {n for n, _, _ in paths} == {2}
    definitions = raw_fields(only(fields, 9)[0])
    assert len(definitions) == len(doc()["definitions"])
    assert len(only(fields, 12)) == 1 and len(only(fields, 13)) == 1  # security, securityDefinitions


def test_vendor_extension_yaml_parses_back() -> None:
    """Extensions are NamedAny{name, Any{yaml}}; kube-openapi and kubectl yaml.Unmarshal the yaml text."""
    fields = raw_fields(openapi_v2_protobuf(TABLE))
    definitions = [v for n, _, v in raw_fields(only(fields, 9)[0]) if n == 1]
    deployment = raw_fields(named(definitions, "io.k8s.api.apps.v1.Deployment"))
    extensions = only(deployment, 31)  # Schema.vendor_extension
    gvk_any = raw_fields(named(extensions, "x-kubernetes-group-version-kind"))
    assert only(gvk_any, 1) == []  # google.protobuf.Any left empty, as gnostic does
    text = only(gvk_any, 2)[0].decode()
    assert yaml.safe_load(text) == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert not text.lstrip().startswith(("{", "["))  # block YAML, as gnostic writes it

    paths = [v for n, _, v in raw_fields(only(fields, 8)[0]) if n == 2]
    item = raw_fields(named(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"))
    patch = raw_fields(only(item, 8)[0])  # PathItem.patch
    op_gvk = raw_fields(named(only(patch, 13), "x-kubernetes-group-version-kind"))  # Operation.vendor_extension
    assert yaml.safe_load(only(op_gvk, 2)[0].decode()) == {"group": "apps", "kind": "Deployment", "version": "v1"}
    action = raw_fields(named(only(patch, 13), "x-kubernetes-action"))
    assert yaml.safe_load(only(action, 2)[0].decode()) == "patch"


def test_query_parameter_is_a_non_body_query_sub_schema() -> None:
    """ParametersItem.parameter(1) -> Parameter.non_body_parameter(2) -> query_parameter_sub_schema(3)."""
    encoded = encode_message("ParametersItem", {"in": "query", "name": "fieldValidation", "type": "string"})
    parameter = raw_fields(only(raw_fields(encoded), 1)[0])
    non_body = raw_fields(only(parameter, 2)[0])
    query = raw_fields(only(non_body, 3)[0])
    assert only(query, 4) == [b"fieldValidation"] and only(query, 2) == [b"query"] and only(query, 6) == [b"string"]
    body = encode_message("ParametersItem", {"in": "body", "name": "body", "required": True,
                                             "schema": {"$ref": "#/definitions/X"}})
    body_param = raw_fields(only(raw_fields(only(raw_fields(body), 1)[0]), 1)[0])
    assert only(body_param, 4) == [1] and only(raw_fields(only(body_param, 5)[0]), 1) == [b"#/definitions/X"]


def test_scalars_follow_proto3_rules() -> None:
    assert encode_message("Document", {"swagger": "2.0"}) == b"\x0a\x032.0"
    # Zero values are not written; a schema's properties message is, even when empty (kube-openapi checks presence).
    assert encode_message("Schema", {"description": "", "uniqueItems": False, "maxLength": 0}) == b""
    assert encode_message("Schema", {"properties": {}}) == b"\xca\x01\x00"
    assert encode_message("Schema", {"maximum": 1.5}) == b"\x39" + struct.pack("<d", 1.5)
    schema = {"minLength": -1, "maxItems": 300, "type": ["string", "integer"], "required": ["a", ""],
              "additionalProperties": False, "enum": ["on", "", 3], "items": [{"type": "string"}, {"type": "integer"}]}
    assert decode_message("Schema", encode_message("Schema", schema)) == schema
    assert decode_message("Schema", encode_message("Schema", {"additionalProperties": {"type": "string"}})) == {
        "additionalProperties": {"type": "string"}}


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="no field 'oneOf'"):
        encode_message("Schema", {"oneOf": []})
    with pytest.raises(ValueError):
        decode_message("Info", b"\x78\x01")  # field 15 does not exist in Info


# ---------------------------------------------------------------------------------------------------------------
# Negotiation and caching
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "want"), [
    (PROTOBUF_ACCEPT, "protobuf"),
    (PROTOBUF_CONTENT_TYPE, "protobuf"),
    ("application/json", "json"),
    ("application/json, */*", "json"),
    ("*/*", "json"),
    (None, "json"),
    ("", "json"),
    (f"application/json;q=0.5, {PROTOBUF_ACCEPT}", "protobuf"),
    (f"*/*, {PROTOBUF_ACCEPT}", "protobuf"),
    ("application/vnd.kubernetes.protobuf", None),
    ("text/html", None),
    ("application/json;q=0", None),
])
def test_negotiation(accept: str | None, want: str | None) -> None:
    assert negotiate_openapi_v2(accept) == want


def test_representations() -> None:
    pb = openapi_v2_representation(TABLE, PROTOBUF_ACCEPT)
    assert pb is not None and pb.content_type == PROTOBUF_CONTENT_TYPE and pb.body == openapi_v2_protobuf(TABLE)
    js = openapi_v2_representation(TABLE, "application/json")
    assert js is not None and js.content_type == JSON_CONTENT_TYPE and orjson.loads(js.body) == doc()
    assert pb.etag.startswith('"') and len(pb.etag) == 130 and pb.etag != js.etag
    legacy = openapi_v2_representation(TABLE, "application/json, */*", legacy=True)
    assert legacy is not None and legacy.content_type == PROTOBUF_CONTENT_TYPE
    assert openapi_v2_representation(TABLE, "text/html") is None


def test_build_is_cached_and_fast() -> None:
    assert openapi_v2_protobuf(TABLE) is openapi_v2_protobuf(TABLE)
    assert openapi_v2_document(TABLE) is openapi_v2_document(ResourceTable())
    # A table the caches have not seen: everything is built from scratch (the v3 documents included).
    fresh = ResourceTable(resources=tuple(reversed(TABLE.resources)))
    start = time.perf_counter()
    data = openapi_v2.openapi_v2_protobuf(fresh)
    assert time.perf_counter() - start < 1.0
    assert decode_message("Document", data)["definitions"] == doc()["definitions"]
