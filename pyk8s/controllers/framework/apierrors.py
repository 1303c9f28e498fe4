"""Reading the causes of an API error, as upstream's apierrors.HasStatusCause does.

Controllers treat a write refused because its namespace is being deleted (cause NamespaceTerminating) as
expected rather than as a failure worth an event. A StatusCause's type travels in JSON under the key
"reason".
"""

from __future__ import annotations

from typing import Final

NAMESPACE_TERMINATING_CAUSE: Final = "NamespaceTerminating"  # v1.NamespaceTerminatingCause


def has_status_cause(err: BaseException, cause: str) -> bool:
    """`err` carries status details listing a cause of type `cause`."""
    details = getattr(err, "details", None) or {}
    return any(c.get("reason") == cause for c in details.get("causes") or ())


def is_namespace_terminating(err: BaseException) -> bool:
    """The write failed because its namespace is being deleted."""
    return has_status_cause(err, NAMESPACE_TERMINATING_CAUSE)
