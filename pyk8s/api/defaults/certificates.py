"""certificates.k8s.io/v1 defaulting: none upstream.

The requesting user's name, uid, groups and extra are filled in by the registry (PrepareForCreate),
which knows the request's user; that is not defaulting.
"""

from __future__ import annotations

from typing import Any, Final

DEFAULTERS: Final[dict[str, Any]] = {}
