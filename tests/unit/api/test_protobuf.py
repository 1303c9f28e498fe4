"""Protobuf request bodies: wire decoding, Go-JSON fidelity, round trips and error shapes.

fixtures/<command>.pb are bodies the real kubectl 1.32.5 sent to a recording fake apiserver for that command, and
fixtures/<command>.json the JSON body kubectl 1.31.9 sent for the same command (kubectl 1.31 does not use protobuf).
Decoding the first must give exactly the second, and re-encoding must give back the original bytes.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from pyk8s.api import errors
from pyk8s.api.protobuf import (
    CONTENT_TYPE,
    MAGIC,
    decode_object,
    encode_object,
    format_go_duration,
    known_kinds,
    parse_go_duration,
)

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.pb"))


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """A body built by hand (all lengths < 128, so each length is one byte)."""
    type_meta = b"\x0a" + bytes([len(api_version)]) + api_version.encode() + b"\x12" + bytes([len(kind)]) + kind.encode()
    return MAGIC + b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(raw)]) + raw


# ---- real kubectl bodies ------------------------------------------------------------------------------------------

def test_fixtures_cover_the_typed_kubectl_commands() -> None:
    assert len(FIXTURE_NAMES) >= 25
    kinds = {decode_object((FIXTURES / f"{n}.pb").read_bytes())["kind"] for n in FIXTURE_NAMES}
    assert kinds >= {
        "Deployment", "Service", "ConfigMap", "Secret", "Namespace", "Job", "CronJob", "ResourceQuota", "Role",
        "RoleBinding", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "ServiceAccount", "PodDisruptionBudget",
        "SelfSubjectAccessReview", "HorizontalPodAutoscaler", "TokenRequest", "SelfSubjectReview",
    }


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_kubectl_132_body_decodes_to_the_json_kubectl_131_sends(name: str) -> None:
    body = (FIXTURES / f"{name}.pb").read_bytes()
    expected_json = (FIXTURES / f"{name}.json").read_bytes().rstrip(b"\n")
    decoded = decode_object(body)
    assert decoded == orjson.loads(expected_json)
    assert orjson.dumps(decoded) == expected_json  # same key order as Go's encoder, too


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_kubectl_132_body_reencodes_byte_for_byte(name: str) -> None:
    body = (FIXTURES / f"{name}.pb").read_bytes()
    assert encode_object(decode_object(body)) == body


def test_deployment_fixture_details() -> None:
    obj = decode_object((FIXTURES / "create-deployment.pb").read_bytes())
    assert obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1"
    assert obj["spec"]["replicas"] == 3
    assert obj["metadata"]["creationTimestamp"] is None
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_service_fixture_target_ports_int_and_string() -> None:
    obj = decode_object((FIXTURES / "create-service-clusterip.pb").read_bytes())
    assert [p["targetPort"] for p in obj["spec"]["ports"]] == [8080, "https"]


# ---- hand-built bytes (independent of the encoder) ----------------------------------------------------------------

def test_decode_hand_built_configmap() -> None:
    raw = (
        b"\x0a\x03" + b"\x0a\x01c"  # 1 metadata { 1 name "c" }
        + b"\x12\x06" + b"\x0a\x01k" + b"\x12\x01v"  # 2 data: map entry { 1 key "k", 2 value "v" }
    )
    assert decode_object(_envelope("v1", "ConfigMap", raw)) == {
        "kind": "ConfigMap", "apiVersion": "v1",
        "metadata": {"name": "c", "creationTimestamp": None},  # Go: zero Time is a struct, serialised as null
        "data": {"k": "v"},
    }


def test_decode_hand_built_lease_with_microtime_pointer_zero_and_unknown_field() -> None:
    spec = (
        b"\x0a\x02n1"  # 1 holderIdentity "n1"
        + b"\x10\x28"  # 2 leaseDurationSeconds 40
        + b"\x1a\x0b" + b"\x08\xa5\xfa\xcd\xac\x06" + b"\x10\x95\x9a\xef\x3a"  # 3 acquireTime {1704164645 s, 123456789 ns}
        + b"\x28\x00"  # 5 leaseTransitions 0 (a pointer that is set: kept although zero)
        + b"\xc8\x06\x07"  # field 105 (unknown): skipped, as Go does
    )
    assert decode_object(_envelope("coordination.k8s.io/v1", "Lease", b"\x12\x18" + spec)) == {
        "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {
            "holderIdentity": "n1", "leaseDurationSeconds": 40,
            "acquireTime": "2024-01-02T03:04:05.123456Z", "leaseTransitions": 0,
        },
    }


def test_decode_hand_built_negative_int32_and_non_omitempty_zero() -> None:
    raw = b"\x12\x0b" + b"\x08" + b"\xff" * 9 + b"\x01"  # 2 spec { 1 replicas -1 as a 10-byte varint }
    assert decode_object(_envelope("autoscaling/v1", "Scale", raw)) == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"replicas": -1},
        "status": {"replicas": 0},  # status.replicas has no omitempty; selector has
    }


def test_decode_hand_built_packed_repeated_and_nil_slice() -> None:
    security_context = b"\x22\x04\x01\x02\x96\x01"  # 4 supplementalGroups packed [1, 2, 150]
    pod_spec = b"\x72" + bytes([len(security_context)]) + security_context  # 14 securityContext
    obj = decode_object(_envelope("v1", "Pod", b"\x12" + bytes([len(pod_spec)]) + pod_spec))
    assert obj["spec"] == {"containers": None, "securityContext": {"supplementalGroups": [1, 2, 150]}}
    assert obj["status"] == {}


def test_decode_hand_built_int_or_string_and_time() -> None:
    spec = b"\x0a\x09" + b"\x08\x01\x10\x00\x1a\x0325%"  # 1 minAvailable {type 1, intVal 0, strVal "25%"}
    meta = b"\x42\x06" + b"\x08\xa5\xfa\xcd\xac\x06"  # 8 creationTimestamp {seconds 1704164645}
    raw = b"\x0a" + bytes([len(meta)]) + meta + b"\x12" + bytes([len(spec)]) + spec
    obj = decode_object(_envelope("policy/v1", "PodDisruptionBudget", raw))
    assert obj["metadata"] == {"creationTimestamp": "2024-01-02T03:04:05Z"}
    assert obj["spec"] == {"minAvailable": "25%"}


# ---- round trips of realistic objects -----------------------------------------------------------------------------

def _is_go_zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_go_zero(v) for v in value.values())
    return value in (None, 0, "", False)


def _assert_superset(expected: Any, actual: Any, path: str = "") -> None:
    """actual equals expected except for keys Go adds with zero values (null times, {} structs, 0 counters)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            _assert_superset(value, actual[key], f"{path}.{key}")
        for key in actual.keys() - expected.keys():
            assert _is_go_zero(actual[key]), f"{path}.{key} appeared with {actual[key]!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _assert_superset(e, a, f"{path}[{i}]")
    else:
        assert actual == expected and type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"


