"""DefaultBinder: binds a pod by POSTing a Binding to pods/<name>/binding (upstream plugins/defaultbinder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyk8s.api import errors
from pyk8s.client.kinds import PODS
from pyk8s.scheduler.framework.interface import CycleState, Handle, Status
from pyk8s.scheduler.framework.types import PodInfo

NAME = "DefaultBinder"


def binding_body(pod: PodInfo, node_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
    }


class DefaultBinder:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        try:
            await self.handle.client.create_subresource(PODS, pod.name, "binding", binding_body(pod, node_name),
                                                        pod.namespace)
        except (errors.StatusError, ConnectionError) as e:
            return Status.as_status(e)
        return None


def new(args: Mapping[str, Any], handle: Handle) -> DefaultBinder:
    return DefaultBinder(handle)
