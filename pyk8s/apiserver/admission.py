"""Admission: checks and mutations every write passes after validation, before it is stored.

Built-in plugins here, named as upstream names them: NamespaceLifecycle (no new objects in a missing
or terminating namespace; the four system namespaces cannot be deleted), Priority (a new pod's priority and
preemptionPolicy come from its PriorityClass or the one global default; at most one class is the global
default; the system classes cannot be deleted, as upstream's PriorityClass REST storage refuses),
DefaultTolerationSeconds, and ServiceAccount (pyk8s/apiserver/admission_serviceaccount.py).
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.api.validation.scheduling import SYSTEM_PRIORITY_CLASSES
from pyk8s.apiserver.admission_serviceaccount import ServiceAccountAdmission
from pyk8s.apiserver.registry.registry import Registry

Obj = dict[str, Any]

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
SYSTEM_NAMESPACES = (*IMMORTAL_NAMESPACES, "kube-node-lease")
# Objects that may still be created in a terminating namespace (upstream's exemption list).
_ALLOWED_IN_TERMINATING = frozenset({("", "events"), ("events.k8s.io", "events")})
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300
DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300
# Upstream's DefaultPriorityWhenNoDefaultClassExists, and the policy a pod gets when no class names one.
DEFAULT_PRIORITY = 0
DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"


class Admission:
    def __init__(self, registry: Registry, *, not_ready_seconds: int = DEFAULT_NOT_READY_TOLERATION_SECONDS,
                 unreachable_seconds: int = DEFAULT_UNREACHABLE_TOLERATION_SECONDS) -> None:
        self.registry = registry
        self.not_ready_seconds = not_ready_seconds
        self.unreachable_seconds = unreachable_seconds
        self.service_accounts = ServiceAccountAdmission(self._service_account)

    async def on_create(self, r: Resource, obj: Obj) -> None:
        if r.namespaced:
            await self._namespace_lifecycle(r, obj["metadata"]["namespace"], obj["metadata"].get("name", ""))
        if r.group == "" and r.plural == "pods":
            await self.service_accounts.admit_create(r, obj)
            await self._pod_priority(r, obj)
            self._default_toleration_seconds(obj)
        elif r.group == "scheduling.k8s.io" and r.plural == "priorityclasses":
            await self._single_global_default(r, obj, updating=False)

    async def on_update(self, r: Resource, new: Obj, old: Obj) -> None:
        """Checks on an update of the main resource (not its subresources), after validation."""
        if r.group == "scheduling.k8s.io" and r.plural == "priorityclasses":
            await self._single_global_default(r, new, updating=True)

    async def on_delete(self, r: Resource, name: str) -> None:
        if r.group == "" and r.plural == "namespaces" and name in IMMORTAL_NAMESPACES:
            raise errors.Forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )
        if r.group == "scheduling.k8s.io" and r.plural == "priorityclasses" and name in SYSTEM_PRIORITY_CLASSES:
            raise _forbidden(r, name, "this is a system priority class and cannot be deleted")

    async def _namespace_lifecycle(self, r: Resource, namespace: str, name: str) -> None:
        ns_res = self.registry.table.lookup("", "v1", "namespaces")
        assert ns_res is not None
        try:
            ns = await self.registry.objects(ns_res).get("", namespace)
        except errors.NotFound:
            raise errors.not_found("namespaces", "", namespace) from None
        terminating = ns.get("status", {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp")
        if terminating and (r.group, r.plural) not in _ALLOWED_IN_TERMINATING:
            raise errors.Forbidden(
                f'{r.qualified} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated",
                details={"name": name, "kind": r.plural,
                         "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated",
                                     "field": "metadata.namespace"}]},
            )

    async def _service_account(self, namespace: str, name: str) -> Obj:
        r = self.registry.table.lookup("", "v1", "serviceaccounts")
        assert r is not None
        return await self.registry.objects(r).get(namespace, name)

    def _default_toleration_seconds(self, pod: Obj) -> None:
        spec = pod.setdefault("spec", {})
        tolerations = spec.get("tolerations") or []
        wanted = (("node.kubernetes.io/not-ready", self.not_ready_seconds),
                  ("node.kubernetes.io/unreachable", self.unreachable_seconds))
        for key, seconds in wanted:
            if any(t.get("effect") in ("NoExecute", "", None) and (t.get("key") == key or
                   (not t.get("key") and t.get("operator") == "Exists")) for t in tolerations):
                continue
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})
        if tolerations:
            spec["tolerations"] = tolerations

    # ---------------------------------------------------------------- Priority
    def _priority_classes(self) -> Resource:
        r = self.registry.table.lookup("scheduling.k8s.io", "v1", "priorityclasses")
        assert r is not None
        return r

    async def _global_default_class(self) -> Obj | None:
        """The class marked globalDefault; if a race left several, the lowest value wins, as upstream picks."""
        classes = (await self.registry.objects(self._priority_classes()).list("")).items
        defaults = [pc for pc in classes if pc.get("globalDefault") is True]
        return min(defaults, key=lambda pc: int(pc.get("value") or 0), default=None)

    async def _pod_priority(self, r: Resource, pod: Obj) -> None:
        """Resolve a new pod's priority and preemptionPolicy from its PriorityClass (upstream's admitPod on create)."""
        spec = pod.setdefault("spec", {})
        md = pod["metadata"]
        pod_name = md.get("name") or md.get("generateName") or ""
        class_name = spec.get("priorityClassName") or ""
        if class_name:
            try:
                pc: Obj | None = await self.registry.objects(self._priority_classes()).get("", class_name)
            except errors.NotFound:
                raise _forbidden(r, pod_name, f"no PriorityClass with name {class_name} was found") from None
        else:
            pc = await self._global_default_class()
            spec.pop("priorityClassName", None)
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
        priority = int(pc.get("value") or 0) if pc is not None else DEFAULT_PRIORITY
        policy = pc.get("preemptionPolicy") if pc is not None else DEFAULT_PREEMPTION_POLICY
        given = spec.get("priority")
        if given is not None and given != priority:
            raise _forbidden(r, pod_name, f"the integer value of priority ({given}) must not be provided in pod spec; "
                                          f"priority admission controller computed {priority} from the given "
                                          "PriorityClass name")
        spec["priority"] = priority
        if policy is not None:
            given_policy = spec.get("preemptionPolicy")
            if given_policy is not None and given_policy != policy:
                raise _forbidden(r, pod_name, f"the string value of PreemptionPolicy ({given_policy}) must not be "
                                              f"provided in pod spec; priority admission controller computed {policy} "
                                              "from the given PriorityClass name")
            spec["preemptionPolicy"] = policy

    async def _single_global_default(self, r: Resource, pc: Obj, *, updating: bool) -> None:
        """Only one PriorityClass may be the global default (upstream's validatePriorityClass)."""
        if pc.get("globalDefault") is not True:
            return
        current = await self._global_default_class()
        if current is None:
            return
        name = pc["metadata"].get("name", "")
        if not updating or current["metadata"]["name"] != name:
            raise _forbidden(r, name, f"PriorityClass {current['metadata']['name']} is already marked as default. "
                                      "Only one default can exist")


def _forbidden(r: Resource, name: str, why: str) -> errors.Forbidden:
    """Upstream's admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`."""
    details: Obj = {"name": name, "group": r.group, "kind": r.plural} if r.group else {"name": name, "kind": r.plural}
    return errors.Forbidden(f'{r.qualified} "{name}" is forbidden: {why}', details=details)
