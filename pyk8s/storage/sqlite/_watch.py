"""Watch fan-out for the SQLite store: an in-process broadcaster plus replay-then-follow iteration.

After each commit the writer's callback publishes the batch's events on the event loop; every
subscription whose prefix matches gets them appended to its own bounded buffer. Publishing never
waits for a watcher.

A watch subscribes *before* it reads history, so anything committed after its history snapshot is
certain to reach its buffer; buffered events at or below the last revision it delivered are dropped,
so the seam between replay and live has no gap and no duplicate.

A watcher that falls more than ``buffer_limit`` events behind is not allowed to hold memory or slow
anyone: its buffer is dropped and it is unsubscribed. It then catches up from the log itself
(resubscribe, replay from the last revision it delivered), like etcd's unsynced watchers. Its stream
stays complete; it only ends with ``Compacted`` if compaction passed the revision it still needs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from pyk8s.storage.errors import Compacted, Unavailable
from pyk8s.storage.interface import WatchEvent

# (prefix, after revision, max events) -> (events in revision order, snapshot revision, compaction point).
# With fewer than `max events` back, the events are every matching one in (after, snapshot revision].
ReadEvents = Callable[[str, int, int], Awaitable[tuple[list[WatchEvent], int, int]]]


class Subscription:
    """One watcher's live feed: buffered events, a wakeup, and why it stopped receiving (if it did)."""

    __slots__ = ("buffer", "closed", "overflowed", "prefix", "wakeup")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.buffer: deque[WatchEvent] = deque()
        self.wakeup = asyncio.Event()
        self.overflowed = False
        self.closed = False


class Broadcaster:
    """Fans committed events out to subscriptions; lives on the event loop."""

    def __init__(self, buffer_limit: int) -> None:
        self._buffer_limit = buffer_limit
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    def subscribe(self, prefix: str) -> Subscription:
        sub = Subscription(prefix)
        if self._closed:
            sub.closed = True
        else:
            self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscriptions.discard(sub)

    def publish(self, events: Sequence[WatchEvent]) -> None:
        if not events:
            return
        for sub in list(self._subscriptions):
            prefix = sub.prefix
            matched = events if not prefix else [e for e in events if e.kv.key.startswith(prefix)]
            if not matched:
                continue
            if len(sub.buffer) + len(matched) > self._buffer_limit:
                sub.buffer.clear()
                sub.overflowed = True
                self._subscriptions.discard(sub)
            else:
                sub.buffer.extend(matched)
            sub.wakeup.set()

    def close(self) -> None:
        self._closed = True
        for sub in self._subscriptions:
            sub.closed = True
            sub.wakeup.set()
        self._subscriptions.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)


async def follow(broadcaster: Broadcaster, read_events: ReadEvents, prefix: str, from_revision: int,
                 page_size: int) -> AsyncIterator[WatchEvent]:
    """Every event under `prefix` after `from_revision`: history from the log, then live; ends on close."""
    last = from_revision
    while True:
        sub = broadcaster.subscribe(prefix)
        try:
            # Replay: page through the log until a page comes back short, i.e. until the snapshot's end.
            while True:
                if sub.closed:
                    return
                try:
                    events, snapshot, compacted = await read_events(prefix, last, page_size)
                except Unavailable:
                    if sub.closed:
                        return
                    raise
                if last < compacted:
                    raise Compacted(last, compacted)
                for event in events:
                    last = event.revision
                    yield event
                if len(events) < page_size:
                    last = max(last, snapshot)
                    break
            # Live: everything newer than the snapshot is in the buffer (or the buffer overflowed).
            while True:
                buffer = sub.buffer
                if buffer:
                    event = buffer.popleft()
                    if event.revision > last:
                        last = event.revision
                        yield event
                    continue
                if sub.overflowed or sub.closed:
                    break
                sub.wakeup.clear()
                await sub.wakeup.wait()
            if sub.closed:
                return
        finally:
            broadcaster.unsubscribe(sub)
