"""Decoding a watch response: newline-delimited `{"type", "object"}` JSON into WatchEvents.

The apiserver streams one JSON document per line; a line may arrive split over several chunks, several lines
may share one. An ERROR event carries a `Status`: it becomes the matching pyk8s.api.errors exception (410 ->
Expired/Gone, so an informer relists), raised where the event would have been yielded.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import orjson

from pyk8s.api import errors
from pyk8s.client.interface import WatchEvent

EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})


class WatchDecodeError(errors.InternalError):
    """The stream carried something that is not a watch event."""


def event_from_line(line: bytes) -> WatchEvent:
    """One decoded event; raises the Status's error for ERROR events and WatchDecodeError for garbage."""
    try:
        doc: Any = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise WatchDecodeError(f"unable to decode watch event: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("object"), dict):
        raise WatchDecodeError("unable to decode watch event: not a {type, object} document")
    type_ = doc.get("type")
    obj: dict[str, Any] = doc["object"]
    if type_ == "ERROR":
        if obj.get("kind") == "Status":
            raise errors.from_status(obj)
        raise WatchDecodeError(f"watch ERROR event without a Status: {str(obj)[:200]}")
    if type_ not in EVENT_TYPES:
        raise WatchDecodeError(f"unknown watch event type {type_!r}")
    return WatchEvent(str(type_), obj)


class LineSplitter:
    """Reassembles newline-terminated lines from arbitrary chunks."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete, non-blank lines `chunk` finishes (without their newlines)."""
        self._buf += chunk
        end = self._buf.rfind(b"\n")
        if end < 0:
            return []
        complete = bytes(self._buf[:end])
        del self._buf[: end + 1]
        return [line for line in complete.split(b"\n") if line.strip()]

    def rest(self) -> bytes:
        """What is left after the last newline (a final line the server did not terminate)."""
        tail = bytes(self._buf)
        self._buf.clear()
        return tail if tail.strip() else b""


async def decode_watch_stream(chunks: AsyncIterable[bytes]) -> AsyncIterator[WatchEvent]:
    """WatchEvents from the raw chunks of a watch response body, in order."""
    splitter = LineSplitter()
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            yield event_from_line(line)
    tail = splitter.rest()
    if tail:
        yield event_from_line(tail)
