"""The kubelet's HTTP(S) API: the aiohttp application the apiserver relays exec/attach/port-forward/logs to, plus
/healthz and /stats/summary.

Paths (upstream pkg/kubelet/server/server.go): /exec|/attach/{ns}/{pod}[/{uid}]/{container} (GET = WebSocket,
POST = SPDY upgrade; query command (repeated), input, output, error, tty), /portForward/{ns}/{pod}[/{uid}],
/containerLogs/{ns}/{pod}/{container}, /stats/summary, /healthz. Pods and containers are found through the
runtime's labels (namespace, pod name, container name); among a container's instances the one with the highest
restart count is current, the one before it is `previous`. Errors are Status JSON.

With an `authorizer` every request must carry a client certificate verified by the TLS context (tls.py): none
gives 401, an identity the authorizer refuses gives 403. Without one (plain-HTTP tests) nothing is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from pyk8s.api.errors import BadRequest, Forbidden, NotFound, StatusError, Unauthorized
from pyk8s.kubelet.cri.interface import (
    ANNOTATION_RESTART_COUNT,
    LABEL_CONTAINER_NAME,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerStatus,
    NotFoundError,
    PodSandboxStatus,
    RuntimeService,
    StreamIO,
)
from pyk8s.kubelet.server import logs, portforward, remotecommand
from pyk8s.kubelet.server.stats import StatsSampler
from pyk8s.kubelet.server.tls import Authorizer, client_identity

RUNTIME_KEY: web.AppKey[RuntimeService] = web.AppKey("runtime")
SAMPLER_KEY: web.AppKey[StatsSampler] = web.AppKey("stats_sampler")


def _status_response(err: StatusError) -> web.Response:
    return web.Response(status=err.code, body=json.dumps(err.status()).encode(), content_type="application/json",
                        headers=err.headers)


def _restart_count(c: ContainerStatus) -> tuple[int, int]:
    try:
        count = int(c.annotations.get(ANNOTATION_RESTART_COUNT, c.metadata.attempt))
    except ValueError:
        count = c.metadata.attempt
    return count, c.created_at


class _Resolver:
    """ns/pod/container -> runtime ids, through the labels every runtime sets."""

    def __init__(self, runtime: RuntimeService) -> None:
        self.runtime = runtime

    async def sandbox(self, ns: str, pod: str, uid: str = "") -> PodSandboxStatus:
        matches = [s for s in await self.runtime.list_pod_sandboxes()
                   if s.labels.get(LABEL_POD_NAMESPACE, s.metadata.namespace) == ns
                   and s.labels.get(LABEL_POD_NAME, s.metadata.name) == pod
                   and (not uid or s.labels.get(LABEL_POD_UID, s.metadata.uid) == uid)]
        if not matches:
            raise NotFound(f'pod "{pod}" does not exist')
        ready = [s for s in matches if s.state == "SANDBOX_READY"]
        return max(ready or matches, key=lambda s: s.created_at)

    async def containers(self, ns: str, pod: str, container: str, uid: str = "") -> list[ContainerStatus]:
        """The container's instances, newest (highest restart count) first; 404 when it has none."""
        found = [c for c in await self.runtime.list_containers()
                 if c.labels.get(LABEL_POD_NAMESPACE) == ns and c.labels.get(LABEL_POD_NAME) == pod
                 and c.labels.get(LABEL_CONTAINER_NAME) == container
                 and (not uid or c.labels.get(LABEL_POD_UID) == uid)]
        if not found:
            await self.sandbox(ns, pod, uid)  # a missing pod is reported as such
            raise NotFound(f'container not found ("{container}")')
        return sorted(found, key=_restart_count, reverse=True)

    async def running(self, ns: str, pod: str, container: str, uid: str = "") -> ContainerStatus:
        current = (await self.containers(ns, pod, container, uid))[0]
        if current.state != "CONTAINER_RUNNING":
            raise BadRequest(f'container "{container}" in pod "{pod}" is not running')
        return current


def _uid(request: web.Request) -> str:
    return request.match_info.get("uid", "")


