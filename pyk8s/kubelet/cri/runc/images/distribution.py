"""A client of the OCI distribution protocol (the registry HTTP API v2), enough to pull images.

It pings `/v2/`, answers 401 challenges (Bearer: fetch a token from the realm, anonymously or with basic
credentials; Basic: send the credentials), fetches manifests with an Accept header naming the OCI and Docker
manifest and index types, picks a platform from an index, and streams blobs to disk while checking their digest.
Every failure is an interface.ImagePullError with a one-line message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform as host_platform
import re
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from pyk8s.kubelet.cri.interface import AuthConfig, ImagePullError
from pyk8s.kubelet.cri.runc.images.mirrors import Endpoint, HostConfig

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
MANIFEST_ACCEPT = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES, "*/*"))
MAX_MANIFEST_BYTES = 4 << 20
_CHUNK = 1 << 20

_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
           "armv6l": "arm", "i686": "386", "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def default_platform() -> Platform:
    """linux/<this machine's GOARCH>[/variant], as containerd's platforms.DefaultSpec."""
    machine = host_platform.machine().lower()
    arch = _GOARCH.get(machine, machine)
    variant = {"aarch64": "v8", "arm64": "v8", "armv7l": "v7", "armv6l": "v6"}.get(machine, "")
    return Platform(os="linux", architecture=arch, variant=variant)


def select_platform(index: dict[str, Any], want: Platform) -> dict[str, Any]:
    """The manifest descriptor of an index that fits `want`: exact variant first, then no variant, then any."""
    fits = [m for m in index.get("manifests") or []
            if (m.get("platform") or {}).get("os") == want.os
            and (m.get("platform") or {}).get("architecture") == want.architecture]
    for pick in (lambda m: m["platform"].get("variant", "") == want.variant,
                 lambda m: not m["platform"].get("variant"), lambda m: True):
        for m in fits:
            if pick(m):
                return m
    raise ImagePullError(f"no match for platform in manifest: {want} not found")


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` → ("bearer", {realm, service, scope})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _CHALLENGE_PARAM.finditer(rest)}
    return scheme.lower(), params


def _credentials(auth: AuthConfig | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    if auth.username or auth.password:
        return auth.username, auth.password
    if auth.auth:
        try:
            user, _, password = base64.b64decode(auth.auth).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ImagePullError("invalid auth: base64 user:password expected") from None
        return user, password
    return None


def ssl_context(host_config: HostConfig) -> ssl.SSLContext | bool:
    tls = host_config.tls
    if tls.insecure_skip_verify:
        return False
    if not (tls.ca_file or tls.cert_file):
        return True
    ctx = ssl.create_default_context(cafile=tls.ca_file or None)
    if tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file or None)
    return ctx


def _error_text(status: int, body: bytes) -> str:
    """The registry's own words from an errors body ({"errors": [{code, message}]}), else the status."""
    try:
        errors = orjson.loads(body).get("errors") or []
        if errors:
            e = errors[0]
            return f"{str(e.get('code', '')).lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
    except (orjson.JSONDecodeError, AttributeError, TypeError):
        pass
    return f"unexpected status {status}"


