"""reference/reliability-anchors.md section 5: each bad request gets upstream's code and reason; the server stays up."""

from __future__ import annotations

import json

import pytest

from tests.integration.http import AdminHTTP


def pod(name: str, **extra: object) -> dict:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    body.update(extra)
    return body


def expect(reply, code: int, reason: str | None, contains: str = "") -> dict:
    assert reply.status == code, (reply.status, reply.body[:500])
    status = reply.json()
    assert status["kind"] == "Status" and status["status"] == "Failure", status
    assert status["code"] == code
    if reason is not None:
        assert status.get("reason") == reason, status
    assert contains in status["message"], status["message"]
    return status


def test_broken_json_and_yaml(api: AdminHTTP, ns: str) -> None:
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods", b'{"kind": "Pod",', headers={"Content-Type": "application/json"}),
           400, "BadRequest")
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods", b"kind: [Pod\n  x: : y",
                       headers={"Content-Type": "application/yaml"}), 400, "BadRequest")


def test_unsupported_media_type(api: AdminHTTP, ns: str) -> None:
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods", b"hello", headers={"Content-Type": "text/plain"}),
           415, "UnsupportedMediaType", "the body of the request was in an unknown format")


def test_missing_content_type_is_json(api: AdminHTTP, ns: str) -> None:
    r = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                    json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "noct"}}).encode())
    assert r.status == 201, r.body


def test_body_over_3_mib(api: AdminHTTP, ns: str) -> None:
    big = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"' + b"x" * (3 * 1024 * 1024) + b'"}}'
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", big, headers={"Content-Type": "application/json"}),
           413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def test_configmap_over_1_mib(api: AdminHTTP, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fat"}, "data": {"a": "x" * (1024 * 1024 + 1)}}
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body), 422, "Invalid", "Too long")


def test_bad_names(api: AdminHTTP, ns: str) -> None:
    s = expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("My_Pod")), 422, "Invalid",
               'Pod "My_Pod" is invalid: metadata.name: Invalid value: "My_Pod": a lowercase RFC 1123 subdomain')
    assert s["details"]["causes"][0]["field"] == "metadata.name"
    expect(api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "a.b"}}), 422, "Invalid", "must not contain dots")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1svc"},
           "spec": {"ports": [{"port": 80}]}}
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/services", svc), 422, "Invalid", "a DNS-1035 label must consist of")


def test_name_required(api: AdminHTTP, ns: str) -> None:
    body = pod("x")
    del body["metadata"]["name"]
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods", body), 422, "Invalid",
           "name or generateName is required")


def test_field_validation_modes(api: AdminHTTP, ns: str) -> None:
    body = pod("strict")
    body["spec"]["foo"] = 1
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Strict", body), 400, "BadRequest",
           'strict decoding error: unknown field "spec.foo"')
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods", body)
    assert r.status == 201
    assert '299 - "unknown field \\"spec.foo\\""' in r.headers.get_all("Warning", []), r.headers
    assert "foo" not in r.json()["spec"]
    body["metadata"]["name"] = "ignored"
    r = api.request("POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Ignore", body)
    assert r.status == 201 and not r.headers.get_all("Warning")
    dup = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"}}'
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", dup,
                       headers={"Content-Type": "application/json"}), 400, "BadRequest", "duplicate field")
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Bogus", pod("b")), 422, "Invalid",
           'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Bogus"')
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=Bogus", pod("b")), 422, "Invalid", "dryRun")


def test_namespace_and_name_mismatch(api: AdminHTTP, ns: str) -> None:
    body = pod("mm")
    body["metadata"]["namespace"] = "other"
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/pods", body), 400, "BadRequest",
           "the namespace of the provided object does not match the namespace sent on the request")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    assert api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm).status == 201
    cm["metadata"]["name"] = "b"
    expect(api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/a", cm), 400, "BadRequest",
           "the name of the object (b) does not match the name on the URL (a)")


def test_conflicts(api: AdminHTTP, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": "1"}}
    created = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm).json()
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm), 409, "AlreadyExists",
           'configmaps "c" already exists')
    first = dict(created, data={"v": "2"})
    assert api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/c", first).status == 200
    stale = dict(created, data={"v": "3"})
    expect(api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/c", stale), 409, "Conflict",
           'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
           "please apply your changes to the latest version and try again")
    expect(api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/c",
                       {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "nope"}}),
           409, "Conflict", "Precondition failed: UID in precondition: nope")


def test_missing_and_terminating_namespace(api: AdminHTTP) -> None:
    expect(api.request("POST", "/api/v1/namespaces/does-not-exist/pods", pod("p")), 404, "NotFound",
           'namespaces "does-not-exist" not found')
    name = "term-test-ns"
    api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    r = api.request("DELETE", f"/api/v1/namespaces/{name}")
    assert r.status == 200 and r.json()["status"]["phase"] == "Terminating"
    expect(api.request("POST", f"/api/v1/namespaces/{name}/pods", pod("p")), 403, "Forbidden",
           f"unable to create new content in namespace {name} because it is being terminated")