def build_kubelet_app(runtime: RuntimeService, *, node_name: str = "", authorizer: Authorizer | None = None,
                      read_logs: logs.LogReader | None = None, stats_interval: float | None = 10.0
                      ) -> web.Application:
    """The kubelet server application.

    `authorizer(user, groups)` enables client-certificate authentication (use tls.default_authorizer for the
    apiserver's kubelet-client identity); serve the app with tls.server_ssl_context(..., client_ca_file).
    `read_logs` defaults to pyk8s.kubelet.cri.logs.read_logs. `stats_interval` (seconds; None = off) runs the
    background CPU sampler so usageNanoCores is available on the first /stats/summary.
    """
    resolver = _Resolver(runtime)
    sampler = StatsSampler(runtime, node_name)

    @web.middleware
    async def errors_and_auth(request: web.Request,
                              handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            if authorizer is not None:
                identity = client_identity(request)
                if identity is None:
                    raise Unauthorized("Unauthorized")
                user, groups = identity
                if not authorizer(user, groups):
                    raise Forbidden(f"Forbidden (user={user}, verb={request.method.lower()}, "
                                    f"resource=nodes, subresource=proxy)")
            return await handler(request)
        except StatusError as e:
            return _status_response(e)

    app = web.Application(middlewares=[errors_and_auth])
    app[RUNTIME_KEY] = runtime
    app[SAMPLER_KEY] = sampler

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def exec_(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        command = request.query.getall("command", [])
        if not command:
            raise BadRequest("you must specify at least one command for the container")
        opts = remotecommand.StreamOptions.from_query(request.query)
        container = await resolver.running(m["ns"], m["pod"], m["container"], _uid(request))

        async def run(io: StreamIO) -> int | None:
            return await runtime.exec(container.id, list(command), io)

        return await remotecommand.serve(request, opts, run, list(command))

    async def attach(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        opts = remotecommand.StreamOptions.from_query(request.query)
        container = await resolver.running(m["ns"], m["pod"], m["container"], _uid(request))

        async def run(io: StreamIO) -> int | None:
            await runtime.attach(container.id, io)
            return None

        return await remotecommand.serve(request, opts, run)

    async def port_forward(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        sandbox = await resolver.sandbox(m["ns"], m["pod"], _uid(request))
        if sandbox.state != "SANDBOX_READY":
            raise BadRequest(f'pod "{m["pod"]}" is not running')

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await runtime.port_forward(sandbox.id, port)

        return await portforward.serve(request, dial, sandbox.id)

    async def container_logs(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        opts = logs.parse_log_options(request.query)
        instances = await resolver.containers(m["ns"], m["pod"], m["container"])
        if opts.previous:
            if len(instances) < 2:
                raise BadRequest(f'previous terminated container "{m["container"]}" in pod "{m["pod"]}" not found')
            target = instances[1]
        else:
            target = instances[0]
            if target.state == "CONTAINER_CREATED":
                raise BadRequest(f'container "{m["container"]}" in pod "{m["pod"]}" is waiting to start: '
                                 "ContainerCreating")

        async def is_running() -> bool:
            try:
                return (await runtime.container_status(target.id)).state == "CONTAINER_RUNNING"
            except NotFoundError:
                return False

        reader = read_logs
        if reader is None:
            from pyk8s.kubelet.cri.logs import read_logs as default_reader  # written alongside the runc runtime

            reader = default_reader
        return await logs.stream_logs(request, target.log_path, opts, reader, is_running)

    async def stats_summary(request: web.Request) -> web.Response:
        return web.json_response(await sampler.summary())

    r = app.router
    r.add_get("/healthz", healthz)
    for path in ("/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"):
        r.add_get(path, exec_)
        r.add_post(path, exec_)
    for path in ("/attach/{ns}/{pod}/{container}", "/attach/{ns}/{pod}/{uid}/{container}"):
        r.add_get(path, attach)
        r.add_post(path, attach)
    for path in ("/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"):
        r.add_get(path, port_forward)
        r.add_post(path, port_forward)
    r.add_get("/containerLogs/{ns}/{pod}/{container}", container_logs)
    r.add_get("/stats/summary", stats_summary)

    if stats_interval:
        interval = stats_interval

        async def sampler_ctx(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.ensure_future(sampler.run(interval))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(sampler_ctx)
    return app

