"""The /healthz, /livez, /readyz and /metrics endpoints every component serves (aiohttp, loopback by default).

Upstream components serve these on their --secure-port (10257 controller-manager, 10259 scheduler);
port 0 turns serving off, as upstream. The component prints where it listens, and a taken port ends it
with a one-line error.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import prometheus_client
from aiohttp import web


class HealthServer:
    def __init__(self, ready: Callable[[], bool] = lambda: True) -> None:
        self.ready = ready
        self._runner: web.AppRunner | None = None
        self.port = 0

    def _app(self) -> web.Application:
        async def ok(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def readyz(_: web.Request) -> web.Response:
            if self.ready():
                return web.Response(text="ok")
            return web.Response(status=500, text="[-]informer-sync failed: not synced yet\nreadyz check failed")

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=prometheus_client.generate_latest(),
                                headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/healthz", ok)
        app.router.add_get("/livez", ok)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        return app

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> int:
        """Listen on host:port (0 = any free port); returns the bound port. OSError if the port is taken."""
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_health_server(component: str, host: str, port: int,
                              ready: Callable[[], bool] = lambda: True) -> HealthServer:
    """Serve health and metrics for `component` on host:port (0: not at all); SystemExit with one line if taken."""
    server = HealthServer(ready)
    if port:
        try:
            await server.start(host, port)
        except OSError as e:
            raise SystemExit(f"{component}: cannot listen on {host}:{port}: {e.strerror or e}") from None
        print(f"{component}: serving healthz and metrics on http://{host}:{server.port}", flush=True)
    return server
