"""The service account controller (pkg/controller/serviceaccount/serviceaccounts_controller.go): every
active Namespace has a ServiceAccount "default"; one deleted is created again. Terminating namespaces are
left alone."""

from __future__ import annotations

import logging
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.client.kinds import NAMESPACES, SERVICE_ACCOUNTS
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.apierrors import is_namespace_terminating

log = logging.getLogger("pyk8s.controllers.serviceaccount")

Obj = dict[str, Any]

COMPONENT: Final = "serviceaccount-controller"
SERVICE_ACCOUNTS_TO_ENSURE: Final = ("default",)


class ServiceAccountsController:
    def __init__(self, ctx: ControllerContext, service_accounts: tuple[str, ...] = SERVICE_ACCOUNTS_TO_ENSURE) -> None:
        self.client = ctx.client
        self.service_accounts = service_accounts
        self.namespaces = ctx.informers.informer(NAMESPACES)
        self.accounts = ctx.informers.informer(SERVICE_ACCOUNTS)
        self.controller = Controller("serviceaccount", self, workers=ctx.options.concurrent_syncs, clock=ctx.clock,
                                     informers=[self.namespaces, self.accounts])
        self.namespaces.add_handler(on_add=self.controller.enqueue,
                                    on_update=lambda _old, cur: self.controller.enqueue(cur))
        self.accounts.add_handler(on_delete=self._account_deleted)

    def _account_deleted(self, account: Obj) -> None:
        if meta.name_of(account) in self.service_accounts:
            self.controller.enqueue(meta.namespace_of(account))

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: str) -> Result | None:
        namespace = self.namespaces.lister.get(key)
        if namespace is None:
            return None
        if (namespace.get("status") or {}).get("phase") != "Active":
            return None
        failures: list[errors.StatusError] = []
        for name in self.service_accounts:
            if self.accounts.lister.get(f"{key}/{name}") is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICE_ACCOUNTS, account, key)
            except errors.AlreadyExists:
                continue
            except errors.StatusError as e:
                if not is_namespace_terminating(e):
                    failures.append(e)
        if failures:
            raise failures[0]
        return None
