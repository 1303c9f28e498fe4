"""Stored bytes and the resourceVersion splice: spliced output must equal a decode + re-encode."""

from __future__ import annotations

import orjson
import pytest

from pyk8s.apiserver.registry.encoding import decode, encode, with_resource_version

CASES = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
    {"kind": "Pod", "spec": {"template": {"metadata": {"name": "inner"}}}, "apiVersion": "v1",
     "metadata": {"name": "outer", "resourceVersion": "7"}},
    {"apiVersion": 'we"ird\\', "kind": '"metadata":{', "metadata": {"name": "q"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"x": '"metadata":{'}},
     "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}},
]


@pytest.mark.parametrize("obj", CASES)
def test_splice_equals_decode(obj: dict) -> None:
    stored = encode(obj)
    assert b"resourceVersion" not in stored.split(b'"spec"')[0]
    spliced = orjson.loads(with_resource_version(stored, 42))
    assert spliced == decode(stored, 42)
    assert spliced["metadata"]["resourceVersion"] == "42"


@pytest.mark.parametrize("raw", [
    b'{"spec":{"template":{"metadata":{"name":"inner"}}},"apiVersion":"v1","kind":"Pod","metadata":{"name":"o"}}',
    b'{"metadata":{"name":"o"},"kind":"Pod"}',
])
def test_bytes_in_another_order_are_decoded_not_spliced(raw: bytes) -> None:
    out = orjson.loads(with_resource_version(raw, 9))
    assert out["metadata"]["resourceVersion"] == "9"
    assert "resourceVersion" not in (out.get("spec") or {}).get("template", {}).get("metadata", {})