POD_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}, "annotations": {"b": "2", "a": "1"}},
    "spec": {
        "containers": [{
            "name": "web", "image": "nginx:1.27",
            "command": ["nginx"], "args": ["-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                                        "divisor": "1Mi"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                          "requests": {"cpu": "250m", "memory": "64Mi", "ephemeral-storage": "1Gi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                              "initialDelaySeconds": 3, "periodSeconds": 10},
            "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 1},
            "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 0, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }],
        "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                    {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420,
                                                  "items": [{"key": "a", "path": "a.txt"}]}},
                    {"name": "proj", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchExpressions": [
                                                    {"key": "app", "operator": "In", "values": ["web"]}]}}}]}},
        "securityContext": {"fsGroup": 2000, "supplementalGroups": [1, 2]},
    },
}

ROUND_TRIP_OBJECTS: list[dict[str, Any]] = [
    {"apiVersion": "apps/v1", "kind": "Deployment",
     "metadata": {"name": "web", "namespace": "default", "uid": "8d1c", "resourceVersion": "12", "generation": 2,
                  "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web"},
                  "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "1", "controller": True}],
                  "finalizers": ["example.com/f"],
                  "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
                                     "time": "2024-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                                     "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
     "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "template": POD_TEMPLATE,
              "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
              "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
     "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                "lastUpdateTime": "2024-01-02T03:04:05Z",
                                "lastTransitionTime": "2023-12-31T23:59:59Z"}]}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
     "data": {"bin": "AAEC/w==", "empty": "", "text": "aGVsbG8="}, "immutable": False},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"},
     "binaryData": {"b": "3q2+7w=="}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
     "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid", "suspend": False,
              "successfulJobsHistoryLimit": 3, "startingDeadlineSeconds": 100,
              "jobTemplate": {"spec": {"backoffLimit": 4, "completions": 1, "parallelism": 1,
                                       "ttlSecondsAfterFinished": 60,
                                       "template": {"spec": {"restartPolicy": "OnFailure",
                                                             "containers": [{"name": "c", "image": "busybox"}]}}}}},
     "status": {"lastScheduleTime": "2024-01-02T03:00:00Z", "active": [{"kind": "Job", "name": "cj-1"}]}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
     "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}},
              "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In",
                                                                                    "values": [1, 42]}}]}},
     "status": {"startTime": "2024-01-02T03:04:05Z", "succeeded": 1, "uncountedTerminatedPods": {}}},
    {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
              "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80},
     "status": {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 91}},
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h2"},
     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 9,
              "metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
                  "type": "AverageValue", "averageValue": "100Mi"}}},
                  {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                             "averageUtilization": 60}}}],
              "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                                         "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}}},
    {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
     "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps",
                                     "resource": "deployments", "subresource": "scale"}},
     "status": {"allowed": True, "reason": "RBAC: allowed"}},
    {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
     "spec": {"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"]}, "uid": "1",
              "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"team": "a"}},
     "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
     "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "clusterIP": "10.0.0.10",
              "clusterIPs": ["10.0.0.10"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
              "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True,
              "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 31000},
                        {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}]}}},
    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": "sa"},
     "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600},
     "status": {"token": "abc", "expirationTimestamp": "2030-01-01T00:00:00Z"}},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
     "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default", "uid": "u"},
     "reason": "Scheduled", "message": "ok", "type": "Normal", "count": 2,
     "firstTimestamp": "2024-01-02T03:04:05Z", "lastTimestamp": "2024-01-02T03:04:06Z",
     "eventTime": "2024-01-02T03:04:05.000001Z", "source": {"component": "scheduler"}},
    {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
     "eventTime": "2024-01-02T03:04:05.123456Z", "reportingController": "c", "reportingInstance": "i",
     "series": {"count": 3, "lastObservedTime": "2024-01-02T03:05:00.000000Z"}, "action": "Pull", "reason": "R",
     "regarding": {"kind": "Pod", "name": "p"}, "note": "n", "type": "Normal"},
    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1"},
     "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
              "renewTime": "2024-01-02T03:04:05.500000Z", "leaseTransitions": 0}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "svc-abc"},
     "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.1.0.5"], "conditions": {"ready": True, "serving": True, "terminating": False},
                    "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p"}, "zone": "z"}],
     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
     "spec": {"podCIDR": "10.1.0.0/24", "podCIDRs": ["10.1.0.0/24"],
              "taints": [{"key": "k", "effect": "NoSchedule", "timeAdded": "2024-01-02T03:04:05Z"}]},
     "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "3800m", "memory": "7Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-02T03:04:05Z"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "architecture": "amd64", "operatingSystem": "linux"},
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}},
    {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
     "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
              "hostPath": {"path": "/data", "type": "DirectoryOrCreate"},
              "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "manual"}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pvc"},
     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
              "volumeMode": "Filesystem"}},
    {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
     "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}},
    {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "cr"}, "revision": 3,
     "data": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
     "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
              "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
              "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                        "spec": {"accessModes": ["ReadWriteOnce"],
                                                 "resources": {"requests": {"storage": "1Gi"}}}}],
              "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"}}}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
     "spec": {"selector": {"matchLabels": {"app": "ds"}},
              "template": {"metadata": {"labels": {"app": "ds"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
              "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "agg"},
     "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
     "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "true"}}]}},
    {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "csr"},
     "spec": {"request": "LS0tLS1CRUdJTg==", "signerName": "kubernetes.io/kube-apiserver-client",
              "usages": ["client auth"], "username": "u", "extra": {"k": ["v1", "v2"]}, "expirationSeconds": 86400},
     "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "OK",
                                "lastUpdateTime": "2024-01-02T03:04:05Z"}], "certificate": "Y2VydA=="}},
    {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "default"},
     "deleteOptions": {"gracePeriodSeconds": 0, "propagationPolicy": "Background", "dryRun": ["All"],
                       "preconditions": {"uid": "u"}}},
    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}},
    {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground",
     "orphanDependents": False},
    {"apiVersion": "v1", "kind": "Status", "metadata": {"resourceVersion": "5"}, "status": "Failure",
     "message": "nope", "reason": "NotFound", "details": {"name": "x", "kind": "pods", "causes": [
         {"reason": "FieldValueInvalid", "message": "bad", "field": "spec"}]}, "code": 404},
]


