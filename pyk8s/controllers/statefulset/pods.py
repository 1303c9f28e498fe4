"""StatefulSet pod identity, storage and claim ownership (upstream stateful_set_utils.go), as pure functions.

A member pod is named "<set>-<ordinal>", carries the labels statefulset.kubernetes.io/pod-name,
apps.kubernetes.io/pod-index and controller-revision-hash (the name of its ControllerRevision), gets
hostname = its name and subdomain = spec.serviceName, and mounts one PVC per volumeClaimTemplate named
"<template>-<set>-<ordinal>". The PVC retention policy is expressed as ownerReferences on the claims.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from pyk8s.api.meta import copy
from pyk8s.controllers.framework import new_controller_ref
from pyk8s.controllers.framework.podstate import is_pod_available, is_pod_ready, is_terminating, phase_of

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"  # apps.StatefulSetPodNameLabel
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"  # apps.PodIndexLabel
REVISION_LABEL = "controller-revision-hash"  # apps.StatefulSetRevisionLabel
RETAIN = "Retain"
DELETE = "Delete"
SET_API_VERSION, SET_KIND = "apps/v1", "StatefulSet"
POD_API_VERSION, POD_KIND = "v1", "Pod"

_STATEFUL_POD_RE = re.compile(r"^(.*)-([0-9]+)$")
_INT32_MAX = 2**31 - 1


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


# ---- ordinals and names ----

def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """The parent set's name and the ordinal parsed from the pod's name; ("", -1) when it has none."""
    m = _STATEFUL_POD_RE.match(str(_meta(pod).get("name") or ""))
    if m is None:
        return "", -1
    n = int(m.group(2))
    return m.group(1), (n if n <= _INT32_MAX else -1)


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def replicas_of(sts: Obj) -> int:
    r = _spec(sts).get("replicas")
    return 1 if r is None else int(r)


def start_ordinal(sts: Obj) -> int:
    return int((_spec(sts).get("ordinals") or {}).get("start") or 0)


def end_ordinal(sts: Obj) -> int:
    """The last ordinal in range (inclusive)."""
    return start_ordinal(sts) + replicas_of(sts) - 1


def in_ordinal_range(pod: Obj, sts: Obj) -> bool:
    return start_ordinal(sts) <= ordinal_of(pod) <= end_ordinal(sts)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{_meta(sts).get('name')}-{ordinal}"


def claim_name(sts: Obj, template: Obj, ordinal: int) -> str:
    return f"{_meta(template).get('name')}-{_meta(sts).get('name')}-{ordinal}"


def is_member_of(sts: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod)[0] == _meta(sts).get("name")


# ---- identity and storage ----

def identity_matches(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    pm = _meta(pod)
    return (ordinal >= 0 and parent == _meta(sts).get("name") and pm.get("name") == pod_name(sts, ordinal)
            and (pm.get("namespace") or "") == (_meta(sts).get("namespace") or "")
            and (pm.get("labels") or {}).get(POD_NAME_LABEL) == pm.get("name"))


def storage_matches(sts: Obj, pod: Obj) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in _spec(pod).get("volumes") or ()}
    for template in _spec(sts).get("volumeClaimTemplates") or ():
        vol = volumes.get(_meta(template).get("name"))
        source = (vol or {}).get("persistentVolumeClaim")
        if not source or source.get("claimName") != claim_name(sts, template, ordinal):
            return False
    return True


def claims_for(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """getPersistentVolumeClaims: template name -> the claim that member `ordinal` uses (not yet created)."""
    selector_labels = (_spec(sts).get("selector") or {}).get("matchLabels") or {}
    out: dict[str, Obj] = {}
    for template in _spec(sts).get("volumeClaimTemplates") or ():
        tm = _meta(template)
        labels = dict(tm.get("labels") or {})
        labels.update(selector_labels)
        meta: Obj = {"name": claim_name(sts, template, ordinal), "namespace": _meta(sts).get("namespace") or ""}
        if labels:
            meta["labels"] = labels
        if tm.get("annotations"):
            meta["annotations"] = dict(tm["annotations"])
        if tm.get("finalizers"):
            meta["finalizers"] = list(tm["finalizers"])
        out[str(tm.get("name"))] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                                    "spec": copy(template.get("spec") or {})}
    return out


def update_storage(sts: Obj, pod: Obj) -> None:
    """Point the pod's volumes at the set's claims (template order first), keeping its other volumes."""
    claims = claims_for(sts, ordinal_of(pod))
    spec = pod.setdefault("spec", {})
    volumes: list[Obj] = [{"name": name, "persistentVolumeClaim": {"claimName": _meta(c)["name"]}}
                          for name, c in claims.items()]
    volumes.extend(v for v in spec.get("volumes") or () if v.get("name") not in claims)
    spec["volumes"] = volumes


def update_identity(sts: Obj, pod: Obj) -> None:
    """Name, namespace and the pod-name / pod-index labels that make the pod the member for its ordinal."""
    ordinal = ordinal_of(pod)
    meta = pod.setdefault("metadata", {})
    meta["name"] = pod_name(sts, ordinal)
    meta["namespace"] = _meta(sts).get("namespace") or ""
    labels = dict(meta.get("labels") or {})
    labels[POD_NAME_LABEL] = meta["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)
    meta["labels"] = labels


def new_pod(sts: Obj, ordinal: int) -> Obj:
    """newStatefulSetPod: the template as a pod with the member's identity and storage (not yet created)."""
    template = _spec(sts).get("template") or {}
    tm = _meta(template)
    sm = _meta(sts)
    meta: Obj = {
        "name": pod_name(sts, ordinal),
        "generateName": f"{sm.get('name')}-",
        "labels": dict(tm.get("labels") or {}),
        "ownerReferences": [new_controller_ref(sts, SET_API_VERSION, SET_KIND)],
    }
    if tm.get("annotations"):
        meta["annotations"] = dict(tm["annotations"])
    if tm.get("finalizers"):
        meta["finalizers"] = list(tm["finalizers"])
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy(template.get("spec") or {})}
    update_identity(sts, pod)
    pod["spec"]["hostname"] = meta["name"]
    if _spec(sts).get("serviceName"):
        pod["spec"]["subdomain"] = _spec(sts)["serviceName"]
    update_storage(sts, pod)
    return pod


