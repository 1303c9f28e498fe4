"""The controller manager: finds every controller's descriptor, selects them by --controllers, runs them.

All selected controllers share one informer factory (one list+watch per resource for the whole process)
and run under one leader-election lease, as kube-controller-manager does. `--controllers` follows
upstream: "*" means every controller enabled by default, "foo" enables foo, "-foo" disables foo.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Iterable, Sequence

from pyk8s.controllers.framework import ControllerContext, ControllerDescriptor, Runnable

log = logging.getLogger("pyk8s.controllers.manager")

# The controller folders under pyk8s/controllers; each exports DESCRIPTOR (or DESCRIPTORS).
CONTROLLER_PACKAGES = (
    "deployment", "replicaset", "daemonset", "statefulset", "job", "ttlafterfinished", "cronjob",
    "endpointslice", "endpoints", "namespace", "serviceaccount", "rootcacertpublisher", "garbagecollector", "podgc",
    "nodeipam", "nodelifecycle", "disruption",
)


class UnknownControllerError(ValueError):
    pass


def known_descriptors() -> list[ControllerDescriptor]:
    """Every controller's descriptor; a duplicate name or alias is a programming error caught at start."""
    out: list[ControllerDescriptor] = []
    seen: set[str] = set()
    for pkg in CONTROLLER_PACKAGES:
        module = importlib.import_module(f"pyk8s.controllers.{pkg}")
        found = list(getattr(module, "DESCRIPTORS", ()))
        if hasattr(module, "DESCRIPTOR"):
            found.append(module.DESCRIPTOR)
        for d in found:
            for name in (d.name, *d.aliases):
                if name in seen:
                    raise RuntimeError(f"controller name {name!r} registered twice")
                seen.add(name)
            out.append(d)
    return out


def select(descriptors: Sequence[ControllerDescriptor], spec: Iterable[str]) -> list[ControllerDescriptor]:
    """Upstream's --controllers semantics over `descriptors`, in their registration order."""
    by_name: dict[str, ControllerDescriptor] = {}
    for d in descriptors:
        for name in (d.name, *d.aliases):
            by_name[name] = d
    items = [s.strip() for s in spec if s.strip()] or ["*"]
    enabled: set[str] = set()
    disabled: set[str] = set()
    star = False
    for item in items:
        if item == "*":
            star = True
            continue
        name = item[1:] if item.startswith("-") else item
        if name not in by_name:
            raise UnknownControllerError(f'"{name}" is not in the list of known controllers')
        (disabled if item.startswith("-") else enabled).add(by_name[name].name)
    chosen = []
    for d in descriptors:
        if d.name in disabled:
            continue
        if d.name in enabled or (star and not d.disabled_by_default):
            chosen.append(d)
    return chosen


async def run_controllers(ctx: ControllerContext, descriptors: Sequence[ControllerDescriptor]) -> None:
    """Construct every selected controller (they request informers), start the informers, run them all."""
    runnables: list[tuple[str, Runnable]] = [(d.name, d.new(ctx)) for d in descriptors]
    ctx.informers.start()
    if not await ctx.informers.wait_for_sync(timeout=60):
        log.warning("informer caches did not sync within 60s; controllers start anyway and wait per controller")
    log.info("started %d controllers: %s", len(runnables), ", ".join(n for n, _ in runnables))
    async with asyncio.TaskGroup() as tg:
        for _name, r in runnables:
            tg.create_task(r.run())
