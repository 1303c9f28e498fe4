"""Endpoints resourceVersions this controller has written past, so a lagging cache is never acted on.

Upstream's staleEndpointsTracker: after an update moves an Endpoints object from resourceVersion A to B,
a sync that still finds A in the informer cache would compare against old data and write again; it fails
instead and is retried once the cache has caught up.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


class StaleEndpointsCache(Exception):
    """The informer cache still holds an Endpoints version this controller has replaced; retry later."""


class StaleEndpointsTracker:
    def __init__(self) -> None:
        self._stale: dict[tuple[str, str], str] = {}

    def mark_stale(self, endpoints: Obj) -> None:
        md = endpoints.get("metadata") or {}
        self._stale[(str(md.get("namespace") or ""), str(md.get("name") or ""))] = str(md.get("resourceVersion") or "")

    def is_stale(self, endpoints: Obj) -> bool:
        md = endpoints.get("metadata") or {}
        rv = self._stale.get((str(md.get("namespace") or ""), str(md.get("name") or "")))
        return rv is not None and rv == str(md.get("resourceVersion") or "")

    def delete(self, namespace: str, name: str) -> None:
        self._stale.pop((namespace, name), None)
