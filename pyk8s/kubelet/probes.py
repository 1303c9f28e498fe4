"""Liveness, readiness and startup probes, and the lifecycle hooks that share their handlers.

`ProbeManager` keeps one asyncio task per (pod, container, probe type). Every periodSeconds it probes the
container's current running instance, once initialDelaySeconds have passed since it started: exec (through
the runtime's exec_sync), httpGet (status 200-399 passes) or tcpSocket (a connect passes); a timeout fails.
A result flips only after failureThreshold consecutive failures or successThreshold consecutive successes.
Readiness starts as failure, liveness as success; while a startup probe has not passed, the other two do not
run. A failed liveness or startup probe holds its result for that container instance (the pod worker kills
and restarts it); every failed probe records an Unhealthy event with upstream's message. Whenever a result
changes, `on_change(pod_uid)` wakes the pod's worker.

`run_handler` runs a lifecycle hook handler (exec, httpGet, sleep) and returns "" or an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from pyk8s.api import meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Obj
from pyk8s.kubelet.cri import interface as cri
from pyk8s.kubelet.kuberuntime import EVENT_WARNING, container_ref
from pyk8s.kubelet.pleg import RuntimePodStatus

log = logging.getLogger("pyk8s.kubelet.probes")

LIVENESS = "Liveness"
READINESS = "Readiness"
STARTUP = "Startup"
_FIELD = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
USER_AGENT = "kube-probe/1.33"

SUCCESS = "success"
FAILURE = "failure"

EventSink = Callable[[Obj, str, str, str], None]
ProbeRunner = Callable[[Obj, Obj, str, Obj, str, float], Awaitable[tuple[str, str]]]


def probe_settings(probe: Obj) -> tuple[float, float, float, int, int]:
    """(initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold, failureThreshold) with defaults."""
    return (float(probe.get("initialDelaySeconds") or 0), float(probe.get("periodSeconds") or 10),
            float(probe.get("timeoutSeconds") or 1), int(probe.get("successThreshold") or 1),
            int(probe.get("failureThreshold") or 3))


def _port_of(port: object, container: Obj) -> int:
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for p in container.get("ports") or []:
        if p.get("name") == text:
            return int(p.get("containerPort") or 0)
    raise ValueError(f"couldn't find port: {text} in {container.get('name')}")


async def http_get(action: Obj, container: Obj, pod_ip: str, timeout: float) -> tuple[str, str]:
    """An httpGet probe/hook: (SUCCESS|FAILURE, output)."""
    scheme = str(action.get("scheme") or "HTTP").lower()
    host = str(action.get("host") or pod_ip)
    try:
        port = _port_of(action.get("port"), container)
    except ValueError as e:
        return FAILURE, str(e)
    path = str(action.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for h in action.get("httpHeaders") or []:
        headers[str(h.get("name"))] = str(h.get("value", ""))
    ctx: ssl.SSLContext | bool = False if scheme == "https" else True
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.get(url, headers=headers, allow_redirects=False, ssl=ctx) as resp:
            body = (await resp.content.read(10 * 1024)).decode(errors="replace")
            if 200 <= resp.status < 400:
                return SUCCESS, body
            return FAILURE, f"HTTP probe failed with statuscode: {resp.status}"
    except TimeoutError:
        return FAILURE, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except aiohttp.ClientConnectorError as e:
        why = "connection refused" if isinstance(e.os_error, ConnectionRefusedError) else str(e.os_error)
        return FAILURE, f'Get "{url}": dial tcp {host}:{port}: connect: {why}'
    except (aiohttp.ClientError, OSError) as e:
        return FAILURE, f'Get "{url}": {e}'


async def tcp_socket(action: Obj, container: Obj, pod_ip: str, timeout: float) -> tuple[str, str]:
    host = str(action.get("host") or pod_ip)
    try:
        port = _port_of(action.get("port"), container)
    except ValueError as e:
        return FAILURE, str(e)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except TimeoutError:
        return FAILURE, f"dial tcp {host}:{port}: i/o timeout"
    except ConnectionRefusedError:
        return FAILURE, f"dial tcp {host}:{port}: connect: connection refused"
    except OSError as e:
        return FAILURE, f"dial tcp {host}:{port}: {e.strerror or e}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return SUCCESS, ""


async def exec_action(runtime: cri.RuntimeService, action: Obj, container_id: str,
                      timeout: float) -> tuple[str, str]:
    command = [str(x) for x in action.get("command") or []]
    try:
        result = await runtime.exec_sync(container_id, command, timeout)
    except cri.CRIError as e:
        return FAILURE, str(e)
    output = (result.stdout + result.stderr).decode(errors="replace")
    if result.timed_out:
        return FAILURE, f'command "{" ".join(command)}" timed out'
    if result.exit_code != 0:
        return FAILURE, output
    return SUCCESS, output


async def run_handler(runtime: cri.RuntimeService, clock: Clock, pod: Obj, container: Obj, container_id: str,
                      handler: Obj, timeout: float, pod_ip: str) -> str:
    """Run a lifecycle hook handler; "" on success, else the error message."""
    name = container.get("name", "")
    if "exec" in handler:
        command = [str(x) for x in (handler["exec"] or {}).get("command") or []]
        outcome, output = await exec_action(runtime, handler["exec"] or {}, container_id, timeout)
        if outcome == SUCCESS:
            return ""
        return (f"Exec lifecycle hook ({command}) for Container \"{name}\" in Pod \"{meta.name_of(pod)}_"
                f"{meta.namespace_of(pod)}({meta.meta(pod).get('uid', '')})\" failed - error: {output}")
    if "httpGet" in handler:
        outcome, output = await http_get(handler["httpGet"] or {}, container, pod_ip, timeout or 30.0)
        if outcome == SUCCESS:
            return ""
        return (f"HTTP lifecycle hook ({(handler['httpGet'] or {}).get('path', '')}) for Container \"{name}\" in "
                f"Pod \"{meta.name_of(pod)}_{meta.namespace_of(pod)}({meta.meta(pod).get('uid', '')})\" failed - "
                f"error: {output}")
    if "sleep" in handler:
        await clock.sleep(float((handler["sleep"] or {}).get("seconds") or 0))
        return ""
    return "unknown lifecycle handler"


@dataclass
class _Worker:
    uid: str
    pod: Obj
    container: Obj
    kind: str
    container_id: str = ""
    started_at: int = 0  # CRI ns of the running instance
    result: str = ""
    last: str = ""
    count: int = 0
    on_hold: bool = False
    task: asyncio.Task[None] | None = None


class ProbeManager:
    def __init__(self, runtime: cri.RuntimeService, *, clock: Clock = REAL_CLOCK, record: EventSink,
                 on_change: Callable[[str], None], runner: ProbeRunner | None = None) -> None:
        self.runtime = runtime
        self.clock = clock
        self.record = record
        self.on_change = on_change
        self.runner = runner or self._run_probe
        self._workers: dict[tuple[str, str, str], _Worker] = {}
        self._pod_ips: dict[str, str] = {}

    # ---- results the kubelet reads ----
    def _get(self, kind: str, uid: str, name: str, cid: str) -> _Worker | None:
        w = self._workers.get((uid, name, kind))
        return w if w is not None and w.container_id == cid else None

    def ready(self, uid: str, container: Obj, cid: str) -> bool:
        if not container.get("readinessProbe"):
            return True
        w = self._get(READINESS, uid, container.get("name", ""), cid)
        return w is not None and w.result == SUCCESS

    def started(self, uid: str, container: Obj, cid: str) -> bool:
        if not container.get("startupProbe"):
            return True
        w = self._get(STARTUP, uid, container.get("name", ""), cid)
        return w is not None and w.result == SUCCESS

    def liveness_failed(self, uid: str, cid: str) -> bool:
        return any(w.uid == uid and w.kind == LIVENESS and w.container_id == cid and w.result == FAILURE
                   for w in self._workers.values())

    def startup_failed(self, uid: str, cid: str) -> bool:
        return any(w.uid == uid and w.kind == STARTUP and w.container_id == cid and w.result == FAILURE
                   for w in self._workers.values())

    # ---- workers ----
    def update_pod(self, pod: Obj, status: RuntimePodStatus, pod_ip: str) -> None:
        """Start workers for every probe of the pod's containers; point them at the running instances."""
        uid = str(meta.meta(pod).get("uid") or "")
        self._pod_ips[uid] = pod_ip
        spec = pod.get("spec") or {}
        wanted: set[tuple[str, str, str]] = set()
        for container in [*(c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"),
                          *(spec.get("containers") or [])]:
            name = str(container.get("name", ""))
            running = next((c for c in status.all_of(name) if c.state == "CONTAINER_RUNNING"), None)
            for kind, fld in _FIELD.items():
                if not container.get(fld):
                    continue
                key = (uid, name, kind)
                wanted.add(key)
                w = self._workers.get(key)
                if w is None:
                    w = self._workers[key] = _Worker(uid, pod, container, kind)
                    w.task = asyncio.get_running_loop().create_task(self._loop(w), name=f"probe-{kind}-{name}")
                w.pod, w.container = pod, container
                cid = running.id if running else ""
                if cid != w.container_id:
                    w.container_id, w.started_at = cid, running.started_at if running else 0
                    w.result = FAILURE if kind == READINESS else ("" if kind == STARTUP else SUCCESS)
                    w.last, w.count, w.on_hold = "", 0, False
        for key in [k for k in self._workers if k[0] == uid and k not in wanted]:
            self._stop(key)

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            self._stop(key)
        self._pod_ips.pop(uid, None)

    def _stop(self, key: tuple[str, str, str]) -> None:
        w = self._workers.pop(key, None)
        if w is not None and w.task is not None:
            w.task.cancel()

    async def stop(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        self._workers.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, w: _Worker) -> None:
        probe = w.container.get(_FIELD[w.kind]) or {}
        _, period, _, _, _ = probe_settings(probe)
        while True:
            try:
                await self.probe_once(w)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("probe %s of %s failed unexpectedly", w.kind, w.container.get("name"))
            await self.clock.sleep(period)

    async def probe_once(self, w: _Worker) -> None:
        if not w.container_id or w.on_hold:
            return
        probe = w.container.get(_FIELD[w.kind]) or {}
        delay, _, timeout, success_threshold, failure_threshold = probe_settings(probe)
        if w.kind == STARTUP and w.result == SUCCESS:
            return
        if w.kind != STARTUP and w.container.get("startupProbe"):
            startup = self._workers.get((w.uid, w.container.get("name", ""), STARTUP))
            if startup is None or startup.container_id != w.container_id or startup.result != SUCCESS:
                return
        if w.started_at and self.clock.now().timestamp() - w.started_at / 1e9 < delay:
            return
        cid = w.container_id
        outcome, output = await self.runner(w.pod, w.container, cid, probe, self._pod_ips.get(w.uid, ""), timeout)
        if cid != w.container_id:
            return
        if outcome == FAILURE:
            self.record(container_ref(w.pod, w.container), EVENT_WARNING, "Unhealthy",
                        f"{w.kind} probe failed: {output}")
        w.count = w.count + 1 if outcome == w.last else 1
        w.last = outcome
        threshold = failure_threshold if outcome == FAILURE else success_threshold
        if w.count < threshold or w.result == outcome:
            return
        w.result = outcome
        if outcome == FAILURE and w.kind in (LIVENESS, STARTUP):
            w.on_hold = True
        self.on_change(w.uid)

    async def _run_probe(self, pod: Obj, container: Obj, cid: str, probe: Obj, pod_ip: str,
                         timeout: float) -> tuple[str, str]:
        if "exec" in probe:
            return await exec_action(self.runtime, probe["exec"] or {}, cid, timeout)
        if "httpGet" in probe:
            return await http_get(probe["httpGet"] or {}, container, pod_ip, timeout)
        if "tcpSocket" in probe:
            return await tcp_socket(probe["tcpSocket"] or {}, container, pod_ip, timeout)
        return FAILURE, "grpc probes are not supported yet"
