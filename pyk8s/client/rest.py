"""The real `Client`: JSON over HTTPS to an apiserver, one pooled aiohttp session per client.

URLs follow the apiserver's layout: `/api/v1` for the core group, `/apis/<group>/<version>` otherwise, then
`namespaces/<ns>/` for namespaced resources, the plural, the name and a subresource. Query parameters and
the DeleteOptions body are spelled as client-go sends them. A non-2xx answer becomes the pyk8s.api.errors
class its `Status` names (or, for a body that is not a Status, the class its HTTP code implies, with
client-go's generic messages); a transport failure becomes `ConnectionError`.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
import yarl

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.client.interface import PATCH_CONTENT_TYPE, Obj, PatchType, WatchEvent
from pyk8s.client.kubeconfig import ClientConfig
from pyk8s.client.watch import decode_watch_stream

log = logging.getLogger(__name__)

JSON = "application/json"
TOKEN_FILE_REFRESH_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0
KEEPALIVE_SECONDS = 90.0

# client-go's NewGenericServerResponse: reason and message for an answer that is not a Status.
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", ""),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    406: ("NotAcceptable", ""),
    409: ("Conflict", "the server reported a conflict"),
    415: ("UnsupportedMediaType", ""),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be "
                     "processing the request"),
}


def resource_path(resource: Resource, namespace: str = "", name: str = "", subresource: str = "") -> str:
    """`/api/v1/namespaces/ns/pods/name/status` and the like (namespace ignored for cluster-scoped resources)."""
    parts = ["/api/v1" if not resource.group else f"/apis/{resource.group}/{resource.version}"]
    if resource.namespaced and namespace:
        parts.append(f"namespaces/{quote(namespace, safe='')}")
    parts.append(resource.plural)
    if name:
        parts.append(quote(name, safe=":@"))
        if subresource:
            parts.append(subresource)
    return "/".join(parts)


def _retry_after(headers: Mapping[str, str]) -> int:
    try:
        return int(headers.get("Retry-After", "0"))
    except ValueError:
        return 0


def error_from_response(code: int, body: bytes, headers: Mapping[str, str], *, verb: str = "",
                        resource: Resource | None = None, name: str = "") -> errors.StatusError:
    """The error a non-2xx answer stands for: the Status body's class, else client-go's generic error."""
    retry_after = _retry_after(headers)
    doc: Any = None
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        err = errors.from_status(doc, code)
    else:
        server_message = body.decode("utf-8", errors="replace").strip()
        reason, message = _GENERIC.get(code, ("", ""))
        if code == 409 and verb == "POST":
            reason = "AlreadyExists"
        if reason in ("Forbidden", "NotAcceptable", "UnsupportedMediaType"):
            message = server_message
        if not reason:
            if code >= 500:
                reason = "InternalError"
                message = f"an error on the server ({server_message!r}) has prevented the request from succeeding"
            else:
                message = f"the server responded with the status code {code} but did not return more information"
        details: dict[str, Any] = {}
        if resource is not None:
            qualified = resource.qualified
            suffix = f"{verb.lower()} {qualified} {name}" if name else f"{verb.lower()} {qualified}"
            message = f"{message} ({suffix})"
            details = {"group": resource.group, "kind": resource.plural, "name": name} if name else \
                {"group": resource.group, "kind": resource.plural}
        if retry_after:
            details["retryAfterSeconds"] = retry_after
        err = errors.from_status({"code": code, "reason": reason, "message": message, "details": details or None},
                                 code)
    if retry_after:
        err.headers = {**err.headers, "Retry-After": str(retry_after)}
    return err


class TokenBucket:
    """client-go's token-bucket rate limiter: `qps` sustained, bursts of `burst`; callers wait their turn."""

    def __init__(self, qps: float, burst: int) -> None:
        self.rate = qps
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.last = time.monotonic()

    async def acquire(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= 1.0
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


class RESTClient:
    """`Client` over HTTPS. Create it anywhere; the session opens on the first request inside the event loop.

    Use as `async with RESTClient(cfg) as client:` or call `await client.close()`. A single-object call on a
    namespaced resource with namespace "" uses the config's namespace (kubectl's default namespace).
    """

    def __init__(self, config: ClientConfig, *, user_agent: str | None = None) -> None:
        self.config = config
        self.base = config.server.rstrip("/")
        self.user_agent = user_agent or config.user_agent
        self._session: aiohttp.ClientSession | None = None
        self._token = config.token
        self._token_read_at = -1e18
        self._limiter = TokenBucket(config.qps, config.burst or int(config.qps) or 1) if config.qps else None

    # ---- plumbing ----
    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.config.max_connections, keepalive_timeout=KEEPALIVE_SECONDS,
                                             ssl=self.config.ssl_context if self.config.ssl_context else False)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _bearer(self) -> str | None:
        if self.config.token_file:
            now = time.monotonic()
            if now - self._token_read_at >= TOKEN_FILE_REFRESH_SECONDS:
                try:
                    with open(self.config.token_file, encoding="utf-8") as f:
                        self._token = f.read().strip() or self._token
                except OSError as e:
                    log.warning("unable to re-read token file %s: %s", self.config.token_file, e)
                self._token_read_at = now
        return self._token

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": self.user_agent}
        token = self._bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _url(self, path: str, query: dict[str, str] | None) -> yarl.URL:
        text = self.base + path
        if query:
            text += "?" + urlencode(query, quote_via=quote)
        return yarl.URL(text, encoded=True)

    async def _request(self, method: str, path: str, *, query: dict[str, str] | None = None,
                       body: Any = None, content_type: str = JSON, resource: Resource | None = None,
                       name: str = "") -> Any:
        """One request; the decoded JSON answer, or the error the answer stands for."""
        if self._limiter is not None:
            await self._limiter.acquire()
        data = orjson.dumps(body) if body is not None else None
        headers = self._headers(content_type if data is not None else None)
        timeout = aiohttp.ClientTimeout(total=self.config.timeout, sock_connect=CONNECT_TIMEOUT_SECONDS)
        try:
            async with self._get_session().request(method, self._url(path, query), data=data, headers=headers,
                                                   timeout=timeout,
                                                   server_hostname=self.config.tls_server_name) as resp:
                payload = await resp.read()
                status = resp.status
                resp_headers = resp.headers
        except aiohttp.ClientError as e:
            raise ConnectionError(f"{method} {self.base}{path}: {e or type(e).__name__}") from e
        except TimeoutError as e:
            raise ConnectionError(f"{method} {self.base}{path}: timed out after {self.config.timeout}s") from e
        if "Warning" in resp_headers:
            for w in resp_headers.getall("Warning"):
                log.info("%s %s: warning: %s", method, path, w)
        if status < 200 or status >= 300:
            raise error_from_response(status, payload, resp_headers, verb=method, resource=resource, name=name)
        if not payload:
            return {}
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise errors.InternalError(f"unable to decode the answer to {method} {path}: {e}") from e

    def _ns(self, resource: Resource, namespace: str) -> str:
        if not resource.namespaced:
            return ""
        return namespace or self.config.namespace or "default"

    # ---- Client ----
    async def get(self, resource: Resource, name: str, namespace: str = "", *, subresource: str = "") -> Obj:
        path = resource_path(resource, self._ns(resource, namespace), name, subresource)
        result: Obj = await self._request("GET", path, resource=resource, name=name)
        return result

    async def list(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_: str = "",
                   resource_version: str = "") -> Obj:
        query: dict[str, str] = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if limit:
            query["limit"] = str(limit)
        if continue_:
            query["continue"] = continue_
        if resource_version:
            query["resourceVersion"] = resource_version
        result: Obj = await self._request("GET", resource_path(resource, namespace), query=query, resource=resource)
        return result

    async def watch(self, resource: Resource, namespace: str = "", *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", allow_bookmarks: bool = True,
                    timeout_seconds: int | None = None) -> AsyncIterator[WatchEvent]:
        query: dict[str, str] = {"watch": "1"}
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if allow_bookmarks:
            query["allowWatchBookmarks"] = "true"
        if timeout_seconds is not None:
            query["timeoutSeconds"] = str(timeout_seconds)
        path = resource_path(resource, namespace)
        if self._limiter is not None:
            await self._limiter.acquire()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=None)
        try:
            async with self._get_session().get(self._url(path, query), headers=self._headers(None), timeout=timeout,
                                               server_hostname=self.config.tls_server_name) as resp:
                if resp.status != 200:
                    raise error_from_response(resp.status, await resp.read(), resp.headers, verb="GET",
                                              resource=resource)
                async for event in decode_watch_stream(resp.content.iter_any()):
                    yield event
        except aiohttp.ClientError as e:
            raise ConnectionError(f"watch {self.base}{path}: {e or type(e).__name__}") from e
        except TimeoutError as e:
            raise ConnectionError(f"watch {self.base}{path}: timed out connecting") from e

    async def create(self, resource: Resource, obj: Obj, namespace: str = "", *, dry_run: bool = False,
                     field_manager: str = "") -> Obj:
        meta = obj.get("metadata") or {}
        ns = self._ns(resource, namespace or str(meta.get("namespace") or ""))
        query: dict[str, str] = {}
        if dry_run:
            query["dryRun"] = "All"
        if field_manager:
            query["fieldManager"] = field_manager
        result: Obj = await self._request("POST", resource_path(resource, ns), query=query, body=obj,
                                          resource=resource, name=str(meta.get("name") or ""))
        return result

    async def update(self, resource: Resource, obj: Obj, *, subresource: str = "",
                     field_manager: str = "") -> Obj:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise ValueError("update needs metadata.name")
        path = resource_path(resource, self._ns(resource, str(meta.get("namespace") or "")), name, subresource)
        query = {"fieldManager": field_manager} if field_manager else None
        result: Obj = await self._request("PUT", path, query=query, body=obj, resource=resource, name=name)
        return result

    async def patch(self, resource: Resource, name: str, patch: Obj | builtins.list[Any], namespace: str = "", *,
                    patch_type: PatchType = "merge", subresource: str = "", field_manager: str = "",
                    force: bool = False) -> Obj:
        query: dict[str, str] = {}
        if field_manager:
            query["fieldManager"] = field_manager
        if force:
            query["force"] = "true"
        path = resource_path(resource, self._ns(resource, namespace), name, subresource)
        # JSON is YAML, so an apply patch travels as JSON under the apply-patch+yaml type.
        result: Obj = await self._request("PATCH", path, query=query, body=patch,
                                          content_type=PATCH_CONTENT_TYPE[patch_type], resource=resource, name=name)
        return result

    async def delete(self, resource: Resource, name: str, namespace: str = "", *,
                     propagation_policy: str | None = None, grace_period_seconds: int | None = None,
                     preconditions: Obj | None = None) -> Obj:
        options: Obj = {}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **options} if options else None
        path = resource_path(resource, self._ns(resource, namespace), name)
        result: Obj = await self._request("DELETE", path, body=body, resource=resource, name=name)
        return result

    async def create_subresource(self, resource: Resource, name: str, subresource: str, body: Obj,
                                 namespace: str = "") -> Obj:
        path = resource_path(resource, self._ns(resource, namespace), name, subresource)
        result: Obj = await self._request("POST", path, body=body, resource=resource, name=name)
        return result

    # ---- extras ----
    async def get_path(self, path: str) -> Any:
        """GET an absolute API path (`/version`, `/api`, `/apis/apps/v1`) and decode its JSON."""
        return await self._request("GET", path)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> RESTClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
