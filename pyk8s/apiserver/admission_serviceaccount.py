"""The ServiceAccount admission plugin: every new pod runs as a service account and gets API credentials.

As upstream's plugin/pkg/admission/serviceaccount, on pod create only (updates and subresources pass; the pod
update rules already keep spec.serviceAccountName fixed):

- a pod without spec.serviceAccountName runs as "default"; the account must exist, else the pod is refused
  (403 ``error looking up service account <ns>/<name>: serviceaccount "<name>" not found``). "default" is
  looked up ten times over one to two seconds first, because the serviceaccount controller makes it
  shortly after its namespace appears;
- unless automountServiceAccountToken is false (the pod's setting wins, then the account's), the projected
  volume ``kube-api-access-<5 random>`` (bound token, the ``kube-root-ca.crt`` ConfigMap's ca.crt, the
  namespace) is added and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every
  container and init container that has nothing mounted there; a volume already named ``kube-api-access-*``
  is reused instead;
- the account's imagePullSecrets are copied to a pod that names none;
- mirror pods (kubelet static pods) are not changed, and may not name a service account, reference a
  secret or project a service account token.

The kubelet side of the volume is pyk8s/kubelet/volumes/projected.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.api.resources import Resource

Obj = dict[str, Any]

DEFAULT_SERVICE_ACCOUNT_NAME: Final = "default"
SERVICE_ACCOUNT_VOLUME_PREFIX: Final = "kube-api-access-"
DEFAULT_API_TOKEN_MOUNT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIG_MAP: Final = "kube-root-ca.crt"
MIRROR_POD_ANNOTATION: Final = "kubernetes.io/config.mirror"
# Upstream's WarnOnlyBoundTokenExpirationSeconds: one hour and seven seconds, so the apiserver can tell these
# automounted tokens apart.
BOUND_TOKEN_EXPIRATION_SECONDS: Final = 60 * 60 + 7
PROJECTED_DEFAULT_MODE: Final = 0o644
# How often "default" is looked up before the pod is refused (the other names: once).
DEFAULT_ACCOUNT_ATTEMPTS: Final = 10

AccountLookup = Callable[[str, str], Awaitable[Obj]]
"""(namespace, name) -> the ServiceAccount; raises errors.NotFound when there is none."""


def token_volume_source() -> Obj:
    """The projected volume source of an automounted ``kube-api-access-*`` volume, with its defaults set."""
    return {
        "defaultMode": PROJECTED_DEFAULT_MODE,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": BOUND_TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
    }


def should_automount(account: Obj, pod: Obj) -> bool:
    """The pod's automountServiceAccountToken wins, then the account's; unset on both means yes."""
    pod_choice = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if pod_choice is not None:
        return bool(pod_choice)
    account_choice = account.get("automountServiceAccountToken")
    if account_choice is not None:
        return bool(account_choice)
    return True


def mount_service_account_token(pod: Obj, generate_name: Callable[[str], str] = meta.generate_name) -> None:
    """Add the token volume (unless one is there) and its mount to every container not mounting the path."""
    spec = pod.setdefault("spec", {})
    volumes: list[Obj] = spec.get("volumes") or []
    existing = next((str(v.get("name")) for v in volumes
                     if str(v.get("name") or "").startswith(SERVICE_ACCOUNT_VOLUME_PREFIX)), None)
    volume_name = existing or generate_name(SERVICE_ACCOUNT_VOLUME_PREFIX)
    needs_volume = False
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            mounts: list[Obj] = container.get("volumeMounts") or []
            if any(m.get("mountPath") == DEFAULT_API_TOKEN_MOUNT_PATH for m in mounts):
                continue
            mounts.append({"name": volume_name, "readOnly": True, "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH})
            container["volumeMounts"] = mounts
            needs_volume = True
    if existing is None and needs_volume:
        volumes.append({"name": volume_name, "projected": token_volume_source()})
        spec["volumes"] = volumes


def _secret_names(pod: Obj) -> Iterator[str]:
    """Every secret a pod references (upstream's VisitPodSecretNames over all containers)."""
    spec = pod.get("spec") or {}
    for ref in spec.get("imagePullSecrets") or []:
        yield str(ref.get("name") or "")
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            for env_from in container.get("envFrom") or []:
                if env_from.get("secretRef"):
                    yield str(env_from["secretRef"].get("name") or "")
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    yield str(ref.get("name") or "")
    for volume in spec.get("volumes") or []:
        if volume.get("secret"):
            yield str(volume["secret"].get("secretName") or "")
        if volume.get("azureFile"):
            yield str(volume["azureFile"].get("secretName") or "")
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("secret"):
                yield str(source["secret"].get("name") or "")
        for kind in ("cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos"):
            ref = (volume.get(kind) or {}).get("secretRef")
            if ref:
                yield str(ref.get("name") or "")
        ref = (volume.get("csi") or {}).get("nodePublishSecretRef")
        if ref:
            yield str(ref.get("name") or "")


def _projects_token(pod: Obj) -> bool:
    return any(source.get("serviceAccountToken") is not None
               for volume in (pod.get("spec") or {}).get("volumes") or []
               for source in (volume.get("projected") or {}).get("sources") or [])


def forbidden(r: Resource, name: str, why: str) -> errors.Forbidden:
    """Upstream's admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`."""
    details: Obj = {"name": name, "group": r.group, "kind": r.plural} if r.group else {"name": name, "kind": r.plural}
    return errors.Forbidden(f'{r.qualified} "{name}" is forbidden: {why}', details=details)


class ServiceAccountAdmission:
    """The plugin; `lookup` reads a ServiceAccount from storage."""

    def __init__(self, lookup: AccountLookup, *, default_attempts: int = DEFAULT_ACCOUNT_ATTEMPTS,
                 retry_interval: Callable[[], float] = lambda: random.uniform(0.1, 0.2),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 generate_name: Callable[[str], str] = meta.generate_name) -> None:
        self.lookup = lookup
        self.default_attempts = default_attempts
        self.retry_interval = retry_interval
        self.sleep = sleep
        self.generate_name = generate_name

    async def admit_create(self, r: Resource, pod: Obj) -> None:
        """Default, check and mount a new pod's service account (mutates `pod`)."""
        md = pod.setdefault("metadata", {})
        spec = pod.setdefault("spec", {})
        pod_name = str(md.get("name") or md.get("generateName") or "")
        namespace = str(md.get("namespace") or "")
        if MIRROR_POD_ANNOTATION in (md.get("annotations") or {}):
            self._validate_mirror_pod(r, pod, pod_name)
            return
        # v1's deprecated spec.serviceAccount stands in for an unset serviceAccountName, and always mirrors it.
        name = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT_NAME)
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        try:
            account = await self._account(namespace, name)
        except errors.StatusError as e:
            raise forbidden(r, pod_name, f"error looking up service account {namespace}/{name}: {e.message}") from None
        if should_automount(account, pod):
            mount_service_account_token(pod, self.generate_name)
        if not spec.get("imagePullSecrets"):
            pulls = [{"name": str(ref.get("name") or "")} for ref in account.get("imagePullSecrets") or []]
            if pulls:
                spec["imagePullSecrets"] = pulls

    async def _account(self, namespace: str, name: str) -> Obj:
        attempts = self.default_attempts if name == DEFAULT_SERVICE_ACCOUNT_NAME else 1
        interval = self.retry_interval()
        for attempt in range(max(attempts, 1)):
            if attempt:
                await self.sleep(interval)
            try:
                return await self.lookup(namespace, name)
            except errors.NotFound:
                continue
        # upstream builds this NotFound from the singular resource name
        raise errors.not_found("serviceaccount", "", name)

    @staticmethod
    def _validate_mirror_pod(r: Resource, pod: Obj, pod_name: str) -> None:
        spec = pod.get("spec") or {}
        if spec.get("serviceAccountName") or spec.get("serviceAccount"):
            raise forbidden(r, pod_name, "a mirror pod may not reference service accounts")
        if next(_secret_names(pod), None) is not None:
            raise forbidden(r, pod_name, "a mirror pod may not reference secrets")
        if _projects_token(pod):
            raise forbidden(r, pod_name, "a mirror pod may not use ServiceAccountToken volume projections")
