"""pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy: relays to the node's kubelet.

As upstream (pkg/registry/core/pod/strategy.go LogLocation/streamLocation, pkg/registry/core/node/rest),
the apiserver resolves the pod and its container, builds the kubelet URL (``/containerLogs``, ``/exec``,
``/attach``, ``/portForward`` with the kubelet's query names ``input``/``output``/``error``/``tty``) and
then only relays; it knows nothing of the streaming protocols:

- pods/log: the kubelet's response body is copied chunk by chunk (``follow`` streams until either side
  goes away; a client that disconnects cancels the kubelet request).
- WebSocket upgrades (``GET`` + ``Upgrade: websocket``): the kubelet is asked first, offering the
  client's subprotocols; the client is then accepted with the one the kubelet chose and messages and
  close codes are pumped both ways. A kubelet that refuses makes the client's upgrade fail with a non-101
  answer, which is what makes kubectl fall back to SPDY.
- SPDY upgrades (``Upgrade: SPDY/3.1``): the upgrade request is written to the kubelet by hand; its 101 is
  passed on and then raw bytes are spliced both ways (pyk8s.apiserver.hijack). Anything else the kubelet
  answers is passed on as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, MultiMapping

from pyk8s.api import errors
from pyk8s.apiserver.hijack import HijackedConnection, hijack
from pyk8s.apiserver.kubeletclient import KubeletClient, KubeletEndpoint, kubelet_endpoint
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.request import RequestInfo

log = logging.getLogger(__name__)
Obj = dict[str, Any]

STREAMING_SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward"})
RELAY_CHUNK = 64 * 1024
# Headers of a kubelet's 101 that describe its own connection rather than the switched protocol.
_HOP_HEADERS = frozenset({"date", "server", "content-length", "transfer-encoding", "keep-alive"})
# Request headers not passed on by nodes/proxy (hop-by-hop, and the caller's credentials).
_PROXY_DROP = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "upgrade", "authorization",
                         "proxy-authorization", "te", "trailer", "content-length"})
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


# ---------------------------------------------------------------- options
def parse_bool(query: MultiMapping[str], name: str) -> bool:
    """A boolean query option parsed as Go's strconv.ParseBool (absent or empty is false)."""
    value = query.get(name, "")
    if value == "" or value in _GO_FALSE:
        return False
    if value in _GO_TRUE:
        return True
    raise errors.BadRequest(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _parse_int(query: MultiMapping[str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value, 10)
    except ValueError:
        raise errors.BadRequest(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def _parse_time(value: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None


def log_query(query: MultiMapping[str], name: str) -> dict[str, str]:
    """The kubelet's /containerLogs query for a pods/log request; 422 for options upstream rejects."""
    follow, previous, timestamps = (parse_bool(query, k) for k in ("follow", "previous", "timestamps"))
    tail, limit, since = (_parse_int(query, k) for k in ("tailLines", "limitBytes", "sinceSeconds"))
    since_time = query.get("sinceTime") or None
    causes: list[Obj] = []
    if tail is not None and tail < 0:
        causes.append({"reason": "FieldValueInvalid", "field": "tailLines",
                       "message": f"Invalid value: {tail}: must be greater than or equal to 0"})
    if limit is not None and limit < 1:
        causes.append({"reason": "FieldValueInvalid", "field": "limitBytes",
                       "message": f"Invalid value: {limit}: must be greater than 0"})
    if since is not None and since_time is not None:
        causes.append({"reason": "FieldValueForbidden", "field": "",
                       "message": "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"})
    elif since is not None and since < 1:
        causes.append({"reason": "FieldValueInvalid", "field": "sinceSeconds",
                       "message": f"Invalid value: {since}: must be greater than 0"})
    if causes:
        raise errors.invalid("PodLogOptions", "", name, causes)
    out: dict[str, str] = {}
    if follow:
        out["follow"] = "true"
    if previous:
        out["previous"] = "true"
    if timestamps:
        out["timestamps"] = "true"
    if since is not None:
        out["sinceSeconds"] = str(since)
    if since_time is not None:
        out["sinceTime"] = _parse_time(since_time).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if tail is not None:
        out["tailLines"] = str(tail)
    if limit is not None:
        out["limitBytes"] = str(limit)
    return out


def stream_query(query: MultiMapping[str], subresource: str) -> list[tuple[str, str]]:
    """The kubelet's query for exec/attach (input/output/error/tty, command) or portforward (port)."""
    out: list[tuple[str, str]] = []
    if subresource in ("exec", "attach"):
        for ours, kubelets in (("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty")):
            if parse_bool(query, ours):
                out.append((kubelets, "1"))
        if subresource == "exec":
            out += [("command", c) for c in query.getall("command", [])]
    elif subresource == "portforward":
        ports = []
        for p in query.getall("ports", []):
            for part in p.split(","):
                if part.strip():
                    try:
                        ports.append(str(int(part.strip(), 10)))
                    except ValueError:
                        raise errors.BadRequest(f'strconv.ParseInt: parsing "{part}": invalid syntax') from None
        if ports:
            out.append(("port", ",".join(ports)))
    return out


def container_names(pod: Obj) -> list[str]:
    """Init containers, containers, then ephemeral containers (upstream's VisitContainers order)."""
    spec = pod.get("spec") or {}
    return [str(c.get("name", "")) for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def resolve_container(pod: Obj, container: str) -> str:
    """The container a request means (upstream validateContainer); 400 when it cannot be told."""
    name = (pod.get("metadata") or {}).get("name", "")
    if not container:
        containers = (pod.get("spec") or {}).get("containers") or []
        if len(containers) == 1:
            return str(containers[0].get("name", ""))
        if not containers:
            raise errors.BadRequest(f"a container name must be specified for pod {name}")
        raise errors.BadRequest(f"a container name must be specified for pod {name}, "
                                f"choose one of: [{' '.join(container_names(pod))}]")
    if container not in container_names(pod):
        raise errors.BadRequest(f"container {container} is not valid for pod {name}")
    return container


def _offered_protocols(request: web.Request) -> list[str]:
    return [p.strip() for h in request.headers.getall("Sec-WebSocket-Protocol", []) for p in h.split(",")
            if p.strip()]


def _is_websocket(request: web.Request) -> bool:
    return request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"


def _is_spdy(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower().startswith("spdy/")


# ---------------------------------------------------------------- the relay
class NodeProxy:
    def __init__(self, registry: Registry, kubelets: KubeletClient) -> None:
        self.registry = registry
        self.kubelets = kubelets

    async def _endpoint(self, node_name: str) -> KubeletEndpoint:
        nodes = self.registry.table.lookup("", "v1", "nodes")
        assert nodes is not None
        return kubelet_endpoint(await self.registry.objects(nodes).get("", node_name))

    # ---- pods/<sub> ----
    async def pod_subresource(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        sub = info.subresource
        if sub == "log" and request.method != "GET":
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if sub != "log" and request.method not in ("GET", "POST"):
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        pod = await self.registry.objects(info.resource).get(info.namespace, info.name)
        q = request.query
        if sub == "log":
            params = log_query(q, info.name)
            container = resolve_container(pod, q.get("container", ""))
            node_name = (pod.get("spec") or {}).get("nodeName", "")
            if not node_name:
                # Upstream answers an empty log for a pod not yet assigned a host.
                return web.Response(body=b"", content_type="text/plain")
            endpoint = await self._endpoint(node_name)
            path = f"/containerLogs/{_seg(info.namespace)}/{_seg(info.name)}/{_seg(container)}"
            if params:
                path += "?" + urlencode(params)
            return await self._relay_log(request, endpoint, path, parse_bool(q, "insecureSkipTLSVerifyBackend"))
        query = stream_query(q, sub)
        if sub in ("exec", "attach"):
            container = resolve_container(pod, q.get("container", ""))
            path = f"/{sub}/{_seg(info.namespace)}/{_seg(info.name)}/{_seg(container)}"
        else:
            path = f"/portForward/{_seg(info.namespace)}/{_seg(info.name)}"
        node_name = (pod.get("spec") or {}).get("nodeName", "")
        if not node_name:
            raise errors.BadRequest(f"pod {info.name} does not have a host assigned")
        endpoint = await self._endpoint(node_name)
        if query:
            path += "?" + urlencode(query)
        if _is_websocket(request):
            return await self._relay_websocket(request, endpoint, path)
        if _is_spdy(request):
            return await self._relay_spdy(request, endpoint, path)
        raise errors.BadRequest("Upgrade request required")

    # ---- nodes/<name>/proxy/<path> ----
    async def node_proxy(self, request: web.Request, node_name: str, path: str) -> web.StreamResponse:
        endpoint = await self._endpoint(node_name)
        target = quote("/" + path.lstrip("/"), safe="/:@!$&'()*+,;=-._~")  # no CR/LF into a hand-written head
        if request.query_string:
            target += "?" + request.query_string
        if _is_websocket(request):
            return await self._relay_websocket(request, endpoint, target)
        if _is_spdy(request):
            return await self._relay_spdy(request, endpoint, target)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _PROXY_DROP}
        body = await request.read() if request.can_read_body else None
        try:
            async with self.kubelets.session().request(request.method, endpoint.base_url + target, data=body,
                                                       headers=headers, allow_redirects=False) as upstream:
                return await _copy_response(request, upstream)
        except (aiohttp.ClientError, OSError) as e:
            raise _dial_error(e) from e

    # ---- relays ----
    async def _relay_log(self, request: web.Request, endpoint: KubeletEndpoint, path: str,
                         insecure: bool) -> web.StreamResponse:
        del insecure  # the kubelet's certificate is never verified (no --kubelet-certificate-authority)
        try:
            async with self.kubelets.session().get(endpoint.base_url + path) as upstream:
                return await _copy_response(request, upstream, default_type="text/plain")
        except (aiohttp.ClientError, OSError) as e:
            raise _dial_error(e) from e

    async def _relay_websocket(self, request: web.Request, endpoint: KubeletEndpoint,
                               path: str) -> web.StreamResponse:
        offered = _offered_protocols(request)
        try:
            upstream = await self.kubelets.session().ws_connect(
                endpoint.base_url + path, protocols=offered, autoping=True, max_msg_size=0, compress=0)
        except aiohttp.WSServerHandshakeError as e:
            # The non-101 answer is what makes client-go fall back to SPDY.
            raise errors.StatusError(f"unable to upgrade connection: {e.message}", code=e.status or 500,
                                     reason=_reason_for(e.status or 500)) from e
        except (aiohttp.ClientError, OSError) as e:
            raise _dial_error(e) from e
        try:
            client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (),
                                           autoping=True, max_msg_size=0)
            await client.prepare(request)
            to_kubelet = asyncio.create_task(_pump_ws(client, upstream))
            to_client = asyncio.create_task(_pump_ws(upstream, client))
            code, message = 1000, b""
            try:
                done, _ = await asyncio.wait({to_kubelet, to_client}, return_when=asyncio.FIRST_COMPLETED)
                finished = done.pop()
                if not finished.cancelled() and finished.exception() is None:
                    code, message = finished.result()
            finally:
                # The other pump is parked in receive(): stop it first, so that close() below reads the
                # peer's close reply itself (aiohttp drops the connection at once when a receive() is pending).
                for t in (to_kubelet, to_client):
                    t.cancel()
                await asyncio.gather(to_kubelet, to_client, return_exceptions=True)
                await client.close(code=code, message=message)
            return client
        finally:
            await upstream.close()

    async def _relay_spdy(self, request: web.Request, endpoint: KubeletEndpoint, path: str) -> web.StreamResponse:
        try:
            reader, writer = await self.kubelets.open_raw(endpoint)
        except (TimeoutError, OSError) as e:
            raise _dial_error(e) from e
        try:
            head = [f"{request.method} {path} HTTP/1.1", f"Host: {endpoint.host}:{endpoint.port}",
                    "Connection: Upgrade", f"Upgrade: {request.headers.get('Upgrade', 'SPDY/3.1')}"]
            head += [f"X-Stream-Protocol-Version: {v}" for v in request.headers.getall("X-Stream-Protocol-Version", [])]
            head += ["Content-Length: 0", "", ""]
            writer.write("\r\n".join(head).encode("latin-1"))
            await writer.drain()
            try:
                status, reason, headers = _parse_head(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30))
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                raise errors.InternalError(f"error reading the kubelet's answer to the upgrade: {e}") from e
            if status != 101:
                body = await _read_body(reader, headers)
                return web.Response(status=status, body=body, headers={
                    "Content-Type": headers.get("Content-Type", "text/plain; charset=utf-8")})
            conn = await hijack(request, [(k, v) for k, v in headers.items() if k.lower() not in _HOP_HEADERS],
                                reason=reason or None)
            await _splice(conn, reader, writer)
            return conn.response
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _seg(s: str) -> str:
    return quote(s, safe="")


def _reason_for(code: int) -> str:
    return errors.from_status({"code": code}).reason


def _dial_error(e: BaseException) -> errors.StatusError:
    return errors.InternalError(f"error dialing backend: {e}")


def _parse_head(raw: bytes) -> tuple[int, str, CIMultiDict[str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"malformed status line {lines[0]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.add(k.strip(), v.strip())
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


async def _read_body(reader: asyncio.StreamReader, headers: CIMultiDict[str], cap: int = 1 << 20) -> bytes:
    """A non-101 answer's body: by Content-Length, chunked, or up to EOF (at most `cap` bytes)."""
    try:
        if "Content-Length" in headers:
            return await asyncio.wait_for(reader.readexactly(min(int(headers["Content-Length"]), cap)), 10)
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while len(out) < cap:
                size = int((await asyncio.wait_for(reader.readline(), 10)).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    break
                out += await asyncio.wait_for(reader.readexactly(size), 10)
                await reader.readline()
            return bytes(out)
        return await asyncio.wait_for(reader.read(cap), 10)
    except (TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
        return b""


async def _splice(conn: HijackedConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async def client_to_kubelet() -> None:
        while data := await conn.read():
            writer.write(data)
            await writer.drain()

    async def kubelet_to_client() -> None:
        while data := await reader.read(RELAY_CHUNK):
            await conn.write(data)

    tasks = {asyncio.create_task(client_to_kubelet()), asyncio.create_task(kubelet_to_client())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.close()


async def _pump_ws(src: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
                   dst: web.WebSocketResponse | aiohttp.ClientWebSocketResponse) -> tuple[int, bytes]:
    """Copy messages from src to dst until src closes; the close code and message src sent."""
    code, message = 1000, b""
    while True:
        msg = await src.receive()
        if msg.type == aiohttp.WSMsgType.BINARY:
            await dst.send_bytes(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            await dst.send_str(msg.data)
        elif msg.type == aiohttp.WSMsgType.CLOSE:
            if isinstance(msg.data, int) and 1000 <= msg.data < 5000 and msg.data not in (1005, 1006, 1015):
                code = msg.data
            message = (msg.extra or "").encode()[:123]
            break
        elif msg.type in (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            break
    return code, message


async def _copy_response(request: web.Request, upstream: aiohttp.ClientResponse,
                         default_type: str = "application/octet-stream") -> web.StreamResponse:
    """Stream a kubelet response to the client, flushing each chunk as it arrives."""
    resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    resp.content_type = upstream.content_type if upstream.headers.get("Content-Type") else default_type
    if upstream.charset:
        resp.charset = upstream.charset
    for name in ("Content-Encoding", "Cache-Control", "Location"):
        if name in upstream.headers:
            resp.headers[name] = upstream.headers[name]
    await resp.prepare(request)
    async for chunk in upstream.content.iter_any():
        await resp.write(chunk)
    await resp.write_eof()
    return resp
