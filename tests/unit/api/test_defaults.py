"""Upstream defaulting for every kind: the values, where they land, and what is left alone."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from pyk8s.api.defaults import apply_defaults
from pyk8s.api.defaults.batch import generate_job_selector
from pyk8s.api.defaults.core import image_tag

Obj = dict[str, Any]

POD_SPEC_DEFAULTS: Obj = {
    "dnsPolicy": "ClusterFirst",
    "restartPolicy": "Always",
    "securityContext": {},
    "terminationGracePeriodSeconds": 30,
    "schedulerName": "default-scheduler",
}
CONTAINER_DEFAULTS: Obj = {
    "terminationMessagePath": "/dev/termination-log",
    "terminationMessagePolicy": "File",
}


def defaulted(group: str, version: str, kind: str, obj: Obj) -> Obj:
    apply_defaults(group, version, kind, obj)
    return obj


def test_pod_defaults_as_kubectl_run_sends_it() -> None:
    pod = defaulted(
        "",
        "v1",
        "Pod",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "nginx", "creationTimestamp": None, "labels": {"run": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
            "status": {},
        },
    )
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "nginx", "creationTimestamp": None, "labels": {"run": "nginx"}},
        "spec": {
            "containers": [
                {"name": "nginx", "image": "nginx", "resources": {}, "imagePullPolicy": "Always", **CONTAINER_DEFAULTS}
            ],
            "enableServiceLinks": True,
            **POD_SPEC_DEFAULTS,
        },
        "status": {},
    }


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("docker.io/library/nginx:1.25", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v2", "IfNotPresent"),
        ("registry.example.com:443/team/app", "Always"),
        ("Nginx", "IfNotPresent"),  # does not parse: no tag, so not "latest"
    ],
)
def test_image_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    pod = defaulted("", "v1", "Pod", {"spec": {"containers": [{"name": "c", "image": image}]}})
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag() -> None:
    assert image_tag("busybox") == "latest"
    assert image_tag("busybox:1.36") == "1.36"
    assert image_tag("host:5000/busybox") == "latest"


def test_explicit_values_are_kept() -> None:
    spec = {
        "restartPolicy": "Never",
        "dnsPolicy": "Default",
        "terminationGracePeriodSeconds": 0,
        "schedulerName": "mine",
        "enableServiceLinks": False,
        "securityContext": {"runAsUser": 1000},
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "imagePullPolicy": "Never",
                "terminationMessagePolicy": "FallbackToLogsOnError",
            }
        ],
    }
    pod = defaulted("", "v1", "Pod", {"spec": copy.deepcopy(spec)})
    for key, value in spec.items():
        if key != "containers":
            assert pod["spec"][key] == value
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["terminationMessagePolicy"] == "FallbackToLogsOnError"


def test_requests_default_to_limits_per_resource() -> None:
    pod = defaulted(
        "",
        "v1",
        "Pod",
        {
            "spec": {
                "containers": [
                    {
                        "name": "a",
                        "image": "x",
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                    },
                    {"name": "b", "image": "x", "resources": {"limits": {"cpu": "2"}}},
                ],
                "initContainers": [{"name": "i", "image": "x", "resources": {"limits": {"memory": "64Mi"}}}],
            }
        },
    )
    spec = pod["spec"]
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert spec["containers"][1]["resources"]["requests"] == {"cpu": "2"}
    assert spec["initContainers"][0]["resources"]["requests"] == {"memory": "64Mi"}


def test_container_fields_probes_volumes_and_env() -> None:
    pod = defaulted(
        "",
        "v1",
        "Pod",
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "x:1",
                        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
                        "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                        "livenessProbe": {"httpGet": {"port": 8080}},
                        "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 5},
                        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit"}}},
                    }
                ],
                "volumes": [
                    {"name": "a"},
                    {"name": "b", "configMap": {"name": "cm"}},
                    {"name": "c", "secret": {"secretName": "s"}},
                    {"name": "d", "hostPath": {"path": "/var"}},
                    {
                        "name": "e",
                        "projected": {
                            "sources": [
                                {"serviceAccountToken": {"path": "token"}},
                                {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                            ]
                        },
                    },
                    {"name": "f", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                ],
            }
        },
    )
    ctr, vols = pod["spec"]["containers"][0], pod["spec"]["volumes"]
    assert [p["protocol"] for p in ctr["ports"]] == ["TCP", "UDP"]
    assert ctr["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    assert ctr["livenessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert ctr["readinessProbe"]["periodSeconds"] == 5
    assert ctr["readinessProbe"]["grpc"] == {"port": 9090, "service": ""}
    assert ctr["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/quit", "scheme": "HTTP"}
    assert vols[0] == {"name": "a", "emptyDir": {}}
    assert vols[1]["configMap"]["defaultMode"] == 420
    assert vols[2]["secret"]["defaultMode"] == 420
    assert vols[3]["hostPath"] == {"path": "/var", "type": ""}
    projected = vols[4]["projected"]
    assert projected["defaultMode"] == 420
    assert projected["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert projected["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert vols[5]["ephemeral"]["volumeClaimTemplate"]["spec"]["volumeMode"] == "Filesystem"


def test_host_network_pods_get_host_ports() -> None:
    pod = defaulted(
        "",
        "v1",
        "Pod",
        {
            "spec": {
                "hostNetwork": True,
                "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 9100}]}],
            }
        },
    )
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 9100


@pytest.mark.parametrize("class_name", ["", "system-node-critical", "custom"])
def test_pod_defaulting_leaves_priority_to_the_priority_admission(class_name: str) -> None:
    spec: Obj = {"containers": [{"name": "c", "image": "x"}]}
    if class_name:
        spec["priorityClassName"] = class_name
    pod = defaulted("", "v1", "Pod", {"spec": spec})
    assert "priority" not in pod["spec"] and "preemptionPolicy" not in pod["spec"]


def _template() -> Obj:
    return {
        "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "resources": {}}]},
    }


def _expected_template() -> Obj:
    return {
        "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx:1.25",
                    "resources": {},
                    "imagePullPolicy": "IfNotPresent",
                    **CONTAINER_DEFAULTS,
                }
            ],
            **POD_SPEC_DEFAULTS,
        },
    }


def test_deployment_defaults_as_kubectl_create_sends_it() -> None:
    dep = defaulted(
        "apps",
        "v1",
        "Deployment",
        {
            "metadata": {"name": "web", "creationTimestamp": None},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {},
                "template": _template(),
            },
            "status": {},
        },
    )
    assert dep["spec"] == {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "template": _expected_template(),
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
        ({"type": "Recreate"}, {"type": "Recreate"}),
        (
            {"rollingUpdate": {"maxSurge": 1}},
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
        ),
    ],
)
def test_deployment_strategy(given: Obj, expected: Obj) -> None:
    dep = defaulted("apps", "v1", "Deployment", {"spec": {"strategy": given, "template": _template()}})
    assert dep["spec"]["strategy"] == expected
    assert dep["spec"]["replicas"] == 1


def test_zero_replicas_is_kept() -> None:
    dep = defaulted("apps", "v1", "Deployment", {"spec": {"replicas": 0, "template": _template()}})
    assert dep["spec"]["replicas"] == 0


@pytest.mark.parametrize(
    ("kind", "expected_spec"),
    [
        ("ReplicaSet", {"replicas": 1, "template": _expected_template()}),
        (
            "DaemonSet",
            {
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                "revisionHistoryLimit": 10,
                "template": _expected_template(),
            },
        ),
        (
            "StatefulSet",
            {
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "template": _expected_template(),
            },
        ),
    ],
)
def test_workload_defaults(kind: str, expected_spec: Obj) -> None:
    obj = defaulted("apps", "v1", kind, {"spec": {"template": _template()}})
    assert obj["spec"] == expected_spec


def test_statefulset_claim_templates_and_on_delete() -> None:
    sts = defaulted(
        "apps",
        "v1",
        "StatefulSet",
        {
            "spec": {
                "updateStrategy": {"type": "OnDelete"},
                "template": _template(),
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
            }
        },
    )
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem"
    assert claim["status"] == {"phase": "Pending"}


def _job_template(restart: str = "Never") -> Obj:
    return {
        "metadata": {"labels": {"app": "pi"}},
        "spec": {"restartPolicy": restart, "containers": [{"name": "pi", "image": "perl:5.34"}]},
    }


@pytest.mark.parametrize(
    ("given", "completions", "parallelism", "backoff"),
    [
        ({}, 1, 1, 6),
        ({"completions": 5}, 5, 1, 6),
        ({"parallelism": 3}, None, 3, 6),
        ({"backoffLimit": 0}, 1, 1, 0),
        ({"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1}, 3, 1, 2**31 - 1),
    ],
)
def test_job_counts(given: Obj, completions: int | None, parallelism: int, backoff: int) -> None:
    job = defaulted("batch", "v1", "Job", {"metadata": {"name": "pi"}, "spec": {**given, "template": _job_template()}})
    spec = job["spec"]
    assert spec.get("completions") == completions
    assert spec["parallelism"] == parallelism
    assert spec["backoffLimit"] == backoff


def test_job_defaults() -> None:
    job = defaulted("batch", "v1", "Job", {"metadata": {"name": "pi"}, "spec": {"template": _job_template()}})
    spec = job["spec"]
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert job["metadata"]["labels"] == {"app": "pi"}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_job_with_pod_failure_policy() -> None:
    job = defaulted(
        "batch",
        "v1",
        "Job",
        {
            "spec": {
                "template": _job_template(),
                "podFailurePolicy": {
                    "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
                },
            }
        },
    )
    assert job["spec"]["podReplacementPolicy"] == "Failed"
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


def test_generate_job_selector() -> None:
    job = defaulted(
        "batch", "v1", "Job", {"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"template": _job_template()}}
    )
    generate_job_selector(job)
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    expected = {
        "app": "pi",
        "batch.kubernetes.io/controller-uid": "u-1",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1",
        "job-name": "pi",
    }
    assert job["spec"]["template"]["metadata"]["labels"] == expected
    assert job["metadata"]["labels"] == expected  # the Job's labels came from (and share) the template's
    manual: Obj = {
        "metadata": {"name": "m", "uid": "u-2"},
        "spec": {"manualSelector": True, "template": _job_template()},
    }
    generate_job_selector(manual)
    assert "selector" not in manual["spec"]


def test_cronjob_defaults_leave_the_job_spec_alone() -> None:
    cj = defaulted(
        "batch",
        "v1",
        "CronJob",
        {
            "spec": {
                "schedule": "* * * * *",
                "jobTemplate": {
                    "metadata": {"creationTimestamp": None},
                    "spec": {"template": _job_template("OnFailure")},
                },
            }
        },
    )
    spec = cj["spec"]
    assert (
        spec["concurrencyPolicy"],
        spec["suspend"],
        spec["successfulJobsHistoryLimit"],
        spec["failedJobsHistoryLimit"],
    ) == ("Allow", False, 3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec and "completions" not in job_spec
    assert job_spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert spec["jobTemplate"]["metadata"] == {"creationTimestamp": None}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"ports": [{"port": 80}]},
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
                "internalTrafficPolicy": "Cluster",
            },
        ),
        (
            {"ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}], "type": "NodePort"},
            {
                "ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}],
                "type": "NodePort",
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
            },
        ),
        (
            {"ports": [{"port": 443, "targetPort": 0}], "type": "LoadBalancer"},
            {
                "ports": [{"port": 443, "targetPort": 443, "protocol": "TCP"}],
                "type": "LoadBalancer",
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "allocateLoadBalancerNodePorts": True,
            },
        ),
        (
            {"type": "ExternalName", "externalName": "example.com"},
            {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"},
        ),
        (
            {"ports": [{"port": 80}], "sessionAffinity": "ClientIP"},
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "sessionAffinity": "ClientIP",
                "type": "ClusterIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "internalTrafficPolicy": "Cluster",
            },
        ),
        (
            {"ports": [{"port": 80}], "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}},
            {
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
                "internalTrafficPolicy": "Cluster",
            },
        ),
    ],
)
def test_service_defaults(spec: Obj, expected: Obj) -> None:
    svc = defaulted("", "v1", "Service", {"metadata": {"name": "web"}, "spec": spec})
    assert svc["spec"] == expected


def test_service_ip_families_are_left_to_the_allocator() -> None:
    svc = defaulted("", "v1", "Service", {"spec": {"ports": [{"port": 80}]}})
    assert "ipFamilyPolicy" not in svc["spec"] and "ipFamilies" not in svc["spec"] and "clusterIP" not in svc["spec"]


def test_namespace_secret_node_and_storage() -> None:
    ns = defaulted("", "v1", "Namespace", {"metadata": {"name": "team-a", "labels": {"x": "y"}}})
    assert ns == {
        "metadata": {"name": "team-a", "labels": {"x": "y", "kubernetes.io/metadata.name": "team-a"}},
        "status": {"phase": "Active"},
    }
    secret = defaulted(
        "", "v1", "Secret", {"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "hello"}}
    )
    assert secret == {
        "metadata": {"name": "s"},
        "type": "Opaque",
        "data": {"a": "eA==", "b": base64.b64encode(b"hello").decode()},
    }
    node = defaulted("", "v1", "Node", {"status": {"capacity": {"cpu": "2"}}})
    assert node["status"]["allocatable"] == {"cpu": "2"}
    pv = defaulted("", "v1", "PersistentVolume", {"spec": {"hostPath": {"path": "/x"}}})
    assert pv["spec"] == {
        "hostPath": {"path": "/x", "type": ""},
        "persistentVolumeReclaimPolicy": "Retain",
        "volumeMode": "Filesystem",
    }
    assert pv["status"] == {"phase": "Pending"}
    pvc = defaulted("", "v1", "PersistentVolumeClaim", {"spec": {}})
    assert pvc == {"spec": {"volumeMode": "Filesystem"}, "status": {"phase": "Pending"}}


def test_replication_controller_limit_range_and_endpoints() -> None:
    rc = defaulted("", "v1", "ReplicationController", {"metadata": {"name": "rc"}, "spec": {"template": _template()}})
    assert rc["spec"]["selector"] == {"app": "web"} and rc["metadata"]["labels"] == {"app": "web"}
    assert rc["spec"]["replicas"] == 1 and rc["spec"]["template"] == _expected_template()
    lr = defaulted(
        "",
        "v1",
        "LimitRange",
        {
            "spec": {
                "limits": [
                    {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}},
                    {"type": "Pod", "max": {"cpu": "4"}},
                ]
            }
        },
    )
    assert lr["spec"]["limits"][0]["default"] == {"cpu": "2"}
    assert lr["spec"]["limits"][0]["defaultRequest"] == {"cpu": "2", "memory": "64Mi"}
    assert lr["spec"]["limits"][1] == {"type": "Pod", "max": {"cpu": "4"}}
    ep = defaulted("", "v1", "Endpoints", {"subsets": [{"ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"


def test_hpa_v1_and_v2() -> None:
    v1 = defaulted("autoscaling", "v1", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}})
    assert v1["spec"] == {"maxReplicas": 3, "minReplicas": 1}
    v2 = defaulted(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        {"spec": {"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
    )
    spec = v2["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}
    ]
    assert spec["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert spec["behavior"]["scaleDown"] == {
        "selectPolicy": "Max",
        "stabilizationWindowSeconds": 60,
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    plain = defaulted("autoscaling", "v2", "HorizontalPodAutoscaler", {"spec": {"maxReplicas": 3}})
    assert "behavior" not in plain["spec"]


def test_other_groups() -> None:
    pc = defaulted("scheduling.k8s.io", "v1", "PriorityClass", {"value": 10})
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    rb = defaulted(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        {
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [
                {"kind": "User", "name": "u"},
                {"kind": "ServiceAccount", "name": "sa"},
                {"kind": "Group", "name": "g"},
            ],
        },
    )
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert [s["apiGroup"] for s in rb["subjects"]] == ["rbac.authorization.k8s.io", "", "rbac.authorization.k8s.io"]
    eps = defaulted("discovery.k8s.io", "v1", "EndpointSlice", {"ports": [{"port": 80}]})
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    for group, kind in (
        ("policy", "PodDisruptionBudget"),
        ("coordination.k8s.io", "Lease"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("events.k8s.io", "Event"),
    ):
        obj: Obj = {"metadata": {"name": "x"}, "spec": {"a": 1}}
        assert defaulted(group, "v1", kind, copy.deepcopy(obj)) == obj


def test_nulls_are_unset_except_in_raw_payloads() -> None:
    dep = defaulted(
        "apps",
        "v1",
        "Deployment",
        {
            "metadata": {"creationTimestamp": None, "labels": None},
            "spec": {"replicas": None, "strategy": None, "template": _template()},
        },
    )
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    assert dep["metadata"] == {"creationTimestamp": None}
    rev = defaulted(
        "apps",
        "v1",
        "ControllerRevision",
        {"metadata": {"name": "r", "labels": None}, "data": {"spec": {"x": None}}, "revision": 1},
    )
    assert rev == {"metadata": {"name": "r"}, "data": {"spec": {"x": None}}, "revision": 1}


def test_unknown_kinds_are_untouched() -> None:
    obj: Obj = {"metadata": {"name": "x"}, "spec": {"replicas": None}}
    apply_defaults("example.com", "v1", "Widget", obj)
    assert obj == {"metadata": {"name": "x"}, "spec": {}}
