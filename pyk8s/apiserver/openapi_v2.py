"""The ``/openapi/v2`` document: one Swagger 2.0 document for every served resource, as JSON or gnostic protobuf.

kubectl 1.27 and 1.28 validate ``create -f``, ``apply -f``, ``replace -f`` and ``edit`` through ``/openapi/v2`` only,
and refuse to run when it is missing. They ask for the gnostic ``openapi.v2.Document`` protobuf message and parse
it with kube-openapi: every definition must then be a shape kube-openapi accepts (``$ref`` only to
``#/definitions/``, never next to ``type`` or ``properties``; one type per schema; exactly one ``items`` schema).
Before validating client-side, kubectl looks for the first ``patch`` operation whose
``x-kubernetes-group-version-kind`` is the object's and, when it lists a ``fieldValidation`` query parameter,
leaves validation to the server instead.

The document is derived from the ``/openapi/v3`` group-version documents (:mod:`pyk8s.apiserver.openapi`) so both
describe the same operations, parameters and vendor extensions, rewritten in Swagger 2.0 form the way upstream's
``api/openapi-spec/swagger.json`` writes it. Everything is a pure function of the resource table, cached per table.
The protobuf codec is driven by a table of gnostic's field numbers; its decoder exists to check the encoder.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from pyk8s.api import schema as api_schema
from pyk8s.api.resources import Resource, ResourceTable
from pyk8s.apiserver import openapi

Schema = dict[str, Any]
Document = dict[str, Any]

OPENAPI_V2_PATH = "/openapi/v2"
# Pre-1.10 servers published the protobuf here; client-go still falls back to it when /openapi/v2 is missing.
LEGACY_SWAGGER_PATH = "/swagger-2.0.0.pb-v1"
# The media type clients ask for, and the spelling upstream answers with (it accepts both in Accept).
PROTOBUF_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
JSON_CONTENT_TYPE = "application/json"

_V3_SCHEMAS = "#/components/schemas/"
_DEFINITIONS = "#/definitions/"
_OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


# ---------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------


def openapi_v2_document(table: ResourceTable) -> Document:
    """The Swagger 2.0 document for every served group-version (cached and shared: do not mutate it)."""
    return _document(table.resources)


def openapi_v2_json(table: ResourceTable) -> bytes:
    """:func:`openapi_v2_document` as JSON bytes with sorted keys (cached)."""
    return _encoded(table.resources, "json")[0]


def openapi_v2_protobuf(table: ResourceTable) -> bytes:
    """:func:`openapi_v2_document` encoded as a gnostic ``openapi.v2.Document`` message (cached)."""
    return _encoded(table.resources, "protobuf")[0]


@dataclass(frozen=True, slots=True)
class Representation:
    """One encoding of the v2 document, ready to be sent."""

    content_type: str
    body: bytes
    etag: str  # quoted, upper-case hex SHA-512 of the body, as upstream


def openapi_v2_representation(table: ResourceTable, accept: str | None, *, legacy: bool = False) -> Representation | None:
    """The encoding an ``Accept`` header selects, or None when it accepts neither (upstream answers 406).

    As upstream: the first acceptable clause (by quality, then specificity) wins among ``application/json`` and
    the two protobuf spellings, JSON first, so a missing Accept or ``*/*`` gets JSON. The legacy
    ``/swagger-2.0.0.pb-v1`` path is protobuf only (client-go fetches it without asking for protobuf).
    """
    wanted = "protobuf" if legacy else negotiate_openapi_v2(accept)
    if wanted is None:
        return None
    body, etag = _encoded(table.resources, wanted)
    return Representation(PROTOBUF_CONTENT_TYPE if wanted == "protobuf" else JSON_CONTENT_TYPE, body, f'"{etag}"')


def negotiate_openapi_v2(accept: str | None) -> str | None:
    """``"json"``, ``"protobuf"`` or None (not acceptable) for an Accept header."""
    offers = (("application", "json", "json"),
              ("application", PROTOBUF_ACCEPT.split("/", 1)[1], "protobuf"),
              ("application", PROTOBUF_CONTENT_TYPE.split("/", 1)[1], "protobuf"))
    for type_, subtype in _accept_clauses(accept or "*/*"):
        for offer_type, offer_subtype, answer in offers:
            if type_ in (offer_type, "*") and subtype in (offer_subtype, "*"):
                return answer
    return None


