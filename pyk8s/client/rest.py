"""The real `Client`: JSON over HTTPS to an apiserver.

Each client keeps two aiohttp sessions: a pooled one (`max_connections`) for ordinary requests, which go through
the client-side rate limiter, and one with no connection limit for watches, which are never rate limited (as
client-go), so long-lived streams neither wait behind nor starve ordinary requests.

Ordinary requests are retried as client-go's rest.Request does: an answer of 429 or 5xx that carries Retry-After
is resent after that many seconds (up to 10 retries), a GET whose connection was lost is resent after 1 s; a
retry never outlasts the request timeout. POST and PATCH are never resent after a lost connection (they may
have been applied); aiohttp itself resends the idempotent methods (GET, PUT, DELETE) once, at once, when their
connection closes under them.

A watch has a read timeout, so a half-open connection ends as a ConnectionError instead of stalling forever:
with bookmarks (sent every minute) 150 s of silence means the connection is dead; without, 30 s past the
timeoutSeconds at which the server should have ended the stream.

URLs follow the apiserver's layout: `/api/v1` for the core group, `/apis/<group>/<version>` otherwise, then
`namespaces/<ns>/` for namespaced resources, the plural, the name and a subresource. Query parameters and
the DeleteOptions body are spelled as client-go sends them. A non-2xx answer becomes the pyk8s.api.errors
class its `Status` names (or, for a body that is not a Status, the class its HTTP code implies, with
client-go's generic messages); a transport failure becomes `ConnectionError`.
"""

from __future__ import annotations

import asyncio
import builtins
import errno
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
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import PATCH_CONTENT_TYPE, Obj, PatchType, WatchEvent
from pyk8s.client.kubeconfig import ClientConfig
from pyk8s.client.watch import decode_watch_stream

log = logging.getLogger(__name__)

JSON = "application/json"
TOKEN_FILE_REFRESH_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0
KEEPALIVE_SECONDS = 90.0
MAX_RETRIES = 10  # client-go rest.Request maxRetries
LOST_CONNECTION_RETRY_SECONDS = 1.0  # client-go waits 1 s before resending a GET whose connection broke
WATCH_READ_TIMEOUT_WITH_BOOKMARKS = 150.0  # the server sends a BOOKMARK every 60 s
WATCH_READ_GRACE = 30.0  # past timeoutSeconds, when the server should have ended the stream
SERVER_MAX_WATCH_SECONDS = 3600.0  # the apiserver ends a watch without timeoutSeconds within 2 x 1800 s

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
    return retry_after_seconds(headers) or 0


