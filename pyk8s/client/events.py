"""Recording core/v1 Events the way client-go's tools/record package writes them.

`EventRecorder.event(obj, type_, reason, message)` builds the Event at once (name "<object name>.<hex
UnixNano>", namespace of the object or "default", involvedObject, source, first/lastTimestamp, count 1,
reportingComponent/Instance) and queues it without blocking; `run()` writes the queue through the client.
Before a write each event goes through upstream's EventCorrelator (tools/record/events_cache.go):

* aggregation: when a source emits events about one object with the same type and reason but 10 different
  messages within 10 minutes, the 10th and later become one event "(combined from similar events): <message>";
* de-duplication: an event identical to one already written (same source, object, type, reason, message) is a
  strategic merge PATCH of that event's count, lastTimestamp and message instead of a new object (a create if
  the old event is gone);
* spam filter: a source may write 25 events about one object, then one more every 5 minutes; the rest are
  dropped.

A full queue (1000 events) drops the new event. A write that fails because the apiserver cannot be reached or
is overloaded (ConnectionError, 429, 503) is tried again, up to 12 times 10 s apart (the first wait random, so
clients do not retry in step), as upstream recordToSink; any other failure is logged and the event dropped.
Recording events never fails or slows the caller.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict, deque
from typing import Any, Generic, TypeVar

from pyk8s.api import errors, meta
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client.interface import Client, Obj
from pyk8s.client.kinds import EVENTS

log = logging.getLogger("pyk8s.client.events")

EVENT_TYPE_NORMAL = "Normal"
EVENT_TYPE_WARNING = "Warning"

MAX_QUEUED_EVENTS = 1000  # upstream maxQueuedEvents
LRU_CACHE_ENTRIES = 4096  # upstream maxLruCacheEntries
AGGREGATE_MAX_EVENTS = 10  # upstream defaultAggregateMaxEvents
AGGREGATE_INTERVAL_SECONDS = 600  # upstream defaultAggregateIntervalInSeconds
SPAM_BURST = 25  # upstream defaultSpamBurst
SPAM_QPS = 1.0 / 300.0  # upstream defaultSpamQPS
AGGREGATE_MESSAGE_PREFIX = "(combined from similar events): "
MAX_TRIES_PER_EVENT = 12  # upstream maxTriesPerEvent
RETRY_SLEEP_SECONDS = 10.0  # upstream defaultSleepDuration

_K = TypeVar("_K")
_V = TypeVar("_V")


class _LRU(Generic[_K, _V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


def _source_and_object(event: Obj) -> list[str]:
    src = event.get("source") or {}
    ref = event.get("involvedObject") or {}
    return [str(src.get("component") or ""), str(src.get("host") or ""), str(ref.get("kind") or ""),
            str(ref.get("namespace") or ""), str(ref.get("name") or "")]


def event_key(event: Obj) -> str:
    """Upstream getEventKey: source, involved object (with fieldPath), type, reason and message."""
    ref = event.get("involvedObject") or {}
    return "".join([*_source_and_object(event), str(ref.get("fieldPath") or ""), str(ref.get("uid") or ""),
                    str(ref.get("apiVersion") or ""), str(event.get("type") or ""), str(event.get("reason") or ""),
                    str(event.get("message") or "")])


def spam_key(event: Obj) -> str:
    """Upstream getSpamKey: source and involved object."""
    ref = event.get("involvedObject") or {}
    return "".join([*_source_and_object(event), str(ref.get("uid") or ""), str(ref.get("apiVersion") or "")])


def aggregate_key(event: Obj) -> tuple[str, str]:
    """Upstream EventAggregatorByReasonFunc: (everything but the message, the message)."""
    ref = event.get("involvedObject") or {}
    key = "".join([*_source_and_object(event), str(ref.get("uid") or ""), str(ref.get("apiVersion") or ""),
                   str(event.get("type") or ""), str(event.get("reason") or ""),
                   str(event.get("reportingComponent") or ""), str(event.get("reportingInstance") or "")])
    return key, str(event.get("message") or "")


class _TokenBucket:
    """flowcontrol's token bucket: starts full, refills at `qps`; try_accept takes a token if there is one."""

    def __init__(self, qps: float, burst: int, clock: Clock) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock.monotonic()

    def try_accept(self) -> bool:
        now = self.clock.monotonic()
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.last) * self.qps)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class _AggregateRecord:
    __slots__ = ("last", "messages")

    def __init__(self, last: float) -> None:
        self.messages: set[str] = set()
        self.last = last


class _Observation:
    __slots__ = ("count", "first_timestamp", "name", "resource_version")

    def __init__(self, count: int, first_timestamp: Any, name: str, resource_version: str) -> None:
        self.count = count
        self.first_timestamp = first_timestamp
        self.name = name
        self.resource_version = resource_version