def pod_revision(pod: Obj) -> str:
    return str((_meta(pod).get("labels") or {}).get(REVISION_LABEL) or "")


def set_pod_revision(pod: Obj, revision: str) -> None:
    meta = pod.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), REVISION_LABEL: revision}


def update_strategy(sts: Obj) -> Obj:
    return _spec(sts).get("updateStrategy") or {}


def strategy_type(sts: Obj) -> str:
    return str(update_strategy(sts).get("type") or "RollingUpdate")


def partition_of(sts: Obj) -> int:
    return int((update_strategy(sts).get("rollingUpdate") or {}).get("partition") or 0)


def new_versioned_pod(current_set: Obj, update_set: Obj, current_revision: str, update_revision: str,
                      ordinal: int) -> Obj:
    """newVersionedStatefulSetPod: ordinals below the partition are (re)created at the current revision."""
    rolling = update_strategy(current_set).get("rollingUpdate")
    is_rolling = strategy_type(current_set) == "RollingUpdate"
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    if ((is_rolling and rolling is None and ordinal < start_ordinal(current_set) + current_replicas)
            or (rolling is not None and ordinal < start_ordinal(current_set) + partition_of(current_set))):
        pod = new_pod(current_set, ordinal)
        set_pod_revision(pod, current_revision)
        return pod
    pod = new_pod(update_set, ordinal)
    set_pod_revision(pod, update_revision)
    return pod


# ---- pod states ----

def is_created(pod: Obj) -> bool:
    """The pod exists in the API (upstream checks for a phase; a pod from the cache always has a UID)."""
    return bool(_meta(pod).get("uid")) or bool(phase_of(pod))


def is_running_and_ready(pod: Obj) -> bool:
    return phase_of(pod) == "Running" and is_pod_ready(pod)


