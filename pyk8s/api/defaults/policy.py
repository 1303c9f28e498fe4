"""policy/v1 defaulting: upstream sets no defaults on PodDisruptionBudget (v1)."""

from __future__ import annotations

from typing import Any, Final

DEFAULTERS: Final[dict[str, Any]] = {}
