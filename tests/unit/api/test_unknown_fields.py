"""prune_unknown: the compiled schema walk finds and removes exactly what a plain schema walk does."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from pyk8s.api import schema as S
from pyk8s.api.unknown_fields import prune_unknown

_TOP_LEVEL = ("apiVersion", "kind", "metadata")


# ---------------------------------------------------------------- the reference: walk the schema, resolving as we go


def _reference(obj: Any, root: S.Schema | None) -> list[str]:
    found: list[str] = []
    if root is not None and isinstance(obj, dict):
        _ref_walk(obj, root, "", found, top=True)
    return found


def _ref_walk(value: Any, schema: S.Schema | None, path: str, found: list[str], top: bool = False) -> None:
    s = S.resolve(schema)
    if not s or s.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = s.get("properties")
        extra = s.get("additionalProperties")
        if props is None:
            if isinstance(extra, dict):
                for k, v in value.items():
                    _ref_walk(v, extra, f"{path}[{k}]" if path else k, found)
            return
        for k in list(value.keys()):
            child = f"{path}.{k}" if path else k
            if k in props:
                _ref_walk(value[k], props[k], child, found)
            elif top and k in _TOP_LEVEL:
                continue
            elif isinstance(extra, dict):
                _ref_walk(value[k], extra, child, found)
            elif extra is True:
                continue
            else:
                found.append(child)
                del value[k]
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _ref_walk(v, items, f"{path}[{i}]", found)


# ---------------------------------------------------------------- random objects, some fields unknown

_UNKNOWN = ("bogus", "x-extra", "Name", "spec", "items")


def _scalar(rng: random.Random) -> Any:
    return rng.choice(["a", "b:c", 1, 0, True, None, 2.5, [], {}, ["x"], {"k": "v"}])


def _generate(schema: S.Schema | None, rng: random.Random, depth: int) -> Any:
    s = S.resolve(schema) or {}
    if depth > 5:
        return _scalar(rng)
    props = s.get("properties")
    extra = s.get("additionalProperties")
    items = s.get("items")
    if isinstance(props, dict) and props:
        names = list(props)
        out = {k: _generate(props[k], rng, depth + 1) for k in rng.sample(names, min(len(names), rng.randint(1, 4)))}
        if rng.random() < 0.3:
            out[rng.choice(_UNKNOWN)] = _generate(None, rng, depth + 1) if rng.random() < 0.5 else {"deep": [1]}
        return out
    if isinstance(extra, dict):
        return {rng.choice(["a", "b", "c/d"]): _generate(extra, rng, depth + 1) for _ in range(rng.randint(0, 2))}
    if isinstance(items, dict):
        return [_generate(items, rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.1:  # a container where the schema wants a scalar: left alone
        return {"bogus": 1}
    return _scalar(rng)


def _roots() -> list[tuple[str, str, str]]:
    return sorted(S._gvk_index())


def test_every_kind_matches_the_reference_walk() -> None:
    rng = random.Random(20261127)
    checked = found_any = 0
    for group, version, kind in _roots():
        root = S.for_kind(group, version, kind)
        for _ in range(4):
            obj = _generate(root, rng, 0)
            if not isinstance(obj, dict):
                continue
            for key in _TOP_LEVEL:
                if rng.random() < 0.5:
                    obj[key] = {"name": "x", "bogus": 1} if key == "metadata" else "v"
            expected_obj = copy.deepcopy(obj)
            expected = _reference(expected_obj, root)
            got = prune_unknown(obj, root)
            assert got == expected, (group, version, kind)
            assert obj == expected_obj, (group, version, kind)
            checked += 1
            found_any += bool(expected)
    assert checked > 500 and found_any > 100  # the generator does exercise removals


def test_paths_order_and_removal() -> None:
    root = S.for_kind("apps", "v1", "Deployment")
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "bogus": 1,
        "metadata": {"name": "d", "labels": {"a": "b"}, "nope": True},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "i", "foo": 1}, {"name": "d", "bar": {}}]}},
            "selector": {"matchLabels": {"x": "y"}, "extra": []},
        },
    }
    assert prune_unknown(obj, root) == [
        "bogus",
        "metadata.nope",
        "spec.template.spec.containers[0].foo",
        "spec.template.spec.containers[1].bar",
        "spec.selector.extra",
    ]
    assert obj == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"a": "b"}},
        "spec": {
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}, {"name": "d"}]}},
            "selector": {"matchLabels": {"x": "y"}},
        },
    }


def test_nothing_unknown_leaves_the_object_alone() -> None:
    root = S.for_kind("", "v1", "ConfigMap")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a:b": "c"}}
    before = copy.deepcopy(obj)
    assert prune_unknown(obj, root) == []
    assert obj == before


def test_map_values_are_checked_with_subscript_paths() -> None:
    root = {
        "properties": {
            "byName": {"additionalProperties": {"$ref": "#/$defs/io.k8s.api.core.v1.ContainerPort"}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "loose": {"properties": {"a": {"type": "string"}}, "additionalProperties": True},
            "typed": {"properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
        }
    }
    obj = {
        "byName": {"web": {"containerPort": 80, "bad": 1}},
        "free": {"anything": {"goes": 1}},
        "loose": {"a": "x", "b": {"c": 1}},
        "typed": {"a": "x", "b": 2},
        "apiVersion": "v1",
    }
    expected_obj = copy.deepcopy(obj)
    expected = _reference(expected_obj, root)
    assert expected == ["byName[web].bad"]
    assert prune_unknown(obj, root) == expected
    assert obj == expected_obj


def test_preserve_unknown_on_a_reference_is_honoured() -> None:
    ref = "#/$defs/io.k8s.api.core.v1.ContainerPort"
    root = {
        "properties": {"kept": {"$ref": ref, "x-kubernetes-preserve-unknown-fields": True}, "checked": {"$ref": ref}}
    }
    obj = {"kept": {"x": 1}, "checked": {"x": 1}}
    assert prune_unknown(obj, root) == ["checked.x"]
    assert obj == {"kept": {"x": 1}, "checked": {}}


def test_recursive_schema() -> None:
    root = S.for_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    nested: dict[str, Any] = {"type": "object", "oops": 1}
    for _ in range(6):
        nested = {"type": "object", "properties": {"x": nested}}
    obj = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": nested}}]}}
    expected_obj = copy.deepcopy(obj)
    expected = _reference(expected_obj, root)
    assert len(expected) == 1 and expected[0].endswith(".properties[x].properties[x].oops")
    assert prune_unknown(obj, root) == expected
    assert obj == expected_obj


@pytest.mark.parametrize("obj", [None, [], "x", 1])
def test_non_objects_and_missing_schema(obj: Any) -> None:
    assert prune_unknown(obj, S.for_kind("", "v1", "Pod")) == []
    assert prune_unknown({"x": 1}, None) == []


def test_a_new_root_object_is_compiled_afresh() -> None:
    for allowed in ("a", "b", "c"):
        root = {"properties": {allowed: {"type": "string"}}}
        obj = {"a": 1, "b": 2, "c": 3}
        assert prune_unknown(obj, root) == sorted({"a", "b", "c"} - {allowed})