def is_running_and_available(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    """Upstream's isRunningAndAvailable is IsPodAvailable alone (Ready for minReadySeconds)."""
    return is_pod_available(pod, min_ready_seconds, now)


def is_unavailable(pod: Obj, min_ready_seconds: int, now: datetime.datetime) -> bool:
    return not is_running_and_available(pod, min_ready_seconds, now) or is_terminating(pod)


def allows_burst(sts: Obj) -> bool:
    return _spec(sts).get("podManagementPolicy") == "Parallel"


def min_ready_seconds(sts: Obj) -> int:
    return int(_spec(sts).get("minReadySeconds") or 0)


# ---- claim ownership for the retention policy ----

def retention_policy(sts: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled); Retain for anything unset."""
    policy = _spec(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return str(policy.get("whenDeleted") or RETAIN), str(policy.get("whenScaled") or RETAIN)


def _refs(obj: Obj) -> list[Obj]:
    return list(_meta(obj).get("ownerReferences") or [])


def _matches_ref(ref: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    return ref.get("apiVersion") == api_version and ref.get("kind") == kind and ref.get("name") == _meta(obj).get("name")


def has_owner_ref(target: Obj, owner: Obj) -> bool:
    uid = _meta(owner).get("uid")
    return any(r.get("uid") == uid for r in _refs(target))


def has_stale_owner_ref(target: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    """The first reference naming `obj` carries another UID (it points at an earlier incarnation)."""
    for ref in _refs(target):
        if _matches_ref(ref, obj, api_version, kind):
            return ref.get("uid") != _meta(obj).get("uid")
    return False


def has_unexpected_controller(claim: Obj, sts: Obj, pod: Obj) -> bool:
    if retention_policy(sts) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim):
        if _matches_ref(ref, sts, SET_API_VERSION, SET_KIND):
            if ref.get("uid") != _meta(sts).get("uid"):
                return True
            continue
        if _matches_ref(ref, pod, POD_API_VERSION, POD_KIND):
            if ref.get("uid") != _meta(pod).get("uid"):
                return True
            continue
        if ref.get("controller"):
            return True
    return False


def _has_non_controller_owner(claim: Obj, sts: Obj, pod: Obj) -> bool:
    uids = {_meta(sts).get("uid"), _meta(pod).get("uid")}
    return any(r.get("uid") in uids and not r.get("controller") for r in _refs(claim))


def is_claim_owner_up_to_date(claim: Obj, sts: Obj, pod: Obj) -> bool:
    """isClaimOwnerUpToDate: the claim's ownerReferences express the retention policy for this pod."""
    if (has_stale_owner_ref(claim, sts, SET_API_VERSION, SET_KIND)
            or has_stale_owner_ref(claim, pod, POD_API_VERSION, POD_KIND)):
        return True
    if has_unexpected_controller(claim, sts, pod):
        return not (has_owner_ref(claim, sts) or has_owner_ref(claim, pod))
    if _has_non_controller_owner(claim, sts, pod):
        return False
    when_deleted, when_scaled = retention_policy(sts)
    set_ref, pod_ref = has_owner_ref(claim, sts), has_owner_ref(claim, pod)
    scaled_down = not in_ordinal_range(pod, sts)
    if when_scaled == DELETE and when_deleted == DELETE:
        return scaled_down != set_ref and scaled_down == pod_ref
    if when_scaled == DELETE:
        return not set_ref and scaled_down == pod_ref
    if when_deleted == DELETE:
        return set_ref and not pod_ref
    return not set_ref and not pod_ref


def update_claim_owner_refs(claim: Obj, sts: Obj, pod: Obj) -> None:
    """updateClaimOwnerRefForSetAndPod: rewrite the claim's refs to the set and pod for the retention policy."""
    unexpected = has_unexpected_controller(claim, sts, pod)
    refs = [r for r in _refs(claim)
            if not (_matches_ref(r, sts, SET_API_VERSION, SET_KIND) or _matches_ref(r, pod, POD_API_VERSION, POD_KIND))]
    if not unexpected:
        when_deleted, when_scaled = retention_policy(sts)
        scaled_down = not in_ordinal_range(pod, sts)
        if when_scaled == DELETE and scaled_down:
            refs.append(new_controller_ref(pod, POD_API_VERSION, POD_KIND))
        elif when_deleted == DELETE and not (when_scaled == DELETE and scaled_down):
            refs.append(new_controller_ref(sts, SET_API_VERSION, SET_KIND))
    meta = claim.setdefault("metadata", {})
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)
