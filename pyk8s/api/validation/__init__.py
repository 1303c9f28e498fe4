"""Upstream validation for every kind pyk8s serves, as pure functions over plain-dict objects.

``validate_create`` and ``validate_update`` return the list of :class:`FieldError` upstream's
strategy ``Validate``/``ValidateUpdate`` would return for the same (already defaulted) object; an
empty list means valid. The apiserver turns a non-empty list into a 422 with
``pyk8s.api.field_errors.invalid_error``.

Callers are expected to have run defaulting first (``pyk8s.api.defaults.apply_defaults``), and for
Jobs to have generated the selector (``pyk8s.api.defaults.batch.generate_job_selector``), exactly as
the upstream registry does before it validates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pyk8s.api.field_errors import FieldError
from pyk8s.api.resources import TABLE
from pyk8s.api.validation import (
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    limits,
    pod,
    policy,
    rbac,
    scheduling,
    service,
)
from pyk8s.api.validation import common as c
from pyk8s.api.validation import meta as vm
from pyk8s.api.validation.common import Obj

__all__ = ["validate_create", "validate_update"]

# (group, kind) -> validator(obj, version, old_or_None)
Validator = Callable[[Obj, str, "Obj | None"], list[FieldError]]

_RBAC: Final = "rbac.authorization.k8s.io"

_VALIDATORS: Final[dict[tuple[str, str], Validator]] = {
    ("", "Pod"): lambda o, v, old: pod.validate_pod_create(o) if old is None else pod.validate_pod_update(o, old),
    ("", "Service"): lambda o, v, old: (
        service.validate_service(o) if old is None else service.validate_service_update(o, old)
    ),
    ("", "Endpoints"): lambda o, v, old: service.validate_endpoints(o, old),
    ("", "ConfigMap"): lambda o, v, old: core.validate_config_map(o, old),
    ("", "Secret"): lambda o, v, old: core.validate_secret(o, old),
    ("", "Namespace"): lambda o, v, old: core.validate_namespace(o, old),
    ("", "Node"): lambda o, v, old: core.validate_node(o, old),
    ("", "PersistentVolume"): lambda o, v, old: core.validate_pv(o, old),
    ("", "PersistentVolumeClaim"): lambda o, v, old: core.validate_pvc(o, old),
    ("", "LimitRange"): lambda o, v, old: limits.validate_limit_range(o, old),
    ("", "ResourceQuota"): lambda o, v, old: limits.validate_resource_quota(o, old),
    ("", "ServiceAccount"): lambda o, v, old: core.validate_service_account(o, old),
    ("", "PodTemplate"): lambda o, v, old: core.validate_pod_template(o, old),
    ("", "ReplicationController"): lambda o, v, old: core.validate_replication_controller(o, old),
    ("", "Event"): lambda o, v, old: events.validate_event(o, "", old),
    ("events.k8s.io", "Event"): lambda o, v, old: events.validate_event(o, "events.k8s.io", old),
    ("apps", "Deployment"): lambda o, v, old: apps.validate_deployment(o, old),
    ("apps", "ReplicaSet"): lambda o, v, old: apps.validate_replica_set(o, old),
    ("apps", "DaemonSet"): lambda o, v, old: apps.validate_daemon_set(o, old),
    ("apps", "StatefulSet"): lambda o, v, old: apps.validate_stateful_set(o, old),
    ("apps", "ControllerRevision"): lambda o, v, old: apps.validate_controller_revision(o, old),
    ("batch", "Job"): lambda o, v, old: batch.validate_job(o, old),
    ("batch", "CronJob"): lambda o, v, old: batch.validate_cron_job(o, old),
    ("autoscaling", "HorizontalPodAutoscaler"): lambda o, v, old: autoscaling.validate_hpa(o, v, old),
    ("policy", "PodDisruptionBudget"): lambda o, v, old: policy.validate_pdb(o, old),
    ("scheduling.k8s.io", "PriorityClass"): lambda o, v, old: scheduling.validate_priority_class(o, old),
    ("coordination.k8s.io", "Lease"): lambda o, v, old: coordination.validate_lease(o, old),
    ("discovery.k8s.io", "EndpointSlice"): lambda o, v, old: discovery.validate_endpoint_slice(o, old),
    ("certificates.k8s.io", "CertificateSigningRequest"): lambda o, v, old: certificates.validate_csr(o, old),
    (_RBAC, "Role"): lambda o, v, old: rbac.validate_role(o, True, old),
    (_RBAC, "ClusterRole"): lambda o, v, old: rbac.validate_role(o, False, old),
    (_RBAC, "RoleBinding"): lambda o, v, old: rbac.validate_binding(o, True, old),
    (_RBAC, "ClusterRoleBinding"): lambda o, v, old: rbac.validate_binding(o, False, old),
}


def _generic(group: str, version: str, kind: str, obj: Obj, old: Obj | None) -> list[FieldError]:
    """Kinds without specific rules still get upstream's ObjectMeta checks."""
    if old is not None:
        return vm.validate_object_meta_update(obj, old)
    res = TABLE.by_kind(group, version, kind)
    namespaced = res.namespaced if res is not None else bool(c.get(obj, "metadata", "namespace"))
    return vm.validate_object_meta(obj, namespaced, vm.name_func(group, kind))


def validate_create(group: str, version: str, kind: str, obj: Obj) -> list[FieldError]:
    """Errors for creating ``obj`` (defaults already applied); empty when valid."""
    fn = _VALIDATORS.get((group, kind))
    if fn is None:
        return _generic(group, version, kind, obj, None)
    return fn(obj, version, None)


def validate_update(group: str, version: str, kind: str, new: Obj, old: Obj) -> list[FieldError]:
    """Errors for replacing ``old`` with ``new`` (both defaulted); empty when the update is allowed."""
    fn = _VALIDATORS.get((group, kind))
    if fn is None:
        return _generic(group, version, kind, new, old)
    return fn(new, version, old)
