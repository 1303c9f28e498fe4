"""VolumeBinding (the basics of upstream plugins/volumebinding).

PreFilter: every PersistentVolumeClaim the pod uses must exist and not be terminating; an unbound claim whose
StorageClass binds Immediately makes the pod unschedulable ("pod has unbound immediate PersistentVolumeClaims").
Filter: a bound claim's PersistentVolume must exist and its node affinity must match the node; an unbound
WaitForFirstConsumer claim needs an available matching PV reachable from the node, or a StorageClass with a
provisioner. Reserve remembers the choice; PreBind writes it: a static PV gets spec.claimRef (the PV controller
finishes the binding), a claim to provision gets the volume.kubernetes.io/selected-node annotation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyk8s.api import errors
from pyk8s.api.labels import from_label_selector
from pyk8s.api.resources import Resource
from pyk8s.client.interface import Obj
from pyk8s.client.kinds import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES
from pyk8s.scheduler.framework.helpers import STORAGE_CLASSES, NodeSelector
from pyk8s.scheduler.framework.interface import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    Code,
    CycleState,
    EventResource,
    Handle,
    PreFilterResult,
    Status,
)
from pyk8s.scheduler.framework.types import NodeInfo, PodInfo, int_value

NAME = "VolumeBinding"
STATE_KEY = "PreFilter" + NAME
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ANNOTATION_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANNOTATION_STORAGE_CLASS_BETA = "volume.beta.kubernetes.io/storage-class"
ANNOTATION_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"


_SKIP = Status(Code.SKIP)


def claim_names(pod: Obj) -> list[str]:
    md = pod.get("metadata") or {}
    out: list[str] = []
    for v in (pod.get("spec") or {}).get("volumes") or ():
        pvc = v.get("persistentVolumeClaim")
        if pvc and pvc.get("claimName"):
            out.append(str(pvc["claimName"]))
        elif v.get("ephemeral") is not None:
            out.append(f"{md.get('name', '')}-{v.get('name', '')}")
    return out


def storage_class_name(pvc: Obj) -> str:
    anns = (pvc.get("metadata") or {}).get("annotations") or {}
    if ANNOTATION_STORAGE_CLASS_BETA in anns:
        return str(anns[ANNOTATION_STORAGE_CLASS_BETA])
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def pv_matches_node(pv: Obj, node: NodeInfo) -> bool:
    required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required"))
    if required is None:
        return True
    return NodeSelector(required).matches(node.labels, node.name)


def pv_fits_claim(pv: Obj, pvc: Obj) -> bool:
    """Could `pv` be bound to the unbound `pvc` (class, mode, access modes, size, selector, availability)?"""
    pv_spec, pvc_spec = pv.get("spec") or {}, pvc.get("spec") or {}
    md = pvc.get("metadata") or {}
    if (pv.get("metadata") or {}).get("deletionTimestamp"):
        return False
    ref = pv_spec.get("claimRef")
    if ref:
        if ref.get("namespace") != md.get("namespace") or ref.get("name") != md.get("name"):
            return False
        if ref.get("uid") and md.get("uid") and ref["uid"] != md["uid"]:
            return False
    elif (pv.get("status") or {}).get("phase") not in (None, "", "Available", "Pending"):
        return False
    if (pv_spec.get("storageClassName") or "") != storage_class_name(pvc):
        return False
    if (pv_spec.get("volumeMode") or "Filesystem") != (pvc_spec.get("volumeMode") or "Filesystem"):
        return False
    if not set(pvc_spec.get("accessModes") or ()) <= set(pv_spec.get("accessModes") or ()):
        return False
    want = int_value(((pvc_spec.get("resources") or {}).get("requests") or {}).get("storage", 0))
    have = int_value((pv_spec.get("capacity") or {}).get("storage", 0))
    if have < want:
        return False
    sel = pvc_spec.get("selector")
    if sel is not None:
        try:
            if not from_label_selector(sel).matches((pv.get("metadata") or {}).get("labels") or {}):
                return False
        except errors.StatusError:
            return False
    return True


class _State:
    __slots__ = ("bound", "choices", "delayed")

    def __init__(self) -> None:
        self.bound: list[tuple[Obj, Obj | None]] = []
        self.delayed: list[Obj] = []
        # Set by Reserve: (claim, PV to bind or None to provision).
        self.choices: list[tuple[Obj, Obj | None]] = []

    def clone(self) -> _State:
        return self


class VolumeBinding:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self._assumed_pvs: dict[str, str] = {}

    def _get(self, res: Resource | None, key: str) -> Obj | None:
        if res is None:
            return None
        try:
            return self.handle.lister(res).get(key)
        except KeyError:
            return None

    def _list(self, res: Resource | None) -> list[Obj]:
        if res is None:
            return []
        try:
            return self.handle.lister(res).list()
        except KeyError:
            return []

    def pre_filter(self, state: CycleState, pod: PodInfo,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        names = claim_names(pod.pod)
        if not names:
            return None, _SKIP
        s = _State()
        immediate = False
        for name in names:
            pvc = self._get(PERSISTENT_VOLUME_CLAIMS, f"{pod.namespace}/{name}")
            if pvc is None:
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" not found')
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                    f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = (pvc.get("spec") or {}).get("volumeName") or ""
            if volume_name:
                s.bound.append((pvc, self._get(PERSISTENT_VOLUMES, volume_name)))
                continue
            sc = self._get(STORAGE_CLASSES, storage_class_name(pvc)) if storage_class_name(pvc) else None
            if sc is not None and sc.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER:
                s.delayed.append(pvc)
            else:
                immediate = True
        if immediate:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_UNBOUND_IMMEDIATE)
        state.write(STATE_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def _can_provision(self, pvc: Obj) -> bool:
        sc = self._get(STORAGE_CLASSES, storage_class_name(pvc))
        return sc is not None and bool(sc.get("provisioner")) and sc.get("provisioner") != NO_PROVISIONER

    def _find_pv(self, pvc: Obj, node: NodeInfo, taken: set[str]) -> Obj | None:
        best: Obj | None = None
        best_size = 0
        key = f"{(pvc.get('metadata') or {}).get('namespace', '')}/{(pvc.get('metadata') or {}).get('name', '')}"
        for pv in self._list(PERSISTENT_VOLUMES):
            pv_name = (pv.get("metadata") or {}).get("name", "")
            if pv_name in taken or self._assumed_pvs.get(pv_name, key) != key:
                continue
            if not pv_fits_claim(pv, pvc) or not pv_matches_node(pv, node):
                continue
            size = int_value(((pv.get("spec") or {}).get("capacity") or {}).get("storage", 0))
            if best is None or size < best_size:
                best, best_size = pv, size
        return best

    def _choose(self, s: _State, node: NodeInfo) -> tuple[list[tuple[Obj, Obj | None]], list[str]]:
        reasons: list[str] = []
        for _, pv in s.bound:
            if pv is None:
                if ERR_REASON_PV_NOT_EXIST not in reasons:
                    reasons.append(ERR_REASON_PV_NOT_EXIST)
            elif not pv_matches_node(pv, node) and ERR_REASON_NODE_CONFLICT not in reasons:
                reasons.append(ERR_REASON_NODE_CONFLICT)
        choices: list[tuple[Obj, Obj | None]] = []
        taken: set[str] = set()
        for pvc in s.delayed:
            pv = self._find_pv(pvc, node, taken)
            if pv is not None:
                taken.add((pv.get("metadata") or {}).get("name", ""))
                choices.append((pvc, pv))
            elif self._can_provision(pvc):
                choices.append((pvc, None))
            elif ERR_REASON_BIND_CONFLICT not in reasons:
                reasons.append(ERR_REASON_BIND_CONFLICT)
        return choices, reasons

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _State | None = state.get(STATE_KEY)
        if s is None:
            return None
        _, reasons = self._choose(s, node)
        if reasons:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)
        return None

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        s: _State | None = state.get(STATE_KEY)
        if s is None or not s.delayed:
            return None
        node = self.handle.snapshot().get(node_name)
        if node is None:
            return Status(Code.ERROR, f'node "{node_name}" not found')
        choices, reasons = self._choose(s, node)
        if reasons:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, *reasons)
        s.choices = choices
        for pvc, pv in choices:
            if pv is not None:
                md = pvc.get("metadata") or {}
                self._assumed_pvs[(pv.get("metadata") or {}).get("name", "")] = f"{md.get('namespace')}/{md.get('name')}"
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        s: _State | None = state.get(STATE_KEY)
        if s is None:
            return
        for _, pv in s.choices:
            if pv is not None:
                self._assumed_pvs.pop((pv.get("metadata") or {}).get("name", ""), None)
        s.choices = []

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        s: _State | None = state.get(STATE_KEY)
        if s is None or not s.choices:
            return _SKIP
        client = self.handle.client
        try:
            for pvc, pv in s.choices:
                md = pvc.get("metadata") or {}
                if pv is None:
                    await client.patch(PERSISTENT_VOLUME_CLAIMS, md.get("name", ""),
                                       {"metadata": {"annotations": {ANNOTATION_SELECTED_NODE: node_name}}},
                                       md.get("namespace", ""))
                    continue
                claim_ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": md.get("namespace"),
                             "name": md.get("name"), "uid": md.get("uid"), "resourceVersion": md.get("resourceVersion")}
                await client.patch(PERSISTENT_VOLUMES, (pv.get("metadata") or {}).get("name", ""),
                                   {"metadata": {"annotations": {ANNOTATION_BOUND_BY_CONTROLLER: "yes"}},
                                    "spec": {"claimRef": claim_ref}})
        except (errors.StatusError, ConnectionError) as e:
            return Status.as_status(e)
        finally:
            for _, pv in s.choices:
                if pv is not None:
                    self._assumed_pvs.pop((pv.get("metadata") or {}).get("name", ""), None)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        add_update = ActionType.ADD | ActionType.UPDATE
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.PERSISTENT_VOLUME_CLAIM, add_update)),
            ClusterEventWithHint(ClusterEvent(EventResource.PERSISTENT_VOLUME, add_update)),
            ClusterEventWithHint(ClusterEvent(EventResource.STORAGE_CLASS, add_update)),
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL
                                              | ActionType.UPDATE_NODE_TAINT)),
        ]


def new(args: Mapping[str, Any], handle: Handle) -> VolumeBinding:
    return VolumeBinding(handle)