@pytest.mark.parametrize("obj", ROUND_TRIP_OBJECTS, ids=lambda o: f"{o['apiVersion']}-{o['kind']}")
def test_round_trip(obj: dict[str, Any]) -> None:
    body = encode_object(obj)
    assert body.startswith(MAGIC)
    decoded = decode_object(body)
    _assert_superset(obj, decoded)
    assert encode_object(decoded) == body  # decoding reached Go's normal form: a fixed point


def test_round_trip_keeps_set_pointers_that_are_zero_and_drops_unset_ones() -> None:
    decoded = decode_object(encode_object(ROUND_TRIP_OBJECTS[0]))
    assert decoded["spec"]["replicas"] == 0
    assert decoded["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": "25%"}
    assert "paused" not in decoded["spec"]  # non-pointer false under omitempty
    assert decoded["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] == 0
    assert decoded["metadata"]["ownerReferences"][0]["controller"] is True
    assert "blockOwnerDeletion" not in decoded["metadata"]["ownerReferences"][0]


def test_inline_structs_round_trip_flat() -> None:
    decoded = decode_object(encode_object(ROUND_TRIP_OBJECTS[0]))
    volumes = decoded["spec"]["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}
    probe = decoded["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    assert probe["httpGet"]["port"] == "http" and "handler" not in probe


def test_secret_bytes_are_base64_and_map_keys_sorted() -> None:
    body = encode_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                          "data": {"z": "AAE=", "a": ""}})
    assert b"\x0a\x01z\x12\x02\x00\x01" in body  # the raw bytes travel, not the base64 text
    decoded = decode_object(body)
    assert list(decoded["data"]) == ["a", "z"]
    assert decoded["data"] == {"a": "", "z": "AAE="}


def test_encoding_matches_gogo_field_order_and_always_written_scalars() -> None:
    body = encode_object({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "s"},
                          "spec": {"replicas": 0}})
    raw_start = body.index(b"\x12", len(MAGIC) + 2 + 2 + len("autoscaling/v1") + 2 + len("Scale"))
    # metadata: name "s", then the non-pointer strings generateName..resourceVersion empty, generation 0 and
    # creationTimestamp (zero Time: empty message); spec {replicas 0}; status {replicas 0, selector ""}
    metadata = b"\x0a\x01s" + b"\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00" + b"\x38\x00" + b"\x42\x00"
    assert body[raw_start + 2:].startswith(
        b"\x0a" + bytes([len(metadata)]) + metadata + b"\x12\x02\x08\x00" + b"\x1a\x04\x08\x00\x12\x00"
    )
    assert body.endswith(b"\x1a\x00\x22\x00")  # empty contentEncoding and contentType, as Go writes them


