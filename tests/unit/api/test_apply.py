"""Server-side apply and managedFields: ownership, pruning, conflicts and the FieldsV1 encoding upstream stores."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.api.apply import LAST_APPLIED_ANNOTATION, decode_apply_patch, server_side_apply
from pyk8s.api.managedfields import (
    FieldSet,
    fields_of,
    fpath,
    manager_from_user_agent,
    path_string,
    update_managed_fields,
)
from pyk8s.api.schema import for_kind

DEPLOYMENT = for_kind("apps", "v1", "Deployment")
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
