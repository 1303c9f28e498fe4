"""Find and drop fields the schema does not know (fieldValidation Strict/Warn/Ignore).

Upstream decodes request bodies into Go structs, which silently drops unknown fields; with
fieldValidation=Strict it fails instead, and with Warn it returns one warning per field. The paths are
written the way upstream's strict decoder reports them: ``spec.template.spec.containers[0].foo``.

Every create and update runs this, so a kind's schema is compiled once into a tree of :class:`_Node`
(which fields exist, what a map's values and a list's items are) instead of resolving ``$ref``s for
every field of every request. The walk first only looks for an unknown field; objects without one
(nearly all) are done then, and only otherwise does a second walk build paths and delete.
"""

from __future__ import annotations

from typing import Any, Final

from pyk8s.api import schema as S

# Fields every top-level object may carry even if a definition omits them.
_TOP_LEVEL: Final = ("apiVersion", "kind", "metadata")


class _Node:
    """What the walk needs from one (resolved) schema that constrains its value.

    ``props`` maps each known property to its child node (None: nothing below it is checked); ``props``
    None means a free-form map whose every key is allowed. ``extra_ok`` says whether keys outside
    ``props`` are allowed (``additionalProperties`` given), ``extra`` is the node for their values, and
    ``items`` the node for a list's elements.
    """

    __slots__ = ("extra", "extra_ok", "items", "props")

    def __init__(self) -> None:
        self.props: dict[str, _Node | None] | None = None
        self.extra_ok = False
        self.extra: _Node | None = None
        self.items: _Node | None = None


class _Compiler:
    """Compiles the schema graph below one root; shared sub-schemas (and recursive ones) compile once."""

    def __init__(self) -> None:
        self._memo: dict[int, _Node | None] = {}
        self._keep: list[Any] = []  # the schemas whose id() is a memo key stay alive while compiling

    def node(self, schema: S.Schema | None) -> _Node | None:
        """The node for `schema`, None when the walk has nothing to check below it."""
        if schema is None:
            return None
        key = id(schema)
        if key in self._memo:
            return self._memo[key]
        self._keep.append(schema)
        s = S.resolve(schema)
        if s is not schema and s is not None and not any(k.startswith("x-kubernetes-") for k in schema):
            # A plain reference: share the node of the definition it points to.
            node = self.node(s)
            self._memo[key] = node
            return node
        if not s or s.get("x-kubernetes-preserve-unknown-fields"):
            self._memo[key] = None
            return None
        props = s.get("properties")
        extra = s.get("additionalProperties")
        items = s.get("items")
        if props is None and not isinstance(extra, dict) and not isinstance(items, dict):
            self._memo[key] = None  # a scalar (or unconstrained) schema: any value passes untouched
            return None
        n = _Node()
        self._memo[key] = n  # before recursing: a recursive schema finds this node
        if props is not None:
            n.props = {name: self.node(child) for name, child in props.items()}
            n.extra_ok = isinstance(extra, dict) or extra is True
        else:
            n.extra_ok = True
        if isinstance(extra, dict):
            n.extra = self.node(extra)
        if isinstance(items, dict):
            n.items = self.node(items)
        if props is None and n.extra is None and n.items is None:
            return None  # nothing to check below (the memo keeps the equivalent, harmless node)
        return n

    def root(self, schema: S.Schema) -> _Node | None:
        """The root node: like any other, but it also accepts apiVersion, kind and metadata."""
        n = self.node(schema)
        if n is None or n.props is None or all(k in n.props for k in _TOP_LEVEL):
            return n
        top = _Node()
        top.props = {**{k: None for k in _TOP_LEVEL}, **n.props}
        top.extra_ok, top.extra, top.items = n.extra_ok, n.extra, n.items
        return top


# id(root schema) -> (root schema, its compiled node). The root is kept so its id cannot be reused.
_ROOTS: dict[int, tuple[S.Schema, _Node | None]] = {}
_MAX_ROOTS: Final = 1024


def _compiled(root: S.Schema) -> _Node | None:
    hit = _ROOTS.get(id(root))
    if hit is not None and hit[0] is root:
        return hit[1]
    node = _Compiler().root(root)
    if len(_ROOTS) >= _MAX_ROOTS:
        _ROOTS.clear()
    _ROOTS[id(root)] = (root, node)
    return node


def prune_unknown(obj: Any, root: S.Schema | None) -> list[str]:
    """Remove unknown fields from `obj` in place; return their paths in document order.

    `root` is the kind's definition (``schema.for_kind``); the compiled form is cached per root object,
    so the schema must not be mutated after its first use here.
    """
    if root is None or not isinstance(obj, dict):
        return []
    node = _compiled(root)
    if node is None or not _has_unknown(obj, node):
        return []
    found: list[str] = []
    _prune(obj, node, "", found)
    return found


_ABSENT: Any = _Node()  # what props.get returns for a key the schema does not know


def _has_unknown(value: Any, node: _Node) -> bool:
    """Whether `value` holds a field `node` does not allow (anywhere below); changes nothing."""
    if isinstance(value, dict):
        props = node.props
        if props is None:
            extra = node.extra
            if extra is not None:
                for v in value.values():
                    if isinstance(v, (dict, list)) and _has_unknown(v, extra):
                        return True
            return False
        for k, v in value.items():
            child = props.get(k, _ABSENT)
            if child is None:  # most fields: a scalar, nothing below to check
                continue
            if child is _ABSENT:
                if not node.extra_ok:
                    return True
                child = node.extra
                if child is None:
                    continue
            if isinstance(v, (dict, list)) and _has_unknown(v, child):
                return True
        return False
    if isinstance(value, list):
        items = node.items
        if items is not None:
            for v in value:
                if isinstance(v, (dict, list)) and _has_unknown(v, items):
                    return True
    return False


def _prune(value: Any, node: _Node | None, path: str, found: list[str]) -> None:
    """Delete unknown fields below `value`, appending their paths to `found` in document order."""
    if node is None:
        return
    if isinstance(value, dict):
        props = node.props
        if props is None:
            if node.extra is not None:
                for k, v in value.items():
                    _prune(v, node.extra, f"{path}[{k}]" if path else k, found)
            return
        for k in list(value.keys()):
            child = f"{path}.{k}" if path else k
            if k in props:
                _prune(value[k], props[k], child, found)
            elif node.extra_ok:
                _prune(value[k], node.extra, child, found)
            else:
                found.append(child)
                del value[k]
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _prune(v, node.items, f"{path}[{i}]", found)
