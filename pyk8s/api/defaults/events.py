"""events.k8s.io/v1 defaulting: none upstream (core/v1 Events have none either)."""

from __future__ import annotations

from typing import Any, Final

DEFAULTERS: Final[dict[str, Any]] = {}
