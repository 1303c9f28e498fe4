"""The ConfigMaps and Secrets the node's pods read, each kept current by a watch of that one object.

Upstream's kubelet reads the objects behind configMap/secret volumes and env through its "Watch" change-detection
strategy (the default): the first reader of an object starts a reflector on it alone (a fieldSelector on
metadata.name, which is what the node authorizer lets a node list and watch), and later reads come from memory.
Without it every pod start and every pod sync costs a GET per referenced object (kube-root-ca.crt for every pod).

`WatchedObjects.get` has the semantics of the client's GET (the object, or errors.NotFound): the first read of an
object starts its informer and waits for its first list, at most `sync_timeout`; if that runs out (the kubelet may
not list it, the apiserver is away), that read and every later one are plain GETs until the informer has synced.
Once synced, reads come from its cache. When an object is read, the informers nobody read for `idle_seconds` are
stopped (the pod workers re-read a running pod's objects on every sync, which keeps them watched while their pods
live). Other resources are always read with GET.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Protocol

from pyk8s.api import errors
from pyk8s.api.resources import Resource
from pyk8s.base.clock import REAL_CLOCK, Clock
from pyk8s.client import kinds
from pyk8s.client.informer import SharedInformer, strip_managed_fields
from pyk8s.client.interface import Client, Obj

WATCHED = (kinds.CONFIGMAPS, kinds.SECRETS)
IDLE_SECONDS = 300.0
SYNC_TIMEOUT = 10.0


class ObjectReader(Protocol):
    """Reads one object by name (the client's GET; NotFound when it does not exist)."""

    async def get(self, resource: Resource, name: str, namespace: str = "") -> Obj: ...


@dataclass
class _Watched:
    informer: SharedInformer
    task: asyncio.Task[None]
    last_read: float
    unsynced: bool = False  # its first list outlived sync_timeout: read with GET until it syncs


class WatchedObjects:
    """ObjectReader over `client` that watches the ConfigMaps and Secrets it is asked for (module docstring)."""

    def __init__(self, client: Client, *, clock: Clock = REAL_CLOCK, idle_seconds: float = IDLE_SECONDS,
                 sync_timeout: float = SYNC_TIMEOUT) -> None:
        self.client = client
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.sync_timeout = sync_timeout
        self._watched: dict[tuple[str, str, str], _Watched] = {}

    def watched(self) -> list[tuple[str, str, str]]:
        """(resource, namespace, name) of every object watched now."""
        return sorted(self._watched)

    async def get(self, resource: Resource, name: str, namespace: str = "") -> Obj:
        if resource not in WATCHED:
            return await self.client.get(resource, name, namespace)
        now = self.clock.monotonic()
        self._stop_idle(now)
        key = (resource.plural, namespace, name)
        entry = self._watched.get(key)
        if entry is None:
            entry = self._watched[key] = self._start(resource, namespace, name, now)
        entry.last_read = now
        informer = entry.informer
        if not informer.has_synced() and not entry.unsynced:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(informer.wait_for_sync()), self.sync_timeout)
        if not informer.has_synced():  # the informer cannot list (yet): answer as a plain read would
            entry.unsynced = True
            return await self.client.get(resource, name, namespace)
        obj = informer.lister.get(f"{namespace}/{name}" if namespace else name)
        if obj is None:
            raise errors.NotFound(f'{resource.plural} "{name}" not found')
        return obj

    def _start(self, resource: Resource, namespace: str, name: str, now: float) -> _Watched:
        informer = SharedInformer(self.client, resource, namespace=namespace, field_selector=f"metadata.name={name}",
                                  clock=self.clock, transform=strip_managed_fields)
        return _Watched(informer, asyncio.create_task(informer.run()), now)

    def _stop_idle(self, now: float) -> None:
        for key in [k for k, w in self._watched.items() if now - w.last_read > self.idle_seconds]:
            self._watched.pop(key).task.cancel()

    async def close(self) -> None:
        """Stop every watch."""
        tasks = [w.task for w in self._watched.values()]
        self._watched.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
