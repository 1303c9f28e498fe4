"""A controller under test with the fakes: FakeClient, real shared informers over it, a FakeClock, event
recorders whose events tests flush and read back, and a fake kubelet that starts and finishes pods.

No sleeps: `settle()` polls (with a real-time deadline) until every informer cache holds exactly what the fake
stores; `run(*controllers)` processes queued keys until every queue is empty, settling before each step and
calling `check()` after every reconcile so tests can assert invariants at every intermediate state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pyk8s.api.meta import now_rfc3339
from pyk8s.api.resources import Resource
from pyk8s.base.clock import FakeClock
from pyk8s.client.events import EventRecorder
from pyk8s.client.fake import Action, FakeClient
from pyk8s.client.informer import SharedInformerFactory
from pyk8s.client.interface import Obj, object_key
from pyk8s.client.kinds import EVENTS, PODS
from pyk8s.controllers.framework import ControllerContext, ControllerOptions

SETTLE_DEADLINE = 5.0


async def until(cond: Callable[[], object], timeout: float = SETTLE_DEADLINE) -> None:
    """Poll `cond` (yielding to the loop) until it holds; fail after `timeout` real seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


class Harness:
    """The context handed to controllers carries `options`, or default options whose `extra` is `extra`."""

    def __init__(self, options: ControllerOptions | None = None, **extra: Any) -> None:
        assert options is None or not extra, "pass extra inside options"
        self.clock = FakeClock()
        self.client = FakeClient(clock=self.clock)
        self.factory = SharedInformerFactory(self.client, clock=self.clock)
        self.recorders: list[EventRecorder] = []
        self.ctx = ControllerContext(client=self.client, informers=self.factory, recorder=self._recorder,
                                     clock=self.clock, options=options or ControllerOptions(extra=dict(extra)))

    def _recorder(self, component: str) -> EventRecorder:
        r = EventRecorder(self.client, component, clock=self.clock)
        self.recorders.append(r)
        return r

    async def start(self) -> None:
        self.factory.start()
        assert await self.factory.wait_for_sync(SETTLE_DEADLINE)

    async def stop(self) -> None:
        await self.factory.stop()

    # ---- waiting for the caches, driving controllers and time ----
    def _caught_up(self) -> bool:
        for inf in self.factory.informers():
            want = {object_key(o): o["metadata"].get("resourceVersion") for o in self.client.objects(inf.resource)}
            have = {k: (inf.lister.get(k) or {}).get("metadata", {}).get("resourceVersion")
                    for k in inf.lister.keys()}
            if want != have:
                return False
        return True

    async def settle(self) -> None:
        """Wait until every informer cache shows exactly what the fake stores."""
        await until(self._caught_up)

    async def run(self, *controllers: Any, check: Callable[[], None] | None = None, limit: int = 2000) -> int:
        """Reconcile queued keys of `controllers` until all queues are empty; returns how many were processed."""
        processed = 0
        for _ in range(limit):
            await self.settle()
            busy = False
            for c in controllers:
                if len(c.controller.queue):
                    await c.controller.process_next()
                    processed += 1
                    busy = True
                    if check is not None:
                        await self.settle()
                        check()
            if not busy:
                await self.settle()
                if not any(len(c.controller.queue) for c in controllers):
                    return processed
        raise AssertionError("controllers kept working: no steady state")

    async def step(self, seconds: float) -> None:
        """Move the clock and let timers that came due (delayed requeues) fire."""
        self.clock.step(seconds)
        for _ in range(20):
            await asyncio.sleep(0)

    # ---- reading back what happened ----
    async def _written_events(self) -> list[Obj]:
        for r in self.recorders:
            await r.flush()
        return [e for e in self.client.objects(EVENTS) if e.get("reason")]

    async def events(self) -> list[tuple[str, str, str]]:
        """(type, reason, message) of every event written so far."""
        return [(e["type"], e["reason"], e["message"]) for e in await self._written_events()]

    async def involved_events(self) -> list[tuple[str, str, str, str]]:
        """(type, reason, message, involved "Kind/name") of every event written so far."""
        return [(e["type"], e["reason"], e["message"],
                 f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}")
                for e in await self._written_events()]

    def actions(self, verb: str, plural: str) -> list[Action]:
        return [a for a in self.client.actions if a.verb == verb and a.resource == plural]

    def writes(self, plural: str) -> list[tuple[str, str]]:
        """(verb, name) of the writes recorded on `plural`."""
        return [(a.verb, a.name) for a in self.client.actions
                if a.resource == plural and a.verb in ("create", "update", "patch", "delete")]

    def get(self, resource: Resource, name: str, namespace: str = "") -> Obj | None:
        """The stored object (a copy), or None."""
        for o in self.client.objects(resource, namespace if resource.namespaced else None):
            if o["metadata"]["name"] == name:
                return o
        return None

    # ---- a fake kubelet ----
    def pods(self, namespace: str = "default") -> list[Obj]:
        return self.client.objects(PODS, namespace)

    async def make_ready(self, namespace: str = "default", *, limit: int | None = None,
                         names: list[str] | None = None) -> list[str]:
        """Schedule and start pods (Running, Ready=True now); returns the names changed."""
        done: list[str] = []
        for pod in self.pods(namespace):
            m = pod["metadata"]
            if m.get("deletionTimestamp") or (names is not None and m["name"] not in names):
                continue
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (pod.get("status") or {}).get("conditions") or ()):
                continue
            if limit is not None and len(done) >= limit:
                break
            if not (pod.get("spec") or {}).get("nodeName"):
                await self.client.create_subresource(PODS, m["name"], "binding",
                                                     {"target": {"kind": "Node", "name": "node-1"}}, namespace)
                pod = await self.client.get(PODS, m["name"], namespace)
            now = now_rfc3339(self.clock.now())
            pod["status"] = {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now}]}
            await self.client.update(PODS, pod, subresource="status")
            done.append(m["name"])
        return done

    async def finish_terminating(self, namespace: str = "default") -> int:
        """Remove pods whose graceful deletion started (the kubelet's final delete with grace 0)."""
        count = 0
        for pod in self.pods(namespace):
            if pod["metadata"].get("deletionTimestamp"):
                await self.client.delete(PODS, pod["metadata"]["name"], namespace, grace_period_seconds=0)
                count += 1
        return count
