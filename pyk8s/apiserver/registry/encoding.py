"""How objects are stored as bytes, and how a resourceVersion is put back without decoding.

Stored bytes are the object's JSON with ``apiVersion``, ``kind`` and ``metadata`` first and without
``metadata.resourceVersion`` (the store revision is the resourceVersion). Because ``metadata`` comes
right after two string values, the first unescaped ``"metadata":{`` in the bytes is the top-level one
(a quote inside a JSON string is always escaped), so lists and watch events can be served by splicing
``"resourceVersion":"N"`` into the stored bytes instead of decoding and re-encoding every object.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

Obj = dict[str, Any]
_LEADING = ("apiVersion", "kind", "metadata")


def encode(obj: Obj) -> bytes:
    """Storage bytes for an object (resourceVersion dropped, leading keys first)."""
    out: Obj = {k: obj[k] for k in _LEADING if k in obj}
    m = out.get("metadata")
    if isinstance(m, dict) and "resourceVersion" in m:
        out["metadata"] = {k: v for k, v in m.items() if k != "resourceVersion"}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return orjson.dumps(out)


def decode(value: bytes, revision: int) -> Obj:
    """The object stored as `value`, with `revision` as its resourceVersion."""
    obj: Obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


# What encode() writes first: apiVersion and kind (strings, quotes inside escaped), then metadata's brace.
_PREFIX = re.compile(rb'\{"apiVersion":"(?:[^"\\]|\\.)*","kind":"(?:[^"\\]|\\.)*","metadata":\{')


def with_resource_version(value: bytes, revision: int) -> bytes:
    """The stored bytes as the client sees them: JSON with metadata.resourceVersion set, without a decode.

    Splices only when the bytes begin exactly as encode() writes them; anything else is decoded and re-encoded.
    """
    m = _PREFIX.match(value)
    if m is None:
        return orjson.dumps(decode(value, revision))
    j = m.end()
    field = b'"resourceVersion":"%d"' % revision
    if value[j:j + 1] == b"}":
        return value[:j] + field + value[j:]
    return value[:j] + field + b"," + value[j:]
