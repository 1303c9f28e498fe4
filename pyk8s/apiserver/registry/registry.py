"""The set of served resources: one ObjectStore and one Strategy per stored resource.

Versions of the same resource (autoscaling/v1 and v2 HPAs) share one storage location; objects are
stored in the first-listed (storage) version and converted on the way in and out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyk8s.api.resources import Resource, ResourceTable
from pyk8s.apiserver.registry.objectstore import ObjectStore
from pyk8s.apiserver.registry.strategy import Strategy
from pyk8s.storage.interface import Store

Obj = dict[str, Any]
Converter = Callable[[Obj, str], Obj]


class Registry:
    def __init__(self, store: Store, table: ResourceTable,
                 strategies: dict[tuple[str, str], Callable[[Resource], Strategy]] | None = None,
                 converters: dict[tuple[str, str], Converter] | None = None) -> None:
        self.store = store
        self.table = table
        self._factories = strategies or {}
        self._converters = converters or {}
        self._stores: dict[tuple[str, str], ObjectStore] = {}
        self._strategies: dict[tuple[str, str], Strategy] = {}

    def storage_resource(self, r: Resource) -> Resource:
        return self.table.storage_resource(r)

    def objects(self, r: Resource) -> ObjectStore:
        key = (r.group, r.plural)
        if key not in self._stores:
            self._stores[key] = ObjectStore(self.store, self.storage_resource(r))
        return self._stores[key]

    def strategy(self, r: Resource) -> Strategy:
        key = (r.group, r.plural)
        if key not in self._strategies:
            sr = self.storage_resource(r)
            factory = self._factories.get(key, Strategy)
            self._strategies[key] = factory(sr)
        return self._strategies[key]

    def serves_stored_version(self, r: Resource) -> bool:
        """True when objects are served exactly as stored (no version conversion on the way out)."""
        sr = self.storage_resource(r)
        return (sr.group, sr.version) == (r.group, r.version)

    def to_version(self, r: Resource, obj: Obj) -> Obj:
        """Convert a stored object to the version `r` serves (no-op for single-version resources)."""
        if obj.get("apiVersion") == r.group_version:
            return obj
        conv = self._converters.get((r.group, r.plural))
        return conv(obj, r.group_version) if conv else obj

    def to_storage(self, r: Resource, obj: Obj) -> Obj:
        sr = self.storage_resource(r)
        if obj.get("apiVersion") == sr.group_version:
            return obj
        conv = self._converters.get((r.group, r.plural))
        return conv(obj, sr.group_version) if conv else obj
