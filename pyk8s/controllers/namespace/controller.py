"""The namespace controller (pkg/controller/namespace): empties a terminating Namespace, then releases it.

For a Namespace with a deletionTimestamp (acted on 5s after the event, as upstream, so every apiserver
has seen the deletion) it marks the phase Terminating, deletes every namespaced object in it (pods
first, the rest once the pods are gone), and requeues after about half the estimated time left (the
largest pod grace period, or 15s when objects wait on finalizers) until nothing is left, keeping the
NamespaceDeletion*/NamespaceContentRemaining/NamespaceFinalizersRemaining conditions current. Then it
removes the "kubernetes" finalizer through the namespaces/<name>/finalize subresource, after which the
apiserver deletes the Namespace.

Timers (ControllerOptions.extra): namespace_deletion_grace_period (5s); workers: concurrent_namespace_syncs (10).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.api.meta import parse_time
from pyk8s.api.resources import Resource
from pyk8s.client.kinds import NAMESPACES
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.namespace.conditions import ConditionUpdater
from pyk8s.controllers.namespace.resources import deletable_resources, gvr_text

log = logging.getLogger("pyk8s.controllers.namespace")

Obj = dict[str, Any]

FINALIZER_TOKEN: Final = "kubernetes"
NAMESPACE_DELETION_GRACE_PERIOD: Final = 5.0
FINALIZER_ESTIMATE_SECONDS: Final = 15


@dataclass
class _Remaining:
    """What is left of one resource in the namespace after a deletion pass."""

    estimate: int = 0
    count: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)


class ContentRemainingError(Exception):
    """Objects are still going away; retry after about half the estimate."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


