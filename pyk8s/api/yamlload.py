"""YAML request bodies, decoded the way Kubernetes' YAML-to-JSON step sees them, and safely.

Upstream converts YAML to JSON before decoding: every map key becomes a string, timestamps and
binary values stay the text they were written as, and documents that expand too many aliases are
refused ("excessive aliasing"), so a tiny body cannot make the server build a huge object.
JSON (a subset of YAML, and what kubectl actually sends) takes the fast orjson path.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

# Aliases share one Python object, so loading is cheap; walking the result is not. A document that uses
# aliases may expand to at most this many values (go-yaml refuses such documents as "excessive aliasing").
MAX_EXPANDED_VALUES = 1_000_000


class YAMLRefused(ValueError):
    """The document is valid YAML but not something we decode (too many aliases, not JSON-representable)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with string keys, timestamps and binary left as text, and a cap on alias use."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # raises the usual error
        self.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            out[_key(key)] = self.construct_object(value_node, deep=deep)
        return out


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if k is None:
        return "null"
    return str(k)


def _as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_text)
_Loader.add_constructor("tag:yaml.org,2002:binary", _as_text)


def _check_expansion(root: Any) -> None:
    """Refuse a document whose aliases expand beyond MAX_EXPANDED_VALUES (stops counting there)."""
    seen = 0
    stack = [root]
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_EXPANDED_VALUES:
            raise YAMLRefused("yaml: document contains excessive aliasing")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def load(data: bytes | str) -> Any:
    """Decode one YAML (or JSON) document; raises ValueError on bad input (YAMLRefused for alias bombs)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        loader = _Loader(data)
        try:
            result = loader.get_single_data()
        finally:
            loader.dispose()
    except (yaml.YAMLError, RecursionError) as e:
        raise ValueError(f"error converting YAML to JSON: {e}") from e
    if loader.aliases:
        _check_expansion(result)
        result = orjson.loads(orjson.dumps(result))  # aliases share objects: give every place its own copy
    return result
