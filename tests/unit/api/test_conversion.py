"""Conversions between versions that share storage lose nothing on a round trip."""

from __future__ import annotations

from pyk8s.api.conversion import BEHAVIOR_ANNOTATION, METRICS_ANNOTATION, event, hpa

V2 = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "labels": {"a": "b"}},
    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w", "apiVersion": "apps/v1"}, "minReplicas": 1,
             "maxReplicas": 3,
             "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                      "averageUtilization": 50}}},
                         {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                                         "averageValue": "100Mi"}}}],
             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
    "status": {"currentReplicas": 1, "desiredReplicas": 2, "conditions": [{"type": "AbleToScale", "status": "True"}],
               "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                                     "current": {"averageUtilization": 40}}}]},
}


def test_hpa_v2_through_v1_and_back_is_identical() -> None:
    v1 = hpa(V2, "autoscaling/v1")
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert "metrics" not in v1["spec"] and "behavior" not in v1["spec"]
    assert METRICS_ANNOTATION in v1["metadata"]["annotations"] and BEHAVIOR_ANNOTATION in v1["metadata"]["annotations"]
    assert v1["status"]["currentCPUUtilizationPercentage"] == 40
    assert hpa(v1, "autoscaling/v2") == V2


def test_plain_v1_hpa_becomes_a_cpu_metric() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "w"}, "maxReplicas": 3,
                   "targetCPUUtilizationPercentage": 70}}
    v2 = hpa(v1, "autoscaling/v2")
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
    assert "annotations" not in v2["metadata"]


def test_core_event_round_trips_through_events_k8s_io() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "n"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "n"}, "reason": "Pulled",
            "message": "done", "type": "Normal", "source": {"component": "kubelet"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:01Z", "count": 2,
            "reportingComponent": "kubelet", "reportingInstance": "node-a", "eventTime": None}
    new = event(core, "events.k8s.io/v1")
    assert new["regarding"]["name"] == "p" and new["note"] == "done" and new["deprecatedCount"] == 2
    back = event(new, "v1")
    for key in ("involvedObject", "reason", "message", "type", "source", "firstTimestamp", "lastTimestamp", "count"):
        assert back[key] == core[key], key
