"""RESTClient's transport rules against a local aiohttp server: Retry-After retries within the request timeout,
no resend of writes after a lost connection, watches outside the rate limiter and the connection pool, the
watch read timeout, and the leader election client's user agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from pyk8s.api import errors
from pyk8s.base.clock import FakeClock
from pyk8s.client.kinds import CONFIGMAPS, NAMESPACES
from pyk8s.client.kubeconfig import ClientConfig
from pyk8s.client.leaderelection import leader_election_client
from pyk8s.client.rest import RESTClient, watch_read_timeout

REASONS = {404: "NotFound", 409: "Conflict", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default", "resourceVersion": "1"}}


@dataclass
class Server:
    """Answers from a script: each request pops the next (status, headers) pair; an empty script means 200."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    open_streams: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.method, request.path, body, request.headers.get("User-Agent", "")))
        if request.query.get("watch"):
            return await self.stream(request)
        if self.script:
            status, headers = self.script.pop(0)
            status_body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "the apiserver is starting" if status == 503 else "no",
                           "reason": REASONS[status], "code": status}
            return web.Response(status=status, body=orjson.dumps(status_body), headers=headers,
                                content_type="application/json")
        answer = orjson.loads(body) if body else NS
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """A watch that sends its headers and then nothing until the client goes away."""
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        self.open_streams += 1
        try:
            await asyncio.Event().wait()
        finally:
            self.open_streams -= 1
        return resp


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    srv.url = f"http://{host}:{port}"
    yield srv
    await runner.cleanup()


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


async def drive(clock: FakeClock, call: Awaitable[Any], steps: list[float],
                sent: Callable[[], int]) -> asyncio.Task[Any]:
    """Run `call`; before each step wait until it sleeps on the clock, check that a step just short of the wait
    does not send again, then complete the wait."""
    task = asyncio.ensure_future(call)
    for wait in steps:
        await until(lambda: clock.has_sleepers() or task.done())
        assert not task.done()
        before = sent()
        if wait > 0.1:
            clock.step(wait - 0.1)
            await asyncio.sleep(0)
            assert clock.has_sleepers() and sent() == before  # still waiting
            clock.step(0.1)
        else:
            clock.step(wait)
    return task


async def test_503_with_retry_after_is_resent_after_that_many_seconds(server: Server) -> None:
    clock = FakeClock()
    server.script = [(503, {"Retry-After": "5"}), (503, {"Retry-After": "5"})]
    async with RESTClient(ClientConfig(server=server.url), clock=clock) as c:
        task = await drive(clock, c.get(NAMESPACES, "default"), [5, 5], lambda: len(server.requests))
        got = await asyncio.wait_for(task, 5)
    assert got["metadata"]["name"] == "default"
    assert len(server.requests) == 3


async def test_429_on_a_write_resends_the_same_body(server: Server) -> None:
    clock = FakeClock()
    server.script = [(429, {"Retry-After": "1"})]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}}
    async with RESTClient(ClientConfig(server=server.url), clock=clock) as c:
        task = await drive(clock, c.create(CONFIGMAPS, cm, "ns"), [1], lambda: len(server.requests))
        assert (await asyncio.wait_for(task, 5))["data"] == {"k": "v"}
    assert [r[0] for r in server.requests] == ["POST", "POST"]
    assert server.requests[0][2] == server.requests[1][2] == orjson.dumps(cm)


async def test_retries_are_bounded_in_number(server: Server) -> None:
    clock = FakeClock()
    server.script = [(503, {"Retry-After": "1"})] * 20
    async with RESTClient(ClientConfig(server=server.url), clock=clock) as c:
        task = await drive(clock, c.get(NAMESPACES, "default"), [1] * 10, lambda: len(server.requests))
        with pytest.raises(errors.ServiceUnavailable) as e:
            await asyncio.wait_for(task, 5)
    assert len(server.requests) == 11  # the first try and 10 retries
    assert e.value.code == 503 and e.value.message == "the apiserver is starting"


async def test_retries_stay_within_the_request_timeout(server: Server) -> None:
    clock = FakeClock()
    server.script = [(503, {"Retry-After": "30"})] * 5
    async with RESTClient(ClientConfig(server=server.url, timeout=60), clock=clock) as c:
        task = await drive(clock, c.get(NAMESPACES, "default"), [30], lambda: len(server.requests))
        with pytest.raises(errors.ServiceUnavailable):
            await asyncio.wait_for(task, 5)
    assert len(server.requests) == 2  # a second wait of 30 s would end at the deadline


