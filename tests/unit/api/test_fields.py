"""Field selectors: parsing and escaping, per-resource label checks, and registry field sets."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.api.fields import (
    EQUALS,
    NOT_EQUALS,
    FieldRequirement,
    FieldSelector,
    accepted_field_labels,
    escape_value,
    matches_object,
    object_fields,
    parse_field_selector,
    parse_for_resource,
    selector_from_set,
    unescape_value,
)


@pytest.mark.parametrize(("text", "terms", "canonical"), [
    ("", [], ""),
    (",", [], ""),
    ("metadata.name=web", [("metadata.name", EQUALS, "web")], "metadata.name=web"),
    ("a==b", [("a", EQUALS, "b")], "a=b"),
    ("a!=b", [("a", NOT_EQUALS, "b")], "a!=b"),
    ("x=1,a=2", [("a", EQUALS, "2"), ("x", EQUALS, "1")], "a=2,x=1"),  # terms sorted by their text
    ("a=", [("a", EQUALS, "")], "a="),
    ("a=b\\,c", [("a", EQUALS, "b,c")], "a=b\\,c"),
    ("a=b\\=c", [("a", EQUALS, "b=c")], "a=b\\=c"),
    ("a=b\\\\c", [("a", EQUALS, "b\\c")], "a=b\\\\c"),
    ("a = b", [("a ", EQUALS, " b")], "a = b"),  # upstream trims nothing
    ("involvedObject.name=web,involvedObject.kind=Pod",
     [("involvedObject.kind", EQUALS, "Pod"), ("involvedObject.name", EQUALS, "web")],
     "involvedObject.kind=Pod,involvedObject.name=web"),
])
def test_parse(text: str, terms: list[tuple[str, str, str]], canonical: str) -> None:
    selector = parse_field_selector(text)
    assert [(t.field, t.operator, t.value) for t in selector.requirements()] == terms
    assert str(selector) == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("a", "invalid selector: 'a'; can't understand 'a'"),
    ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ("a=\\q", "invalid field selector: invalid escape sequence: \\q"),
])
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as exc:
        parse_field_selector(text)
    assert exc.value.message == message


@pytest.mark.parametrize("value", ["", "plain", "a,b", "a=b", "a\\b", "\\,=", "ümlaut"])
def test_escape_round_trip(value: str) -> None:
    assert unescape_value(escape_value(value)) == value
    assert parse_field_selector("f=" + escape_value(value)).requires_exact_match("f") == value


@pytest.mark.parametrize(("text", "fields", "want"), [
    ("", {"a": "b"}, True),
    ("a=b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a=b", {}, False),
    ("a=", {}, True),  # a missing field reads as ""
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a=b,c=d", {"a": "b", "c": "d"}, True),
    ("a=b,c=d", {"a": "b", "c": "x"}, False),
])
def test_matches(text: str, fields: dict[str, str], want: bool) -> None:
    assert parse_field_selector(text).matches(fields) is want


def test_requires_exact_match_and_transform() -> None:
    selector = parse_field_selector("metadata.name=web,spec.nodeName!=n1")
    assert selector.requires_exact_match("metadata.name") == "web"
    assert selector.requires_exact_match("spec.nodeName") is None
    dropped = selector.transform(lambda f, v: ("", "") if f == "spec.nodeName" else (f, v))
    assert dropped == FieldSelector((FieldRequirement("metadata.name", EQUALS, "web"),))
    assert str(selector_from_set({"b": "1", "a": "2"})) == "a=2,b=1"
    assert FieldSelector().empty()


@pytest.mark.parametrize(("resource", "group", "text", "message"), [
    ("pods", "", "foo=bar", "field label not supported: foo"),
    ("nodes", "", "metadata.namespace=x", "field label not supported: metadata.namespace"),
    ("namespaces", "", "metadata.namespace=x", "field label not supported: metadata.namespace"),
    ("services", "", "spec.ports=x", "field label not supported: spec.ports"),
    ("events", "", "regarding.name=x", "field label not supported: regarding.name"),
    ("events", "events.k8s.io", "involvedObject.name=x", "field label not supported: involvedObject.name"),
    ("jobs", "batch", "status.succeeded=1", 'field label "status.succeeded" not supported for Job'),
    ("deployments", "apps", "status.replicas=1",
     '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("replicasets", "apps", "status.replicas=1",
     '"status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("configmaps", "", "data.x=1",
     '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ("certificatesigningrequests", "certificates.k8s.io", "spec.username=x",
     "field label not supported: spec.username"),
])
def test_unsupported_labels_are_bad_requests(resource: str, group: str, text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as exc:
        parse_for_resource(text, resource, group)
    assert exc.value.message == message


@pytest.mark.parametrize(("resource", "group", "text", "converted"), [
    ("pods", "", "spec.nodeName=n1,status.phase!=Running", "spec.nodeName=n1,status.phase!=Running"),
    ("pods", "", "spec.host=n1", "spec.nodeName=n1"),
    ("nodes", "", "spec.unschedulable=true", "spec.unschedulable=true"),
    ("events", "", "involvedObject.uid=u,reportingComponent=k", "involvedObject.uid=u,reportingComponent=k"),
    ("events", "events.k8s.io", "regarding.name=web,reportingController=c",
     "involvedObject.name=web,reportingComponent=c"),
    ("secrets", "", "type=kubernetes.io/tls", "type=kubernetes.io/tls"),
    ("jobs", "batch", "status.successful=1", "status.successful=1"),
    ("deployments", "apps", "metadata.name=web", "metadata.name=web"),
    ("certificatesigningrequests", "certificates.k8s.io", "spec.signerName=kubernetes.io/kubelet-serving",
     "spec.signerName=kubernetes.io/kubelet-serving"),
])
def test_supported_labels_convert(resource: str, group: str, text: str, converted: str) -> None:
    assert str(parse_for_resource(text, resource, group)) == converted


def test_accepted_labels() -> None:
    assert "spec.nodeName" in accepted_field_labels("pods", "")
    assert "spec.host" in accepted_field_labels("pods", "")
    assert accepted_field_labels("deployments", "apps") == {"metadata.name", "metadata.namespace"}


POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default", "hostNetwork": True},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
               "nominatedNodeName": "n2"},
}
CORE_EVENT: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "web.1", "namespace": "default"},
    "involvedObject": {"kind": "Deployment", "namespace": "default", "name": "web", "uid": "u-1",
                       "apiVersion": "apps/v1", "resourceVersion": "7", "fieldPath": "spec"},
    "reason": "ScalingReplicaSet", "type": "Normal", "source": {}, "reportingComponent": "deployment-controller",
}
NEW_EVENT: dict[str, Any] = {
    "apiVersion": "events.k8s.io/v1", "kind": "Event",
    "metadata": {"name": "web.2", "namespace": "default"},
    "regarding": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u-2"},
    "reason": "Scheduled", "type": "Normal", "reportingController": "default-scheduler",
    "deprecatedSource": {"component": "scheduler-src"},
}


@pytest.mark.parametrize(("resource", "group", "obj", "expected"), [
    ("pods", "", POD, {
        "metadata.name": "web-1", "metadata.namespace": "default", "spec.nodeName": "n1",
        "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
        "spec.serviceAccountName": "default", "spec.hostNetwork": "true", "status.phase": "Running",
        "status.podIP": "10.0.0.5", "status.nominatedNodeName": "n2",
    }),
    ("pods", "", {"metadata": {"name": "p", "namespace": "ns"}}, {
        "metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "", "spec.restartPolicy": "",
        "spec.schedulerName": "", "spec.serviceAccountName": "", "spec.hostNetwork": "false", "status.phase": "",
        "status.podIP": "", "status.nominatedNodeName": "",
    }),
    ("events", "", CORE_EVENT, {
        "metadata.name": "web.1", "metadata.namespace": "default", "involvedObject.kind": "Deployment",
        "involvedObject.namespace": "default", "involvedObject.name": "web", "involvedObject.uid": "u-1",
        "involvedObject.apiVersion": "apps/v1", "involvedObject.resourceVersion": "7",
        "involvedObject.fieldPath": "spec", "reason": "ScalingReplicaSet",
        "reportingComponent": "deployment-controller", "source": "deployment-controller", "type": "Normal",
    }),
    ("events", "events.k8s.io", NEW_EVENT, {
        "metadata.name": "web.2", "metadata.namespace": "default", "involvedObject.kind": "Pod",
        "involvedObject.namespace": "default", "involvedObject.name": "web-1", "involvedObject.uid": "u-2",
        "involvedObject.apiVersion": "", "involvedObject.resourceVersion": "", "involvedObject.fieldPath": "",
        "reason": "Scheduled", "reportingComponent": "default-scheduler", "source": "scheduler-src",
        "type": "Normal",
    }),
    ("nodes", "", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
     {"metadata.name": "n1", "spec.unschedulable": "true"}),
    ("nodes", "", {"metadata": {"name": "n1"}, "spec": {}}, {"metadata.name": "n1", "spec.unschedulable": "false"}),
    ("namespaces", "", {"metadata": {"name": "ns1"}, "status": {"phase": "Active"}},
     {"metadata.name": "ns1", "name": "ns1", "status.phase": "Active"}),
    ("secrets", "", {"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"},
     {"metadata.name": "s", "metadata.namespace": "d", "type": "Opaque"}),
    ("services", "", {"metadata": {"name": "s", "namespace": "d"}, "spec": {"clusterIP": "10.96.0.10",
                                                                           "type": "ClusterIP"}},
     {"metadata.name": "s", "metadata.namespace": "d", "spec.clusterIP": "10.96.0.10", "spec.type": "ClusterIP"}),
    ("replicasets", "apps", {"metadata": {"name": "r", "namespace": "d"}, "status": {"replicas": 3}},
     {"metadata.name": "r", "metadata.namespace": "d", "status.replicas": "3"}),
    ("replicationcontrollers", "", {"metadata": {"name": "r", "namespace": "d"}, "status": {}},
     {"metadata.name": "r", "metadata.namespace": "d", "status.replicas": "0"}),
    ("jobs", "batch", {"metadata": {"name": "j", "namespace": "d"}, "status": {"succeeded": 2}},
     {"metadata.name": "j", "metadata.namespace": "d", "status.successful": "2"}),
    ("certificatesigningrequests", "certificates.k8s.io",
     {"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kube-apiserver-client"}},
     {"metadata.name": "c", "spec.signerName": "kubernetes.io/kube-apiserver-client"}),
    ("configmaps", "", {"metadata": {"name": "cm", "namespace": "d"}},
     {"metadata.name": "cm", "metadata.namespace": "d"}),
    ("clusterroles", "rbac.authorization.k8s.io", {"metadata": {"name": "admin"}}, {"metadata.name": "admin"}),
])
def test_object_fields(resource: str, group: str, obj: dict[str, Any], expected: dict[str, str]) -> None:
    assert object_fields(resource, group, obj) == expected


def test_pod_ip_falls_back_to_pod_ip_field() -> None:
    pod = {"metadata": {"name": "p", "namespace": "d"}, "status": {"podIP": "10.1.1.1"}}
    assert object_fields("pods", "", pod)["status.podIP"] == "10.1.1.1"


def test_event_source_falls_back_to_reporting_controller() -> None:
    event = dict(NEW_EVENT, deprecatedSource={})
    assert object_fields("events", "events.k8s.io", event)["source"] == "default-scheduler"


def test_matches_object_end_to_end() -> None:
    drain = parse_for_resource("spec.nodeName=n1", "pods", "")
    assert matches_object(drain, "pods", "", POD)
    assert not matches_object(drain, "pods", "", dict(POD, spec={"nodeName": "n2"}))
    describe = parse_for_resource("regarding.name=web-1,regarding.kind=Pod", "events", "events.k8s.io")
    assert matches_object(describe, "events", "events.k8s.io", NEW_EVENT)
    assert not matches_object(describe, "events", "events.k8s.io", CORE_EVENT)
    assert matches_object(parse_for_resource("", "pods", ""), "pods", "", POD)