def retry_after_seconds(headers: Mapping[str, str]) -> int | None:
    """The Retry-After header as whole seconds; None when it is absent or not a non-negative integer."""
    try:
        value = int(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def should_wait_and_retry(status: int, headers: Mapping[str, str]) -> int | None:
    """client-go checkWait: seconds to wait before resending, for a 429 or 5xx answer with Retry-After."""
    if status != 429 and status < 500:
        return None
    return retry_after_seconds(headers)


def watch_read_timeout(allow_bookmarks: bool, timeout_seconds: int | None, *,
                       with_bookmarks: float = WATCH_READ_TIMEOUT_WITH_BOOKMARKS,
                       grace: float = WATCH_READ_GRACE) -> float:
    """How long a watch may go without receiving a byte before its connection counts as dead."""
    server_ends = float(timeout_seconds) if timeout_seconds and timeout_seconds > 0 else SERVER_MAX_WATCH_SECONDS
    if allow_bookmarks:
        return min(with_bookmarks, server_ends + grace)
    return server_ends + grace


def _connection_lost(e: BaseException) -> bool:
    """A connection that broke under a request (client-go IsConnectionReset/IsProbableEOF), not one never made."""
    if isinstance(e, aiohttp.ClientConnectorError | aiohttp.ServerTimeoutError):
        return False
    if isinstance(e, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return True
    if isinstance(e, aiohttp.ClientOSError):
        return e.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED)
    return False


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
    namespaced resource with namespace "" uses the config's namespace (kubectl's default namespace). `clock`
    times the waits between retries and their deadline.
    """

    def __init__(self, config: ClientConfig, *, user_agent: str | None = None, clock: Clock = REAL_CLOCK) -> None:
        self.config = config
        self.base = config.server.rstrip("/")
        self.user_agent = user_agent or config.user_agent
        self.clock = clock
        self.max_retries = MAX_RETRIES
        self.watch_read_timeout_with_bookmarks = WATCH_READ_TIMEOUT_WITH_BOOKMARKS
        self.watch_read_grace = WATCH_READ_GRACE
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None
        self._token = config.token
        self._token_read_at = -1e18
        self._limiter = TokenBucket(config.qps, config.burst or int(config.qps) or 1) if config.qps else None

    # ---- plumbing ----
    def _new_session(self, limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=KEEPALIVE_SECONDS,
                                         ssl=self.config.ssl_context if self.config.ssl_context else False,
                                         socket_factory=self.config.socket_factory)
        return aiohttp.ClientSession(connector=connector)

    def _get_session(self) -> aiohttp.ClientSession:
        """The pooled session of ordinary requests."""
        if self._session is None or self._session.closed:
            self._session = self._new_session(self.config.max_connections)
        return self._session

    def _get_watch_session(self) -> aiohttp.ClientSession:
        """The session of watches: one connection per stream, no limit (0 means none to aiohttp)."""
        if self._watch_session is None or self._watch_session.closed:
            self._watch_session = self._new_session(0)
        return self._watch_session

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
        """One request (resent as the module docstring says); the decoded JSON answer, or the error it stands for."""
        data = orjson.dumps(body) if body is not None else None  # bytes: can be sent again
        url = self._url(path, query)
        deadline = self.clock.monotonic() + self.config.timeout
        retries = 0
        while True:
            if self._limiter is not None:
                await self._limiter.acquire()
            headers = self._headers(content_type if data is not None else None)
            remaining = max(0.001, deadline - self.clock.monotonic())
            timeout = aiohttp.ClientTimeout(total=remaining, sock_connect=min(CONNECT_TIMEOUT_SECONDS, remaining))
            try:
                async with self._get_session().request(method, url, data=data, headers=headers, timeout=timeout,
                                                       server_hostname=self.config.tls_server_name) as resp:
                    payload = await resp.read()
                    status = resp.status
                    resp_headers = resp.headers
            except aiohttp.ClientError as e:
                wait = LOST_CONNECTION_RETRY_SECONDS
                if method == "GET" and _connection_lost(e) and self._may_retry(retries, wait, deadline):
                    retries += 1
                    log.info("%s %s: connection lost (%s); retry %d in %gs", method, path, e or type(e).__name__,
                             retries, wait)
                    await self.clock.sleep(wait)
                    continue
                if isinstance(e, aiohttp.ServerTimeoutError) and not isinstance(e, aiohttp.ConnectionTimeoutError):
                    raise ConnectionError(f"{method} {self.base}{path}: timed out after {self.config.timeout:g}s") \
                        from e
                raise ConnectionError(f"{method} {self.base}{path}: {e or type(e).__name__}") from e
            except TimeoutError as e:
                raise ConnectionError(f"{method} {self.base}{path}: timed out after {self.config.timeout:g}s") from e
            if "Warning" in resp_headers:
                for w in resp_headers.getall("Warning"):
                    log.info("%s %s: warning: %s", method, path, w)
            if status < 200 or status >= 300:
                wait_seconds = should_wait_and_retry(status, resp_headers)
                if wait_seconds is not None and self._may_retry(retries, float(wait_seconds), deadline):
                    retries += 1
                    log.info("%s %s: answered %d, retry %d after %ds (Retry-After)", method, path, status, retries,
                             wait_seconds)
                    await self.clock.sleep(float(wait_seconds))
                    continue
                raise error_from_response(status, payload, resp_headers, verb=method, resource=resource, name=name)
            if not payload:
                return {}
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError as e:
                raise errors.InternalError(f"unable to decode the answer to {method} {path}: {e}") from e

    def _may_retry(self, retries: int, wait: float, deadline: float) -> bool:
        """Another attempt is allowed and its wait ends before the request's deadline."""
        return retries < self.max_retries and self.clock.monotonic() + wait < deadline

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
        read_timeout = watch_read_timeout(allow_bookmarks, timeout_seconds,
                                          with_bookmarks=self.watch_read_timeout_with_bookmarks,
                                          grace=self.watch_read_grace)
        # No rate limiter (client-go does not throttle watches) and a session of its own (no connection limit).
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=read_timeout)
        try:
            async with self._get_watch_session().get(self._url(path, query), headers=self._headers(None),
                                                     timeout=timeout,
                                                     server_hostname=self.config.tls_server_name) as resp:
                if resp.status != 200:
                    raise error_from_response(resp.status, await resp.read(), resp.headers, verb="GET",
                                              resource=resource)
                async for event in decode_watch_stream(resp.content.iter_any()):
                    yield event
        except aiohttp.SocketTimeoutError as e:
            raise ConnectionError(f"watch {self.base}{path}: nothing received for {read_timeout:g}s") from e
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
        for session in (self._session, self._watch_session):
            if session is not None and not session.closed:
                await session.close()
        self._session = None
        self._watch_session = None

    async def __aenter__(self) -> RESTClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
