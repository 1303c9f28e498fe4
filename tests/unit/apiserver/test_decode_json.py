"""decode_json with duplicate tracking: orjson's fast path gives exactly what the standard library's parse does."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from pyk8s.apiserver import negotiation
from pyk8s.apiserver.negotiation import decode_json


def _reference(body: bytes) -> tuple[str, Any, list[str]]:
    """The standard library's strict decode: (repr of the value, duplicates), or the error it raises."""
    duplicates: list[str] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                duplicates.append(k)
            out[k] = v
        return out

    try:
        value = json.loads(body, object_pairs_hook=hook)
    except Exception as e:
        return ("error", type(e).__name__, [str(e)])
    return ("ok", repr(value), duplicates)  # repr tells 1 from 1.0 and -0.0 from 0.0, and shows key order


def _decoded(body: bytes) -> tuple[str, Any, list[str]]:
    try:
        d = decode_json(body, track_duplicates=True)
    except Exception as e:
        return ("error", type(e).__name__, [str(e)])
    return ("ok", repr(d.obj), d.duplicates)


_CASES = [
    b'{"a":1}',
    b'{"a":1,"a":2}',
    b'{"a":{"x":1,"y":":"},"b":2,"a":3}',  # the dropped value held keys and colons of its own
    b'{"a":[{"k":1,"k":1}]}',
    b'{"a:b":"c:d","e":"::"}',
    b'{"\\u003a":1,"\\u003a":2}',  # an escaped colon in duplicate keys
    b'{"a\\u003Ab":1,"c":"x"}',
    b'{"q":"\\"a\\":1,\\"a\\":2"}',  # what looks like duplicates inside a string
    b'{"a\\\\":1,"a\\\\":2}',
    b'{"n":18446744073709551616}',  # beyond 64 bits: an int for json, a float for orjson
    b'{"n":-9223372036854775809,"m":1}',
    b'{"n":9223372036854775807}',
    b'{"f":1.0,"g":-0.0,"h":1e2,"i":0.1,"j":123456789.123456789e-5}',
    b'{"f":1e400}',
    b'{"f":NaN}',
    b'\xef\xbb\xbf{"a":1}',  # byte order mark
    '{"a":"é"}'.encode("utf-16"),
    b'{"s":"\\ud800"}',  # lone surrogate
    b'{"s":"\\ud83d\\ude00","s2":"\xf0\x9f\x98\x80"}',
    b'{"s":"\xed\xa0\x80"}',
    b'{"a":1,}',
    b"",
    b"   ",
    b"[1,2]",
    b'"x"',
    b"null",
    b'{"a" : 1 , "a" : 1 }',
    b'{\n  "a": {"b": [1, {"c": "d", "c": "e"}]}\n}',
    b'{"a":1}\n',
    b'{"a":1} x',
]


@pytest.mark.parametrize("body", _CASES, ids=range(len(_CASES)))
def test_same_as_the_standard_library(body: bytes) -> None:
    assert _decoded(body) == _reference(body)


@pytest.mark.parametrize("depth", [100, 300])
def test_deep_nesting(depth: int) -> None:
    body = b'{"a":' * depth + b"1" + b"}" * depth
    assert _decoded(body)[:2] == _reference(body)[:2]


@pytest.mark.parametrize("depth", [2000, 100_000])
def test_nesting_beyond_the_parsers_is_a_value_error_not_a_crash(depth: int) -> None:
    body = b'{"a":' * depth + b"1" + b"}" * depth
    with pytest.raises(ValueError):
        negotiation.decode_json(body, track_duplicates=True)


def test_plain_bodies_take_the_fast_path() -> None:
    body = orjson.dumps({"metadata": {"name": "p", "annotations": {"a": "x:y"}}, "spec": {"image": "nginx:1.25"}})
    assert negotiation._fast_decode(body) == orjson.loads(body)


@pytest.mark.parametrize(
    "body",
    [b'{"a":1,"a":2}', b'{"a":{"a":1},"b":{"a":1,"a":1}}', b'{"\\u003a":1}', b'{"n":1234567890123456789}'],
)
def test_doubtful_bodies_take_the_slow_path(body: bytes) -> None:
    assert negotiation._fast_decode(body) is negotiation._UNSURE


def _render(value: Any, rng: random.Random) -> str:
    """JSON text for `value` with random spacing, escapes, and now and then a repeated key."""
    ws = rng.choice(["", " ", "\n  "])
    if isinstance(value, dict):
        items = list(value.items())
        if items and rng.random() < 0.05:
            items.insert(rng.randrange(len(items) + 1), rng.choice(items))
        return "{" + ("," + ws).join(f"{_string(k, rng)}{ws}:{ws}{_render(v, rng)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ("," + ws).join(_render(v, rng) for v in value) + "]"
    if isinstance(value, str):
        return _string(value, rng)
    return json.dumps(value)


def _string(s: str, rng: random.Random) -> str:
    if rng.random() < 0.9:
        return json.dumps(s, ensure_ascii=rng.random() < 0.5)
    return '"' + "".join(f"\\u{ord(ch):04{rng.choice('xX')}}" if ord(ch) < 0x10000 else ch for ch in s) + '"'


def test_random_documents() -> None:
    rng = random.Random(7)
    base = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "a:b"}, "annotations": {"x": '{"k": "v"}'}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx:1.25",
                    "args": ["--listen=:8080", "a\\b", "é", "😀"],
                    "ports": [{"n": 80}],
                }
            ],
            "numbers": [0, -1, 1.5, 1e-7, 2**40, True, None],
        },
    }
    fast = 0
    for _ in range(400):
        body = _render(base, rng).encode()
        assert _decoded(body) == _reference(body), body
        fast += negotiation._fast_decode(body) is not negotiation._UNSURE
    assert fast > 100