# ---- errors -------------------------------------------------------------------------------------------------------

def test_unknown_kind_is_bad_request_with_upstream_message() -> None:
    body = _envelope("apps/v1", "Frobnicator", b"")
    with pytest.raises(errors.BadRequest) as info:
        decode_object(body, target=("apps/v1", "Deployment"))
    assert info.value.message == (
        'Frobnicator in version "v1" cannot be handled as a Deployment: no kind "Frobnicator" is registered '
        'for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"'
    )
    assert info.value.code == 400


def test_missing_prefix_is_unrecognized() -> None:
    with pytest.raises(errors.BadRequest) as info:
        decode_object(b'{"kind":"Deployment"}', target=("apps/v1", "Deployment"))
    assert info.value.message == (
        "the object provided is unrecognized (must be of type Deployment): provided data does not appear to be a "
        'protobuf message, expected prefix [107 56 115 0] ({"kind":"Deployment"})'
    )


@pytest.mark.parametrize(("body", "err"), [
    (b"", "empty data (<empty>)"),
    (MAGIC, "empty body (6b387300)"),
    (MAGIC + b"\x0a\x05\x0a", "unexpected EOF (6b3873000a050a)"),
])
def test_empty_and_truncated_envelopes(body: bytes, err: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        decode_object(body, target=("v1", "ConfigMap"))
    assert info.value.message == f"the object provided is unrecognized (must be of type ConfigMap): {err}"


def test_target_fills_missing_kind_and_version() -> None:
    body = _envelope("", "", b"\x0a\x03\x0a\x01c")
    assert decode_object(body, target=("v1", "ConfigMap"))["metadata"]["name"] == "c"
    with pytest.raises(errors.BadRequest, match="Object 'Kind' is missing"):
        decode_object(body)


def test_wrong_wire_type_is_bad_request() -> None:
    body = _envelope("v1", "ConfigMap", b"\x08\x01")  # field 1 (metadata) as a varint
    with pytest.raises(errors.BadRequest) as info:
        decode_object(body)
    assert info.value.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: proto: wrong wireType = 0 for field Metadata'
    )


