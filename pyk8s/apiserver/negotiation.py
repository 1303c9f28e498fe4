"""Content negotiation: decode request bodies (JSON, YAML, protobuf) and pick the response form.

kubectl sends JSON, YAML (``create -f`` of YAML is converted client-side, but other clients send it) and,
from 1.32, protobuf for typed creates; it asks for server-side Tables with a parameterised Accept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from pyk8s.api import errors, yamlload

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
ACCEPTED_BODY_TYPES = f"{JSON}, {YAML}, {PROTOBUF}"
MAX_BODY_BYTES = 3 * 1024 * 1024


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header; a missing header means JSON (kubectl's PUT /scale)."""
    if not content_type:
        return JSON
    return content_type.split(";", 1)[0].strip().lower()


class _DuplicateTracker:
    """object_pairs_hook that records duplicate keys (strict decoding) and keeps the last value."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                self.duplicates.append(k)
            out[k] = v
        return out


@dataclass(slots=True)
class DecodedBody:
    obj: Any
    duplicates: list[str]


def decode_json(body: bytes, *, track_duplicates: bool) -> DecodedBody:
    """Decode a JSON body; with `track_duplicates`, also name every key repeated within one object.

    Duplicate tracking needs the standard library's parser (an object_pairs_hook), which is several times
    slower than orjson; so orjson decodes first and the slow parse runs only when :func:`_fast_decode`
    cannot prove the result is exactly what it would give with no duplicates.
    """
    if not track_duplicates:
        return DecodedBody(orjson.loads(body), [])
    obj = _fast_decode(body)
    if obj is not _UNSURE:
        return DecodedBody(obj, [])
    tracker = _DuplicateTracker()
    try:
        obj = json.loads(body, object_pairs_hook=tracker)
    except RecursionError:
        raise ValueError("exceeded max depth") from None
    return DecodedBody(obj, tracker.duplicates)


_UNSURE: Any = object()
# Maps every ASCII digit to "0" and every other byte to " ", so a run of 19 digits shows as _LONG_DIGIT_RUN.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGIT_RUN = b"0" * 19


def _fast_decode(body: bytes) -> Any:
    """orjson's decoding of `body` when it provably equals json.loads' and `body` repeats no key; else _UNSURE.

    Equal results: orjson fails on everything json.loads treats differently (NaN, a byte order mark, UTF-16,
    lone surrogates, overflowing exponents), except integers beyond 64 bits, which orjson turns into
    floats; those need 19 digits in a row, so such bodies go the slow way.

    No duplicates: in valid JSON every ':' outside strings ends a key, so ``body.count(b":")`` is the number
    of keys in the document plus the colons inside its strings. orjson.dumps writes colons as they are, so
    the same count over orjson.dumps(result) gives the keys that survived plus the colons in the strings that
    survived. A repeated key drops at least one key (and maybe strings with it), making the second count
    smaller; without one the result is the document and the counts are equal. This holds as long as no string
    spells a colon as an escape (``\\u003a``), so bodies containing one go the slow way too.
    """
    if not isinstance(body, bytes):
        return _UNSURE
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNSURE
    if b"\\u003" in body and (b"\\u003a" in body or b"\\u003A" in body):
        return _UNSURE
    if _LONG_DIGIT_RUN in body.translate(_DIGITS_AS_ZERO):
        return _UNSURE
    try:
        again = orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: nested deeper than orjson.dumps goes
        return _UNSURE
    if body.count(b":") != again.count(b":"):
        return _UNSURE
    return obj


def decode_body(body: bytes, content_type: str | None, *, kind_hint: str, track_duplicates: bool = False,
                target: tuple[str, str] | None = None) -> DecodedBody:
    """Decode a create/update body; errors are the 400/415 upstream sends.

    `target` is the endpoint's (apiVersion, kind), which protobuf decoding needs for upstream's messages.
    """
    mt = media_type(content_type)
    try:
        if mt == JSON:
            return decode_json(body, track_duplicates=track_duplicates)
        if mt in (YAML, "application/x-yaml", "text/yaml"):
            return DecodedBody(yamlload.load(body), [])
        if mt == PROTOBUF:
            from pyk8s.api import protobuf  # imported lazily: only kubectl >= 1.32 typed writes need it

            return DecodedBody(protobuf.decode_object(body, target), [])
    except errors.StatusError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise errors.BadRequest(
            f"the object provided is unrecognized (must be of type {kind_hint}): couldn't get version/kind; "
            f"json parse error: {_short(e)}"
        ) from e
    raise errors.UnsupportedMediaType(
        f"the body of the request was in an unknown format - accepted media types include: {ACCEPTED_BODY_TYPES}"
    )


def _short(e: Exception) -> str:
    text = str(e)
    return text if len(text) <= 256 else text[:256] + "..."


@dataclass(frozen=True, slots=True)
class OutputForm:
    table: bool = False
    partial_metadata: bool = False   # as=PartialObjectMetadata(List)


def parse_accept(accept: str | None) -> OutputForm:
    """Choose the response form from Accept; JSON unless a Table or PartialObjectMetadata is asked for first."""
    if not accept:
        return OutputForm()
    ok = False
    for clause in accept.split(","):
        parts = [p.strip() for p in clause.split(";")]
        mt = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if mt in (JSON, "*/*", "application/*", PROTOBUF) and "as" not in params:
            ok = True
            break
        if mt == JSON and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            if params.get("as") == "Table":
                return OutputForm(table=True)
            if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return OutputForm(partial_metadata=True)
        if mt in (YAML, "application/json;stream=watch"):
            ok = True
            break
    if not ok:
        raise errors.NotAcceptable(
            "only the following media types are accepted: application/json, application/yaml, "
            "application/vnd.kubernetes.protobuf"
        )
    return OutputForm()
