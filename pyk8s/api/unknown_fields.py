"""Find and drop fields the schema does not know (fieldValidation Strict/Warn/Ignore).

Upstream decodes request bodies into Go structs, which silently drops unknown fields; with
fieldValidation=Strict it fails instead, and with Warn it returns one warning per field. The paths are
written the way upstream's strict decoder reports them: ``spec.template.spec.containers[0].foo``.
"""

from __future__ import annotations

from typing import Any

from pyk8s.api import schema as S

# Fields every top-level object may carry even if a definition omits them.
_TOP_LEVEL = ("apiVersion", "kind", "metadata")


def prune_unknown(obj: Any, root: S.Schema | None) -> list[str]:
    """Remove unknown fields from `obj` in place; return their paths in document order."""
    found: list[str] = []
    if root is not None and isinstance(obj, dict):
        _walk(obj, root, "", found, top=True)
    return found


def _walk(value: Any, schema: S.Schema | None, path: str, found: list[str], top: bool = False) -> None:
    s = S.resolve(schema)
    if not s or s.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = s.get("properties")
        extra = s.get("additionalProperties")
        if props is None:
            if isinstance(extra, dict):
                for k, v in value.items():
                    _walk(v, extra, f"{path}[{k}]" if path else k, found)
            return
        for k in list(value.keys()):
            child = f"{path}.{k}" if path else k
            if k in props:
                _walk(value[k], props[k], child, found)
            elif top and k in _TOP_LEVEL:
                continue
            elif isinstance(extra, dict):
                _walk(value[k], extra, child, found)
            elif extra is True:
                continue
            else:
                found.append(child)
                del value[k]
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                _walk(v, items, f"{path}[{i}]", found)
