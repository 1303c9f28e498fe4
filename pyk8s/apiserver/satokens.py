"""Service-account tokens: serviceaccounts/token (TokenRequest) and authenticating the JWTs it issues.

As upstream (pkg/registry/core/serviceaccount/storage/token.go, pkg/serviceaccount/{jwt,claims}.go): a
TokenRequest names audiences (default: the apiserver's own), a lifetime (default 3600 s, at least 600 s)
and optionally a Pod, Secret or Node the token is bound to. The answer is an RS256 JWT signed with the
service-account key (``sa.key``) whose claims are iss, sub ``system:serviceaccount:<ns>:<name>``, aud, exp,
iat, nbf, jti and ``kubernetes.io`` {namespace, serviceaccount{name,uid}, pod|secret|node{name,uid}}.

Authentication accepts such a token when the signature verifies, it is inside [nbf, exp], one of its
audiences is the apiserver's, and the service account (and the bound object) still exist with the same
uids. The user is ``system:serviceaccount:<ns>:<name>`` in the groups system:serviceaccounts and
system:serviceaccounts:<ns>, with the pod/node extras upstream adds.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import time
import uuid
from typing import Any

import orjson
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pyk8s.api import errors
from pyk8s.apiserver.endpoints.common import check_kind, json_response, read_body
from pyk8s.apiserver.negotiation import decode_body
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.registry.strategy import UserInfo
from pyk8s.apiserver.request import RequestInfo

Obj = dict[str, Any]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
TOKEN_REQUEST_GV = "authentication.k8s.io/v1"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
BOUND_KINDS = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """Upstream's kid: unpadded base64url of the SHA-256 of the public key's PKIX DER."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