class NamespaceController:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.clock = ctx.clock
        extra = ctx.options.extra
        self.grace_period = float(extra.get("namespace_deletion_grace_period", NAMESPACE_DELETION_GRACE_PERIOD))
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.resources = deletable_resources()
        self.controller = Controller("namespace", self, workers=int(extra.get("concurrent_namespace_syncs", 10)),
                                     clock=ctx.clock, informers=[self.namespaces])
        self.namespaces.add_handler(on_add=self._enqueue, on_update=lambda _old, cur: self._enqueue(cur))

    def _enqueue(self, namespace: Obj) -> None:
        if not (namespace.get("metadata") or {}).get("deletionTimestamp"):
            return
        self.controller.enqueue_after(namespace, self.grace_period)

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result | None:
        if self.namespaces.lister.get(key) is None:
            return None
        try:
            await self.delete(key)
        except ContentRemainingError as e:
            wait = e.estimate // 2 + 1
            log.debug("content remaining in namespace %s, waiting %d seconds", key, wait)
            return Result(requeue_after=float(wait))
        return None

    # ------------------------------------------------------------------ NamespacedResourcesDeleter

    async def delete(self, name: str) -> None:
        """Empty and finalize Namespace ``name`` if it is being deleted. ContentRemainingError while waiting."""
        try:
            namespace = await self.client.get(NAMESPACES, name)
        except errors.NotFound:
            return
        if not (namespace.get("metadata") or {}).get("deletionTimestamp"):
            return
        try:
            namespace = await self._retry_on_conflict(namespace, self._mark_terminating)
        except errors.NotFound:
            return
        if not (namespace.get("metadata") or {}).get("deletionTimestamp"):
            return
        if not (namespace.get("spec") or {}).get("finalizers"):
            return
        estimate, namespace = await self._delete_all_content(namespace)
        if estimate > 0:
            raise ContentRemainingError(estimate)
        try:
            await self._retry_on_conflict(namespace, self._finalize)
        except errors.NotFound:
            return

    async def _retry_on_conflict(self, namespace: Obj, fn: Callable[[Obj], Awaitable[Obj]]) -> Obj:
        latest = namespace
        while True:
            try:
                return await fn(latest)
            except errors.Conflict:
                previous = latest
                latest = await self.client.get(NAMESPACES, meta.name_of(previous))
                if (latest.get("metadata") or {}).get("uid") != (previous.get("metadata") or {}).get("uid"):
                    raise errors.Conflict("namespace uid has changed across retries") from None

    async def _mark_terminating(self, namespace: Obj) -> Obj:
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            return namespace
        updated = meta.copy(namespace)
        updated.setdefault("status", {})["phase"] = "Terminating"
        return await self.client.update(NAMESPACES, updated, subresource="status")

    async def _finalize(self, namespace: Obj) -> Obj:
        updated = meta.copy(namespace)
        spec = updated.setdefault("spec", {})
        spec["finalizers"] = sorted({f for f in spec.get("finalizers") or () if f != FINALIZER_TOKEN})
        try:
            return await self.client.update(NAMESPACES, updated, subresource="finalize")
        except errors.NotFound:
            return namespace

    async def _delete_all_content(self, namespace: Obj) -> tuple[int, Obj]:
        """One deletion pass: the estimate of seconds until the rest is gone (0: empty) and the Namespace as
        last written. Raises when a resource could not be emptied (after writing the conditions)."""
        name = meta.name_of(namespace)
        deleted_at = parse_time((namespace.get("metadata") or {}).get("deletionTimestamp")) or self.clock.now()
        updater = ConditionUpdater(now=self.clock.now())
        errs: list[str] = []
        estimate = 0
        remaining: dict[tuple[str, str], int] = {}
        finalizers: dict[str, int] = {}
        for r in self.resources:
            try:
                left = await self._delete_resource(r, name, deleted_at)
            except _ResourceError as e:
                errs.append(str(e.error))
                updater.delete_content_failed(str(e.error))
                left = e.remaining
            estimate = max(estimate, left.estimate)
            if left.count > 0:
                remaining[(r.plural, r.group)] = left.count
                for finalizer, n in left.finalizers.items():
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + n
            if r is self.resources[0] and r.plural == "pods" and left.count > 0:
                break  # pods first: everything else waits until they are gone
        updater.content_totals(remaining, finalizers)
        status = meta.copy(namespace.get("status") or {})
        if updater.update(status):
            updated = meta.copy(namespace)
            updated["status"] = status
            try:
                namespace = await self.client.update(NAMESPACES, updated, subresource="status")
            except errors.StatusError as e:
                log.info("couldn't update status condition for namespace %q: %s", name, e)
        if errs:
            raise errors.InternalError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
        return estimate, namespace

    async def _delete_resource(self, r: Resource, namespace: str, deleted_at: datetime.datetime) -> _Remaining:
        """Delete every object of ``r`` in ``namespace`` and report what is left."""
        try:
            items = await self._list(r, namespace)
        except errors.StatusError as e:
            raise _ResourceError(e, _Remaining()) from e
        if items is None:
            return _Remaining()
        estimate = 0
        if r.group == "" and r.plural == "pods":
            estimate = _pod_grace_estimate(items)
            if (self.clock.now() - deleted_at).total_seconds() >= estimate:
                estimate = 0
        for item in items:
            try:
                await self.client.delete(r, meta.name_of(item), namespace, propagation_policy="Background")
            except (errors.NotFound, errors.MethodNotAllowed):
                continue
            except errors.StatusError as e:
                raise _ResourceError(e, _Remaining(estimate=estimate)) from e
        try:
            left = await self._list(r, namespace)
        except errors.StatusError as e:
            raise _ResourceError(e, _Remaining(estimate=estimate)) from e
        if not left:
            return _Remaining()
        counts: dict[str, int] = {}
        for item in left:
            for finalizer in (item.get("metadata") or {}).get("finalizers") or ():
                counts[finalizer] = counts.get(finalizer, 0) + 1
        if estimate:
            return _Remaining(estimate, len(left), counts)
        if counts:
            return _Remaining(FINALIZER_ESTIMATE_SECONDS, len(left), counts)
        raise _ResourceError(
            errors.InternalError(f"unexpected items still remain in namespace: {namespace} for gvr: {gvr_text(r)}"),
            _Remaining(estimate, len(left)))

    async def _list(self, r: Resource, namespace: str) -> list[Obj] | None:
        """The objects of ``r`` in ``namespace``; None when the server does not list this resource."""
        try:
            listed = await self.client.list(r, namespace)
        except (errors.NotFound, errors.MethodNotAllowed):
            return None
        return list(listed.get("items") or ())


class _ResourceError(Exception):
    def __init__(self, error: BaseException, remaining: _Remaining) -> None:
        super().__init__(str(error))
        self.error, self.remaining = error, remaining


def _pod_grace_estimate(pods: list[Obj]) -> int:
    """The longest terminationGracePeriodSeconds among pods that have not finished."""
    estimate = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        if grace is not None and int(grace) > estimate:
            estimate = int(grace)
    return estimate

