"""projected volumes: configMap, secret, downwardAPI and serviceAccountToken sources merged into one directory.

This is how a pod gets its API credentials (the `kube-api-access-*` volume: a bound service account token, the
cluster CA from the `kube-root-ca.crt` ConfigMap and the namespace from the downward API). Tokens come from the
TokenRequest API (`serviceaccounts/<name>/token`), bound to the pod, and are renewed once 80% of their lifetime
(or 24 hours) has passed, as upstream's token manager does; `TokenCache` keeps them between refreshes.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyk8s.api import errors
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client import kinds
from pyk8s.client.interface import Client
from pyk8s.kubelet.objectcache import ObjectReader
from pyk8s.kubelet.volumes import configmap, downwardapi, secret
from pyk8s.kubelet.volumes.atomic_writer import FileProjection
from pyk8s.kubelet.volumes.errors import VolumeError

Obj = dict[str, Any]

PLUGIN_DIR = "kubernetes.io~projected"
DEFAULT_MODE = 0o644
DEFAULT_EXPIRATION_SECONDS = 3600
_MAX_TOKEN_AGE = datetime.timedelta(hours=24)


@dataclass
class _Token:
    token: str
    issued: datetime.datetime
    expires: datetime.datetime


class TokenCache:
    """Bound service account tokens per (pod uid, account, audiences, lifetime), renewed before they expire."""

    def __init__(self, client: Client, *, clock: Clock = REAL_CLOCK) -> None:
        self._client = client
        self._clock = clock
        self._tokens: dict[tuple[str, str, str, tuple[str, ...], int], _Token] = {}

    def _fresh(self, tok: _Token) -> bool:
        now = self._clock.now()
        lifetime = tok.expires - tok.issued
        return now < tok.expires and now < tok.issued + lifetime * 0.8 and now < tok.issued + _MAX_TOKEN_AGE

    async def token(self, pod: Obj, audiences: Sequence[str], expiration_seconds: int) -> str:
        m = pod.get("metadata") or {}
        ns, uid = str(m.get("namespace") or ""), str(m.get("uid") or "")
        account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        key = (uid, ns, account, tuple(audiences), expiration_seconds)
        cached = self._tokens.get(key)
        if cached and self._fresh(cached):
            return cached.token
        request = {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": list(audiences), "expirationSeconds": expiration_seconds,
                     "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": m.get("name") or "", "uid": uid}},
        }
        answer = await self._client.create_subresource(kinds.SERVICE_ACCOUNTS, account, "token", request, ns)
        status = answer.get("status") or {}
        token = str(status.get("token") or "")
        if not token:
            raise VolumeError(f"failed to fetch token: the TokenRequest for {ns}/{account} returned no token")
        issued = self._clock.now()
        seconds = int((answer.get("spec") or {}).get("expirationSeconds") or expiration_seconds)
        expires = issued + datetime.timedelta(seconds=seconds)
        stamp = status.get("expirationTimestamp")
        if isinstance(stamp, str):
            try:
                expires = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                pass
        self._tokens[key] = _Token(token, issued, expires)
        return token

    def forget(self, pod_uid: str) -> None:
        for key in [k for k in self._tokens if k[0] == pod_uid]:
            del self._tokens[key]


async def payload(client: ObjectReader, tokens: TokenCache, pod: Obj, source: Obj, *,
                  allocatable: Mapping[str, str], audiences: Sequence[str]) -> dict[str, FileProjection]:
    """The files of a projected volume source; errors of every source are reported together.

    The sources are fetched at once (a kube-api-access volume's token request and CA ConfigMap read are one
    round trip, not two); their files are merged in source order, a later source's file winning.
    `audiences`: what a serviceAccountToken source without an audience asks for (upstream sends none and
    lets the apiserver fill in its own).
    """
    ns = str((pod.get("metadata") or {}).get("namespace") or "")
    raw_mode = source.get("defaultMode")
    mode = int(raw_mode) if raw_mode is not None else DEFAULT_MODE

    async def files_of(src: Obj) -> dict[str, FileProjection]:
        if src.get("configMap") is not None:
            return await configmap.payload(client, ns, src["configMap"], mode)
        if src.get("secret") is not None:
            return await secret.payload(client, ns, src["secret"], mode)
        if src.get("downwardAPI") is not None:
            return downwardapi.payload(pod, list(src["downwardAPI"].get("items") or []), mode, allocatable)
        if src.get("serviceAccountToken") is not None:
            sat = src["serviceAccountToken"]
            auds = [str(sat["audience"])] if sat.get("audience") else list(audiences)
            seconds = int(sat.get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS)
            try:
                token = await tokens.token(pod, auds, seconds)
            except errors.StatusError as e:
                raise VolumeError(f"failed to fetch token: {e.message}") from None
            return {str(sat.get("path") or "token"): FileProjection(token.encode(), mode)}
        return {}

    sources = list(source.get("sources") or [])
    results = await asyncio.gather(*(files_of(src) for src in sources), return_exceptions=True)
    out: dict[str, FileProjection] = {}
    problems: list[str] = []
    for result in results:
        if isinstance(result, VolumeError):
            problems.append(result.message)
        elif isinstance(result, BaseException):
            raise result
        else:
            out.update(result)
    if problems:
        raise VolumeError(problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
    return out