# ---------------------------------------------------------------------------------------------------------------
# Document assembly: the v3 group-version documents, merged and rewritten in Swagger 2.0 form
# ---------------------------------------------------------------------------------------------------------------


@functools.cache
def _document(resources: tuple[Resource, ...]) -> Document:
    table = ResourceTable(resources=resources)
    paths: dict[str, Any] = {}
    definitions: dict[str, Schema] = {}
    for group, versions in table.group_versions().items():
        for version in versions:
            if not table.in_group_version(group, version):
                continue
            v3 = orjson.loads(openapi.openapi_group_version(table, group, version))
            for path, item in v3["paths"].items():
                paths[path] = _path_item(item)
            for name, schema in v3["components"]["schemas"].items():
                if name not in definitions:
                    definitions[name] = _schema(schema)
    return {
        "definitions": dict(sorted(definitions.items())),
        "info": {"title": "Kubernetes", "version": api_schema.KUBE_SCHEMA_VERSION},
        "paths": dict(sorted(paths.items())),
        "security": [{"BearerToken": []}],
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            }
        },
        "swagger": "2.0",
    }


@functools.cache
def _encoded(resources: tuple[Resource, ...], encoding: str) -> tuple[bytes, str]:
    """(body, upper-case hex SHA-512 of it) for "json" or "protobuf"."""
    doc = _document(resources)
    body = encode_message("Document", doc) if encoding == "protobuf" else orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return body, hashlib.sha512(body).hexdigest().upper()


def _path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "parameters":
            out[key] = [_parameter(p) for p in value]
        elif key in _OPERATION_METHODS:
            out[key] = _operation(value)
        else:
            out[key] = value
    return out


def _operation(op: dict[str, Any]) -> dict[str, Any]:
    """A v3 operation in v2 form: the request body becomes a ``body`` parameter, media types move to
    ``consumes``/``produces`` and responses carry their schema directly."""
    out: dict[str, Any] = {}
    parameters = [_parameter(p) for p in op.get("parameters", ())]
    consumes = ["*/*"]
    body = op.get("requestBody")
    if body is not None:
        content = body["content"]
        consumes = list(content)
        body_param: dict[str, Any] = {"in": "body", "name": "body"}
        if body.get("required"):
            body_param["required"] = True
        body_param["schema"] = _schema(_first_schema(content))
        parameters.insert(0, body_param)
    produces: list[str] = []
    responses: dict[str, Any] = {}
    for code, response in op.get("responses", {}).items():
        converted: dict[str, Any] = {"description": response.get("description", "")}
        content = response.get("content")
        if content:
            produces.extend(m for m in content if m not in produces)
            converted["schema"] = _schema(_first_schema(content))
        responses[code] = converted
    for key, value in op.items():
        if key not in ("parameters", "requestBody", "responses"):
            out[key] = value
    out["consumes"] = consumes
    if parameters:
        out["parameters"] = parameters
    if produces:
        out["produces"] = produces
    out["responses"] = responses
    out["schemes"] = ["https"]
    return dict(sorted(out.items()))


def _first_schema(content: dict[str, Any]) -> Schema:
    schema: Schema = next(iter(content.values()))["schema"]
    return schema


def _parameter(param: dict[str, Any]) -> dict[str, Any]:
    """v3 keeps the parameter's type under ``schema``; v2 writes it on the parameter itself."""
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema", {}))
    return dict(sorted(out.items()))


