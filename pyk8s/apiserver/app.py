"""The apiserver's HTTP application: filter chain (authn -> authz -> handlers) and dispatch by path and verb.

Every resource is served by the same generic handlers; what differs per resource lives in its Strategy.
"""

from __future__ import annotations

import datetime
import logging
import re
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from pyk8s.api import errors
from pyk8s.api.conversion import CONVERTERS
from pyk8s.api.resources import TABLE, ResourceTable
from pyk8s.apiserver import authz, discovery, metrics, openapi, openapi_v2, reviews, satokens
from pyk8s.apiserver.admission import Admission
from pyk8s.apiserver.allocators import ClusterIPAllocator, NodePortAllocator
from pyk8s.apiserver.authn import Authenticator
from pyk8s.apiserver.endpoints import reads, watch
from pyk8s.apiserver.endpoints.common import check_kind, error_response, json_response, read_body
from pyk8s.apiserver.endpoints.deletes import DeleteHandler
from pyk8s.apiserver.endpoints.subresources import SubresourceHandler
from pyk8s.apiserver.endpoints.writes import WriteHandler
from pyk8s.apiserver.kubeletclient import KubeletClient
from pyk8s.apiserver.negotiation import decode_body, parse_accept
from pyk8s.apiserver.nodeproxy import STREAMING_SUBRESOURCES, NodeProxy
from pyk8s.apiserver.registry.batch import JobStrategy
from pyk8s.apiserver.registry.core import NamespaceStrategy, NodeStrategy, PodStrategy, ServiceStrategy
from pyk8s.apiserver.registry.registry import Registry
from pyk8s.apiserver.registry.strategy import RequestContext, UserInfo
from pyk8s.apiserver.request import RequestInfo, parse_path
from pyk8s.apiserver.version import version_info
from pyk8s.storage.interface import Store

log = logging.getLogger(__name__)
Obj = dict[str, Any]

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
# /api/v1/nodes/<name>/proxy[/<path>]: nodes/proxy carries a path of its own, which parse_path does not take.
NODE_PROXY_PATH = re.compile(r"^/api/v1/nodes/([^/]+)/proxy(?:/(.*))?$")


