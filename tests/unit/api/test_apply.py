"""Server-side apply and managedFields: ownership, pruning, conflicts and the FieldsV1 encoding upstream stores."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.api import schema as schema_module
from pyk8s.api.apply import LAST_APPLIED_ANNOTATION, decode_apply_patch, server_side_apply
from pyk8s.api.managedfields import (
    ABSENT,
    FIELD,
    KEY,
    LEAF,
    LIST,
    FieldSet,
    Managed,
    child_schema,
    comparable,
    compare,
    created_fields_v1,
    default_reset_fields,
    encode_managed_fields,
    ensure_named_fields_are_members,
    fields_of,
    fpath,
    list_elements,
    manager_from_user_agent,
    manager_key,
    path_string,
    record_update,
    shape,
    update_managed_fields,
    zero_object,
)
from pyk8s.api.schema import for_kind, items_schema
from tests.unit.api.test_validation import VALID

DEPLOYMENT = for_kind("apps", "v1", "Deployment")
POD = for_kind("", "v1", "Pod")
T0, T1, T2 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", "2024-05-01T10:10:00Z"

# What a real apiserver stores for `kubectl create deployment web --image=nginx` (v1.2x-1.3x).
KUBECTL_CREATE_FIELDS_V1 = json.loads("""
{"f:metadata":{"f:labels":{".":{},"f:app":{}}},
 "f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},
  "f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},
  "f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},
   "f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},
     "f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},
    "f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},
    "f:terminationGracePeriodSeconds":{}}}}}
""")


def created_deployment() -> dict[str, Any]:
    """The defaulted Deployment the apiserver stores for `kubectl create deployment web --image=nginx`."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "0b9c-uid", "resourceVersion": "412",
                     "generation": 1, "creationTimestamp": T0, "labels": {"app": "web"}},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {},
                                         "terminationMessagePath": "/dev/termination-log",
                                         "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}],
                         "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                         "securityContext": {}, "schedulerName": "default-scheduler"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": {},
    }


def manifest(replicas: int = 2, image: str = "nginx:1.25", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": labels if labels is not None else {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": image}]}}},
    }


def apply(live: dict[str, Any] | None, config: dict[str, Any], manager: str = "kubectl", force: bool = False,
          now: str = T1) -> dict[str, Any]:
    out = server_side_apply(live, config, manager, force, "apps/v1", now, DEPLOYMENT, name="web", namespace="default")
    out["metadata"].setdefault("uid", "0b9c-uid")  # what the registry adds on create
    return out


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str, operation: str) -> FieldSet:
    return FieldSet.from_fields_v1(entries(obj)[(manager, operation)]["fieldsV1"])


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


# ---- FieldsV1 -----------------------------------------------------------------------------------------


def test_fields_v1_round_trip_of_what_upstream_stores() -> None:
    fields = FieldSet.from_fields_v1(KUBECTL_CREATE_FIELDS_V1)
    assert fields.to_fields_v1() == KUBECTL_CREATE_FIELDS_V1
    assert json.dumps(fields.to_fields_v1()) == json.dumps(KUBECTL_CREATE_FIELDS_V1)  # key order too
    paths = {path_string(p) for p in fields}
    assert '.spec.template.spec.containers[name="nginx"]' in paths  # "." makes the item a member
    assert '.spec.template.spec.containers[name="nginx"].image' in paths
    assert ".metadata.labels" in paths and ".spec.strategy.rollingUpdate" in paths
    assert ".spec.strategy" not in paths and ".spec" not in paths  # no "." there


def test_create_records_exactly_what_a_real_apiserver_stores() -> None:
    managed = update_managed_fields(None, created_deployment(), "kubectl-create", "Update", "apps/v1", T0, DEPLOYMENT)
    assert managed == [{"manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": T0,
                        "fieldsType": "FieldsV1", "fieldsV1": KUBECTL_CREATE_FIELDS_V1}]


def test_list_map_keys_use_all_keys_sorted_and_defaults() -> None:
    ports = [{"containerPort": 80}, {"protocol": "UDP", "containerPort": 53}]
    pod = {"spec": {"containers": [{"name": "c", "ports": ports}]}, "metadata": {"finalizers": ["b", "a"]}}
    encoded = fields_of(pod, for_kind("", "v1", "Pod")).to_fields_v1()
    ports = encoded["f:spec"]["f:containers"]['k:{"name":"c"}']["f:ports"]
    assert list(ports) == ['k:{"containerPort":53,"protocol":"UDP"}', 'k:{"containerPort":80,"protocol":"TCP"}']
    assert encoded["f:metadata"]["f:finalizers"] == {'v:"a"': {}, 'v:"b"': {}}


