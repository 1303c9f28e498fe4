"""Admission: checks and mutations every write passes after validation, before it is stored.

Built-in plugins here, named as upstream names them: NamespaceLifecycle (no new objects in a missing
or terminating namespace; the four system namespaces cannot be deleted) and DefaultTolerationSeconds.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.apiserver.registry.registry import Registry

Obj = dict[str, Any]

IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
SYSTEM_NAMESPACES = (*IMMORTAL_NAMESPACES, "kube-node-lease")
# Objects that may still be created in a terminating namespace (upstream's exemption list).
_ALLOWED_IN_TERMINATING = frozenset({("", "events"), ("events.k8s.io", "events")})
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300
DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300


class Admission:
    def __init__(self, registry: Registry, *, not_ready_seconds: int = DEFAULT_NOT_READY_TOLERATION_SECONDS,
                 unreachable_seconds: int = DEFAULT_UNREACHABLE_TOLERATION_SECONDS) -> None:
        self.registry = registry
        self.not_ready_seconds = not_ready_seconds
        self.unreachable_seconds = unreachable_seconds

    async def on_create(self, r: Resource, obj: Obj) -> None:
        if r.namespaced:
            await self._namespace_lifecycle(r, obj["metadata"]["namespace"], obj["metadata"].get("name", ""))
        if r.group == "" and r.plural == "pods":
            self._default_toleration_seconds(obj)

    async def on_delete(self, r: Resource, name: str) -> None:
        if r.group == "" and r.plural == "namespaces" and name in IMMORTAL_NAMESPACES:
            raise errors.Forbidden(
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                details={"name": name, "kind": "namespaces"},
            )

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