def test_immutable_pod_field(api: AdminHTTP, ns: str) -> None:
    created = api.request("POST", f"/api/v1/namespaces/{ns}/pods", pod("imm")).json()
    created["spec"]["containers"][0]["name"] = "renamed"
    expect(api.request("PUT", f"/api/v1/namespaces/{ns}/pods/imm", created), 422, "Invalid",
           "pod updates may not change fields other than")


def test_no_credentials(api: AdminHTTP) -> None:
    expect(api.request("GET", "/api/v1/pods", anonymous=True), 401, "Unauthorized", "Unauthorized")


@pytest.mark.parametrize("path", ["/api/v1/foos", "/apis/apps/v1/namespaces/default/widgets/x"])
def test_unknown_resource(api: AdminHTTP, path: str) -> None:
    expect(api.request("GET", path), 404, "NotFound", "the server could not find the requested resource")


def test_patch_errors(api: AdminHTTP, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}}
    api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    path = f"/api/v1/namespaces/{ns}/configmaps/p"
    expect(api.request("PATCH", path, b"{}", headers={"Content-Type": "application/json"}), 415,
           "UnsupportedMediaType")
    expect(api.request("PATCH", path, b"{not json", headers={"Content-Type": "application/merge-patch+json"}), 400,
           "BadRequest")
    expect(api.request("PATCH", path, b'[{"op":"remove","path":"/data/nope"}]',
                       headers={"Content-Type": "application/json-patch+json"}), 422, "Invalid")
    ops = json.dumps([{"op": "test", "path": "/kind", "value": "ConfigMap"}] * 10001).encode()
    expect(api.request("PATCH", path, ops, headers={"Content-Type": "application/json-patch+json"}), 413,
           "RequestEntityTooLarge")


def test_not_acceptable(api: AdminHTTP) -> None:
    expect(api.request("GET", "/api/v1/namespaces", headers={"Accept": "image/png"}), 406, "NotAcceptable")


def test_server_still_up(api: AdminHTTP) -> None:
    assert api.request("GET", "/readyz").status == 200


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_wrong_json_types_are_400_before_defaulting(api: AdminHTTP, ns: str, method: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"typed-{method.lower()}"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    if method == "PUT":
        assert api.request("POST", base, body).status == 201
    body["spec"]["replicas"] = "three"
    path = base if method == "POST" else f"{base}/{body['metadata']['name']}"
    expect(api.request(method, path, body), 400, "BadRequest",
           'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go '
           "struct field DeploymentSpec.spec.replicas of type int32")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": "oops"}
    expect(api.request("POST", f"/apis/batch/v1/namespaces/{ns}/jobs", job), 400, "BadRequest",
           "cannot unmarshal string into Go struct field Job.spec of type v1.JobSpec")


def test_yaml_alias_bomb_is_refused_and_yaml_scalars_become_strings(api: AdminHTTP, ns: str) -> None:
    levels = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))
    bomb = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n"
            + levels).encode()
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", bomb,
                       headers={"Content-Type": "application/yaml"}), 400, "BadRequest", "excessive aliasing")
    doc = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scalars\n  annotations: {when: 2020-01-01}\ndata: {1: a}\n"
    r = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", doc, headers={"Content-Type": "application/yaml"})
    assert r.status == 201, r.body
    assert r.json()["data"] == {"1": "a"} and r.json()["metadata"]["annotations"] == {"when": "2020-01-01"}


def test_deeply_nested_json_is_400(api: AdminHTTP, ns: str) -> None:
    body = b'{"a":' * 5000 + b"1" + b"}" * 5000
    expect(api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body,
                       headers={"Content-Type": "application/json"}), 400, "BadRequest")


def test_writes_to_the_all_namespaces_path_are_405(api: AdminHTTP) -> None:
    expect(api.request("DELETE", "/api/v1/configmaps"), 405, "MethodNotAllowed")
    expect(api.request("POST", "/api/v1/pods", pod("x")), 405, "MethodNotAllowed")


def test_malformed_delete_options_and_scale_patches_are_400(api: AdminHTTP, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}}
    api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    expect(api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/d", {"preconditions": "x"}), 400, "BadRequest")
    expect(api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/d", {"dryRun": "All"}), 400, "BadRequest")
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "s"},
           "spec": {"selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    assert api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", dep).status == 201
    scale = f"/apis/apps/v1/namespaces/{ns}/deployments/s/scale"
    expect(api.request("PATCH", scale, b"{nope", headers={"Content-Type": "application/merge-patch+json"}), 400,
           "BadRequest")
    expect(api.request("PATCH", scale, b'[{"op":"replace","path":"","value":3}]',
                       headers={"Content-Type": "application/json-patch+json"}), 422, "Invalid")
    expect(api.request("PATCH", scale, b'"three"', headers={"Content-Type": "application/merge-patch+json"}), 400,
           "BadRequest")


def test_repeating_a_pending_delete_writes_nothing(api: AdminHTTP, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
    first = api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/held").json()
    again = api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/held").json()
    assert first["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    assert first["metadata"]["deletionTimestamp"] == again["metadata"]["deletionTimestamp"]
    api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/held", b'{"metadata":{"finalizers":null}}',
                headers={"Content-Type": "application/merge-patch+json"})
    assert api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/held").status == 404