async def test_no_retry_without_retry_after_or_for_other_codes(server: Server) -> None:
    server.script = [(500, {}), (404, {"Retry-After": "1"}), (409, {"Retry-After": "1"})]
    async with RESTClient(ClientConfig(server=server.url), clock=FakeClock()) as c:
        with pytest.raises(errors.InternalError):
            await c.get(NAMESPACES, "default")
        with pytest.raises(errors.NotFound):
            await c.get(NAMESPACES, "default")
        with pytest.raises(errors.Conflict):
            await c.get(NAMESPACES, "default")
    assert len(server.requests) == 3


class DroppingServer:
    """Raw HTTP: closes the first `drops` connections after reading the request, then answers 200 `{}`."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.requests: list[bytes] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> DroppingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                self.requests.append(head.split(b" ", 1)[0])
                if self.drops:
                    self.drops -= 1
                    break
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_get_is_resent_after_a_lost_connection_but_a_write_is_not() -> None:
    clock = FakeClock()
    # aiohttp itself resends an idempotent request once at once; the client then waits 1 s and resends a GET.
    async with DroppingServer(drops=2) as srv, RESTClient(ClientConfig(server=srv.url), clock=clock) as c:
        task = await drive(clock, c.get(NAMESPACES, "default"), [1], lambda: len(srv.requests))
        assert await asyncio.wait_for(task, 5) == {}
        assert srv.requests == [b"GET", b"GET", b"GET"]
    async with DroppingServer(drops=1) as srv, RESTClient(ClientConfig(server=srv.url), clock=clock) as c:
        for write in (c.create(NAMESPACES, {"metadata": {"name": "x"}}),
                      c.patch(NAMESPACES, "x", {"metadata": {"labels": {"a": "b"}}}),
                      c.create_subresource(NAMESPACES, "x", "finalize", {"metadata": {"name": "x"}})):
            srv.drops = 1
            srv.requests.clear()
            with pytest.raises(ConnectionError):
                await asyncio.wait_for(write, 5)
            assert len(srv.requests) == 1 and not clock.has_sleepers()


async def test_watches_bypass_the_rate_limiter_and_the_connection_pool(server: Server) -> None:
    config = ClientConfig(server=server.url, qps=0.001, burst=1, max_connections=1)
    async with RESTClient(config) as c:
        await c.get(NAMESPACES, "default")  # the only token for the next ~17 minutes
        streams = [c.watch(CONFIGMAPS, "ns") for _ in range(3)]
        readers = [asyncio.ensure_future(anext(s)) for s in streams]  # type: ignore[arg-type]
        await until(lambda: server.open_streams == 3)
        # Three open watches hold no slot of the one-connection pool: a normal request still gets through
        # (it waits for its rate-limiter token, not for a connection).
        assert c._limiter is not None
        c._limiter.tokens = 1.0
        got = await asyncio.wait_for(c.get(NAMESPACES, "default"), 5)
        assert got["metadata"]["name"] == "default"
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for s in streams:
            await s.aclose()  # type: ignore[attr-defined]


async def test_a_silent_watch_connection_is_a_connection_error(server: Server) -> None:
    async with RESTClient(ClientConfig(server=server.url)) as c:
        c.watch_read_timeout_with_bookmarks = 0.2
        with pytest.raises(ConnectionError, match=r"nothing received for 0\.2s"):
            async with asyncio.timeout(5):
                async for _ in c.watch(CONFIGMAPS, "ns", allow_bookmarks=True, timeout_seconds=600):
                    pass


def test_watch_read_timeout_follows_bookmarks_and_timeout_seconds() -> None:
    assert watch_read_timeout(True, 600) == 150  # bookmarks every 60 s
    assert watch_read_timeout(True, 10) == 40  # the server ends the stream first
    assert watch_read_timeout(False, 300) == 330
    assert watch_read_timeout(False, None) == 3630  # the server's longest watch (2 x 1800 s) plus grace


async def test_watch_query_and_leader_election_user_agent(server: Server) -> None:
    config = ClientConfig(server=server.url, user_agent="kube-controller-manager/pyk8s", qps=0.001, burst=1)
    async with leader_election_client(config, renew_deadline=10) as le:
        for _ in range(3):  # no rate limit: three calls at once
            await asyncio.wait_for(le.get(NAMESPACES, "default"), 5)
    assert {r[3] for r in server.requests} == {"kube-controller-manager/pyk8s/leader-election"}
