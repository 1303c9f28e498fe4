"""The three PATCH flavours: results and errors as kube-apiserver gives them for the same bodies."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pyk8s.api import errors, schema
from pyk8s.api.patch import (
    MAX_JSON_PATCH_OPERATIONS,
    PATCH_CONTENT_TYPES,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)

DEPLOYMENT = schema.for_kind("apps", "v1", "Deployment")
SERVICE = schema.for_kind("", "v1", "Service")
NODE = schema.for_kind("", "v1", "Node")
POD = schema.for_kind("", "v1", "Pod")
PDB = schema.for_kind("policy", "v1", "PodDisruptionBudget")
GENERIC_422 = "the server rejected our request due to an error in our request"


def frozen(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "fe"},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "finalizers": ["a.example.com/x", "b.example.com/y"],
        },
        "spec": {
            "replicas": 2,
            "paused": True,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.25",
                            "command": ["nginx", "-g", "daemon off;"],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c1"}}],
                    "tolerations": [{"key": "k1", "operator": "Exists"}, {"key": "k2", "operator": "Exists"}],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            ],
        },
    }


def pod_spec(result: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = result["spec"]["template"]["spec"]
    return spec


def container(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod_spec(result)["containers"] if c["name"] == name)


# ---------------------------------------------------------------------------------------------------------------------
# content types


def test_patch_content_types_name_all_four() -> None:
    assert PATCH_CONTENT_TYPES == {
        "application/json-patch+json": "json",
        "application/merge-patch+json": "merge",
        "application/strategic-merge-patch+json": "strategic",
        "application/apply-patch+yaml": "apply",
    }


# ---------------------------------------------------------------------------------------------------------------------
# JSON merge patch

MERGE_CASES = [
    ("null deletes a key", {"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ("null for a missing key is a no-op", {"a": 1}, {"z": None}, {"a": 1}),
    ("maps merge recursively", {"m": {"x": 1, "y": 2}}, {"m": {"y": 3, "z": 4}}, {"m": {"x": 1, "y": 3, "z": 4}}),
    ("nested null deletes", {"m": {"x": 1, "y": 2}}, {"m": {"x": None}}, {"m": {"y": 2}}),
    ("lists are replaced", {"l": [1, 2, 3]}, {"l": [4]}, {"l": [4]}),
    ("list of maps is replaced", {"l": [{"name": "a", "v": 1}]}, {"l": [{"name": "b"}]}, {"l": [{"name": "b"}]}),
    ("scalar replaces a map", {"m": {"x": 1}}, {"m": "flat"}, {"m": "flat"}),
    ("map replaces a scalar", {"m": "flat"}, {"m": {"x": 1, "gone": None}}, {"m": {"x": 1}}),
    ("nulls inside a new map are dropped", {}, {"m": {"a": None, "b": {"c": None, "d": 1}}}, {"m": {"b": {"d": 1}}}),
    ("null list items stay, null members of list maps go", {}, {"l": [{"x": None, "y": 1}, None]},
     {"l": [{"y": 1}, None]}),
    ("empty patch changes nothing", {"a": {"b": [1]}}, {}, {"a": {"b": [1]}}),
    ("label removal as kubectl label tier- sends it",
     {"metadata": {"labels": {"app": "web", "tier": "fe"}}}, {"metadata": {"labels": {"tier": None}}},
     {"metadata": {"labels": {"app": "web"}}}),
    ("scale", {"spec": {"replicas": 1, "selector": {}}}, {"spec": {"replicas": 3}},
     {"spec": {"replicas": 3, "selector": {}}}),
]


@pytest.mark.parametrize(("original", "patch", "expected"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES])
def test_json_merge_patch(original: dict[str, Any], patch: Any, expected: dict[str, Any]) -> None:
    before_original, before_patch = frozen(original), frozen(patch)
    assert json_merge_patch(original, patch) == expected
    assert frozen(original) == before_original
    assert frozen(patch) == before_patch


def test_json_merge_patch_result_shares_nothing_with_inputs() -> None:
    original = {"m": {"x": [1]}}
    patch = {"n": {"y": [2]}}
    result = json_merge_patch(original, patch)
    result["m"]["x"].append(9)
    result["n"]["y"].append(9)
    assert original == {"m": {"x": [1]}}
    assert patch == {"n": {"y": [2]}}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (None, "Invalid JSON Patch"),
        ([{"a": 1}], "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"),
        ("x", "error decoding patch: json: cannot unmarshal string into Go value of type map[string]interface {}"),
        (3, "error decoding patch: json: cannot unmarshal number into Go value of type map[string]interface {}"),
    ],
)
def test_json_merge_patch_body_must_be_an_object(patch: Any, message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        json_merge_patch({"a": 1}, patch)
    assert caught.value.code == 400
    assert caught.value.message == message


# ---------------------------------------------------------------------------------------------------------------------
# JSON patch

JSON_PATCH_CASES = [
    ("add member", {"a": 1}, [{"op": "add", "path": "/b", "value": 2}], {"a": 1, "b": 2}),
    ("add replaces an existing member", {"a": 1}, [{"op": "add", "path": "/a", "value": 2}], {"a": 2}),
    ("add inserts into a list", {"l": [1, 3]}, [{"op": "add", "path": "/l/1", "value": 2}], {"l": [1, 2, 3]}),
    ("dash appends", {"metadata": {"finalizers": ["a"]}},
     [{"op": "add", "path": "/metadata/finalizers/-", "value": "b"}], {"metadata": {"finalizers": ["a", "b"]}}),
    ("remove", {"a": 1, "b": 2}, [{"op": "remove", "path": "/a"}], {"b": 2}),
    ("remove list item", {"l": [1, 2, 3]}, [{"op": "remove", "path": "/l/0"}], {"l": [2, 3]}),
    ("replace", {"spec": {"replicas": 1}}, [{"op": "replace", "path": "/spec/replicas", "value": 5}],
     {"spec": {"replicas": 5}}),
    # evanphx/json-patch v4 (what kube-apiserver links) lets replace set a missing member of an existing object.
    ("replace sets a missing member", {"m": {}}, [{"op": "replace", "path": "/m/x", "value": 1}], {"m": {"x": 1}}),
    ("test then replace", {"a": "x"},
     [{"op": "test", "path": "/a", "value": "x"}, {"op": "replace", "path": "/a", "value": "y"}], {"a": "y"}),
    ("test null passes on a missing member", {"a": 1}, [{"op": "test", "path": "/b", "value": None}], {"a": 1}),
    ("move", {"a": {"x": 1}, "b": {}}, [{"op": "move", "from": "/a/x", "path": "/b/y"}], {"a": {}, "b": {"y": 1}}),
    ("copy", {"a": {"x": [1]}}, [{"op": "copy", "from": "/a/x", "path": "/c"}], {"a": {"x": [1]}, "c": [1]}),
    ("tilde-one escapes a slash", {"metadata": {"labels": {}}},
     [{"op": "add", "path": "/metadata/labels/example.com~1tier", "value": "fe"}],
     {"metadata": {"labels": {"example.com/tier": "fe"}}}),
    ("tilde-zero escapes a tilde", {"m": {"a~b": 1}}, [{"op": "remove", "path": "/m/a~0b"}], {"m": {}}),
    ("rollout undo replaces template and annotations",
     {"metadata": {"annotations": {"r": "2"}}, "spec": {"template": {"spec": {"containers": [{"image": "b"}]}}}},
     [{"op": "replace", "path": "/spec/template", "value": {"spec": {"containers": [{"image": "a"}]}}},
      {"op": "replace", "path": "/metadata/annotations", "value": {"r": "1"}}],
     {"metadata": {"annotations": {"r": "1"}}, "spec": {"template": {"spec": {"containers": [{"image": "a"}]}}}}),
    ("null body is no operations", {"a": 1}, None, {"a": 1}),
    ("empty list", {"a": 1}, [], {"a": 1}),
]


@pytest.mark.parametrize(
    ("original", "operations", "expected"), [c[1:] for c in JSON_PATCH_CASES], ids=[c[0] for c in JSON_PATCH_CASES]
)
def test_json_patch(original: dict[str, Any], operations: Any, expected: dict[str, Any]) -> None:
    before_original, before_ops = frozen(original), frozen(operations)
    assert json_patch(original, operations) == expected
    assert frozen(original) == before_original
    assert frozen(operations) == before_ops


def test_json_patch_result_shares_nothing_with_original() -> None:
    original = {"a": {"l": [1]}}
    result = json_patch(original, [{"op": "add", "path": "/b", "value": 1}])
    result["a"]["l"].append(2)
    assert original == {"a": {"l": [1]}}


JSON_PATCH_FAILURES = [
    ("missing parent path", [{"op": "add", "path": "/spec/nope/x", "value": 1}]),
    ("remove missing member", [{"op": "remove", "path": "/nope"}]),
    ("replace missing list index", [{"op": "replace", "path": "/l/5", "value": 1}]),
    ("failed test", [{"op": "test", "path": "/a", "value": 2}]),
    ("test non-null on missing member", [{"op": "test", "path": "/nope", "value": 1}]),
    ("add beyond list end", [{"op": "add", "path": "/l/9", "value": 1}]),
    ("unknown op", [{"op": "frobnicate", "path": "/a"}]),
    ("missing op", [{"path": "/a"}]),
    ("missing path", [{"op": "remove"}]),
    ("path without leading slash", [{"op": "remove", "path": "a"}]),
    ("move from missing", [{"op": "move", "from": "/nope", "path": "/b"}]),
    ("copy without from", [{"op": "copy", "path": "/b"}]),
    ("null operation", [None]),
    ("into a scalar", [{"op": "add", "path": "/a/x", "value": 1}]),
    ("non-numeric list index", [{"op": "remove", "path": "/l/x"}]),
    ("replace whole document with a scalar", [{"op": "replace", "path": "", "value": 1}]),
    ("second op fails after first applied", [{"op": "add", "path": "/b", "value": 1}, {"op": "remove", "path": "/c"}]),
]


@pytest.mark.parametrize("operations", [c[1] for c in JSON_PATCH_FAILURES], ids=[c[0] for c in JSON_PATCH_FAILURES])
def test_json_patch_that_does_not_apply_is_generic_422(operations: list[Any]) -> None:
    original = {"a": 1, "l": [1, 2], "spec": {}}
    before = frozen(original)
    with pytest.raises(errors.Invalid) as caught:
        json_patch(original, operations)
    status = caught.value.status()
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["message"] == GENERIC_422
    assert frozen(original) == before


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"),
        ("[]", "json: cannot unmarshal string into Go value of type []handlers.jsonPatchOp"),
        ([1], "json: cannot unmarshal number into Go value of type handlers.jsonPatchOp"),
        ([[]], "json: cannot unmarshal array into Go value of type handlers.jsonPatchOp"),
        ([{"op": 1, "path": "/a"}], "json: cannot unmarshal number into Go struct field jsonPatchOp.op of type string"),
        ([{"op": "add", "path": ["a"]}],
         "json: cannot unmarshal array into Go struct field jsonPatchOp.path of type string"),
        ([{"op": "move", "path": "/a", "from": True}],
         "json: cannot unmarshal bool into Go struct field jsonPatchOp.from of type string"),
    ],
)
def test_json_patch_malformed_document_is_400(operations: Any, message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        json_patch({"a": 1}, operations)
    assert caught.value.code == 400
    assert caught.value.message == "error decoding patch: " + message


def test_json_patch_operation_limit() -> None:
    at_limit = [{"op": "test", "path": "/a", "value": 1}] * MAX_JSON_PATCH_OPERATIONS
    assert json_patch({"a": 1}, at_limit) == {"a": 1}
    with pytest.raises(errors.RequestEntityTooLarge) as caught:
        json_patch({"a": 1}, [*at_limit, {"op": "test", "path": "/a", "value": 1}])
    assert caught.value.code == 413
    assert caught.value.reason == "RequestEntityTooLarge"
    assert caught.value.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "/a/b/c"}, {"op": "add", "path": ""}, {"op": "move", "from": "", "path": "/a/x"},
        {"op": "copy", "from": "/l", "path": "/l/-"}, {"op": "replace", "path": "/l/-", "value": 1},
        {"op": "test", "path": "", "value": {"a": 1}}, {"op": "remove", "path": ""}, {"op": "add", "path": "/l/01"},
        {"op": "add", "path": "/l/-1", "value": 0}, {"op": "test", "path": "/l/0"}, {"op": "move", "from": "/l"},
        {"op": "add", "path": "/m/~2", "value": 1}, {"op": "copy", "from": "/m/x", "path": "/m/x/y"},
    ],
)
def test_json_patch_library_errors_never_escape(operation: dict[str, Any]) -> None:
    try:
        result = json_patch({"a": {"b": 1}, "l": [1], "m": {"x": {}}}, [operation])
    except errors.StatusError as exc:
        assert exc.code in (400, 422)
    else:
        assert isinstance(result, dict)


# ---------------------------------------------------------------------------------------------------------------------
# strategic merge patch: the schema facts the rules rely on


def test_schema_patch_metadata_used_by_strategic_merge() -> None:
    spec = schema.at_path(DEPLOYMENT, ["spec", "template", "spec"])
    containers = schema.property_schema(spec, "containers")
    assert (schema.patch_strategy(containers), schema.patch_merge_key(containers)) == ({"merge"}, "name")
    volumes = schema.property_schema(spec, "volumes")
    assert (schema.patch_strategy(volumes), schema.patch_merge_key(volumes)) == ({"merge", "retainKeys"}, "name")
    assert schema.patch_strategy(schema.property_schema(spec, "tolerations")) == set()
    strategy = schema.at_path(DEPLOYMENT, ["spec", "strategy"])
    assert schema.patch_strategy(strategy) == {"retainKeys"}
    ports = schema.at_path(SERVICE, ["spec", "ports"])
    # SMP merges Service ports by port alone; server-side apply keys them by port and protocol.
    assert schema.patch_merge_key(ports) == "port"
    assert schema.list_map_keys(ports) == ["port", "protocol"]
    finalizers = schema.at_path(DEPLOYMENT, ["metadata", "finalizers"])
    assert (schema.patch_strategy(finalizers), schema.patch_merge_key(finalizers)) == ({"merge"}, None)


# ---------------------------------------------------------------------------------------------------------------------
# strategic merge patch: what kubectl sends


def test_kubectl_set_image() -> None:
    original = deployment()
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}],
    }}}}
    result = strategic_merge_patch(original, patch, DEPLOYMENT)
    expected = deployment()
    pod_spec(expected)["containers"][0]["image"] = "nginx:1.26"
    assert result == expected
    assert [c["name"] for c in pod_spec(result)["containers"]] == ["nginx", "sidecar"]


def test_kubectl_set_image_with_single_container_order() -> None:
    original = deployment()
    del pod_spec(original)["containers"][1]
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}],
    }}}}
    result = strategic_merge_patch(original, patch, DEPLOYMENT)
    assert pod_spec(result)["containers"] == [{**pod_spec(original)["containers"][0], "image": "nginx:1.26"}]


def test_kubectl_apply_removing_a_service_port() -> None:
    patch = {"spec": {"$setElementOrder/ports": [{"port": 80}], "ports": [{"$patch": "delete", "port": 443}]}}
    result = strategic_merge_patch(service(), patch, SERVICE)
    assert result["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert result["spec"]["selector"] == {"app": "web"}


def test_kubectl_apply_replacing_a_service_port_keeps_the_applied_order() -> None:
    patch = {"spec": {
        "$setElementOrder/ports": [{"port": 8443}, {"port": 80}],
        "ports": [{"name": "alt", "port": 8443, "targetPort": 9443}, {"$patch": "delete", "port": 443}],
    }}
    result = strategic_merge_patch(service(), patch, SERVICE)
    assert [p["port"] for p in result["spec"]["ports"]] == [8443, 80]
    assert result["spec"]["ports"][0] == {"name": "alt", "port": 8443, "targetPort": 9443}


def test_kubectl_rollout_resume_and_pause() -> None:
    resumed = strategic_merge_patch(deployment(), {"spec": {"paused": None}}, DEPLOYMENT)
    assert "paused" not in resumed["spec"]
    paused = strategic_merge_patch(resumed, {"spec": {"paused": True}}, DEPLOYMENT)
    assert paused["spec"]["paused"] is True


def test_kubectl_rollout_restart() -> None:
    stamp = "2026-01-02T03:04:05Z"
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    result = strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": stamp},
    }
    assert pod_spec(result) == pod_spec(deployment())


def test_kubectl_cordon_and_uncordon() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24"}}
    cordoned = strategic_merge_patch(node, {"spec": {"unschedulable": True}}, NODE)
    assert cordoned["spec"] == {"podCIDR": "10.0.0.0/24", "unschedulable": True}
    uncordoned = strategic_merge_patch(cordoned, {"spec": {"unschedulable": False}}, NODE)
    assert uncordoned["spec"]["unschedulable"] is False


def test_kubectl_set_env_adds_and_changes_by_name() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
        "containers": [{
            "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            "env": [{"name": "A", "value": "10"}, {"name": "C", "value": "3"}],
            "name": "nginx",
        }],
    }}}}
    result = strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert container(result, "nginx")["env"] == [
        {"name": "A", "value": "10"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"},
    ]


# ---------------------------------------------------------------------------------------------------------------------
# strategic merge patch: rules, table-driven on a Deployment

SMP_DEPLOYMENT_CASES: list[tuple[str, dict[str, Any], Any]] = [
    (
        "maps merge recursively",
        {"metadata": {"labels": {"tier": "be", "new": "x"}}},
        lambda r: r["metadata"]["labels"] == {"app": "web", "tier": "be", "new": "x"},
    ),
    (
        "null deletes a map key",
        {"metadata": {"labels": {"tier": None}, "annotations": None}},
        lambda r: r["metadata"]["labels"] == {"app": "web"} and "annotations" not in r["metadata"],
    ),
    (
        "null for a missing key is ignored",
        {"spec": {"minReadySeconds": None}},
        lambda r: "minReadySeconds" not in r["spec"] and r["spec"]["replicas"] == 2,
    ),
    (
        "atomic list (tolerations) is replaced",
        {"spec": {"template": {"spec": {"tolerations": [{"key": "k3", "operator": "Exists"}]}}}},
        lambda r: pod_spec(r)["tolerations"] == [{"key": "k3", "operator": "Exists"}],
    ),
    (
        "atomic list (command) is replaced",
        {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "command": ["sleep", "1"]}]}}}},
        lambda r: container(r, "nginx")["command"] == ["sleep", "1"] and container(r, "nginx")["image"] == "nginx:1.25",
    ),
    (
        "keyed list merges by name and keeps other items",
        {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}},
        lambda r: [c["name"] for c in pod_spec(r)["containers"]] == ["nginx", "sidecar"]
        and container(r, "sidecar")["image"] == "busybox:1.37" and container(r, "nginx")["image"] == "nginx:1.25",
    ),
    (
        # Upstream's ordering puts patch items missing from the live list before the server-only items.
        "new keyed item without $setElementOrder goes before the live items",
        {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluent"}]}}}},
        lambda r: [c["name"] for c in pod_spec(r)["containers"]] == ["log", "nginx", "sidecar"],
    ),
    (
        "new keyed items placed by $setElementOrder",
        {"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}, {"name": "log"}],
            "containers": [{"name": "log", "image": "fluent"}],
        }}}},
        lambda r: [c["name"] for c in pod_spec(r)["containers"]] == ["nginx", "sidecar", "log"],
    ),
    (
        "$setElementOrder reorders live items",
        {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "nginx"}]}}}},
        lambda r: [c["name"] for c in pod_spec(r)["containers"]] == ["sidecar", "nginx"]
        and container(r, "nginx")["image"] == "nginx:1.25",
    ),
    (
        "items not named in $setElementOrder keep their relative order",
        {"spec": {"template": {"spec": {"$setElementOrder/volumes": [{"name": "x"}], "volumes": [{"name": "x"}]}}}},
        lambda r: [v["name"] for v in pod_spec(r)["volumes"]] == ["x", "cache", "conf"],
    ),
    (
        "nested keyed list: container ports by containerPort",
        {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "ports": [
            {"containerPort": 80, "name": "http"}, {"containerPort": 443, "protocol": "TCP"},
        ]}]}}}},
        lambda r: container(r, "nginx")["ports"] == [
            {"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443, "protocol": "TCP"},
        ],
    ),
    (
        "nested keyed list: $patch delete of an env var",
        {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "env": [{"$patch": "delete", "name": "A"}]}]}}}},
        lambda r: container(r, "nginx")["env"] == [{"name": "B", "value": "2"}],
    ),
    (
        "$patch delete of a missing keyed item is a no-op",
        {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "nope"}]}}}},
        lambda r: [c["name"] for c in pod_spec(r)["containers"]] == ["nginx", "sidecar"],
    ),
    (
        "$patch delete of a keyed container",
        {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}}}},
        lambda r: [c["name"] for c in pod_spec(r)["containers"]] == ["nginx"],
    ),
    (
        "$patch replace as a list item replaces the list",
        {"spec": {"template": {"spec": {"volumes": [{"$patch": "replace"}, {"name": "only", "emptyDir": {}}]}}}},
        lambda r: pod_spec(r)["volumes"] == [{"name": "only", "emptyDir": {}}],
    ),
    (
        "$patch replace alone empties the list",
        {"spec": {"template": {"spec": {"volumes": [{"$patch": "replace"}]}}}},
        lambda r: pod_spec(r)["volumes"] == [],
    ),
    (
        "$patch replace on a map replaces it wholesale",
        {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}},
        lambda r: r["spec"]["strategy"] == {"type": "Recreate"},
    ),
    (
        "$patch delete on a map empties it",
        {"metadata": {"labels": {"$patch": "delete"}}},
        lambda r: r["metadata"]["labels"] == {},
    ),
    (
        "a new map carrying $patch is not stored",
        {"spec": {"template": {"spec": {"securityContext": {"$patch": "replace", "runAsUser": 1}}}}},
        lambda r: "securityContext" not in pod_spec(r),
    ),
    (
        "$retainKeys on Deployment strategy drops rollingUpdate",
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
        lambda r: r["spec"]["strategy"] == {"type": "Recreate"},
    ),
    (
        "without $retainKeys the strategy map merges",
        {"spec": {"strategy": {"type": "Recreate"}}},
        lambda r: r["spec"]["strategy"] == {
            "type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
    ),
    (
        "$retainKeys on a volume swaps its source",
        {"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "cache"}, {"name": "conf"}],
            "volumes": [{"$retainKeys": ["name", "secret"], "name": "conf", "secret": {"secretName": "s1"}}],
        }}}},
        lambda r: pod_spec(r)["volumes"] == [
            {"name": "cache", "emptyDir": {}}, {"name": "conf", "secret": {"secretName": "s1"}},
        ],
    ),
    (
        "primitive merge list (finalizers) is a union",
        {"metadata": {"finalizers": ["b.example.com/y", "c.example.com/z"]}},
        lambda r: r["metadata"]["finalizers"] == ["a.example.com/x", "b.example.com/y", "c.example.com/z"],
    ),
    (
        "$deleteFromPrimitiveList removes scalars",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x", "missing"]}},
        lambda r: r["metadata"]["finalizers"] == ["b.example.com/y"],
    ),
    (
        "$setElementOrder on a primitive list with a deletion (what apply sends)",
        {"metadata": {
            "$setElementOrder/finalizers": ["b.example.com/y", "c.example.com/z"],
            "$deleteFromPrimitiveList/finalizers": ["a.example.com/x"],
            "finalizers": ["c.example.com/z"],
        }},
        lambda r: r["metadata"]["finalizers"] == ["b.example.com/y", "c.example.com/z"],
    ),
    (
        "unknown fields merge like a JSON merge patch",
        {"spec": {"x-extra": {"l": [3], "m": {"k": "v", "gone": None}}}},
        lambda r: r["spec"]["x-extra"] == {"l": [3], "m": {"k": "v"}},
    ),
    (
        "a value of another type replaces",
        {"spec": {"template": {"spec": {"volumes": {"not": "a list"}}}}},
        lambda r: pod_spec(r)["volumes"] == {"not": "a list"},
    ),
]


@pytest.mark.parametrize(
    ("patch", "check"), [c[1:] for c in SMP_DEPLOYMENT_CASES], ids=[c[0] for c in SMP_DEPLOYMENT_CASES]
)
def test_strategic_merge_patch_on_deployment(patch: dict[str, Any], check: Any) -> None:
    original = deployment()
    before_original, before_patch = frozen(original), frozen(patch)
    result = strategic_merge_patch(original, patch, DEPLOYMENT)
    assert check(result), result
    assert frozen(original) == before_original
    assert frozen(patch) == before_patch
    assert "$" not in frozen(result).decode().replace("$(", "")


def test_strategic_merge_patch_delete_and_add_with_set_element_order() -> None:
    # strategicpatch testdata "add map and delete map from merging list": upstream orders the server-only items
    # against the live list as its delete and append rewrote it in place, which puts "d" before the new "c".
    original = deployment()
    pod_spec(original)["volumes"] = [{"name": "a"}, {"name": "b", "emptyDir": {}}, {"name": "d", "emptyDir": {}}]
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "b"}, {"name": "c"}],
        "volumes": [{"name": "c", "emptyDir": {}}, {"$patch": "delete", "name": "a"}],
    }}}}
    result = strategic_merge_patch(original, patch, DEPLOYMENT)
    assert pod_spec(result)["volumes"] == [
        {"name": "b", "emptyDir": {}}, {"name": "d", "emptyDir": {}}, {"name": "c", "emptyDir": {}},
    ]


def test_strategic_merge_patch_result_shares_nothing_with_inputs() -> None:
    original = deployment()
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluent", "args": ["a"]}]}}}}
    result = strategic_merge_patch(original, patch, DEPLOYMENT)
    container(result, "log")["args"].append("b")
    container(result, "nginx")["command"].append("x")
    assert patch["spec"]["template"]["spec"]["containers"][0]["args"] == ["a"]
    assert pod_spec(original)["containers"][0]["command"] == ["nginx", "-g", "daemon off;"]


def test_strategic_merge_patch_replace_strategy_map() -> None:
    pdb = {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web", "tier": "fe"}}}}
    result = strategic_merge_patch(pdb, {"spec": {"selector": {"matchLabels": {"app": "api"}}}}, PDB)
    assert result["spec"]["selector"] == {"matchLabels": {"app": "api"}}


def test_strategic_merge_patch_without_schema_is_merge_patch_like() -> None:
    original = {"a": {"b": 1, "c": [1, 2]}, "d": [{"name": "x", "v": 1}]}
    patch = {"a": {"b": None, "c": [3]}, "d": [{"name": "y"}]}
    assert strategic_merge_patch(original, patch, None) == {"a": {"c": [3]}, "d": [{"name": "y"}]}


def test_strategic_merge_patch_top_level_replace_and_null_body() -> None:
    assert strategic_merge_patch({"a": 1, "b": 2}, {"$patch": "replace", "c": 3}, None) == {"c": 3}
    assert strategic_merge_patch({"a": 1}, None, None) == {"a": 1}  # type: ignore[arg-type]


def test_strategic_merge_patch_on_pod_status_conditions_by_type() -> None:
    pod = {"status": {"conditions": [
        {"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"},
    ]}}
    result = strategic_merge_patch(pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD)
    assert result["status"]["conditions"] == [
        {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"},
    ]


SMP_ERRORS = [
    ("$patch merge in a map", {"spec": {"strategy": {"$patch": "merge"}}},
     "unknown patch type: merge in map: map[$patch:merge]"),
    ("unknown $patch in a map", {"spec": {"strategy": {"$patch": "zap", "type": "Recreate"}}},
     "unknown patch type: zap in map: map[$patch:zap type:Recreate]"),
    ("$patch merge as a list item",
     {"spec": {"template": {"spec": {"containers": [{"$patch": "merge", "name": "nginx"}]}}}},
     "merging lists cannot yet be specified in the patch"),
    ("unknown $patch as a list item",
     {"spec": {"template": {"spec": {"containers": [{"$patch": "zap", "name": "nginx"}]}}}},
     "unknown patch type: zap in map: map[$patch:zap name:nginx]"),
    ("keyed delete without the merge key",
     {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}}},
     "map: map[$patch:delete image:x] does not contain declared merge key: name"),
    ("keyed item without the merge key",
     {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
     "map: map[image:x] does not contain declared merge key: name"),
    ("$retainKeys not a list", {"spec": {"strategy": {"$retainKeys": "type"}}}, "invalid patch format of retainKeys"),
    ("patch key missing from $retainKeys",
     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
     "invalid patch format of retainKeys"),
    ("$setElementOrder without a field name", {"spec": {"$setElementOrder": []}},
     "invalid patch format of setElementOrder list"),
    ("$setElementOrder not a list",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": {"name": "nginx"}}}}},
     "expected a []interface {}, but received a map[string]interface {}"),
    ("$setElementOrder missing a patched item",
     {"spec": {"template": {"spec": {
         "$setElementOrder/containers": [{"name": "nginx"}],
         "containers": [{"name": "sidecar", "image": "x"}],
     }}}},
     "The order in patch list:\n[map[image:x name:sidecar]]\n doesn't match $setElementOrder list:\n[map[name:nginx]]\n"),
    ("$deleteFromPrimitiveList without a field name", {"metadata": {"$deleteFromPrimitiveList": ["a"]}},
     "invalid patch format of primitive list"),
    ("mixed item types in a merge list", {"metadata": {"finalizers": [{"name": "x"}]}},
     "list element types are not identical: [[a.example.com/x b.example.com/y] [map[name:x]]]"),
]


@pytest.mark.parametrize(("patch", "message"), [c[1:] for c in SMP_ERRORS], ids=[c[0] for c in SMP_ERRORS])
def test_strategic_merge_patch_bad_directives_are_400(patch: dict[str, Any], message: str) -> None:
    original = deployment()
    before = frozen(original)
    with pytest.raises(errors.BadRequest) as caught:
        strategic_merge_patch(original, patch, DEPLOYMENT)
    assert caught.value.code == 400
    assert caught.value.message == message
    assert frozen(original) == before


def test_strategic_merge_patch_list_of_lists_is_generic_422() -> None:
    with pytest.raises(errors.Invalid) as caught:
        strategic_merge_patch({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": ["b"]}}, DEPLOYMENT)
    assert caught.value.code == 422
    assert caught.value.message == GENERIC_422


def test_strategic_merge_patch_body_must_be_an_object() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        strategic_merge_patch({"a": 1}, [1], None)  # type: ignore[arg-type]
    assert caught.value.message == "json: cannot unmarshal array into Go value of type map[string]interface {}"