class RegistryClient:
    """Talks to one endpoint about one repository; holds the Authorization it earned from challenges."""

    def __init__(self, session: aiohttp.ClientSession, endpoint: Endpoint, repository: str,
                 host_config: HostConfig | None = None, auth: AuthConfig | None = None) -> None:
        self._session = session
        self._endpoint = endpoint
        self._repository = repository
        self._host_config = host_config or HostConfig()
        self._auth = auth or self._host_config.auth
        self._ssl = ssl_context(self._host_config)
        self._authorization: str | None = None
        if self._auth is not None and self._auth.registry_token:
            self._authorization = f"Bearer {self._auth.registry_token}"

    @property
    def endpoint(self) -> Endpoint:
        return self._endpoint

    def _url(self, path: str) -> str:
        return f"{self._endpoint.api_base}/v2/{path}"

    async def ping(self) -> None:
        """GET /v2/: checks the endpoint speaks the protocol and answers its auth challenge up front."""
        async with await self._send("GET", self._url(""), {}) as resp:
            if resp.status >= 400:
                raise ImagePullError(f"{self._endpoint.url}/v2/: {_error_text(resp.status, await resp.read())}")

    async def _send(self, method: str, url: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
        """One request, with one retry after answering a 401 challenge."""
        for attempt in (0, 1):
            sent = dict(headers)
            if self._authorization:
                sent["Authorization"] = self._authorization
            try:
                resp = await self._session.request(method, url, headers=sent, ssl=self._ssl)
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise ImagePullError(f"{method} {url}: {str(e) or type(e).__name__}".splitlines()[0]) from None
            if resp.status != 401 or attempt == 1:
                return resp
            challenge = resp.headers.get("WWW-Authenticate", "")
            body = await resp.read()
            resp.release()
            if not challenge:
                raise ImagePullError(f"{url}: unauthorized: {_error_text(401, body)}")
            await self._answer(challenge)
        raise AssertionError("unreachable")

    async def _answer(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        creds = _credentials(self._auth)
        if scheme == "basic":
            if creds is None:
                raise ImagePullError(f"{self._endpoint.url}: unauthorized: authentication required")
            encoded = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            self._authorization = f"Basic {encoded}"
            return
        if scheme != "bearer" or not params.get("realm"):
            raise ImagePullError(f"{self._endpoint.url}: unsupported auth challenge {challenge!r}")
        scopes = [s for s in params.get("scope", "").split(" ") if s]
        pull_scope = f"repository:{self._repository}:pull"
        if pull_scope not in scopes:
            scopes.append(pull_scope)
        query = [("scope", s) for s in scopes]
        if params.get("service"):
            query.insert(0, ("service", params["service"]))
        headers = {"Authorization": "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()} \
            if creds else {}
        try:
            async with self._session.get(params["realm"], params=query, headers=headers, ssl=self._ssl) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise ImagePullError(f"failed to fetch {'' if creds else 'anonymous '}token: "
                                         f"{_error_text(resp.status, body)}")
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise ImagePullError(f"failed to fetch token from {params['realm']}: {e}".splitlines()[0]) from None
        token: str | None = None
        try:
            data = orjson.loads(body)
            token = data.get("token") or data.get("access_token")
        except (orjson.JSONDecodeError, AttributeError):
            pass
        if not token:
            raise ImagePullError(f"token response from {params['realm']} has no token")
        self._authorization = f"Bearer {token}"

    async def get_manifest(self, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index by tag or digest; returns (bytes, media type, digest)."""
        url = self._url(f"{self._repository}/manifests/{reference}")
        async with await self._send("GET", url, {"Accept": MANIFEST_ACCEPT}) as resp:
            if resp.status == 404:
                raise ImagePullError(f"{self._endpoint.host}/{self._repository}:{reference}: not found")
            if resp.status != 200:
                raise ImagePullError(f"{url}: {_error_text(resp.status, await resp.read())}")
            if (resp.content_length or 0) > MAX_MANIFEST_BYTES:
                raise ImagePullError(f"{url}: manifest too large")
            data = await resp.content.read(MAX_MANIFEST_BYTES + 1)
            if len(data) > MAX_MANIFEST_BYTES:
                raise ImagePullError(f"{url}: manifest too large")
            media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        digest = digest_of(data)
        if reference.startswith("sha256:") and reference != digest:
            raise ImagePullError(f"manifest {reference}: digest mismatch, got {digest}")
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise ImagePullError(f"{url}: manifest is not JSON") from None
        if not isinstance(parsed, dict):
            raise ImagePullError(f"{url}: manifest is not a JSON object")
        media_type = parsed.get("mediaType") or media_type
        if media_type not in (*INDEX_TYPES, *MANIFEST_TYPES):
            media_type = MEDIA_OCI_INDEX if "manifests" in parsed else MEDIA_OCI_MANIFEST
        return data, media_type, digest

    async def get_blob(self, digest: str, dest: str, size: int = -1) -> None:
        """Stream the blob into `dest` (via `dest`.partial), checking its sha256 and size."""
        if not digest.startswith("sha256:"):
            raise ImagePullError(f"unsupported digest algorithm: {digest}")
        url = self._url(f"{self._repository}/blobs/{digest}")
        partial = f"{dest}.partial"
        hasher = hashlib.sha256()
        written = 0
        async with await self._send("GET", url, {}) as resp:
            if resp.status == 404:
                raise ImagePullError(f"{self._endpoint.host}/{self._repository}@{digest}: blob not found")
            if resp.status != 200:
                raise ImagePullError(f"{url}: {_error_text(resp.status, await resp.read())}")
            try:
                with open(partial, "wb") as f:
                    try:
                        async for chunk in resp.content.iter_chunked(_CHUNK):
                            hasher.update(chunk)
                            f.write(chunk)
                            written += len(chunk)
                            if 0 <= size < written:
                                raise ImagePullError(f"blob {digest}: larger than the expected {size} bytes")
                    except (aiohttp.ClientError, OSError, TimeoutError) as e:
                        raise ImagePullError(f"GET {url}: {e}".splitlines()[0]) from None
            except BaseException:
                _unlink(partial)
                raise
        got = "sha256:" + hasher.hexdigest()
        if got != digest or (size >= 0 and written != size):
            _unlink(partial)
            raise ImagePullError(f"blob {digest}: digest mismatch, got {got} ({written} bytes)")
        os.replace(partial, dest)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