def _schema(node: Schema) -> Schema:
    """One OpenAPI 3.0 schema in the Swagger 2.0 form kube-openapi parses.

    ``allOf: [{$ref}]`` next to other keys becomes a plain ``$ref`` with those keys (upstream's v2 style); ``oneOf``
    does not exist in v2: IntOrString and Quantity become ``type: string`` (IntOrString keeps
    ``format: int-or-string``), as upstream publishes them.
    """
    out: Schema = {}
    ref: str | None = None
    for key, value in node.items():
        if key == "$ref":
            ref = value
        elif key == "allOf" and len(value) == 1 and set(value[0]) == {"$ref"}:
            ref = value[0]["$ref"]
        elif key in ("oneOf", "anyOf"):
            if "type" not in node and any(alt.get("type") == "string" for alt in value):
                out["type"] = "string"
        elif key in ("nullable", "not"):
            continue
        elif key == "properties":
            out[key] = {name: _schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _schema(value)
        elif key == "allOf":
            out[key] = [_schema(sub) for sub in value]
        else:
            out[key] = value
    if ref is not None:
        # kube-openapi rejects a reference that also carries a type or an embedded definition.
        out.pop("type", None)
        out.pop("properties", None)
        out["$ref"] = _DEFINITIONS + ref.removeprefix(_V3_SCHEMAS)
    return dict(sorted(out.items()))


def _accept_clauses(accept: str) -> list[tuple[str, str]]:
    """(type, subtype) of each Accept clause with q > 0, best first: by quality, then the more specific."""
    ranked: list[tuple[float, int, int, str, str]] = []
    for index, clause in enumerate(accept.split(",")):
        parts = [p.strip() for p in clause.split(";")]
        media = parts[0].lower()
        if not media:
            continue
        type_, _, subtype = media.partition("/")
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        specificity = (type_ != "*") + (subtype not in ("*", ""))
        ranked.append((-quality, -specificity, index, type_, subtype or "*"))
    ranked.sort()
    return [(t, s) for _, _, _, t, s in ranked]


# ---------------------------------------------------------------------------------------------------------------
# The gnostic openapi.v2 messages (github.com/google/gnostic-models, openapiv2/OpenAPIv2.proto)
# ---------------------------------------------------------------------------------------------------------------
#
# Per message: JSON key -> (field number, kind). Kinds: "string", "bool", "int64", "double", a message name, a
# leading "*" for repeated. Two pseudo keys: "x-" is where the message keeps vendor extensions (repeated NamedAny),
# and "*" is where a map-shaped message keeps its other keys (repeated Named<Value>). Messages whose JSON shape
# differs from their fields (Any, TypeItem, ItemsItem, StringArray, the oneofs) are handled in _SPECIAL below.

Field = tuple[int, str]


def _primitive(first: int) -> dict[str, Field]:
    """The run of primitive-constraint fields that Header, PrimitivesItems and the non-body parameters share."""
    names = ("type:string format:string items:PrimitivesItems collectionFormat:string default:Any maximum:double "
             "exclusiveMaximum:bool minimum:double exclusiveMinimum:bool maxLength:int64 minLength:int64 "
             "pattern:string maxItems:int64 minItems:int64 uniqueItems:bool enum:*Any multipleOf:double").split()
    return {name: (first + i, kind) for i, (name, kind) in enumerate(n.split(":") for n in names)}


_HEAD_PARAM = {"required": (1, "bool"), "in": (2, "string"), "description": (3, "string"), "name": (4, "string")}
_MESSAGES: dict[str, dict[str, Field]] = {
    "Document": {
        "swagger": (1, "string"), "info": (2, "Info"), "host": (3, "string"), "basePath": (4, "string"),
        "schemes": (5, "*string"), "consumes": (6, "*string"), "produces": (7, "*string"), "paths": (8, "Paths"),
        "definitions": (9, "Definitions"), "parameters": (10, "ParameterDefinitions"),
        "responses": (11, "ResponseDefinitions"), "security": (12, "*SecurityRequirement"),
        "securityDefinitions": (13, "SecurityDefinitions"), "tags": (14, "*Tag"), "externalDocs": (15, "ExternalDocs"),
        "x-": (16, "NamedAny"),
    },
    "Info": {
        "title": (1, "string"), "version": (2, "string"), "description": (3, "string"),
        "termsOfService": (4, "string"), "contact": (5, "Contact"), "license": (6, "License"), "x-": (7, "NamedAny"),
    },
    "Contact": {"name": (1, "string"), "url": (2, "string"), "email": (3, "string"), "x-": (4, "NamedAny")},
    "License": {"name": (1, "string"), "url": (2, "string"), "x-": (3, "NamedAny")},
    "ExternalDocs": {"description": (1, "string"), "url": (2, "string"), "x-": (3, "NamedAny")},
    "Tag": {"name": (1, "string"), "description": (2, "string"), "externalDocs": (3, "ExternalDocs"),
            "x-": (4, "NamedAny")},
    "Paths": {"x-": (1, "NamedAny"), "*": (2, "NamedPathItem")},
    "PathItem": {
        "$ref": (1, "string"), "get": (2, "Operation"), "put": (3, "Operation"), "post": (4, "Operation"),
        "delete": (5, "Operation"), "options": (6, "Operation"), "head": (7, "Operation"), "patch": (8, "Operation"),
        "parameters": (9, "*ParametersItem"), "x-": (10, "NamedAny"),
    },
    "Operation": {
        "tags": (1, "*string"), "summary": (2, "string"), "description": (3, "string"),
        "externalDocs": (4, "ExternalDocs"), "operationId": (5, "string"), "produces": (6, "*string"),
        "consumes": (7, "*string"), "parameters": (8, "*ParametersItem"), "responses": (9, "Responses"),
        "schemes": (10, "*string"), "deprecated": (11, "bool"), "security": (12, "*SecurityRequirement"),
        "x-": (13, "NamedAny"),
    },
    "BodyParameter": {
        "description": (1, "string"), "name": (2, "string"), "in": (3, "string"), "required": (4, "bool"),
        "schema": (5, "Schema"), "x-": (6, "NamedAny"),
    },
    "HeaderParameterSubSchema": {**_HEAD_PARAM, **_primitive(5), "x-": (22, "NamedAny")},
    "PathParameterSubSchema": {**_HEAD_PARAM, **_primitive(5), "x-": (22, "NamedAny")},
    "QueryParameterSubSchema": {**_HEAD_PARAM, "allowEmptyValue": (5, "bool"), **_primitive(6),
                                "x-": (23, "NamedAny")},
    "FormDataParameterSubSchema": {**_HEAD_PARAM, "allowEmptyValue": (5, "bool"), **_primitive(6),
                                   "x-": (23, "NamedAny")},
    "PrimitivesItems": {**_primitive(1), "x-": (18, "NamedAny")},
    "Header": {**_primitive(1), "description": (18, "string"), "x-": (19, "NamedAny")},
    "JsonReference": {"$ref": (1, "string"), "description": (2, "string")},
    "Responses": {"*": (1, "NamedResponseValue"), "x-": (2, "NamedAny")},
    "Response": {
        "description": (1, "string"), "schema": (2, "SchemaItem"), "headers": (3, "Headers"),
        "examples": (4, "Examples"), "x-": (5, "NamedAny"),
    },
    "Schema": {
        "$ref": (1, "string"), "format": (2, "string"), "title": (3, "string"), "description": (4, "string"),
        "default": (5, "Any"), "multipleOf": (6, "double"), "maximum": (7, "double"), "exclusiveMaximum": (8, "bool"),
        "minimum": (9, "double"), "exclusiveMinimum": (10, "bool"), "maxLength": (11, "int64"),
        "minLength": (12, "int64"), "pattern": (13, "string"), "maxItems": (14, "int64"), "minItems": (15, "int64"),
        "uniqueItems": (16, "bool"), "maxProperties": (17, "int64"), "minProperties": (18, "int64"),
        "required": (19, "*string"), "enum": (20, "*Any"), "additionalProperties": (21, "AdditionalPropertiesItem"),
        "type": (22, "TypeItem"), "items": (23, "ItemsItem"), "allOf": (24, "*Schema"), "properties": (25, "Properties"),
        "discriminator": (26, "string"), "readOnly": (27, "bool"), "xml": (28, "Xml"),
        "externalDocs": (29, "ExternalDocs"), "example": (30, "Any"), "x-": (31, "NamedAny"),
    },
    "FileSchema": {
        "format": (1, "string"), "title": (2, "string"), "description": (3, "string"), "default": (4, "Any"),
        "required": (5, "*string"), "type": (6, "string"), "readOnly": (7, "bool"), "externalDocs": (8, "ExternalDocs"),
        "example": (9, "Any"), "x-": (10, "NamedAny"),
    },
    "Xml": {
        "name": (1, "string"), "namespace": (2, "string"), "prefix": (3, "string"), "attribute": (4, "bool"),
        "wrapped": (5, "bool"), "x-": (6, "NamedAny"),
    },
    "ApiKeySecurity": {
        "type": (1, "string"), "name": (2, "string"), "in": (3, "string"), "description": (4, "string"),
        "x-": (5, "NamedAny"),
    },
    "BasicAuthenticationSecurity": {"type": (1, "string"), "description": (2, "string"), "x-": (3, "NamedAny")},
    "Oauth2ImplicitSecurity": {
        "type": (1, "string"), "flow": (2, "string"), "scopes": (3, "Oauth2Scopes"),
        "authorizationUrl": (4, "string"), "description": (5, "string"), "x-": (6, "NamedAny"),
    },
    "Oauth2PasswordSecurity": {
        "type": (1, "string"), "flow": (2, "string"), "scopes": (3, "Oauth2Scopes"), "tokenUrl": (4, "string"),
        "description": (5, "string"), "x-": (6, "NamedAny"),
    },
    "Oauth2ApplicationSecurity": {
        "type": (1, "string"), "flow": (2, "string"), "scopes": (3, "Oauth2Scopes"), "tokenUrl": (4, "string"),
        "description": (5, "string"), "x-": (6, "NamedAny"),
    },
    "Oauth2AccessCodeSecurity": {
        "type": (1, "string"), "flow": (2, "string"), "scopes": (3, "Oauth2Scopes"),
        "authorizationUrl": (4, "string"), "tokenUrl": (5, "string"), "description": (6, "string"),
        "x-": (7, "NamedAny"),
    },
    # Map-shaped messages: every key is one repeated Named<Value> entry.
    "Definitions": {"*": (1, "NamedSchema")},
    "Properties": {"*": (1, "NamedSchema")},
    "ParameterDefinitions": {"*": (1, "NamedParameter")},
    "ResponseDefinitions": {"*": (1, "NamedResponse")},
    "SecurityDefinitions": {"*": (1, "NamedSecurityDefinitionsItem")},
    "SecurityRequirement": {"*": (1, "NamedStringArray")},
    "Headers": {"*": (1, "NamedHeader")},
    "Examples": {"*": (1, "NamedAny")},
    "Oauth2Scopes": {"*": (1, "NamedString")},
}
# Named<Value> messages are {1: name, 2: value}; this is the value's kind.
_NAMED: dict[str, str] = {
    "NamedAny": "Any", "NamedHeader": "Header", "NamedParameter": "Parameter", "NamedPathItem": "PathItem",
    "NamedResponse": "Response", "NamedResponseValue": "ResponseValue", "NamedSchema": "Schema",
    "NamedSecurityDefinitionsItem": "SecurityDefinitionsItem", "NamedString": "string",
    "NamedStringArray": "StringArray",
}
# oneof messages: field number -> arm kind, and how a JSON value picks its arm.
_ONEOFS: dict[str, tuple[dict[int, str], Callable[[Any], int]]] = {
    "ParametersItem": ({1: "Parameter", 2: "JsonReference"}, lambda v: 2 if "$ref" in v else 1),
    "Parameter": ({1: "BodyParameter", 2: "NonBodyParameter"}, lambda v: 1 if v.get("in") == "body" else 2),
    "NonBodyParameter": (
        {1: "HeaderParameterSubSchema", 2: "FormDataParameterSubSchema", 3: "QueryParameterSubSchema",
         4: "PathParameterSubSchema"},
        lambda v: {"header": 1, "formData": 2, "query": 3, "path": 4}[v["in"]],
    ),
    "ResponseValue": ({1: "Response", 2: "JsonReference"}, lambda v: 2 if "$ref" in v else 1),
    "SchemaItem": ({1: "Schema", 2: "FileSchema"}, lambda v: 2 if v.get("type") == "file" else 1),
    "AdditionalPropertiesItem": ({1: "Schema", 2: "bool"}, lambda v: 2 if isinstance(v, bool) else 1),
    "SecurityDefinitionsItem": (
        {1: "BasicAuthenticationSecurity", 2: "ApiKeySecurity", 3: "Oauth2ImplicitSecurity",
         4: "Oauth2PasswordSecurity", 5: "Oauth2ApplicationSecurity", 6: "Oauth2AccessCodeSecurity"},
        lambda v: {"basic": 1, "apiKey": 2}.get(v["type"]) or
        {"implicit": 3, "password": 4, "application": 5, "accessCode": 6}[v["flow"]],
    ),
}
# Wrappers around one repeated field, written in JSON as the bare value (a list, or one item of it):
# Any.yaml (2) holds the value as YAML text, gnostic leaves Any.value (1, google.protobuf.Any) empty.
_LISTS: dict[str, Field] = {"TypeItem": (1, "string"), "ItemsItem": (1, "Schema"), "StringArray": (1, "string")}
_ANY_YAML = 2

_VARINT, _FIXED64, _LEN = 0, 1, 2
_SCALAR_WIRE = {"string": _LEN, "bool": _VARINT, "int64": _VARINT, "double": _FIXED64}


# ---------------------------------------------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------------------------------------------


def encode_message(name: str, value: Any) -> bytes:
    """Encode a JSON-shaped value as the openapi.v2 message `name`; unknown keys raise ValueError."""
    if name == "Any":
        return _len_field(_ANY_YAML, _yaml_text(value).encode())
    if name in _LISTS:
        number, kind = _LISTS[name]
        items = value if isinstance(value, list) else [value]
        return b"".join(_field(number, kind, item, repeated=True) for item in items)
    if name in _NAMED:
        entry_name, entry_value = value
        return _field(1, "string", entry_name) + _field(2, _NAMED[name], entry_value, repeated=True)
    if name in _ONEOFS:
        arms, choose = _ONEOFS[name]
        number = choose(value)
        return _field(number, arms[number], value, repeated=True)  # a set oneof arm is written even when zero
    fields = _MESSAGES[name]
    parts: list[tuple[int, bytes]] = []
    for key, item in value.items():
        spec = fields.get(key)
        if spec is None:
            bucket = "x-" if key.startswith("x-") else "*"
            if bucket not in fields:
                raise ValueError(f"openapi.v2.{name} has no field {key!r}")
            number, named = fields[bucket]
            parts.append((number, _field(number, named, (key, item))))
            continue
        number, kind = spec
        if kind.startswith("*"):
            parts.append((number, b"".join(_field(number, kind[1:], x, repeated=True) for x in item)))
        else:
            parts.append((number, _field(number, kind, item)))
    parts.sort(key=lambda p: p[0])  # stable: repeated entries keep their order
    return b"".join(p for _, p in parts)


def _field(number: int, kind: str, value: Any, *, repeated: bool = False) -> bytes:
    """One field; proto3 leaves out unset scalars (zero values) unless they are elements of a repeated field."""
    if kind == "string":
        if not value and not repeated:
            return b""
        return _len_field(number, value.encode())
    if kind == "bool":
        if not value and not repeated:
            return b""
        return _key(number, _VARINT) + (b"\x01" if value else b"\x00")
    if kind == "int64":
        if not value and not repeated:
            return b""
        return _key(number, _VARINT) + _varint(int(value) & 0xFFFFFFFFFFFFFFFF)
    if kind == "double":
        if not value and not repeated:
            return b""
        return _key(number, _FIXED64) + struct.pack("<d", float(value))
    return _len_field(number, encode_message(kind, value))


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, _LEN) + _varint(len(payload)) + payload