class EventCorrelator:
    """Upstream EventCorrelator: aggregate similar events, count identical ones, filter spam."""

    def __init__(self, clock: Clock = REAL_CLOCK, *, max_events: int = AGGREGATE_MAX_EVENTS,
                 interval: float = AGGREGATE_INTERVAL_SECONDS, spam_burst: int = SPAM_BURST,
                 spam_qps: float = SPAM_QPS, cache_size: int = LRU_CACHE_ENTRIES) -> None:
        self.clock = clock
        self.max_events = max_events
        self.interval = interval
        self.spam_burst = spam_burst
        self.spam_qps = spam_qps
        self._aggregates: _LRU[str, _AggregateRecord] = _LRU(cache_size)
        self._observed: _LRU[str, _Observation] = _LRU(cache_size)
        self._spam: _LRU[str, _TokenBucket] = _LRU(cache_size)
        self._last_nanos = 0

    def unique_nanos(self) -> int:
        """The clock's UnixNano, made strictly increasing so two events never share a name."""
        nanos = int(self.clock.now().timestamp() * 1_000_000) * 1000
        self._last_nanos = max(nanos, self._last_nanos + 1)
        return self._last_nanos

    def correlate(self, event: Obj) -> tuple[Obj, Obj | None] | None:
        """(the event to write, the patch to send instead of a create or None), or None to drop it."""
        aggregated, key = self._aggregate(event)
        observed, patch = self._observe(aggregated, key)
        if self._filtered(observed):
            return None
        return observed, patch

    def update_state(self, event: Obj) -> None:
        """Remember what the server returned (name, resourceVersion, count) for the next identical event."""
        md = event.get("metadata") or {}
        self._observed.put(event_key(event), _Observation(int(event.get("count") or 0), event.get("firstTimestamp"),
                                                          str(md.get("name") or ""),
                                                          str(md.get("resourceVersion") or "")))

    def _aggregate(self, event: Obj) -> tuple[Obj, str]:
        now = self.clock.monotonic()
        agg_key, local_key = aggregate_key(event)
        record = self._aggregates.get(agg_key)
        if record is None or now - record.last > self.interval:
            record = _AggregateRecord(now)
        record.messages.add(local_key)
        record.last = now
        self._aggregates.put(agg_key, record)
        if len(record.messages) < self.max_events:
            return event, event_key(event)
        record.messages.pop()  # never grow the set past the threshold
        stamp = meta.now_rfc3339(self.clock.now())
        ref = event.get("involvedObject") or {}
        combined: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref.get('name', '')}.{self.unique_nanos():x}",
                         "namespace": (event.get("metadata") or {}).get("namespace", "")},
            "involvedObject": meta.copy(ref),
            "reason": event.get("reason"),
            "message": AGGREGATE_MESSAGE_PREFIX + str(event.get("message") or ""),
            "source": meta.copy(event.get("source") or {}),
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            "type": event.get("type"),
            "eventTime": None,
            "reportingComponent": "", "reportingInstance": "",
        }
        return combined, agg_key

    def _observe(self, event: Obj, key: str) -> tuple[Obj, Obj | None]:
        out = meta.copy(event)
        last = self._observed.get(key)
        patch: Obj | None = None
        if last is not None and last.count > 0:
            md = meta.meta(out)
            md["name"] = last.name
            if last.resource_version:
                md["resourceVersion"] = last.resource_version
            out["firstTimestamp"] = last.first_timestamp
            out["count"] = last.count + 1
            # What upstream's two-way strategic merge patch between the event with count, lastTimestamp and
            # message blanked and the event itself comes to.
            patch = {"count": out["count"], "lastTimestamp": out.get("lastTimestamp"), "message": out.get("message")}
        md = out.get("metadata") or {}
        self._observed.put(key, _Observation(int(out.get("count") or 0), out.get("firstTimestamp"),
                                             str(md.get("name") or ""), str(md.get("resourceVersion") or "")))
        return out, patch

    def _filtered(self, event: Obj) -> bool:
        key = spam_key(event)
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = _TokenBucket(self.spam_qps, self.spam_burst, self.clock)
        accepted = bucket.try_accept()
        self._spam.put(key, bucket)
        return not accepted


def object_reference(obj: Obj, *, kind: str = "", api_version: str = "") -> Obj:
    """An ObjectReference to `obj` (upstream reference.GetReference): kind, namespace, name, uid, apiVersion,
    resourceVersion, empty fields left out. `obj` may also already be an ObjectReference."""
    if "metadata" not in obj and "name" in obj:
        ref = {k: obj[k] for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
               if obj.get(k)}
        if kind and "kind" not in ref:
            ref["kind"] = kind
        if api_version and "apiVersion" not in ref:
            ref["apiVersion"] = api_version
        return ref
    md = obj.get("metadata") or {}
    candidates = [("kind", obj.get("kind") or kind), ("namespace", md.get("namespace")), ("name", md.get("name")),
                  ("uid", md.get("uid")), ("apiVersion", obj.get("apiVersion") or api_version),
                  ("resourceVersion", md.get("resourceVersion"))]
    return {k: v for k, v in candidates if v}


