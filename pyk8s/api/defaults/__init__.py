"""Upstream defaulting (SetDefaults_* and the generated defaulters) for every kind pyk8s serves.

``apply_defaults`` mutates a plain-dict object in place, as the apiserver does right after decoding
a request body. Empty maps and ``null`` count as unset (kubectl sends ``"strategy": {}``,
``"resources": {}``, ``"creationTimestamp": null``); null members are dropped, as upstream's decode
and re-encode would drop them, except ``metadata.creationTimestamp`` (Go encodes its zero as null).

Defaults that upstream applies elsewhere are not here: Service cluster IPs and ipFamilies/
ipFamilyPolicy (REST layer allocators), Pod ``status`` and Namespace ``spec.finalizers`` (registry
PrepareForCreate), ServiceAccount and DefaultTolerationSeconds admission. The Priority admission
plugin's default for Pods without a priority class is applied (priority 0, PreemptLowerPriority).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pyk8s.api.defaults import (
    apps,
    autoscaling,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    policy,
    rbac,
    scheduling,
)

__all__ = ["apply_defaults"]

_BY_GROUP: Final[dict[str, dict[str, Callable[[dict[str, Any]], None]]]] = {
    "": core.DEFAULTERS,
    "apps": apps.DEFAULTERS,
    "batch": batch.DEFAULTERS,
    "policy": policy.DEFAULTERS,
    "rbac.authorization.k8s.io": rbac.DEFAULTERS,
    "scheduling.k8s.io": scheduling.DEFAULTERS,
    "coordination.k8s.io": coordination.DEFAULTERS,
    "discovery.k8s.io": discovery.DEFAULTERS,
    "certificates.k8s.io": certificates.DEFAULTERS,
    "events.k8s.io": events.DEFAULTERS,
}

# Opaque payloads whose nulls belong to the user (runtime.RawExtension).
_RAW_FIELDS: Final = {("apps", "ControllerRevision"): "data"}


def apply_defaults(group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
    """Fill in upstream's defaults for ``group/version, Kind=kind`` in place."""
    raw_key = _RAW_FIELDS.get((group, kind))
    raw = obj.pop(raw_key) if raw_key and raw_key in obj else None
    core.drop_nulls(obj)
    if raw_key and raw is not None:
        obj[raw_key] = raw
    if group == "autoscaling" and kind == "HorizontalPodAutoscaler":
        autoscaling.hpa(obj, version)
        return
    fn = _BY_GROUP.get(group, {}).get(kind)
    if fn is not None:
        fn(obj)
