"""Upstream validation rules: exact field paths and messages, create and update, for every kind."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.api import field_errors as fe
from pyk8s.api.defaults import apply_defaults
from pyk8s.api.defaults.batch import generate_job_selector
from pyk8s.api.validation import validate_create, validate_update
from pyk8s.api.validation.batch import CronError, parse_schedule
from pyk8s.api.validation_names import is_dns1123_label

Obj = dict[str, Any]

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


# ---------------------------------------------------------------- fixtures (defaulted, valid objects)


def _defaulted(group: str, version: str, kind: str, obj: Obj) -> Obj:
    apply_defaults(group, version, kind, obj)
    return obj


def pod() -> Obj:
    return _defaulted(
        "",
        "v1",
        "Pod",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": None},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1.25",
                        "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        },
    )


def template(labels: Obj | None = None, restart: str | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "busybox"}]}
    if restart:
        spec["restartPolicy"] = restart
    return {"metadata": {"labels": labels if labels is not None else {"app": "web"}}, "spec": spec}


def deployment() -> Obj:
    return _defaulted(
        "apps",
        "v1",
        "Deployment",
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "strategy": {}, "template": template()},
        },
    )


def service() -> Obj:
    return _defaulted(
        "",
        "v1",
        "Service",
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )


def job() -> Obj:
    obj = _defaulted(
        "batch",
        "v1",
        "Job",
        {
            "metadata": {"name": "pi", "namespace": "default", "uid": "1234"},
            "spec": {"template": template({}, "Never")},
        },
    )
    generate_job_selector(obj)
    return obj


def csr() -> Obj:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    req = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "jane")]))
        .sign(key, hashes.SHA256())
    )
    pem = req.public_bytes(serialization.Encoding.PEM)
    return {
        "metadata": {"name": "jane"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }


def cron_job() -> Obj:
    return _defaulted(
        "batch",
        "v1",
        "CronJob",
        {
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template({}, "OnFailure")}}},
        },
    )


VALID: dict[str, tuple[str, str, str, Callable[[], Obj]]] = {
    "pod": ("", "v1", "Pod", pod),
    "deployment": ("apps", "v1", "Deployment", deployment),
    "service": ("", "v1", "Service", service),
    "job": ("batch", "v1", "Job", job),
    "cronjob": ("batch", "v1", "CronJob", cron_job),
    "namespace": ("", "v1", "Namespace", lambda: _defaulted("", "v1", "Namespace", {"metadata": {"name": "team-a"}})),
    "configmap": (
        "",
        "v1",
        "ConfigMap",
        lambda: {"metadata": {"name": "cfg", "namespace": "default"}, "data": {"a.txt": "x"}},
    ),
    "secret": (
        "",
        "v1",
        "Secret",
        lambda: _defaulted(
            "",
            "v1",
            "Secret",
            {"metadata": {"name": "s", "namespace": "default"}, "stringData": {"password": "hunter2"}},
        ),
    ),
    "replicaset": (
        "apps",
        "v1",
        "ReplicaSet",
        lambda: _defaulted(
            "apps",
            "v1",
            "ReplicaSet",
            {
                "metadata": {"name": "rs", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()},
            },
        ),
    ),
    "daemonset": (
        "apps",
        "v1",
        "DaemonSet",
        lambda: _defaulted(
            "apps",
            "v1",
            "DaemonSet",
            {
                "metadata": {"name": "ds", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()},
            },
        ),
    ),
    "statefulset": (
        "apps",
        "v1",
        "StatefulSet",
        lambda: _defaulted(
            "apps",
            "v1",
            "StatefulSet",
            {
                "metadata": {"name": "db", "namespace": "default"},
                "spec": {
                    "serviceName": "db",
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": template(),
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                        }
                    ],
                },
            },
        ),
    ),
    "node": (
        "",
        "v1",
        "Node",
        lambda: _defaulted(
            "",
            "v1",
            "Node",
            {
                "metadata": {"name": "node-1"},
                "spec": {"podCIDRs": ["10.244.0.0/24"]},
                "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
            },
        ),
    ),
    "pvc": (
        "",
        "v1",
        "PersistentVolumeClaim",
        lambda: _defaulted(
            "",
            "v1",
            "PersistentVolumeClaim",
            {
                "metadata": {"name": "data", "namespace": "default"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            },
        ),
    ),
    "pv": (
        "",
        "v1",
        "PersistentVolume",
        lambda: _defaulted(
            "",
            "v1",
            "PersistentVolume",
            {
                "metadata": {"name": "pv1"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "capacity": {"storage": "1Gi"},
                    "hostPath": {"path": "/mnt/x"},
                },
            },
        ),
    ),
    "lease": (
        "coordination.k8s.io",
        "v1",
        "Lease",
        lambda: {
            "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
        },
    ),
    "endpointslice": (
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        lambda: _defaulted(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            {
                "metadata": {"name": "web-abc", "namespace": "default"},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.244.1.5"]}],
                "ports": [{"port": 80}],
            },
        ),
    ),
    "hpa": (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        lambda: _defaulted(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            {
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "maxReplicas": 5,
                },
            },
        ),
    ),
    "pdb": (
        "policy",
        "v1",
        "PodDisruptionBudget",
        lambda: {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
        },
    ),
    "priorityclass": (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        lambda: _defaulted("scheduling.k8s.io", "v1", "PriorityClass", {"metadata": {"name": "high"}, "value": 1000}),
    ),
    "role": (
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        lambda: {
            "metadata": {"name": "reader", "namespace": "default"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    ),
    "rolebinding": (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        lambda: _defaulted(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            {
                "metadata": {"name": "read", "namespace": "default"},
                "roleRef": {"kind": "Role", "name": "reader"},
                "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default"}],
            },
        ),
    ),
    "event": (
        "",
        "v1",
        "Event",
        lambda: {
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started",
        },
    ),
    "limitrange": (
        "",
        "v1",
        "LimitRange",
        lambda: _defaulted(
            "",
            "v1",
            "LimitRange",
            {
                "metadata": {"name": "lr", "namespace": "default"},
                "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"cpu": "100m"}}]},
            },
        ),
    ),
    "csr": ("certificates.k8s.io", "v1", "CertificateSigningRequest", csr),
    "events.k8s.io": (
        "events.k8s.io",
        "v1",
        "Event",
        lambda: {
            "metadata": {"name": "web.1", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "type": "Normal",
            "reason": "Started",
            "action": "Start",
            "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
        },
    ),
    "endpoints": (
        "",
        "v1",
        "Endpoints",
        lambda: _defaulted(
            "",
            "v1",
            "Endpoints",
            {
                "metadata": {"name": "web", "namespace": "default"},
                "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 80}]}],
            },
        ),
    ),
    "podtemplate": (
        "",
        "v1",
        "PodTemplate",
        lambda: _defaulted(
            "", "v1", "PodTemplate", {"metadata": {"name": "t", "namespace": "default"}, "template": template()}
        ),
    ),
    "rc": (
        "",
        "v1",
        "ReplicationController",
        lambda: _defaulted(
            "",
            "v1",
            "ReplicationController",
            {"metadata": {"name": "rc", "namespace": "default"}, "spec": {"template": template()}},
        ),
    ),
    "serviceaccount": ("", "v1", "ServiceAccount", lambda: {"metadata": {"name": "default", "namespace": "default"}}),
    "clusterrole": (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        lambda: {"metadata": {"name": "system:reader"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]},
    ),
    "clusterrolebinding": (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        lambda: _defaulted(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            {
                "metadata": {"name": "read"},
                "roleRef": {"kind": "ClusterRole", "name": "system:reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}],
            },
        ),
    ),
    "hpa-v1": (
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        lambda: _defaulted(
            "autoscaling",
            "v1",
            "HorizontalPodAutoscaler",
            {
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                    "maxReplicas": 5,
                    "targetCPUUtilizationPercentage": 50,
                },
            },
        ),
    ),
    "controllerrevision": (
        "apps",
        "v1",
        "ControllerRevision",
        lambda: {"metadata": {"name": "web-1", "namespace": "default"}, "data": {"spec": {}}, "revision": 1},
    ),
    "resourcequota": (
        "",
        "v1",
        "ResourceQuota",
        lambda: {
            "metadata": {"name": "rq", "namespace": "default"},
            "spec": {"hard": {"pods": "10", "requests.cpu": "4"}},
        },
    ),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_defaulting_is_idempotent(name: str) -> None:
    group, version, kind, make = VALID[name]
    obj = make()
    again = copy.deepcopy(obj)
    apply_defaults(group, version, kind, again)
    assert again == obj


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_objects_pass(name: str) -> None:
    group, version, kind, make = VALID[name]
    obj = make()
    assert [str(e) for e in validate_create(group, version, kind, obj)] == []
    updated = copy.deepcopy(obj)
    updated["metadata"]["resourceVersion"] = "5"
    assert [str(e) for e in validate_update(group, version, kind, updated, obj)] == []


# ---------------------------------------------------------------- rendering and the 422


def test_field_error_bodies_match_upstream() -> None:
    assert fe.required("spec.x").body() == "Required value"
    assert fe.required("spec.x", "why").body() == "Required value: why"
    assert fe.invalid("spec.x", 'a"b', "bad").body() == 'Invalid value: "a\\"b": bad'
    assert fe.invalid("spec.x", 5, "bad").body() == "Invalid value: 5: bad"
    assert fe.invalid("spec.x", True, "bad").body() == "Invalid value: true: bad"
    assert fe.invalid("spec.x", {"b": "2", "a": "<"}, "bad").body() == 'Invalid value: {"a":"\\u003c","b":"2"}: bad'
    assert fe.not_supported("f", "X", ["A", "B"]).body() == 'Unsupported value: "X": supported values: "A", "B"'
    assert fe.forbidden("f", "no").body() == "Forbidden: no"
    assert fe.too_long("f", 1048576).body() == "Too long: may not be more than 1048576 bytes"
    assert fe.duplicate("f", "x").body() == 'Duplicate value: "x"'
    assert fe.not_found("f", "x").body() == 'Not found: "x"'
    assert fe.invalid("f", fe.OMIT, "bad").body() == "Invalid value: bad"


def test_paths_render_like_upstream() -> None:
    p = fe.Path.of("spec").child("containers").index(0).child("image")
    assert str(p) == "spec.containers[0].image"
    assert str(fe.Path.of("metadata", "labels").key("app")) == "metadata.labels[app]"
    assert str(fe.Path.of("")) == "[]"


def test_invalid_error_is_the_upstream_422() -> None:
    obj = pod()
    obj["metadata"]["name"] = "My_Pod"
    err = fe.invalid_error("Pod", "", "My_Pod", validate_create("", "v1", "Pod", obj))
    assert isinstance(err, errors.Invalid)
    status = err.status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["message"] == f'Pod "My_Pod" is invalid: metadata.name: Invalid value: "My_Pod": {SUBDOMAIN_MSG}'
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": f'Invalid value: "My_Pod": {SUBDOMAIN_MSG}',
            "field": "metadata.name",
        }
    ]


# ---------------------------------------------------------------- create: table of rules


def _set(path: str, value: Any) -> Callable[[Obj], None]:
    def mutate(obj: Obj) -> None:
        cur: Any = obj
        keys = path.split(".")
        for k in keys[:-1]:
            cur = cur[int(k)] if isinstance(cur, list) else cur.setdefault(k, {})
        last = keys[-1]
        if value is _DELETE:
            del cur[int(last) if isinstance(cur, list) else last]
        elif isinstance(cur, list):
            cur[int(last)] = value
        else:
            cur[last] = value

    return mutate


_DELETE = object()

CREATE_CASES: list[tuple[str, str, Callable[[Obj], None], list[str]]] = [
    # ObjectMeta
    ("pod", "no name", _set("metadata.name", ""), ["metadata.name: Required value: name or generateName is required"]),
    (
        "pod",
        "bad generateName",
        lambda o: o["metadata"].update(name="x", generateName="Web-"),
        [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN_MSG}'],
    ),
    ("pod", "no namespace", _set("metadata.namespace", ""), ["metadata.namespace: Required value"]),
    (
        "pod",
        "bad label value",
        _set("metadata.labels", {"app": "a b"}),
        [
            'metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
            "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ],
    ),
    (
        "pod",
        "annotations too big",
        _set("metadata.annotations", {"a": "x" * (256 * 1024)}),
        ["metadata.annotations: Too long: may not be more than 262144 bytes"],
    ),
    (
        "pod",
        "unqualified finalizer",
        _set("metadata.finalizers", ["foo"]),
        [
            'metadata.finalizers[0]: Invalid value: "foo": name is neither a standard finalizer name nor is it fully '
            "qualified"
        ],
    ),
    (
        "pod",
        "owner reference without uid",
        _set("metadata.ownerReferences", [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]),
        ["metadata.ownerReferences[0].uid: Required value: must not be empty"],
    ),
    (
        "namespace",
        "namespace name with a dot",
        _set("metadata.name", "team.a"),
        ['metadata.name: Invalid value: "team.a": must not contain dots'],
    ),
    (
        "namespace",
        "namespace name too long",
        _set("metadata.name", "a" * 64),
        [f'metadata.name: Invalid value: "{"a" * 64}": {m}' for m in is_dns1123_label("a" * 64)],
    ),
    (
        "service",
        "service name starting with a digit",
        _set("metadata.name", "1web"),
        [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}'],
    ),
    (
        "statefulset",
        "statefulset name is a DNS label",
        _set("metadata.name", "db.x"),
        ['metadata.name: Invalid value: "db.x": must not contain dots'],
    ),
    # Pod
    ("pod", "no containers", _set("spec.containers", []), ["spec.containers: Required value"]),
    (
        "pod",
        "container name not a label",
        _set("spec.containers.0.name", "Web"),
        [f'spec.containers[0].name: Invalid value: "Web": {LABEL_MSG}'],
    ),
    (
        "pod",
        "duplicate container names",
        lambda o: o["spec"]["containers"].append(copy.deepcopy(o["spec"]["containers"][0])),
        ['spec.containers[1].name: Duplicate value: "web"'],
    ),
    ("pod", "no image", _set("spec.containers.0.image", ""), ["spec.containers[0].image: Required value"]),
    (
        "pod",
        "image with whitespace",
        _set("spec.containers.0.image", " nginx"),
        ['spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace'],
    ),
    (
        "pod",
        "port out of range",
        _set("spec.containers.0.ports.0.containerPort", 70000),
        ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"],
    ),
    (
        "pod",
        "bad protocol",
        _set("spec.containers.0.ports.0.protocol", "HTTP"),
        ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'],
    ),
    (
        "pod",
        "restartPolicy",
        _set("spec.restartPolicy", "Sometimes"),
        ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'],
    ),
    (
        "pod",
        "dnsPolicy",
        _set("spec.dnsPolicy", "Google"),
        [
            'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", '
            '"Default", "None"'
        ],
    ),
    (
        "pod",
        "request above limit",
        _set("spec.containers.0.resources.requests.cpu", "1"),
        ['spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m'],
    ),
    (
        "pod",
        "unknown resource",
        _set("spec.containers.0.resources.limits.gpu", "1"),
        [
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully '
            "qualified",
            'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a '
            "standard resource for containers",
        ],
    ),
    (
        "pod",
        "mount of unknown volume",
        _set("spec.containers.0.volumeMounts.0.name", "nope"),
        ['spec.containers[0].volumeMounts[0].name: Not found: "nope"'],
    ),
    (
        "pod",
        "duplicate volume names",
        lambda o: o["spec"]["volumes"].append({"name": "data", "emptyDir": {}}),
        ['spec.volumes[1].name: Duplicate value: "data"'],
    ),
    (
        "pod",
        "two volume sources",
        _set("spec.volumes.0.hostPath", {"path": "/x", "type": ""}),
        [
            "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        ],
    ),
    (
        "pod",
        "no volume source",
        _set("spec.volumes.0.emptyDir", _DELETE),
        [
            "spec.volumes[0]: Required value: must specify a volume type",
            'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        ],
    ),
    (
        "pod",
        "env var name with '='",
        _set("spec.containers.0.env", [{"name": "A=B", "value": "1"}]),
        [
            'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
            "of printable ASCII characters other than '='"
        ],
    ),
    (
        "pod",
        "env valueFrom without a source",
        _set("spec.containers.0.env", [{"name": "A", "valueFrom": {}}]),
        [
            'spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: '
            "`fieldRef`, `resourceFieldRef`, "
            "`configMapKeyRef` or `secretKeyRef`"
        ],
    ),
    (
        "pod",
        "liveness successThreshold",
        _set(
            "spec.containers.0.livenessProbe",
            {
                "exec": {"command": ["true"]},
                "timeoutSeconds": 1,
                "periodSeconds": 10,
                "successThreshold": 2,
                "failureThreshold": 3,
            },
        ),
        ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
    ),
    (
        "pod",
        "probe without handler",
        _set(
            "spec.containers.0.readinessProbe",
            {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
        ),
        ["spec.containers[0].readinessProbe: Required value: must specify a handler type"],
    ),
    (
        "pod",
        "ephemeral containers on create",
        _set(
            "spec.ephemeralContainers",
            [{"name": "dbg", "image": "busybox", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}],
        ),
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
    ),
    (
        "pod",
        "toleration with empty key",
        _set("spec.tolerations", [{"operator": "Equal", "value": "x"}]),
        [
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
            'means "match all values and all keys"'
        ],
    ),
    (
        "pod",
        "activeDeadlineSeconds",
        _set("spec.activeDeadlineSeconds", 0),
        ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"],
    ),
    # Deployment and friends
    (
        "deployment",
        "no selector",
        _set("spec.selector", _DELETE),
        [
            "spec.selector: Required value",
            'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
        ],
    ),
    (
        "deployment",
        "selector does not match",
        _set("spec.selector.matchLabels.app", "db"),
        ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'],
    ),
    (
        "deployment",
        "empty selector",
        _set("spec.selector", {}),
        ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
    ),
    (
        "deployment",
        "negative replicas",
        _set("spec.replicas", -1),
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
    ),
    (
        "deployment",
        "template restartPolicy",
        _set("spec.template.spec.restartPolicy", "Never"),
        ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ),
    (
        "deployment",
        "maxSurge and maxUnavailable both 0",
        _set("spec.strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": 0}),
        ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"],
    ),
    (
        "deployment",
        "strategy type",
        _set("spec.strategy", {"type": "BlueGreen"}),
        ['spec.strategy: Unsupported value: {"type":"BlueGreen"}: supported values: "Recreate", "RollingUpdate"'],
    ),
    (
        "deployment",
        "bad percent",
        _set("spec.strategy.rollingUpdate.maxSurge", "25"),
        [
            'spec.strategy.rollingUpdate.maxSurge: Invalid value: "25": a valid percent '
            "string must be a numeric string "
            "followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
        ],
    ),
    (
        "deployment",
        "progressDeadlineSeconds",
        _set("spec.minReadySeconds", 600),
        ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"],
    ),
    (
        "daemonset",
        "surge and unavailable",
        _set("spec.updateStrategy.rollingUpdate.maxSurge", 1),
        [
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set "
            "when maxUnavailable is non-zero"
        ],
    ),
    (
        "statefulset",
        "podManagementPolicy",
        _set("spec.podManagementPolicy", "Random"),
        ["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"],
    ),
    (
        "replicaset",
        "empty selector",
        _set("spec.selector", {}),
        ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"],
    ),
    # Job and CronJob
    (
        "job",
        "restartPolicy Always",
        _set("spec.template.spec.restartPolicy", "Always"),
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
    ),
    (
        "job",
        "negative backoffLimit",
        _set("spec.backoffLimit", -1),
        ["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"],
    ),
    (
        "job",
        "negative completions",
        _set("spec.completions", -2),
        ["spec.completions: Invalid value: -2: must be greater than or equal to 0"],
    ),
    (
        "job",
        "selector not generated",
        _set("spec.selector", {"matchLabels": {"a": "b"}}),
        [
            'spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` not auto-generated',
            'spec.template.metadata.labels: Invalid value: {"batch.kubernetes.io/controller-uid":"1234",'
            '"batch.kubernetes.io/job-name":"pi","controller-uid":"1234","job-name":"pi"}: '
            "`selector` does not match template `labels`",
        ],
    ),
    ("cronjob", "no schedule", _set("spec.schedule", ""), ["spec.schedule: Required value"]),
    (
        "cronjob",
        "six fields",
        _set("spec.schedule", "0 * * * * *"),
        ['spec.schedule: Invalid value: "0 * * * * *": expected exactly 5 fields, found 6: [0 * * * * *]'],
    ),
    (
        "cronjob",
        "TZ in schedule",
        _set("spec.schedule", "TZ=UTC 0 * * * *"),
        [
            'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in '
            "schedule, use timeZone field "
            "instead"
        ],
    ),
    (
        "cronjob",
        "unknown time zone",
        _set("spec.timeZone", "Mars/Olympus"),
        ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'],
    ),
    (
        "cronjob",
        "name too long",
        _set("metadata.name", "a" * 53),
        [f'metadata.name: Invalid value: "{"a" * 53}": must be no more than 52 characters'],
    ),
    (
        "cronjob",
        "selector in job template",
        _set("spec.jobTemplate.spec.selector", {"matchLabels": {"a": "b"}}),
        ['spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: `selector` will be auto-generated'],
    ),
    (
        "cronjob",
        "concurrencyPolicy",
        _set("spec.concurrencyPolicy", "Never"),
        ['spec.concurrencyPolicy: Unsupported value: "Never": supported values: "Allow", "Forbid", "Replace"'],
    ),
    # Service
    ("service", "no ports", _set("spec.ports", []), ["spec.ports: Required value"]),
    (
        "service",
        "port range",
        _set("spec.ports.0.port", 0),
        ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"],
    ),
    (
        "service",
        "unnamed ports",
        lambda o: o["spec"]["ports"].append({"port": 81, "protocol": "TCP", "targetPort": 81}),
        ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
    ),
    (
        "service",
        "type",
        _set("spec.type", "Ingress"),
        [
            'spec.type: Unsupported value: "Ingress": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
            '"NodePort"'
        ],
    ),
    (
        "service",
        "nodePort on ClusterIP",
        _set("spec.ports.0.nodePort", 30080),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ),
    ("service", "headless without ports is fine", lambda o: o["spec"].update(ports=[], clusterIP="None"), []),
    (
        "service",
        "bad clusterIP",
        _set("spec.clusterIP", "10.0.0.300"),
        [
            'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
            "2001:db8::ffff)"
        ],
    ),
    # ConfigMap / Secret
    (
        "configmap",
        "bad key",
        _set("data", {"a b": "x"}),
        [
            'data[a b]: Invalid value: "a b": a valid config key must consist of '
            "alphanumeric characters, '-', '_' or "
            "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        ],
    ),
    (
        "configmap",
        "too big",
        _set("data", {"a": "x" * (1024 * 1024 + 1)}),
        ["[]: Too long: may not be more than 1048576 bytes"],
    ),
    (
        "secret",
        "too big",
        _set("data", {"a": base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()}),
        ["data: Too long: may not be more than 1048576 bytes"],
    ),
    (
        "secret",
        "tls without key",
        lambda o: o.update(type="kubernetes.io/tls", data={"tls.crt": "eA=="}),
        ["data[tls.key]: Required value"],
    ),
    # Namespace, Node, storage
    (
        "namespace",
        "namespace on a cluster-scoped kind",
        _set("metadata.namespace", "default"),
        ["metadata.namespace: Forbidden: not allowed on this type"],
    ),
    (
        "node",
        "bad pod CIDR",
        _set("spec.podCIDRs", ["10.244.0.0/33"]),
        [
            'spec.podCIDRs[0]: Invalid value: "10.244.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
            "2001:db8::/64)"
        ],
    ),
    ("pvc", "no storage request", _set("spec.resources", {}), ["spec.resources[storage]: Required value"]),
    (
        "pvc",
        "bad access mode",
        _set("spec.accessModes", ["ReadWriteSometimes"]),
        [
            'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
            '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'
        ],
    ),
    ("pv", "no volume source", _set("spec.hostPath", _DELETE), ["spec: Required value: must specify a volume type"]),
    # Other groups
    (
        "lease",
        "leaseDurationSeconds",
        _set("spec.leaseDurationSeconds", 0),
        ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"],
    ),
    (
        "endpointslice",
        "bad address",
        _set("endpoints.0.addresses", ["10.0.0"]),
        ['endpoints[0].addresses[0]: Invalid value: "10.0.0": must be a valid IPv4 address'],
    ),
    (
        "endpointslice",
        "address type",
        _set("addressType", "IPX"),
        ['addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"'],
    ),
    (
        "hpa",
        "maxReplicas below minReplicas",
        _set("spec.minReplicas", 7),
        ["spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`"],
    ),
    (
        "hpa",
        "no scale target",
        _set("spec.scaleTargetRef", {}),
        ["spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"],
    ),
    (
        "pdb",
        "both budgets",
        _set("spec.maxUnavailable", 1),
        [
            'spec: Invalid value: {"minAvailable":1,"selector":{"matchLabels":{"app":"web"}},"maxUnavailable":1}: '
            "minAvailable and maxUnavailable cannot be both set"
        ],
    ),
    (
        "priorityclass",
        "value too high",
        _set("value", 2_000_000_000),
        ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"],
    ),
    (
        "priorityclass",
        "reserved prefix",
        _set("metadata.name", "system-high"),
        [
            "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
            "error: system-high is not a known system priority class"
        ],
    ),
    (
        "role",
        "rule without verbs",
        _set("rules.0.verbs", []),
        ["rules[0].verbs: Required value: verbs must contain at least one value"],
    ),
    ("role", "bad name", _set("metadata.name", "a/b"), ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
    (
        "rolebinding",
        "roleRef kind",
        _set("roleRef.kind", "Pod"),
        ['roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"'],
    ),
    (
        "event",
        "namespace mismatch",
        _set("involvedObject.namespace", "other"),
        ['involvedObject.namespace: Invalid value: "other": does not match event.namespace'],
    ),
    (
        "limitrange",
        "min above max",
        _set("spec.limits.0.min.cpu", "3"),
        [
            'spec.limits[0].min[cpu]: Invalid value: "3": min value 3 is greater than max value 2',
            'spec.limits[0].defaultRequest[cpu]: Invalid value: "2": min value 3 is greater '
            "than default request value 2",
            'spec.limits[0].default[cpu]: Invalid value: "3": min value 3 is greater than default value 2',
        ],
    ),
    (
        "csr",
        "not a CSR",
        _set("spec.request", base64.b64encode(b"hello").decode()),
        ['spec.request: Invalid value: "aGVsbG8=": PEM block type must be CERTIFICATE REQUEST'],
    ),
    ("csr", "no usages", _set("spec.usages", []), ["spec.usages: Required value"]),
    (
        "csr",
        "signer name",
        _set("spec.signerName", "kube-apiserver-client"),
        [
            'spec.signerName: Invalid value: "kube-apiserver-client": must be a fully qualified domain and path of the '
            "form 'example.com/signer-name'"
        ],
    ),
    ("events.k8s.io", "type", _set("type", "Bad"), ['type: Invalid value: "": has invalid value: Bad']),
    ("events.k8s.io", "no eventTime", _set("eventTime", _DELETE), ["eventTime: Required value"]),
    (
        "endpoints",
        "loopback address",
        _set("subsets.0.addresses.0.ip", "127.0.0.1"),
        [
            'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, '
            "::1/128)"
        ],
    ),
    (
        "rc",
        "selector mismatch",
        _set("spec.selector", {"app": "db"}),
        ['spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`'],
    ),
    (
        "clusterrolebinding",
        "service account without namespace",
        _set("subjects.0.namespace", ""),
        ["subjects[0].namespace: Required value"],
    ),
    (
        "clusterrole",
        "non-resource URL with resources",
        _set("rules.0.resources", ["pods"]),
        [
            'rules[0].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and '
            "non-resource URLs"
        ],
    ),
    (
        "hpa-v1",
        "target CPU",
        _set("spec.targetCPUUtilizationPercentage", 0),
        ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"],
    ),
    (
        "resourcequota",
        "unknown quota resource",
        _set("spec.hard.widgets", "1"),
        [
            'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or fully qualified',
            'spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota',
        ],
    ),
]


@pytest.mark.parametrize(
    ("fixture", "case", "mutate", "expected"), CREATE_CASES, ids=[f"{f}:{c}" for f, c, _, _ in CREATE_CASES]
)
def test_create_rules(fixture: str, case: str, mutate: Callable[[Obj], None], expected: list[str]) -> None:
    group, version, kind, make = VALID[fixture]
    obj = make()
    mutate(obj)
    assert [str(e) for e in validate_create(group, version, kind, obj)] == expected


def test_error_types_become_cause_reasons() -> None:
    obj = deployment()
    del obj["spec"]["selector"]
    causes = [e.cause() for e in validate_create("apps", "v1", "Deployment", obj)]
    assert [c["reason"] for c in causes] == ["FieldValueRequired", "FieldValueInvalid"]
    assert causes[0] == {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}


# ---------------------------------------------------------------- update rules


def _update(fixture: str, mutate: Callable[[Obj], None]) -> list[str]:
    group, version, kind, make = VALID[fixture]
    old = make()
    old["metadata"].update(resourceVersion="1", uid="u-1", creationTimestamp="2024-01-01T00:00:00Z")
    new = copy.deepcopy(old)
    mutate(new)
    return [str(e) for e in validate_update(group, version, kind, new, old)]


def test_pod_update_allows_image_change() -> None:
    assert _update("pod", _set("spec.containers.0.image", "nginx:1.26")) == []


def test_pod_update_allows_added_toleration() -> None:
    assert _update("pod", _set("spec.tolerations", [{"key": "a", "operator": "Exists"}])) == []


def test_pod_update_rejects_other_changes() -> None:
    errs = _update("pod", _set("spec.containers.0.name", "web2"))
    assert len(errs) == 1
    prefix = (
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n"
    )
    assert errs[0].startswith(prefix)
    diff = errs[0][len(prefix) :].splitlines()
    assert [line.split(":")[0].replace(" ", "") for line in diff if line[0] in "+-"] == ['-"name"', '+"name"']
    assert '"web2"' in next(line for line in diff if line.startswith("+"))


def test_pod_update_rejects_adding_containers() -> None:
    errs = _update(
        "pod", lambda o: o["spec"]["containers"].append({**copy.deepcopy(o["spec"]["containers"][0]), "name": "side"})
    )
    assert errs == ["spec.containers: Forbidden: pod updates may not add or remove containers"]


def test_pod_update_active_deadline_may_only_shrink() -> None:
    group, version, kind, make = VALID["pod"]
    old = make()
    old["metadata"]["resourceVersion"] = "1"
    old["spec"]["activeDeadlineSeconds"] = 10
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 20
    assert [str(e) for e in validate_update(group, version, kind, new, old)] == [
        "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
    ]


UPDATE_CASES: list[tuple[str, str, Callable[[Obj], None], list[str]]] = [
    (
        "deployment",
        "selector is immutable",
        _set("spec.selector.matchLabels", {"app": "web", "tier": "x"}),
        [
            'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
            'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"x"}}: field is immutable',
        ],
    ),
    ("deployment", "scaling is fine", _set("spec.replicas", 5), []),
    (
        "pod",
        "resourceVersion required",
        _set("metadata.resourceVersion", ""),
        ['metadata.resourceVersion: Invalid value: "": must be specified for an update'],
    ),
    ("pod", "uid immutable", _set("metadata.uid", "u-2"), ['metadata.uid: Invalid value: "u-2": field is immutable']),
    (
        "pod",
        "name immutable",
        _set("metadata.name", "web2"),
        ['metadata.name: Invalid value: "web2": field is immutable'],
    ),
    (
        "pod",
        "creationTimestamp immutable",
        _set("metadata.creationTimestamp", "2025-01-01T00:00:00Z"),
        ['metadata.creationTimestamp: Invalid value: "2025-01-01T00:00:00Z": field is immutable'],
    ),
    (
        "job",
        "completions immutable",
        _set("spec.completions", 3),
        ["spec.completions: Invalid value: 3: field is immutable"],
    ),
    (
        "statefulset",
        "serviceName immutable",
        _set("spec.serviceName", "db2"),
        [
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        ],
    ),
    (
        "secret",
        "type immutable",
        _set("type", "kubernetes.io/basic-auth"),
        ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable'],
    ),
    ("priorityclass", "value immutable", _set("value", 5), ["value: Forbidden: may not be changed in an update."]),
    (
        "rolebinding",
        "roleRef immutable",
        _set("roleRef.name", "other"),
        [
            'roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"other"}: '
            "cannot change roleRef"
        ],
    ),
]


@pytest.mark.parametrize(
    ("fixture", "case", "mutate", "expected"), UPDATE_CASES, ids=[f"{f}:{n}" for f, n, _, _ in UPDATE_CASES]
)
def test_update_rules(fixture: str, case: str, mutate: Callable[[Obj], None], expected: list[str]) -> None:
    assert _update(fixture, mutate) == expected


def test_job_template_is_immutable() -> None:
    errs = _update("job", _set("spec.template.spec.containers.0.image", "busybox:2"))
    assert (
        len(errs) == 1
        and errs[0].startswith("spec.template: Invalid value: {")
        and errs[0].endswith(": field is immutable")
    )


def test_service_cluster_ip_is_immutable() -> None:
    old = service()
    old["metadata"]["resourceVersion"] = "1"
    old["spec"].update(
        clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack"
    )
    new = copy.deepcopy(old)
    new["spec"].update(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"])
    assert [str(e) for e in validate_update("", "v1", "Service", new, old)] == [
        'spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set'
    ]


def test_immutable_configmap() -> None:
    old: Obj = {
        "metadata": {"name": "cfg", "namespace": "default", "resourceVersion": "1"},
        "data": {"a": "1"},
        "immutable": True,
    }
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert [str(e) for e in validate_update("", "v1", "ConfigMap", new, old)] == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]


def test_finalizers_cannot_be_added_while_deleting() -> None:
    old: Obj = {
        "metadata": {
            "name": "cfg",
            "namespace": "default",
            "resourceVersion": "1",
            "deletionTimestamp": "2024-01-01T00:00:00Z",
            "finalizers": ["a.io/x"],
        }
    }
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["a.io/x", "b.io/y"]
    assert [str(e) for e in validate_update("", "v1", "ConfigMap", new, old)] == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new "
        'finalizers []string{"b.io/y"}'
    ]


# ---------------------------------------------------------------- cron parser


@pytest.mark.parametrize(
    "schedule", ["*/5 * * * *", "0 0 1 jan mon", "@hourly", "@every 1h30m", "0-59/15 8-17 * * 1-5", "0 0 ? * SUN"]
)
def test_cron_accepts_what_robfig_accepts(schedule: str) -> None:
    parse_schedule(schedule)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("foo", "expected exactly 5 fields, found 1: [foo]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("@weekdays", "unrecognized descriptor: @weekdays"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
    ],
)
def test_cron_errors_match_robfig(schedule: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_schedule(schedule)
    assert str(info.value) == message


def test_unknown_kind_gets_object_meta_checks() -> None:
    obj = {"metadata": {"name": "Bad_Name", "namespace": "default"}}
    assert [str(e) for e in validate_create("", "v1", "ServiceAccount", obj)] == [
        f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}'
    ]
    assert [
        str(e)
        for e in validate_create(
            "apps", "v1", "ControllerRevision", {"metadata": {"name": "r", "namespace": "default"}, "revision": 1}
        )
    ] == ["data: Required value: data is mandatory"]
