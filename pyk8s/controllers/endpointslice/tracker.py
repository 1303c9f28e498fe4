"""Which EndpointSlice versions this controller wrote, so a lagging informer cache is never acted on.

Upstream's EndpointSliceTracker: after each write the controller records the slice's version (or that it
expects the slice gone). A sync whose cached slices are older than those records, still show a slice that
was deleted, or miss one that was created, would write from stale data (and, say, create a slice twice),
so it stops with `StaleInformerCache` and is retried. Slice events the controller caused itself do not
trigger a new sync; foreign changes to its slices do.

Upstream compares `metadata.generation`; slices served without one are compared by resourceVersion, which
pyk8s stores as increasing integers.
"""

from __future__ import annotations

from typing import Any

from pyk8s.controllers.endpointslice.slices import LABEL_SERVICE_NAME

Obj = dict[str, Any]
DELETION_EXPECTED = -1


class StaleInformerCache(Exception):
    """The informer cache is older than what this controller last wrote; retry the sync later."""


def slice_version(slice_: Obj) -> int:
    md = slice_.get("metadata") or {}
    if md.get("generation") is not None:
        return int(md["generation"])
    try:
        return int(md.get("resourceVersion") or 0)
    except ValueError:
        return 0


def _service_of(slice_: Obj) -> tuple[str, str]:
    md = slice_.get("metadata") or {}
    return str(md.get("namespace") or ""), str((md.get("labels") or {}).get(LABEL_SERVICE_NAME) or "")


def _uid(slice_: Obj) -> str:
    return str((slice_.get("metadata") or {}).get("uid") or "")


class SliceTracker:
    def __init__(self) -> None:
        self._by_service: dict[tuple[str, str], dict[str, int]] = {}
        self._service_uids: dict[tuple[str, str], str] = {}

    def has(self, slice_: Obj) -> bool:
        return _uid(slice_) in self._by_service.get(_service_of(slice_), {})

    def should_sync(self, slice_: Obj) -> bool:
        """True for a slice this controller has not written, or one changed since it wrote it."""
        versions = self._by_service.get(_service_of(slice_))
        if versions is None:
            return True
        v = versions.get(_uid(slice_))
        return v is None or slice_version(slice_) > v

    def stale_slices(self, service: Obj, slices: list[Obj]) -> bool:
        """True when `slices` (the cache's view of `service`'s slices) lag behind this controller's writes."""
        md = service["metadata"]
        key = (str(md.get("namespace") or ""), str(md["name"]))
        uid = str(md.get("uid") or "")
        known_uid = self._service_uids.get(key)
        if known_uid and uid and known_uid != uid:
            self._by_service.pop(key, None)  # a new Service of the same name: old records are obsolete
        self._service_uids[key] = uid
        versions = self._by_service.get(key)
        if versions is None:
            return False
        provided = {}
        for s in slices:
            provided[_uid(s)] = slice_version(s)
            v = versions.get(_uid(s))
            if v is not None and (v == DELETION_EXPECTED or v > slice_version(s)):
                return True
        return any(v != DELETION_EXPECTED and u not in provided for u, v in versions.items())

    def update(self, slice_: Obj) -> None:
        self._by_service.setdefault(_service_of(slice_), {})[_uid(slice_)] = slice_version(slice_)

    def expect_deletion(self, slice_: Obj) -> None:
        self._by_service.setdefault(_service_of(slice_), {})[_uid(slice_)] = DELETION_EXPECTED

    def handle_deletion(self, slice_: Obj) -> bool:
        """Forget a deleted slice; False when this controller did not expect it to go."""
        versions = self._by_service.get(_service_of(slice_))
        if versions is None:
            return True
        v = versions.pop(_uid(slice_), None)
        return not (v is not None and v != DELETION_EXPECTED)

    def delete_service(self, namespace: str, name: str) -> None:
        self._by_service.pop((namespace, name), None)
        self._service_uids.pop((namespace, name), None)
