"""The controller-manager process: one client, one informer factory, the selected controllers, one lease.

Wiring only: `pyk8s controller-manager` (pyk8s/cmd) parses flags into `ControllerManagerConfig` and calls
`run_controller_manager`. Identity for leader election is "<hostname>_<uuid>" as upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyk8s.base.gctune import tune_gc
from pyk8s.base.health import start_health_server
from pyk8s.controllers.framework import ControllerContext, ControllerOptions
from pyk8s.controllers.manager import known_descriptors, run_controllers, select

log = logging.getLogger("pyk8s.controller-manager")

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"


@dataclass
class ControllerManagerConfig:
    kubeconfig: str
    controllers: Sequence[str] = ("*",)
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    bind_address: str = "127.0.0.1"
    secure_port: int = 10257
    options: ControllerOptions = field(default_factory=ControllerOptions)


async def run_controller_manager(cfg: ControllerManagerConfig) -> None:
    from pyk8s.client.events import EventRecorder
    from pyk8s.client.informer import SharedInformerFactory, strip_managed_fields
    from pyk8s.client.kubeconfig import load_client_config
    from pyk8s.client.leaderelection import LeaderElector, leader_election_client
    from pyk8s.client.rest import RESTClient

    tune_gc(middle_every=20)  # see pyk8s/base/gctune.py
    chosen = select(known_descriptors(), cfg.controllers)
    config = load_client_config(cfg.kubeconfig, user_agent="kube-controller-manager/pyk8s")
    client: Any = RESTClient(config)
    host = socket.gethostname()
    factory = SharedInformerFactory(client, transform=strip_managed_fields)
    ctx = ControllerContext(client=client, informers=factory,
                            # upstream's controller recorders name only their component (no host)
                            recorder=lambda component: EventRecorder(client, component),
                            options=cfg.options)
    health = await start_health_server("controller-manager", cfg.bind_address, cfg.secure_port)
    try:
        if cfg.leader_elect:
            # upstream gives the lease its own client: renewals never wait behind the controllers' requests
            async with leader_election_client(config, cfg.renew_deadline) as lease_client:
                elector = LeaderElector(lease_client, LEASE_NAMESPACE, LEASE_NAME, f"{host}_{uuid.uuid4()}",
                                        lease_duration=cfg.lease_duration, renew_deadline=cfg.renew_deadline,
                                        retry_period=cfg.retry_period)
                await elector.run(lambda: run_controllers(ctx, chosen))
        else:
            await run_controllers(ctx, chosen)
    finally:
        with contextlib.suppress(Exception):
            await factory.stop()
        await health.stop()
        with contextlib.suppress(Exception):
            await asyncio.shield(client.close())
