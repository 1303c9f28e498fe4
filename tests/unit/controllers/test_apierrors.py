"""Reading API error causes (framework.apierrors, upstream apierrors.HasStatusCause)."""

from __future__ import annotations

from pyk8s.api import errors
from pyk8s.controllers.framework.apierrors import has_status_cause, is_namespace_terminating


def forbidden(*causes: str) -> errors.Forbidden:
    return errors.Forbidden("forbidden", details={"causes": [{"reason": c, "message": "m"} for c in causes]})


def test_namespace_terminating_is_read_from_the_cause_reason() -> None:
    # What the apiserver's admission sends when a namespace is being deleted: the cause type is JSON "reason".
    assert is_namespace_terminating(forbidden("FieldValueInvalid", "NamespaceTerminating"))
    assert not is_namespace_terminating(forbidden("FieldValueInvalid"))
    assert not is_namespace_terminating(errors.Forbidden("forbidden"))
    assert not is_namespace_terminating(errors.Forbidden("x", details={"causes": [{"type": "NamespaceTerminating"}]}))
    assert not is_namespace_terminating(RuntimeError("not an API error"))
    assert has_status_cause(forbidden("FieldValueInvalid"), "FieldValueInvalid")