def test_set_operations() -> None:
    a = FieldSet([fpath("spec", "replicas"), fpath("spec", "paused")])
    b = FieldSet([fpath("spec", "replicas"), fpath("metadata", "labels", "x")])
    assert a | b == FieldSet([fpath("spec", "replicas"), fpath("spec", "paused"), fpath("metadata", "labels", "x")])
    assert a & b == FieldSet([fpath("spec", "replicas")])
    assert a - b == FieldSet([fpath("spec", "paused")])
    assert (a | b).recursive_difference(FieldSet([fpath("spec")])) == FieldSet([fpath("metadata", "labels", "x")])


# ---- apply ------------------------------------------------------------------------------------------


def test_create_via_apply() -> None:
    obj = apply(None, manifest())
    assert obj["spec"]["replicas"] == 2 and containers(obj) == [{"name": "nginx", "image": "nginx:1.25"}]
    [entry] = obj["metadata"]["managedFields"]
    assert entry == {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1,
                     "fieldsType": "FieldsV1", "fieldsV1": entry["fieldsV1"]}
    fields = {path_string(p) for p in FieldSet.from_fields_v1(entry["fieldsV1"])}
    assert {".spec.replicas", ".metadata.labels.app", '.spec.template.spec.containers[name="nginx"].image'} <= fields
    assert not {".apiVersion", ".kind", ".metadata.name", ".metadata"} & fields


def test_reapply_with_a_change_updates_value_and_time() -> None:
    obj = apply(None, manifest())
    again = apply(obj, manifest(image="nginx:1.26"), now=T2)
    assert containers(again) == [{"name": "nginx", "image": "nginx:1.26"}]
    assert [(e["manager"], e["time"]) for e in again["metadata"]["managedFields"]] == [("kubectl", T2)]
    same = apply(again, manifest(image="nginx:1.26"), now="2024-05-01T11:00:00Z")
    assert same["metadata"]["managedFields"][0]["time"] == T2  # a no-op apply keeps the time


def test_apply_removing_a_field_removes_it_unless_someone_else_owns_it() -> None:
    obj = apply(None, manifest(labels={"app": "web", "tier": "fe"}))
    labelled = copy.deepcopy(obj)
    labelled["metadata"]["labels"]["team"] = "a"
    labelled["metadata"]["managedFields"] = update_managed_fields(obj, labelled, "kubectl-label", "Update",
                                                                  "apps/v1", T1, DEPLOYMENT)
    config = manifest(labels={"app": "web"})
    del config["spec"]["replicas"]
    out = apply(labelled, config, now=T2)
    assert out["metadata"]["labels"] == {"app": "web", "team": "a"}
    assert "replicas" not in out["spec"]  # the registry defaults it again
    assert fpath("spec", "replicas") not in owned(out, "kubectl", "Apply")


def test_update_manager_then_apply_conflict_then_force() -> None:
    live = created_deployment()
    live["metadata"]["managedFields"] = update_managed_fields(None, live, "kubectl-client-side-apply", "Update",
                                                              "apps/v1", T0, DEPLOYMENT)
    with pytest.raises(errors.Conflict) as caught:
        apply(live, manifest(replicas=3, image="nginx"), manager="deploy-bot")
    status = caught.value.status()
    assert status["code"] == 409 and status["reason"] == "Conflict"
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                                 "using apps/v1: .spec.replicas")
    assert status["details"] == {"causes": [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                             "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]}

    forced = apply(live, manifest(replicas=3, image="nginx"), manager="deploy-bot", force=True)
    assert forced["spec"]["replicas"] == 3
    assert fpath("spec", "replicas") in owned(forced, "deploy-bot", "Apply")
    assert fpath("spec", "replicas") not in owned(forced, "kubectl-client-side-apply", "Update")
    image = '.spec.template.spec.containers[name="nginx"].image'  # equal value: now shared
    assert image in {path_string(p) for p in owned(forced, "kubectl-client-side-apply", "Update")}
    assert image in {path_string(p) for p in owned(forced, "deploy-bot", "Apply")}


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = apply(None, manifest(), manager="a")
    labels_only = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"x": "1"}}}
    live = apply(live, labels_only, manager="b")
    with pytest.raises(errors.Conflict) as caught:
        apply(live, manifest(replicas=5, image="busybox", labels={"x": "2"}), manager="c")
    assert caught.value.message == (
        'Apply failed with 3 conflicts: conflicts with "a":\n- .spec.replicas\n'
        '- .spec.template.spec.containers[name="nginx"].image\nconflicts with "b":\n- .metadata.labels.x')
    assert len(caught.value.details["causes"]) == 3  # type: ignore[index]


