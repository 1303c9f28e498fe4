"""The shortcuts that keep validation, defaulting and name checks cheap give the answers of the full checks."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from pyk8s.api import field_errors as fe
from pyk8s.api import validation_names as vn
from pyk8s.api.defaults import apply_defaults
from pyk8s.api.defaults.core import drop_nulls
from pyk8s.api.validation import common as c
from pyk8s.api.validation import validate_create

Obj = dict[str, Any]


# ---------------------------------------------------------------- drop_nulls


def _drop_nulls_reference(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None and not (key == "metadata" and k == "creationTimestamp")]:
            del value[k]
        for k, v in value.items():
            _drop_nulls_reference(v, k)
    elif isinstance(value, list):
        for v in value:
            _drop_nulls_reference(v, key)
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"a": None, "b": {"c": None, "d": [None, {"e": None}]}, "metadata": {"creationTimestamp": None, "x": None}},
        {"spec": {"template": {"metadata": {"creationTimestamp": None}}}, "s": "null", "n": "None"},
        {"no": "nulls", "here": [1, 2.5, True, {"k": "null"}]},
        {"metadata": [{"creationTimestamp": None, "other": None}]},
        {1: None, "set": {1, 2}, "bytes": b"null", "when": datetime.datetime(2026, 1, 1), "x": {"y": None}},
        {"big": 2**70, "x": None},
        [None, {"a": None}],
        None,
        "null",
    ],
)
def test_drop_nulls_matches_the_plain_walk(value: Any) -> None:
    expected = _drop_nulls_reference(copy.deepcopy(value))
    assert drop_nulls(value) == expected


def test_drop_nulls_deeply_nested() -> None:
    value: Obj = {"leaf": None}
    for _ in range(400):  # deeper than orjson serialises
        value = {"a": value}
    expected = _drop_nulls_reference(copy.deepcopy(value))
    assert drop_nulls(value) == expected


# ---------------------------------------------------------------- remembered valid names


@pytest.mark.parametrize(
    "check, good, bad",
    [
        (vn.is_qualified_name, "example.com/app", "-bad-"),
        (vn.is_dns1123_label, "web", "Web"),
        (vn.is_dns1123_subdomain, "a.b", "a..b"),
        (vn.is_dns1035_label, "svc", "1svc"),
        (vn.is_valid_label_value, "v1.2", "v 1"),
        (c.is_valid_port_name, "http", "HTTP"),
        (c.is_config_map_key, "a.conf", "a/b"),
    ],
)
def test_remembered_valid_values(check: Any, good: str, bad: str) -> None:
    bad_messages = check(bad)
    assert bad_messages
    for _ in range(3):
        result = check(good)
        assert result == []
        result.append("caller's own list")  # a caller may extend what it got
    assert check(good) == []
    assert check(bad) == bad_messages


def test_remembered_values_stay_bounded() -> None:
    for n in range(vn._MAX_REMEMBERED + 10):
        assert vn.is_valid_label_value(f"v{n}") == []
    assert len(vn._VALID_LABEL_VALUES) <= vn._MAX_REMEMBERED
    assert vn.is_valid_label_value("v1") == []


def test_non_ascii_lengths_count_bytes() -> None:
    assert vn.is_valid_label_value("é" * 32) != []  # 64 bytes, 32 characters
    assert vn.is_dns1123_label("a" * 63) == []


# ---------------------------------------------------------------- paths


def test_paths_render_compare_and_hash() -> None:
    p = fe.Path.of("spec", "containers").index(0).child("env").index(2).child("valueFrom", "fieldRef")
    assert str(p) == "spec.containers[0].env[2].valueFrom.fieldRef"
    assert str(fe.Path.of()) == ""
    assert str(fe.Path.of().child("x")) == "x"
    assert str(fe.Path.of("a", "", "b")) == "a[].b"
    assert str(fe.Path.of("").child("a")) == "[].a"
    assert str(fe.Path.of("m").key("k.io/x")) == "m[k.io/x]"
    assert fe.Path.of("a").child("b") == fe.Path.of("a", "b")
    assert len({fe.Path.of("a").index(1), fe.Path.of("a").index(1)}) == 1
    assert fe.required(p).field == str(p)


# ---------------------------------------------------------------- validation: skipped checks still fire when needed


def _pod(**container: Any) -> Obj:
    ctr = {"name": "c", "image": "busybox", **container}
    obj: Obj = {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [ctr]}}
    apply_defaults("", "v1", "Pod", obj)
    return obj


def _errors(obj: Obj) -> list[str]:
    return [str(e) for e in validate_create("", "v1", "Pod", obj)]


def test_valid_pod_has_no_errors() -> None:
    env = [
        {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "k.conf"}}},
    ]
    assert _errors(_pod(env=env, ports=[{"containerPort": 80, "name": "http"}])) == []


@pytest.mark.parametrize(
    "container, expected",
    [
        (
            {"env": [{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
            ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty'],
        ),
        (
            {"env": [{"name": "A", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}}]},
            [
                'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: "metadata.name": '
                "error converting fieldPath: unsupported pod version: v2"
            ],
        ),
        (
            {"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "S", "key": "k"}}}]},
            ['spec.containers[0].env[0].valueFrom.secretKeyRef.name: Invalid value: "S": ' + vn.regex_error(
                vn._DNS1123_SUBDOMAIN_MSG, vn.DNS1123_SUBDOMAIN_FMT, "example.com")],
        ),
        (
            {"ports": [{"containerPort": 80, "protocol": "tcp"}]},
            ['spec.containers[0].ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"'],
        ),
        (
            {"ports": [{"containerPort": 70000, "hostPort": -1}]},
            [
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, "
                "inclusive",
                "spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
            ],
        ),
        (
            {"resources": {"limits": {"cpu": "-1"}, "requests": {"memory": "-5Mi"}}},
            [
                'spec.containers[0].resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0',
                'spec.containers[0].resources.requests[memory]: Invalid value: "-5Mi": must be greater than or equal '
                "to 0",
                'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0',
            ],
        ),
        (
            {"readinessProbe": {"tcpSocket": {"port": "Bad_Name"}, "periodSeconds": -1}},
            [
                'spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: "Bad_Name": must contain only '
                "alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal "
                "to 0",
            ],
        ),
        (
            {"securityContext": {"runAsUser": -1}, "terminationMessagePolicy": "Sometimes"},
            [
                'spec.containers[0].terminationMessagePolicy: Unsupported value: "Sometimes": supported values: '
                '"File", "FallbackToLogsOnError"',
                "spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, "
                "inclusive",
            ],
        ),
    ],
)
def test_skipped_checks_still_report(container: Obj, expected: list[str]) -> None:
    assert _errors(_pod(**container)) == expected


def test_volume_sources_are_reported_in_upstream_order() -> None:
    obj = _pod(volumeMounts=[{"name": "v", "mountPath": "/v"}])
    obj["spec"]["volumes"] = [{"name": "v", "secret": {"secretName": "s"}, "hostPath": {"path": "/x"}, "emptyDir": {}}]
    errs = _errors(obj)
    assert "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type" in errs
    assert "spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type" in errs
    assert errs.index("spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type") < errs.index(
        "spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type"
    )


def test_host_port_conflicts_still_found() -> None:
    obj = _pod(ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81, "hostPort": 8080}])
    assert _errors(obj) == ['spec.containers[0].ports[1].hostPort: Duplicate value: "TCP//8080"']


def test_metadata_checks_still_report() -> None:
    obj = _pod()
    obj["metadata"].update(
        {"generation": -1, "labels": {"a b": "c"}, "finalizers": ["orphan", "foregroundDeletion"]}
    )
    errs = _errors(obj)
    assert errs[0] == "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    assert errs[1].startswith('metadata.labels: Invalid value: "a b": name part must consist of alphanumeric')
    assert errs[-1].startswith("metadata.finalizers: Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer")
