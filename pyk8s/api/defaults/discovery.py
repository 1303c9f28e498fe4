"""discovery.k8s.io/v1 defaulting: EndpointSlice port name and protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pyk8s.api.defaults.core import Obj, default, dicts


def endpoint_slice(obj: Obj) -> None:
    for port in dicts(obj.get("ports")):
        default(port, "name", "")
        default(port, "protocol", "TCP")


DEFAULTERS: Final[dict[str, Callable[[Obj], None]]] = {"EndpointSlice": endpoint_slice}
