"""The root CA certificate publisher (pkg/controller/certificates/rootcacertpublisher/publisher.go).

Every namespace gets a ConfigMap "kube-root-ca.crt" whose data is exactly {"ca.crt": <cluster CA PEM>} and
whose "kubernetes.io/description" annotation says what it is for. One deleted is created again; one whose
data or annotation was changed is put back (other annotations and labels are left as they are). The pods'
automounted ``kube-api-access-*`` volumes read ca.crt from it.

The CA comes from ControllerOptions.extra[ROOT_CA_OPTION] (PEM bytes: --root-ca-file, else the
controller-manager's kubeconfig CA, as upstream); with none the controller does nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from pyk8s.api import errors, meta
from pyk8s.client.interface import Informer
from pyk8s.client.kinds import CONFIGMAPS, NAMESPACES
from pyk8s.controllers.framework import Controller, ControllerContext, Result
from pyk8s.controllers.framework.apierrors import is_namespace_terminating

log = logging.getLogger("pyk8s.controllers.rootcacertpublisher")

Obj = dict[str, Any]

ROOT_CA_OPTION: Final = "root_ca"
ROOT_CA_CONFIG_MAP: Final = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION: Final = "kubernetes.io/description"
DESCRIPTION: Final = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
                      "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
                      "distributions of Kubernetes clusters.")


class RootCACertPublisher:
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        raw = ctx.options.extra.get(ROOT_CA_OPTION) or b""
        self.root_ca = raw.decode() if isinstance(raw, bytes) else str(raw)
        self.namespaces: Informer | None = None
        self.config_maps: Informer | None = None
        if self.root_ca:
            self.namespaces = ctx.informers.informer(NAMESPACES)
            self.config_maps = ctx.informers.informer(CONFIGMAPS)
        # upstream runs one worker
        self.controller = Controller("root_ca_cert_publisher", self, workers=1, clock=ctx.clock,
                                     informers=[i for i in (self.namespaces, self.config_maps) if i is not None])
        if self.namespaces is not None and self.config_maps is not None:
            self.namespaces.add_handler(on_add=self.controller.enqueue, on_update=self._namespace_updated)
            self.config_maps.add_handler(on_update=lambda _old, cur: self._config_map_changed(cur),
                                         on_delete=self._config_map_changed)

    def _namespace_updated(self, _old: Obj, cur: Obj) -> None:
        if (cur.get("status") or {}).get("phase") == "Active":
            self.controller.enqueue(cur)

    def _config_map_changed(self, cm: Obj) -> None:
        if meta.name_of(cm) == ROOT_CA_CONFIG_MAP:
            self.controller.enqueue(meta.namespace_of(cm))

    def wanted_data(self) -> dict[str, str]:
        return {"ca.crt": self.root_ca}

    async def run(self) -> None:
        if not self.root_ca:
            log.info("no root CA (--root-ca-file or a kubeconfig CA): the root CA cert publisher is not started")
            return
        await self.controller.run()

    async def reconcile(self, key: str) -> Result | None:
        if self.config_maps is None:
            return None
        namespace = key
        current = self.config_maps.lister.get(f"{namespace}/{ROOT_CA_CONFIG_MAP}")
        if current is None:
            cm = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": ROOT_CA_CONFIG_MAP, "namespace": namespace,
                               "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                  "data": self.wanted_data()}
            try:
                await self.client.create(CONFIGMAPS, cm, namespace)
            except errors.NotFound:
                return None  # the namespace is gone
            except errors.StatusError as e:
                if is_namespace_terminating(e):
                    return None
                raise
            return None
        annotations = (current.get("metadata") or {}).get("annotations") or {}
        if current.get("data") == self.wanted_data() and annotations.get(DESCRIPTION_ANNOTATION):
            return None
        fixed = meta.copy(current)
        fixed["data"] = self.wanted_data()
        fixed["metadata"]["annotations"] = {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}
        await self.client.update(CONFIGMAPS, fixed)
        return None
