"""scheduling.k8s.io/v1 defaulting: PriorityClass preemptionPolicy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from pyk8s.api.defaults.core import Obj, default


def priority_class(obj: Obj) -> None:
    default(obj, "preemptionPolicy", "PreemptLowerPriority")


DEFAULTERS: Final[dict[str, Callable[[Obj], None]]] = {"PriorityClass": priority_class}
