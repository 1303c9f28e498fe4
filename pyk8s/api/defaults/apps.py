"""apps/v1 defaulting: Deployment, ReplicaSet, DaemonSet, StatefulSet (pkg/apis/apps/v1/defaults.go).

Pod templates get the pod-spec defaults (not the Pod-only ones such as enableServiceLinks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pyk8s.api.defaults.core import Obj, default, default_zero, dicts, obj_at, pod_template, pvc_spec


def deployment(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    default(spec, "replicas", 1)
    strategy = obj_at(spec, "strategy")
    default_zero(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = obj_at(strategy, "rollingUpdate")
        default(rolling, "maxUnavailable", "25%")
        default(rolling, "maxSurge", "25%")
    default(spec, "revisionHistoryLimit", 10)
    default(spec, "progressDeadlineSeconds", 600)
    pod_template(spec.get("template"))


def replica_set(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    default(spec, "replicas", 1)
    pod_template(spec.get("template"))


def daemon_set(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    strategy = obj_at(spec, "updateStrategy")
    default_zero(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = obj_at(strategy, "rollingUpdate")
        default(rolling, "maxUnavailable", 1)
        default(rolling, "maxSurge", 0)
    default(spec, "revisionHistoryLimit", 10)
    pod_template(spec.get("template"))


def stateful_set(obj: Obj) -> None:
    spec = obj_at(obj, "spec")
    default_zero(spec, "podManagementPolicy", "OrderedReady")
    strategy = obj_at(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        obj_at(strategy, "rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(strategy.get("rollingUpdate"), dict):
        default(strategy["rollingUpdate"], "partition", 0)
    retention = obj_at(spec, "persistentVolumeClaimRetentionPolicy")
    default_zero(retention, "whenDeleted", "Retain")
    default_zero(retention, "whenScaled", "Retain")
    default(spec, "replicas", 1)
    default(spec, "revisionHistoryLimit", 10)
    pod_template(spec.get("template"))
    for claim in dicts(spec.get("volumeClaimTemplates")):
        pvc_spec(obj_at(claim, "spec"))
        default_zero(obj_at(claim, "status"), "phase", "Pending")


DEFAULTERS: Final[dict[str, Callable[[Obj], None]]] = {
    "Deployment": deployment,
    "ReplicaSet": replica_set,
    "DaemonSet": daemon_set,
    "StatefulSet": stateful_set,
}