def test_hostile_bytes_only_ever_raise_bad_request() -> None:
    rng = random.Random(1234)
    bodies = [(FIXTURES / f"{n}.pb").read_bytes() for n in FIXTURE_NAMES]
    for body in bodies:
        for cut in range(len(body)):
            _decode_or_bad_request(body[:cut])
    for _ in range(3000):
        mutated = bytearray(rng.choice(bodies))
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(MAGIC), len(mutated))] = rng.randrange(256)
        _decode_or_bad_request(bytes(mutated))


def _decode_or_bad_request(body: bytes) -> None:
    try:
        decode_object(body)
    except errors.BadRequest:
        pass


def test_encode_rejects_wrong_types_and_unknown_kinds() -> None:
    with pytest.raises(errors.BadRequest):
        encode_object({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": 1}})
    with pytest.raises(errors.BadRequest):
        encode_object({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "three"}})
    with pytest.raises(errors.BadRequest):
        encode_object({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1 << 31}})
    with pytest.raises(errors.BadRequest):
        encode_object({"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}})
    with pytest.raises(errors.BadRequest):
        encode_object({"apiVersion": "example.com/v1", "kind": "Widget"})


# ---- helpers ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("nanos", "text"), [
    (0, "0s"), (1, "1ns"), (1_500, "1.5µs"), (100_000_000, "100ms"), (1_500_000_000, "1.5s"),
    (90 * 10**9, "1m30s"), (3600 * 10**9, "1h0m0s"), (3723 * 10**9 + 500_000_000, "1h2m3.5s"),
    (-90 * 10**9, "-1m30s"), (48 * 3600 * 10**9, "48h0m0s"),
])
def test_go_duration_text(nanos: int, text: str) -> None:
    assert format_go_duration(nanos) == text
    assert parse_go_duration(text) == nanos


def test_go_duration_parse_accepts_go_forms() -> None:
    assert parse_go_duration("1h30m") == 5400 * 10**9
    assert parse_go_duration("2us") == parse_go_duration("2μs") == 2000
    assert parse_go_duration(".5s") == 500_000_000
    assert parse_go_duration("0") == 0


def test_known_kinds_and_content_type() -> None:
    assert CONTENT_TYPE == "application/vnd.kubernetes.protobuf"
    kinds = known_kinds()
    assert "Deployment" in kinds["apps/v1"]
    assert "SelfSubjectAccessReview" in kinds["authorization.k8s.io/v1"]
    assert "TokenRequest" in kinds["authentication.k8s.io/v1"]
    assert "HorizontalPodAutoscaler" in kinds["autoscaling/v2"]
