"""coordination.k8s.io/v1 defaulting: upstream sets no defaults on Lease."""

from __future__ import annotations

from typing import Any, Final

DEFAULTERS: Final[dict[str, Any]] = {}