class APIServer:
    """Everything one apiserver process serves, wired to one store."""

    def __init__(self, store: Store, *, table: ResourceTable = TABLE, tokens: dict[str, UserInfo] | None = None,
                 service_cidr: str = "10.96.0.0/12", node_port_range: tuple[int, int] = (30000, 32767),
                 advertise_address: str = "127.0.0.1", secure_port: int = 6443,
                 kubelet_client: KubeletClient | None = None, token_signer: satokens.TokenSigner | None = None) -> None:
        self.store = store
        self.table = table
        self.ips = ClusterIPAllocator(service_cidr)
        self.node_ports = NodePortAllocator(node_port_range)
        self.services = ServiceStrategy(_must(table.lookup("", "v1", "services")), self.ips, self.node_ports)
        self.registry = Registry(store, table, strategies={
            ("", "pods"): PodStrategy,
            ("", "namespaces"): NamespaceStrategy,
            ("", "nodes"): NodeStrategy,
            ("", "services"): lambda r: self.services,
            ("batch", "jobs"): JobStrategy,
        }, converters=CONVERTERS)
        self.admission = Admission(self.registry)
        self.writes = WriteHandler(self.registry, self.admission)
        self.deletes = DeleteHandler(self.registry, self.admission)
        self.subresources = SubresourceHandler(self.writes)
        self.token_signer = token_signer
        self.authn = Authenticator(tokens, self._service_account_user if token_signer is not None else None)
        self.kubelets = kubelet_client or KubeletClient(None, None)
        self.node_proxy = NodeProxy(self.registry, self.kubelets)
        self.metrics_api = metrics.MetricsAPI(self.registry, self.kubelets)
        self.ready = False
        self.advertise_address = advertise_address
        self.secure_port = secure_port
        self.metrics = CollectorRegistry(auto_describe=True)
        self.request_count = Counter("apiserver_request_total", "Requests by verb, resource and code",
                                     ["verb", "resource", "code"], registry=self.metrics)

    # ------------------------------------------------------------------ app
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors], client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            resp: web.StreamResponse = await handler(request)
            return resp
        except errors.StatusError as e:
            return error_response(e)
        except web.HTTPException:
            raise
        except ConnectionResetError:
            raise
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            return error_response(errors.InternalError("an error on the server has prevented the request from succeeding"))

    # ------------------------------------------------------------------ dispatch
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in PUBLIC_PATHS:
            return self._public(path)
        user = await self.authn.authenticate(request)
        if not self.ready:
            raise errors.ServiceUnavailable("the apiserver is starting", headers={"Retry-After": "5"})
        if path.rstrip("/") == f"/apis/{metrics.GROUP}" or path.startswith(f"/apis/{metrics.GROUP}/") \
                or NODE_PROXY_PATH.match(path):
            return await self._node_backed(request, user, path)
        info = parse_path(self.table, path)
        if info is None and not authz.allowed(user, None, path, _NONRESOURCE_VERBS.get(request.method, "get")):
            raise authz.forbidden_path(user, path, _NONRESOURCE_VERBS.get(request.method, "get"))
        if path == "/metrics":
            return web.Response(body=generate_latest(self.metrics), headers={"Content-Type": CONTENT_TYPE_LATEST})
        if path.startswith("/openapi/") or path == openapi_v2.LEGACY_SWAGGER_PATH:
            return self._openapi(request, path)
        if info is None:
            return self._discovery(request, path)
        attrs = authz.ResourceAttributes(_verb(request, info), info.resource.group, info.resource.plural,
                                         info.subresource, info.namespace, info.name)
        if not authz.allowed(user, attrs):
            raise authz.forbidden(user, attrs)
        ctx = RequestContext(user=user, now=datetime.datetime.now(datetime.UTC))
        code = 500
        try:
            resp = await self._resource(request, info, ctx)
            code = resp.status
            return resp
        except errors.StatusError as e:
            code = e.code
            raise
        finally:
            self.request_count.labels(request.method, info.resource.plural, str(code)).inc()

    async def _service_account_user(self, token: str) -> UserInfo | None:
        assert self.token_signer is not None
        claims = self.token_signer.verify(token)
        return None if claims is None else await satokens.authenticate_token(claims, self.registry)

    async def _node_backed(self, request: web.Request, user: UserInfo, path: str) -> web.StreamResponse:
        """metrics.k8s.io and nodes/proxy: served from the kubelets rather than the store."""
        verb = _NONRESOURCE_VERBS.get(request.method, "get")
        proxy = NODE_PROXY_PATH.match(path)
        if proxy is not None:
            attrs = authz.ResourceAttributes(
                {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}.get(request.method, "get"), "", "nodes", "proxy", "", proxy.group(1))
            if not authz.allowed(user, attrs):
                raise authz.forbidden(user, attrs)
            return await self.node_proxy.node_proxy(request, proxy.group(1), proxy.group(2) or "")
        req = metrics.parse_metrics_path(path)
        if req is None:
            if not authz.allowed(user, None, path, verb):
                raise authz.forbidden_path(user, path, verb)
            doc = metrics.discovery_document(path)
            if doc is None:
                raise errors.NotFound("the server could not find the requested resource", details={})
            return json_response(doc)
        attrs = authz.ResourceAttributes("get" if req.name else "list", metrics.GROUP, req.plural, "",
                                         req.namespace, req.name)
        if not authz.allowed(user, attrs):
            raise authz.forbidden(user, attrs)
        return await self.metrics_api.serve(request, req)

    def _public(self, path: str) -> web.StreamResponse:
        if path == "/version":
            return json_response(version_info())
        if path == "/readyz" and not self.ready:
            return web.Response(status=500, text="[-]poststarthook/bootstrap failed: not finished\nreadyz check failed\n")
        return web.Response(text="ok", content_type="text/plain")

    def _openapi(self, request: web.Request, path: str) -> web.StreamResponse:
        if path in (openapi_v2.OPENAPI_V2_PATH, openapi_v2.LEGACY_SWAGGER_PATH):
            rep = openapi_v2.openapi_v2_representation(self.table, request.headers.get("Accept"),
                                                       legacy=path == openapi_v2.LEGACY_SWAGGER_PATH)
            if rep is None:
                return web.Response(status=406, headers={"Vary": "Accept"})
            headers = {"Content-Type": rep.content_type, "ETag": rep.etag, "Vary": "Accept"}
            if request.headers.get("If-None-Match") == rep.etag:
                return web.Response(status=304, headers=headers)
            return web.Response(body=rep.body, headers=headers)
        if path == "/openapi/v3" or path == "/openapi/v3/":
            return json_response(openapi.openapi_index(self.table))
        if path.startswith("/openapi/v3/"):
            gv_path = path[len("/openapi/v3/"):]
            parts = gv_path.split("/")
            if parts[0] == "api" and len(parts) == 2:
                group, version = "", parts[1]
            elif parts[0] == "apis" and len(parts) == 3:
                group, version = parts[1], parts[2]
            else:
                raise errors.NotFound("the server could not find the requested resource", details={})
            if not self.table.in_group_version(group, version):
                raise errors.NotFound("the server could not find the requested resource", details={})
            return web.Response(body=openapi.openapi_group_version(self.table, group, version),
                                content_type="application/json")
        raise errors.NotFound("the server could not find the requested resource", details={})

    def _discovery(self, request: web.Request, path: str) -> web.StreamResponse:
        p = path.rstrip("/")
        accept = request.headers.get("Accept")
        if p in ("/api", "/apis"):
            agg = discovery.wants_aggregated(accept)
            if agg:
                tag = "v2" if agg == discovery.AGGREGATED_V2 else "v2beta1"
                body = discovery.aggregated(self.table, legacy=p == "/api", version_tag=tag)
                if p == "/apis":
                    body["items"].append(metrics.aggregated_group())
                return web.Response(body=orjson.dumps(body), headers={"Content-Type": agg})
            if p == "/api":
                return json_response(discovery.api_versions(f"{self.advertise_address}:{self.secure_port}"))
            groups = discovery.api_group_list(self.table)
            groups["groups"].append(metrics.api_group())
            return json_response(groups)
        parts = [x for x in p.split("/") if x]
        doc: Obj | None = None
        if len(parts) == 2 and parts[0] == "api":
            doc = discovery.api_resource_list(self.table, "", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(self.table, parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.api_resource_list(self.table, parts[1], parts[2])
        if doc is None:
            if p.startswith("/api"):
                raise errors.NotFound("the server could not find the requested resource", details={})
            return web.Response(status=404, text="404 page not found\n", content_type="text/plain")
        return json_response(doc)

    async def _resource(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        m = request.method
        sub = info.subresource
        if sub in STREAMING_SUBRESOURCES and r.plural == "pods" and info.name and info.namespace:
            return await self.node_proxy.pod_subresource(request, info)
        if sub == "token" and r.plural == "serviceaccounts" and m == "POST" and info.name:
            if self.token_signer is None:
                raise errors.InternalError("the apiserver has no service-account signing key")
            return await satokens.create_token(request, info, self.registry, self.token_signer, ctx.now)
        if not r.stored:
            return await self._review(request, info, ctx)
        if m == "GET":
            form = parse_accept(request.headers.get("Accept"))
            if sub in ("", "status"):
                if info.name and not info.watch_path and request.query.get("watch", "") not in ("true", "1"):
                    return await reads.get(request, self.registry, info, form)
                if not info.name and not _is_watch(request, info):
                    return await reads.list_(request, self.registry, info, form)
                return await watch.watch(request, self.registry, info, form)
            if sub == "scale":
                return await self.subresources.get_scale(info)
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if r.namespaced and not info.namespace and m != "GET":
            # The all-namespaces path (/api/v1/pods) serves list and watch only.
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if m == "POST":
            if sub == "binding" and r.plural == "pods":
                return await self.subresources.bind(request, info, ctx)
            if sub == "eviction" and r.plural == "pods":
                return await self.subresources.evict(request, info, ctx)
            if not sub and not info.name:
                if r.plural == "bindings":
                    return await self.subresources.bind(request, info, ctx)
                return await self.writes.create(request, info, ctx)
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if not info.name:
            if m == "DELETE" and "deletecollection" in r.verbs:
                return await self.deletes.delete_collection(request, info, ctx)
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if sub == "scale" and m in ("PUT", "PATCH"):
            return await self.subresources.write_scale(request, info, ctx)
        if sub == "finalize" and m == "PUT":
            return await self.subresources.finalize(request, info, ctx)
        if sub not in ("", "status"):
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if m == "PUT":
            return await self.writes.update(request, info, ctx)
        if m == "PATCH":
            return await self.writes.patch(request, info, ctx)
        if m == "DELETE" and not sub:
            return await self.deletes.delete(request, info, ctx)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _review(self, request: web.Request, info: RequestInfo, ctx: RequestContext) -> web.StreamResponse:
        r = info.resource
        if request.method != "POST" or info.name:
            raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
        if r.plural == "bindings":
            return await self.subresources.bind(request, info, ctx)
        body = check_kind(decode_body(await read_body(request), request.headers.get("Content-Type"),
                                      kind_hint=r.kind, target=(r.group_version, r.kind)).obj, r)
        if r.plural == "selfsubjectaccessreviews":
            return json_response(reviews.self_subject_access_review(body, ctx.user), 201)
        if r.plural == "selfsubjectrulesreviews":
            return json_response(reviews.self_subject_rules_review(body, ctx.user), 201)
        if r.plural == "selfsubjectreviews":
            return json_response(reviews.self_subject_review(body, ctx.user), 201)
        if r.plural == "subjectaccessreviews":
            return json_response(reviews.subject_access_review(body), 201)
        raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")


_NONRESOURCE_VERBS = {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put", "PATCH": "patch",
                      "DELETE": "delete"}


def _verb(request: web.Request, info: RequestInfo) -> str:
    """The API verb of a resource request (what RBAC rules name)."""
    m = request.method
    if m in ("GET", "HEAD"):
        if _is_watch(request, info):
            return "watch"
        return "get" if info.name else "list"
    if m == "DELETE":
        return "delete" if info.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(m, m.lower())


def _is_watch(request: web.Request, info: RequestInfo) -> bool:
    return info.watch_path or request.query.get("watch", "") in ("true", "1")


def _must(x: Any) -> Any:
    assert x is not None
    return x

