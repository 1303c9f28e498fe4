"""The /openapi/v3 documents: what kubectl's validation, explain and client-side apply read from them."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from pyk8s.api.errors import NotFound
from pyk8s.api.resources import RESOURCES, TABLE, Resource, ResourceTable, Subresource
from pyk8s.apiserver.openapi import (
    group_version_path,
    openapi_group_version,
    openapi_group_version_hash,
    openapi_index,
    parse_group_version_path,
)

GROUP_VERSIONS = [(g, v) for g, versions in TABLE.group_versions().items() for v in versions]
GV_IDS = [group_version_path(g, v) for g, v in GROUP_VERSIONS]
SCHEMAS = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "patch")


def doc(group: str, version: str) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(openapi_group_version(TABLE, group, version))
    return result


def gvk(r: Resource) -> dict[str, str]:
    return {"group": r.group, "kind": r.kind, "version": r.version}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def schema_nodes(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every subschema of a schema (not the property-name maps themselves)."""
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from schema_nodes(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from schema_nodes(schema[key])
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            yield from schema_nodes(sub)


def operations(d: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in d["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(d: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """What kubectl's strategic-merge-patch lookup does: take allOf[0], then follow $ref inside the document."""
    if schema.get("allOf"):
        schema = schema["allOf"][0]
    ref = schema.get("$ref")
    if ref:
        assert ref.startswith(SCHEMAS), ref
        target: dict[str, Any] = d["components"]["schemas"][ref[len(SCHEMAS):]]
        return target
    return schema


def schema_for_gvk(d: dict[str, Any], want: dict[str, str]) -> dict[str, Any] | None:
    """What kubectl explain and client-side apply do: scan components.schemas by x-kubernetes-group-version-kind."""
    for schema in d["components"]["schemas"].values():
        if want in schema.get("x-kubernetes-group-version-kind", []):
            found: dict[str, Any] = schema
            return found
    return None


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_every_served_kind_has_a_schema_with_its_gvk(group: str, version: str) -> None:
    d = doc(group, version)
    assert d["openapi"] == "3.0.0"
    assert d["info"]["title"] == "Kubernetes"
    for r in TABLE.in_group_version(group, version):
        schema = schema_for_gvk(d, gvk(r))
        assert schema is not None, r.kind
        assert schema["type"] == "object"
        assert schema["description"]
        assert "metadata" in schema["properties"]


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_kubectl_finds_a_patch_operation_with_field_validation_for_every_patchable_kind(group: str, version: str) -> None:
    d = doc(group, version)
    for r in TABLE.in_group_version(group, version):
        if "patch" not in r.verbs:
            continue
        scope = "namespaces/{namespace}/" if r.namespaced else ""
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        item_path = f"{prefix}/{scope}{r.plural}/{{name}}"
        patch = d["paths"][item_path]["patch"]
        assert patch["x-kubernetes-group-version-kind"] == gvk(r)
        assert patch["x-kubernetes-action"] == "patch"
        names = {p["name"] for p in patch["parameters"]}
        assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= names
        assert set(patch["requestBody"]["content"]) >= {
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        }
        for media in patch["requestBody"]["content"].values():
            assert media["schema"]["$ref"] == SCHEMAS + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
        # The same search kubectl's QueryParamVerifierV3 does over every path.
        assert any(
            op.get("x-kubernetes-group-version-kind") == gvk(r)
            and any(p["name"] == "fieldValidation" for p in op.get("parameters", []))
            for _, method, op in operations(d)
            if method == "patch"
        )


def test_write_operations_carry_the_write_parameters() -> None:
    d = doc("apps", "v1")
    collection = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    item = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    for op in (collection["post"], item["put"]):
        assert {"fieldValidation", "fieldManager", "dryRun"} <= {p["name"] for p in op["parameters"]}
        assert op["requestBody"]["content"]["*/*"]["schema"]["$ref"] == SCHEMAS + "io.k8s.api.apps.v1.Deployment"
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert item["delete"]["x-kubernetes-action"] == "delete"
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        SCHEMAS + "io.k8s.api.apps.v1.Deployment"
    )
    scale = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert "io.k8s.api.autoscaling.v1.Scale" in d["components"]["schemas"]
    status = d["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]
    assert set(status) == {"get", "put", "patch", "parameters"}


def test_create_only_resources_have_only_a_post() -> None:
    d = doc("authorization.k8s.io", "v1")
    item = d["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(item) == {"post", "parameters"}
    assert item["post"]["operationId"] == "createAuthorizationV1SelfSubjectAccessReview"
    assert "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/{name}" not in d["paths"]


def test_operation_ids_follow_upstream_naming() -> None:
    ids = {op["operationId"] for g, v in GROUP_VERSIONS for _, _, op in operations(doc(g, v))}
    for expected in (
        "readAppsV1NamespacedDeployment",
        "patchAppsV1NamespacedDeployment",
        "replaceAppsV1NamespacedDeployment",
        "deleteAppsV1NamespacedDeployment",
        "createAppsV1NamespacedDeployment",
        "listAppsV1NamespacedDeployment",
        "listAppsV1DeploymentForAllNamespaces",
        "deleteAppsV1CollectionNamespacedDeployment",
        "readAppsV1NamespacedDeploymentScale",
        "patchAppsV1NamespacedDeploymentStatus",
        "watchAppsV1NamespacedDeploymentList",
        "watchAppsV1DeploymentListForAllNamespaces",
        "listCoreV1Node",
        "patchCoreV1Node",
        "deleteCoreV1CollectionNode",
        "replaceCoreV1NamespaceFinalize",
        "readCoreV1NamespacedPodLog",
        "connectCoreV1GetNamespacedPodExec",
        "connectCoreV1PostNamespacedPodPortforward",
        "createCoreV1NamespacedPodEviction",
        "createCoreV1NamespacedServiceAccountToken",
        "patchRbacAuthorizationV1NamespacedRole",
        "replaceCertificatesV1CertificateSigningRequestApproval",
        "getAppsV1APIResources",
        "getCoreV1APIResources",
    ):
        assert expected in ids


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_operation_ids_are_unique_and_path_parameters_declared(group: str, version: str) -> None:
    d = doc(group, version)
    seen: set[str] = set()
    for path, item in d["paths"].items():
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        templated = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        assert declared == templated, path
        for method in METHODS:
            if method in item:
                op_id = item[method]["operationId"]
                assert op_id not in seen
                seen.add(op_id)


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_no_json_schema_leftovers_and_every_ref_resolves(group: str, version: str) -> None:
    raw = openapi_group_version(TABLE, group, version)
    assert b"#/$defs/" not in raw
    d = orjson.loads(raw)
    schemas = d["components"]["schemas"]
    refs = [node["$ref"] for node in walk(d) if isinstance(node.get("$ref"), str)]
    assert refs
    for ref in refs:
        assert ref.startswith(SCHEMAS), ref
        assert ref[len(SCHEMAS):] in schemas, ref
    for name, schema in schemas.items():
        for node in schema_nodes(schema):
            t = node.get("type")
            assert t is None or (isinstance(t, str) and t != "null"), name
            props = node.get("properties")
            if isinstance(props, dict):
                for field in ("apiVersion", "kind"):
                    if isinstance(props.get(field), dict):
                        assert "enum" not in props[field], name


def test_refs_next_to_other_keys_are_wrapped_in_all_of() -> None:
    schemas = doc("apps", "v1")["components"]["schemas"]
    spec = schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": SCHEMAS + "io.k8s.api.apps.v1.DeploymentSpec"}]
    assert spec["description"]
    assert "$ref" not in spec


def test_int_or_string_and_quantity_match_upstream_v3() -> None:
    schemas = doc("", "v1")["components"]["schemas"]
    ios = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert ios["format"] == "int-or-string"
    assert ios["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    assert "type" not in ios
    quantity = schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]
    target_port = schemas["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"]
    assert resolve({"components": {"schemas": schemas}}, target_port) is ios


def test_patch_metadata_survives_for_client_side_apply() -> None:
    d = doc("apps", "v1")
    deployment = schema_for_gvk(d, {"group": "apps", "kind": "Deployment", "version": "v1"})
    assert deployment is not None
    pod_spec = d["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]
    template_spec = resolve(d, resolve(d, resolve(d, deployment["properties"]["spec"])["properties"]["template"])[
        "properties"]["spec"])
    assert template_spec is pod_spec
    containers = pod_spec["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    container = resolve(d, containers["items"])
    assert container["properties"]["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    assert set(pod_spec["properties"]["volumes"]["x-kubernetes-patch-strategy"].split(",")) == {"merge", "retainKeys"}
    meta = d["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    assert meta["properties"]["ownerReferences"]["x-kubernetes-patch-merge-key"] == "uid"
    assert "name" in container["required"]


def test_explain_can_go_from_path_to_gvk_to_schema() -> None:
    d = doc("", "v1")
    op = d["paths"]["/api/v1/pods"]["get"]
    pod = schema_for_gvk(d, op["x-kubernetes-group-version-kind"])
    assert pod is not None
    spec = resolve(d, pod["properties"]["spec"])
    assert "containers" in spec["properties"]
    assert spec["properties"]["containers"]["description"]


def test_index_lists_every_group_version_with_the_document_hash() -> None:
    index = openapi_index(TABLE)
    assert set(index["paths"]) == set(GV_IDS)
    for (group, version), key in zip(GROUP_VERSIONS, GV_IDS, strict=True):
        url = index["paths"][key]["serverRelativeURL"]
        digest = hashlib.sha512(openapi_group_version(TABLE, group, version)).hexdigest().upper()
        assert url == f"/openapi/v3/{key}?hash={digest}"
        assert openapi_group_version_hash(TABLE, group, version) == digest


def test_hash_changes_when_the_document_changes() -> None:
    without_revisions = ResourceTable(resources=tuple(r for r in RESOURCES if r.kind != "ControllerRevision"))
    deployment = TABLE.by_kind("apps", "v1", "Deployment")
    assert deployment is not None
    extra_sub = dataclasses.replace(
        deployment, subresources=(*deployment.subresources, Subresource("rollback", "Deployment", "apps", "v1"))
    )
    with_rollback = ResourceTable(resources=tuple(extra_sub if r is deployment else r for r in RESOURCES))
    base = openapi_index(TABLE)["paths"]
    for changed in (without_revisions, with_rollback):
        other = openapi_index(changed)["paths"]
        assert other["apis/apps/v1"] != base["apis/apps/v1"]
        assert other["api/v1"] == base["api/v1"]
        assert openapi_group_version(changed, "apps", "v1") != openapi_group_version(TABLE, "apps", "v1")
    assert "/apis/apps/v1/namespaces/{namespace}/controllerrevisions" not in orjson.loads(
        openapi_group_version(without_revisions, "apps", "v1"))["paths"]


def test_documents_are_cached_and_stable() -> None:
    first = openapi_group_version(TABLE, "", "v1")
    assert openapi_group_version(TABLE, "", "v1") is first
    assert openapi_group_version(ResourceTable(), "", "v1") == first


def test_unknown_group_version_is_not_found() -> None:
    with pytest.raises(NotFound):
        openapi_group_version(TABLE, "nope.example.com", "v1")
    with pytest.raises(NotFound):
        openapi_group_version(TABLE, "apps", "v1beta1")


def test_group_version_paths_round_trip() -> None:
    assert group_version_path("", "v1") == "api/v1"
    assert group_version_path("apps", "v1") == "apis/apps/v1"
    assert parse_group_version_path("api/v1") == ("", "v1")
    assert parse_group_version_path("/openapi/v3/apis/rbac.authorization.k8s.io/v1") == ("rbac.authorization.k8s.io", "v1")
    for bad in ("apis", "api", "apis/apps", "apis/apps/v1/x", "foo/v1", ""):
        assert parse_group_version_path(bad) is None