class TokenSigner:
    """Signs and verifies RS256 JWTs with the service-account key pair."""

    def __init__(self, private_key_pem: bytes, issuer: str = DEFAULT_ISSUER,
                 audiences: tuple[str, ...] = (DEFAULT_ISSUER,)) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the service-account signing key must be an RSA key")
        self._key = key
        self._public = key.public_key()
        self.kid = key_id(self._public)
        self.issuer = issuer
        self.audiences = audiences

    def sign(self, claims: Obj) -> str:
        header = _b64(orjson.dumps({"alg": "RS256", "kid": self.kid}))
        payload = _b64(orjson.dumps(claims))
        signing_input = f"{header}.{payload}".encode()
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, token: str, now: float | None = None) -> Obj | None:
        """The claims of a token this signer issued and that is valid now for the apiserver; else None."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = orjson.loads(_unb64(parts[0]))
            if not isinstance(header, dict) or header.get("alg") != "RS256":
                return None
            self._public.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(),
                                hashes.SHA256())
            claims = orjson.loads(_unb64(parts[1]))
        except (ValueError, InvalidSignature, orjson.JSONDecodeError):
            return None
        if not isinstance(claims, dict) or claims.get("iss") != self.issuer:
            return None
        t = time.time() if now is None else now
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or t >= exp or not isinstance(nbf, int) or t < nbf:
            return None
        aud = claims.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(a in self.audiences for a in auds):
            return None
        sub = claims.get("sub", "")
        k8s = claims.get("kubernetes.io")
        if not isinstance(sub, str) or not sub.startswith(SERVICE_ACCOUNT_PREFIX) or not isinstance(k8s, dict):
            return None
        return claims


# ---------------------------------------------------------------- TokenRequest
def _invalid(field: str, value: Any, message: str) -> errors.Invalid:
    return errors.invalid("TokenRequest", "authentication.k8s.io", "", [
        {"reason": "FieldValueInvalid", "field": field, "message": f"Invalid value: {value}: {message}"}])


async def create_token(request: web.Request, info: RequestInfo, registry: Registry, signer: TokenSigner,
                       now: datetime.datetime) -> web.StreamResponse:
    """POST .../serviceaccounts/<name>/token."""
    table = registry.table
    body = check_kind(decode_body(await read_body(request), request.headers.get("Content-Type"),
                                  kind_hint="TokenRequest", target=(TOKEN_REQUEST_GV, "TokenRequest")).obj,
                      info.resource, expected_kind="TokenRequest", expected_version=TOKEN_REQUEST_GV)
    meta = body.get("metadata") or {}
    if meta.get("name") and meta["name"] != info.name:
        raise errors.BadRequest(f"serviceaccount name {info.name} does not match name in request {meta['name']}")
    spec = dict(body.get("spec") or {})
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = DEFAULT_EXPIRATION_SECONDS
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise errors.BadRequest("spec.expirationSeconds must be an integer")
    if seconds < MIN_EXPIRATION_SECONDS:
        raise _invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")
    if seconds > MAX_EXPIRATION_SECONDS:
        raise _invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")
    audiences = [a for a in spec.get("audiences") or [] if isinstance(a, str)] or list(signer.audiences)
    sa_res = table.lookup("", "v1", "serviceaccounts")
    assert sa_res is not None
    account = await registry.objects(sa_res).get(info.namespace, info.name)
    sa_meta = account.get("metadata") or {}
    k8s: Obj = {"namespace": info.namespace,
                "serviceaccount": {"name": info.name, "uid": sa_meta.get("uid", "")}}
    ref = spec.get("boundObjectRef")
    if ref:
        k8s.update(await _bound_claims(registry, info, ref))
    issued = int(now.timestamp())
    claims: Obj = {
        "aud": audiences, "exp": issued + seconds, "iat": issued, "iss": signer.issuer, "jti": str(uuid.uuid4()),
        "kubernetes.io": k8s, "nbf": issued, "sub": f"{SERVICE_ACCOUNT_PREFIX}{info.namespace}:{info.name}",
    }
    spec["audiences"] = audiences
    spec["expirationSeconds"] = seconds
    spec.setdefault("boundObjectRef", None)
    expiry = datetime.datetime.fromtimestamp(issued + seconds, datetime.UTC)
    out = {
        "kind": "TokenRequest", "apiVersion": TOKEN_REQUEST_GV,
        "metadata": {"name": info.name, "namespace": info.namespace, "creationTimestamp": None},
        "spec": spec,
        "status": {"token": signer.sign(claims), "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return json_response(out, 201)


async def _bound_claims(registry: Registry, info: RequestInfo, ref: Any) -> Obj:
    if not isinstance(ref, dict):
        raise errors.BadRequest("spec.boundObjectRef must be an object")
    kind, name, uid = str(ref.get("kind", "")), str(ref.get("name", "")), str(ref.get("uid", ""))
    api_version = ref.get("apiVersion") or "v1"
    plural = BOUND_KINDS.get(kind)
    if plural is None or api_version != "v1":
        what = f"{api_version}, Kind={kind}" if kind else "an object with no kind"
        raise errors.BadRequest(f'cannot bind token for serviceaccount "{info.name}" to object of type {what}')
    res = registry.table.lookup("", "v1", plural)
    assert res is not None
    obj = await registry.objects(res).get(info.namespace if res.namespaced else "", name)
    meta = obj.get("metadata") or {}
    if uid and uid != meta.get("uid"):
        raise errors.Conflict(f"the UID in the bound object reference ({uid}) does not match the UID in record. "
                              "The object might have been deleted and then recreated")
    claims: Obj = {kind.lower(): {"name": name, "uid": meta.get("uid", "")}}
    if kind == "Pod":
        pod_sa = (obj.get("spec") or {}).get("serviceAccountName") or "default"
        if pod_sa != info.name:
            raise errors.BadRequest(f'cannot bind token for serviceaccount "{info.name}" to pod running with '
                                    f'different serviceaccount name.')
        node_name = (obj.get("spec") or {}).get("nodeName")
        nodes = registry.table.lookup("", "v1", "nodes")
        if node_name and nodes is not None:
            try:
                node = await registry.objects(nodes).get("", node_name)
                claims["node"] = {"name": node_name, "uid": (node.get("metadata") or {}).get("uid", "")}
            except errors.NotFound:
                pass
    return claims


# ---------------------------------------------------------------- authentication
async def authenticate_token(claims: Obj, registry: Registry) -> UserInfo | None:
    """The user a verified token stands for, if its service account and bound object still exist."""
    k8s = claims["kubernetes.io"]
    namespace = str(k8s.get("namespace", ""))
    sa = k8s.get("serviceaccount") or {}
    name = str(sa.get("name", ""))
    if claims["sub"] != f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}":
        return None
    if not await _still_exists(registry, "serviceaccounts", namespace, name, str(sa.get("uid", ""))):
        return None
    extra: dict[str, list[str]] = {}
    for kind, plural in (("pod", "pods"), ("secret", "secrets"), ("node", "nodes")):
        bound = k8s.get(kind)
        if not isinstance(bound, dict):
            continue
        if kind != "node" or "pod" not in k8s:  # a pod's node is informational only
            if not await _still_exists(registry, plural, "" if kind == "node" else namespace,
                                       str(bound.get("name", "")), str(bound.get("uid", ""))):
                return None
        if kind in ("pod", "node"):
            extra[f"authentication.kubernetes.io/{kind}-name"] = [str(bound.get("name", ""))]
            extra[f"authentication.kubernetes.io/{kind}-uid"] = [str(bound.get("uid", ""))]
    if claims.get("jti"):
        extra["authentication.kubernetes.io/credential-id"] = [f"JTI={claims['jti']}"]
    return UserInfo(name=claims["sub"], uid=str(sa.get("uid", "")),
                    groups=[ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{namespace}"], extra=extra)


async def _still_exists(registry: Registry, plural: str, namespace: str, name: str, uid: str) -> bool:
    res = registry.table.lookup("", "v1", plural)
    if res is None or not name:
        return False
    try:
        obj = await registry.objects(res).get(namespace, name)
    except errors.NotFound:
        return False
    return not uid or (obj.get("metadata") or {}).get("uid") == uid