@functools.cache
def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_YAML_CACHE: dict[bytes, str] = {}


def _yaml_text(value: Any) -> str:
    """The value as block YAML, as gnostic fills Any.yaml; kubectl and kube-openapi parse it back with a YAML parser."""
    key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    text = _YAML_CACHE.get(key)
    if text is None:
        text = yaml.dump(value, Dumper=_YAML_DUMPER, default_flow_style=False, sort_keys=True, allow_unicode=True,
                         width=1 << 30)
        text = text.removesuffix("...\n")
        _YAML_CACHE[key] = text
    return text


_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------------------------------------------------------
# Decoder (the inverse of the encoder; used to check it)
# ---------------------------------------------------------------------------------------------------------------


def decode_message(name: str, data: bytes | memoryview) -> Any:
    """Decode an openapi.v2 message into the JSON shape :func:`encode_message` takes; unknown fields raise."""
    if name == "Any":
        for number, _, payload in _wire_fields(data):
            if number == _ANY_YAML:
                return yaml.load(str(payload, "utf-8"), Loader=_YAML_LOADER)
        return None
    if name in _LISTS:
        number, kind = _LISTS[name]
        items = [_scalar_or_message(kind, wire, payload) for n, wire, payload in _wire_fields(data) if n == number]
        if name == "StringArray":
            return items
        return items[0] if len(items) == 1 else items
    if name in _NAMED:
        entry_name, entry_value = "", None
        for number, wire, payload in _wire_fields(data):
            if number == 1:
                entry_name = str(payload, "utf-8")
            elif number == 2:
                entry_value = _scalar_or_message(_NAMED[name], wire, payload)
        return entry_name, entry_value
    if name in _ONEOFS:
        arms, _ = _ONEOFS[name]
        for number, wire, payload in _wire_fields(data):
            return _scalar_or_message(arms[number], wire, payload)
        return None
    by_number = _fields_by_number(name)
    out: dict[str, Any] = {}
    for number, wire, payload in _wire_fields(data):
        spec = by_number.get(number)
        if spec is None:
            raise ValueError(f"openapi.v2.{name} has no field number {number}")
        key, kind = spec
        if key in ("x-", "*"):
            entry_name, entry_value = decode_message(kind, payload)
            out[entry_name] = entry_value
        elif kind.startswith("*"):
            out.setdefault(key, []).append(_scalar_or_message(kind[1:], wire, payload))
        else:
            out[key] = _scalar_or_message(kind, wire, payload)
    return out