class EventRecorder:
    """Queues core/v1 Events about objects and writes them (correlated) from `run()`; see the module docstring."""

    def __init__(self, client: Client, component: str, *, host: str = "", clock: Clock = REAL_CLOCK,
                 queue_size: int = MAX_QUEUED_EVENTS, correlator: EventCorrelator | None = None) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self.queue_size = queue_size
        self.correlator = correlator or EventCorrelator(clock)
        self._queue: deque[Obj] = deque()
        self._wakeup = asyncio.Event()
        self._writing = asyncio.Lock()
        self.dropped = 0
        self._last_drop_log = 0.0

    @property
    def source(self) -> Obj:
        src: Obj = {"component": self.component}
        if self.host:
            src["host"] = self.host
        return src

    def event(self, obj: Obj, type_: str, reason: str, message: str, *, kind: str = "", api_version: str = "",
              annotations: dict[str, str] | None = None) -> None:
        """Record an event about `obj` (an object dict, or an ObjectReference). Never blocks, never raises for
        a write problem: the event is queued, or dropped with a log line when the queue is full. `kind` and
        `api_version` fill in what the object lacks (objects read from typed lists may carry neither)."""
        if type_ not in (EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING):
            log.error("Unsupported event type: %r", type_)
            return
        ref = object_reference(obj, kind=kind, api_version=api_version)
        made = self.make_event(ref, type_, reason, message, annotations)
        log.debug("Event(%s): type: %r reason: %r %s", ref, type_, reason, message)
        if len(self._queue) >= self.queue_size:
            self.dropped += 1
            # One line per burst, not one per event: a burst can drop thousands.
            if self.dropped == 1 or self.clock.monotonic() - self._last_drop_log >= 10:
                self._last_drop_log = self.clock.monotonic()
                log.warning("%s: event queue is full, dropping events (%d so far; latest %s %s/%s)",
                            self.component, self.dropped, reason, ref.get("namespace", ""), ref.get("name", ""))
            return
        self._queue.append(made)
        self._wakeup.set()

    def make_event(self, ref: Obj, type_: str, reason: str, message: str,
                   annotations: dict[str, str] | None = None) -> Obj:
        """The Event upstream's recorder builds (before correlation)."""
        stamp = meta.now_rfc3339(self.clock.now())
        md: Obj = {"name": f"{ref.get('name', '')}.{self.correlator.unique_nanos():x}",
                   "namespace": ref.get("namespace") or "default"}
        if annotations:
            md["annotations"] = dict(annotations)
        return {
            "apiVersion": "v1", "kind": "Event", "metadata": md,
            "involvedObject": dict(ref), "reason": reason, "message": message,
            "source": self.source, "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1, "type": type_,
            "eventTime": None, "reportingComponent": self.component, "reportingInstance": self.host,
        }

    def pending(self) -> int:
        """Events queued and not yet written."""
        return len(self._queue)

    async def run(self) -> None:
        """Write queued events until cancelled."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write everything queued now (on the caller's task; tests use this instead of run())."""
        async with self._writing:
            while self._queue:
                await self._write(self._queue.popleft())

    async def _write(self, event: Obj) -> None:
        result = self.correlator.correlate(event)
        if result is None:
            log.debug("%s: dropping spammy event %s", self.component, event["metadata"]["name"])
            return
        to_write, patch = result
        tries = 0
        while not await self._record(to_write, patch):
            tries += 1
            if tries >= MAX_TRIES_PER_EVENT:
                log.error("%s: unable to write event %s %s (retry limit exceeded!)", self.component,
                          to_write.get("reason"), to_write["metadata"]["name"])
                return
            # The first wait is random so that clients do not all retry together after an apiserver outage.
            await self.clock.sleep(RETRY_SLEEP_SECONDS * (random.random() if tries == 1 else 1.0))

    async def _record(self, to_write: Obj, patch: Obj | None) -> bool:
        """One attempt to write the event; False when it is worth trying again (upstream recordEvent)."""
        ns = to_write["metadata"]["namespace"]
        try:
            written: Obj | None = None
            if patch is not None and int(to_write.get("count") or 0) > 1:
                try:
                    written = await self.client.patch(EVENTS, to_write["metadata"]["name"], patch, ns,
                                                      patch_type="strategic")
                except errors.NotFound:
                    written = None
            if written is None:
                fresh = meta.copy(to_write)
                fresh["metadata"].pop("resourceVersion", None)
                written = await self.client.create(EVENTS, fresh, ns)
            self.correlator.update_state(written)
        except (ConnectionError, errors.TooManyRequests, errors.ServiceUnavailable) as e:
            log.error("%s: unable to write event %s %s (may retry after sleeping): %s", self.component,
                      to_write.get("reason"), to_write["metadata"]["name"], e)
            return False
        except errors.AlreadyExists as e:
            log.debug("%s: server rejected event %s (will not retry): %s", self.component,
                      to_write["metadata"]["name"], e)
        except Exception as e:
            log.error("%s: unable to write event %s %s (dropped): %s", self.component, to_write.get("reason"),
                      to_write["metadata"]["name"], e)
        return True