def test_kubectl_takes_over_fields_its_client_side_apply_annotation_describes() -> None:
    live = created_deployment()
    live["spec"]["replicas"] = 2
    live["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: json.dumps(manifest(image="nginx")) + "\n"}
    live["metadata"]["managedFields"] = update_managed_fields(None, live, "kubectl-client-side-apply", "Update",
                                                              "apps/v1", T0, DEPLOYMENT)
    out = apply(live, manifest(replicas=4, image="nginx"))
    assert out["spec"]["replicas"] == 4
    annotation = json.loads(out["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
    assert annotation["spec"]["replicas"] == 4
    with pytest.raises(errors.Conflict):  # another manager gets no such pass
        apply(live, manifest(replicas=4, image="nginx"), manager="other")


def test_two_appliers_share_a_field_with_equal_values() -> None:
    obj = apply(None, manifest(replicas=2), manager="a")
    obj = apply(obj, manifest(replicas=2), manager="b")  # same value: no conflict
    assert fpath("spec", "replicas") in owned(obj, "a", "Apply") & owned(obj, "b", "Apply")
    config = manifest()
    del config["spec"]["replicas"]
    obj = apply(obj, config, manager="a")  # a lets go, b still holds it: the value stays
    assert obj["spec"]["replicas"] == 2
    assert fpath("spec", "replicas") not in owned(obj, "a", "Apply")


def test_containers_merge_by_name() -> None:
    obj = apply(None, manifest())
    patched = copy.deepcopy(obj)
    containers(patched).append({"name": "sidecar", "image": "envoy"})
    patched["metadata"]["managedFields"] = update_managed_fields(obj, patched, "kubectl-edit", "Update", "apps/v1",
                                                                 T1, DEPLOYMENT)
    config = manifest(image="nginx:1.26")
    containers(config).insert(0, {"name": "init-log", "image": "busybox"})
    out = apply(patched, config, now=T2)
    assert containers(out) == [{"name": "init-log", "image": "busybox"}, {"name": "nginx", "image": "nginx:1.26"},
                               {"name": "sidecar", "image": "envoy"}]
    sidecar = owned(out, "kubectl-edit", "Update")
    assert '.spec.template.spec.containers[name="sidecar"].image' in {path_string(p) for p in sidecar}


def test_apply_to_an_object_without_managed_fields_adopts_existing_fields() -> None:
    live = created_deployment()
    out = apply(live, manifest(replicas=1, image="nginx"), manager="deploy-bot")
    assert set(entries(out)) == {("deploy-bot", "Apply"), ("before-first-apply", "Update")}
    out_meta = {k: v for k, v in out["metadata"].items() if k != "managedFields"}
    assert {**out, "metadata": out_meta} == live  # same values: the body is the live one, nulls included
    assert apply(out, manifest(replicas=1, image="nginx"), manager="deploy-bot", now=T2) == out  # a no-op


# ---- bad apply bodies and manager names ---------------------------------------------------------------


@pytest.mark.parametrize(("config", "message"), [
    ({**manifest(), "apiVersion": "apps/v1beta1"}, "invalid object type: apps/v1beta1, Kind=Deployment"),
    ({**manifest(), "kind": "StatefulSet"}, "invalid object type: apps/v1, Kind=StatefulSet"),
    ({"metadata": {"name": "web"}}, "invalid object type: /, Kind="),
    ({**manifest(), "metadata": {"name": "web", "managedFields": []}}, "metadata.managedFields must be nil"),
    ({**manifest(), "metadata": {"name": "other"}},
     "the name of the object (other) does not match the name on the URL (web)"),
    ({**manifest(), "metadata": {"name": "web", "namespace": "kube-system"}},
     "the namespace of the provided object does not match the namespace sent on the request"),
])
def test_bad_apply_bodies_are_bad_requests(config: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        apply(None, config)
    assert caught.value.message == message


def test_decode_apply_patch() -> None:
    assert decode_apply_patch(b'{"kind": "Deployment"}') == {"kind": "Deployment"}
    assert decode_apply_patch(b"kind: Pod\nmetadata:\n  creationTimestamp: 2024-01-01T00:00:00Z\n") == {
        "kind": "Pod", "metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}}
    with pytest.raises(errors.BadRequest, match="cannot unmarshal array into Go value of type map"):
        decode_apply_patch(b"- a\n- b\n")


def test_manager_from_user_agent() -> None:
    assert manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/abc") == "kubectl"
    assert manager_from_user_agent("OpenAPI-Generator/31.0.0/python") == "OpenAPI-Generator"
    assert manager_from_user_agent("a\x00b" + "x" * 300) == "ab" + "x" * 126


# ---- non-apply writes ---------------------------------------------------------------------------------


def test_update_moves_ownership_and_untracked_objects_stay_untracked() -> None:
    live = created_deployment()
    assert update_managed_fields(live, copy.deepcopy(live), "kubectl-edit", "Update", "apps/v1", T1,
                                 DEPLOYMENT) == []  # existing object without managedFields: not tracked
    live["metadata"]["managedFields"] = update_managed_fields(None, live, "kubectl-create", "Update", "apps/v1", T0,
                                                              DEPLOYMENT)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 3
    scaled["status"] = {"replicas": 3}  # status is not written through the main resource
    scaled["metadata"]["managedFields"] = update_managed_fields(live, scaled, "kubectl-scale", "Update", "apps/v1",
                                                                T1, DEPLOYMENT)
    assert owned(scaled, "kubectl-scale", "Update") == FieldSet([fpath("spec", "replicas")])
    assert fpath("spec", "replicas") not in owned(scaled, "kubectl-create", "Update")
    reset = copy.deepcopy(scaled)
    reset["metadata"]["managedFields"] = []
    assert update_managed_fields(scaled, reset, "x", "Update", "apps/v1", T2, DEPLOYMENT) == []


# ---- fast paths give what the general algorithm gives ---------------------------------------------------------

_FIXTURES = Path(__file__).parent / "fixtures"
_SCALARS: list[Any] = [0, 1, 1.0, 2.5, True, False, "", "x", "TCP", "<a&b>", "é", None, 80, {}, [], {"a": 1},
                       [1, "a"], [{"name": "n"}], [None], [{"containerPort": 80}, {"containerPort": 80.0}]]


def _kubectl_bodies() -> list[dict[str, Any]]:
    """What kubectl sends for its typed create commands (the protobuf tests' JSON twins), nulls included."""
    bodies = [json.loads(p.read_text()) for p in sorted(_FIXTURES.glob("*.json"))]
    return [b for b in bodies if isinstance(b, dict) and b.get("kind") and isinstance(b.get("metadata"), dict)]


def _valid_objects() -> list[dict[str, Any]]:
    """Every kind's defaulted fixture from the validation tests, stamped as the registry stores it."""
    out = []
    for group, version, kind, make in VALID.values():
        obj = make()
        obj.setdefault("apiVersion", f"{group}/{version}" if group else version)
        obj.setdefault("kind", kind)
        obj["metadata"].update({"uid": "u-1", "creationTimestamp": T0})
        out.append(obj)
    return out


def _nodes(value: Any) -> list[Any]:
    """`value` and every value inside it."""
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [value, *(node for child in children for node in _nodes(child))]


def _variant(obj: dict[str, Any], rnd: random.Random, changes: int) -> dict[str, Any]:
    """`obj` with a few random edits: fields dropped, added or replaced, list items duplicated or appended."""
    obj = copy.deepcopy(obj)
    for _ in range(changes):
        node, roll = rnd.choice(_nodes(obj)), rnd.random()
        if isinstance(node, dict):
            if node and roll < 0.3:
                del node[rnd.choice(list(node))]
            else:
                key = rnd.choice([*node, "extra", "name", "protocol", "containerPort"])
                node[key] = copy.deepcopy(rnd.choice(_SCALARS))
        elif isinstance(node, list):
            if node and roll < 0.4:
                node.insert(rnd.randrange(len(node) + 1), copy.deepcopy(rnd.choice(node)))
            elif node and roll < 0.7:
                node[rnd.randrange(len(node))] = copy.deepcopy(rnd.choice(_SCALARS))
            else:
                node.append(copy.deepcopy(rnd.choice(_SCALARS)))
    return obj


def _objects_and_variants(per_object: int) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    rnd = random.Random(20261127)
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for obj in [*_valid_objects(), *_kubectl_bodies()]:
        group_version = str(obj.get("apiVersion", "v1"))
        group, _, version = group_version.rpartition("/")
        schema = for_kind(group, version, str(obj["kind"]))
        assert schema is not None, obj["kind"]
        out.append((obj, schema))
        out.append((obj, None))
        for _ in range(per_object):
            variant = _variant(obj, rnd, rnd.randint(1, 5))
            if isinstance(variant.get("metadata"), dict):
                out.append((variant, schema))
    return out


def _general_create(obj: dict[str, Any], schema: dict[str, Any] | None, subresource: str) -> list[dict[str, Any]]:
    """update_managed_fields for a create, spelled out with the general algorithm (compare with the zero object)."""
    rhs = comparable(obj)
    managed: Managed = {}
    key = manager_key("creator", "Update", "v1", subresource)
    record_update(zero_object(rhs, schema), rhs, managed, key, "v1", T0, schema,
                  default_reset_fields(schema, subresource))
    return encode_managed_fields(managed)


def test_create_fast_path_gives_what_the_general_path_gives() -> None:
    cases = _objects_and_variants(per_object=6)
    assert len(cases) > 300
    for obj, schema in cases:
        for subresource in ("", "status"):
            try:
                expected: Any = _general_create(obj, schema, subresource)
            except ValueError as e:
                expected = e
            try:
                got: Any = update_managed_fields(None, obj, "creator", "Update", "v1", T0, schema,
                                                 subresource=subresource)
            except ValueError as e:
                got = e
            if isinstance(expected, ValueError):
                assert isinstance(got, ValueError) and str(got) == str(expected)
            else:
                assert json.dumps(got) == json.dumps(expected), (obj, subresource)  # key order too


def test_create_fast_path_covers_typed_objects() -> None:
    pod = VALID["pod"][3]()
    assert created_fields_v1(comparable(pod), POD, default_reset_fields(POD, "")) is not None
    assert created_fields_v1({"spec": {}}, POD, FieldSet([(fpath("spec")[0], (KEY, ()))])) is None  # key in reset


def _reference_compare(lhs: Any, rhs: Any, sch: dict[str, Any] | None, path: tuple[Any, ...],
                       found: tuple[set[Any], set[Any], set[Any]]) -> None:
    """structured-merge-diff's Compare, node by node with no shortcut (the semantics compare() keeps)."""
    added, modified, removed = found
    kind, keys = shape(sch, rhs if rhs is not ABSENT else lhs)
    if kind != LEAF and lhs is not ABSENT and rhs is not ABSENT and shape(sch, lhs)[0] != kind:
        kind = LEAF
    groups: dict[Any, tuple[list[Any], list[Any]]] = {}
    if kind == LIST:
        try:
            for side, items in enumerate((lhs, rhs)):
                items = items if isinstance(items, list) else []
                for pe, item in zip(list_elements(items, keys, sch), items, strict=True):
                    groups.setdefault(pe, ([], []))[side].append(item)
        except ValueError:
            kind = LEAF
    empty = [v is ABSENT or v is None or v == {} or v == [] for v in (lhs, rhs)]
    if kind == LEAF or all(empty):
        if lhs is ABSENT:
            added.add(path)
        elif rhs is ABSENT:
            removed.add(path)
        elif lhs != rhs:
            modified.add(path)
        return
    if kind == LIST:
        for pe, (left, right) in groups.items():
            p = (*path, pe)
            if len(left) <= 1 and len(right) <= 1:
                _reference_compare(left[0] if left else ABSENT, right[0] if right else ABSENT, items_schema(sch),
                                   p, found)
            elif len(left) >= 2 and len(right) >= 2:
                if left != right:
                    modified.add(p)
            elif len(left) >= 2:
                if right:
                    _reference_compare(ABSENT, right[0], items_schema(sch), p, found)
                removed.add(p)
            else:
                if left:
                    _reference_compare(left[0], ABSENT, items_schema(sch), p, found)
                added.add(p)
    else:
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        for name in {**lmap, **rmap}:
            _reference_compare(lmap.get(name, ABSENT), rmap.get(name, ABSENT), child_schema(sch, name)[0],
                               (*path, (FIELD, name)), found)
    if lhs is ABSENT:
        added.add(path)
    elif rhs is ABSENT:
        removed.add(path)


def test_compare_skips_unchanged_subtrees_without_changing_the_result() -> None:
    rnd = random.Random(7)
    for obj, schema in _objects_and_variants(per_object=3):
        for other in (obj, copy.deepcopy(obj), _variant(obj, rnd, 1), _variant(obj, rnd, 4)):
            found: tuple[set[Any], set[Any], set[Any]] = (set(), set(), set())
            _reference_compare(obj, other, schema, (), found)
            got = compare(obj, other, schema)
            assert (got.added, got.modified, got.removed) == tuple(FieldSet(s) for s in found), (obj, other)


def test_equal_subtrees_of_other_json_types_still_compare_by_element() -> None:
    def pod(value: Any) -> dict[str, Any]:
        return {"metadata": {"finalizers": [value]},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": value}]}]}}

    changed = compare(pod(True), pod(1), POD)  # equal in Python, different set and list-map elements
    assert {path_string(p) for p in changed.added} == {
        ".metadata.finalizers[=1]", '.spec.containers[name="c"].ports[containerPort=1,protocol="TCP"]',
        '.spec.containers[name="c"].ports[containerPort=1,protocol="TCP"].containerPort'}
    assert len(changed.removed) == 3 and not changed.modified
    same = compare(pod(1), pod(1.0), POD)  # the same element written two ways
    assert not (same.added or same.modified or same.removed)


def test_fields_of_named_is_ensure_named_fields_are_members() -> None:
    for obj, schema in _objects_and_variants(per_object=3):
        assert fields_of(obj, schema, named=True) == ensure_named_fields_are_members(fields_of(obj, schema), schema)


def test_fields_v1_that_is_not_canonical_is_rewritten_canonically() -> None:
    canonical = {"f:metadata": {"f:labels": {".": {}, "f:a": {}, "f:b": {}}},
                 "f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}},
                                        'k:{"port":443,"protocol":"TCP"}': {}}}}
    fields = FieldSet.from_fields_v1(canonical)
    assert json.dumps(fields.to_fields_v1()) == json.dumps(canonical)
    for written in ({"f:spec": canonical["f:spec"], "f:metadata": canonical["f:metadata"]},  # keys out of order
                    {"f:metadata": {"f:labels": {"f:a": {}, ".": {}, "f:b": {}}}, "f:spec": canonical["f:spec"]}):
        assert json.dumps(FieldSet.from_fields_v1(written).to_fields_v1()) == json.dumps(canonical)
    odd: dict[str, Any] = {"f:spec": {"f:ports": {'k:{"protocol":"TCP","port":80}': {"f:port": {}, ".": {}},
                                  'k:{"port":443.0,"protocol":"TCP"}': {".": {}}}},
           "x:unknown": {}, "f:metadata": {"f:labels": {".": {"ignored": {}}, "f:a": {}, "f:b": {}}}}
    assert FieldSet.from_fields_v1(odd) == fields
    assert json.dumps(FieldSet.from_fields_v1(odd).to_fields_v1()) == json.dumps(
        {**canonical, "f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}},
                                             'k:{"port":443.0,"protocol":"TCP"}': {}}}})


def test_a_decoded_set_less_some_paths_encodes_as_if_built_anew() -> None:
    fields = FieldSet.from_fields_v1(KUBECTL_CREATE_FIELDS_V1)
    paths = sorted(fields, key=path_string)
    rnd = random.Random(3)
    for _ in range(200):
        gone = rnd.sample(paths, rnd.randint(1, 12))
        less = fields - FieldSet(gone[:6]) - FieldSet(gone[6:])
        assert json.dumps(less.to_fields_v1()) == json.dumps(FieldSet(list(less)).to_fields_v1())
        assert less == FieldSet(p for p in paths if p not in gone)


def test_resolve_results_are_shared_per_referring_schema() -> None:
    referring = [prop for definition in schema_module.definitions().values()
                 for prop in (definition.get("properties") or {}).values()
                 if "$ref" in prop or "allOf" in prop]
    assert len(referring) > 500
    for prop in referring:
        first = schema_module.resolve(prop)
        assert schema_module.resolve(prop) is first
        ref = prop.get("$ref") or prop["allOf"][0]["$ref"]
        target = schema_module.definitions()[ref.removeprefix("#/$defs/")]
        extras = {k: v for k, v in prop.items() if k.startswith("x-kubernetes-")}
        assert first == ({**target, **extras} if extras else target)