@functools.cache
def _fields_by_number(name: str) -> dict[int, tuple[str, str]]:
    return {number: (key, kind) for key, (number, kind) in _MESSAGES[name].items()}


def _scalar_or_message(kind: str, wire: int, payload: Any) -> Any:
    if kind == "string":
        return str(payload, "utf-8")
    if kind == "bool":
        return bool(payload)
    if kind == "int64":
        return payload - (1 << 64) if payload >= 1 << 63 else payload
    if kind == "double":
        return struct.unpack("<d", payload)[0]
    if wire != _LEN:
        raise ValueError(f"openapi.v2.{kind} sent with wire type {wire}")
    return decode_message(kind, payload)


def _wire_fields(data: bytes | memoryview) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value): an int for varints, bytes otherwise."""
    view = memoryview(data)
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(view, pos)
            yield number, wire, value
        elif wire == _FIXED64:
            yield number, wire, bytes(view[pos:pos + 8])
            pos += 8
        elif wire == _LEN:
            length, pos = _read_varint(view, pos)
            if pos + length > end:
                raise ValueError("truncated length-delimited field")
            yield number, wire, view[pos:pos + length]
            pos += length
        elif wire == 5:
            yield number, wire, bytes(view[pos:pos + 4])
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _read_varint(view: memoryview, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(view):
            raise ValueError("truncated varint")
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
