"""One error hierarchy mirroring upstream's StatusReasons, shared by server and client.

Every error is built from, and serialises to, a ``metav1.Status`` dict so that the real kubectl
and client-go retry logic see exactly what a real apiserver would send. Callers match on the class
or on ``reason``, never on the message text.
"""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """An API error that travels as a ``Status`` object."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: int | None = None,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The ``Status`` body a real apiserver sends for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code} {self.reason}: {self.message})"


class BadRequest(StatusError):
    code, reason = 400, "BadRequest"


class Unauthorized(StatusError):
    code, reason = 401, "Unauthorized"


class Forbidden(StatusError):
    code, reason = 403, "Forbidden"


class NotFound(StatusError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(StatusError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(StatusError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(StatusError):
    code, reason = 409, "AlreadyExists"


class Conflict(StatusError):
    code, reason = 409, "Conflict"


class Gone(StatusError):
    code, reason = 410, "Gone"


class Expired(StatusError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(StatusError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(StatusError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(StatusError):
    code, reason = 422, "Invalid"


class TooManyRequests(StatusError):
    code, reason = 429, "TooManyRequests"


class InternalError(StatusError):
    code, reason = 500, "InternalError"


class ServerTimeout(StatusError):
    code, reason = 500, "ServerTimeout"


class ServiceUnavailable(StatusError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(StatusError):
    code, reason = 504, "Timeout"


_BY_REASON: dict[str, type[StatusError]] = {
    cls.reason: cls
    for cls in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, AlreadyExists,
        Conflict, Gone, Expired, RequestEntityTooLarge, UnsupportedMediaType, Invalid, TooManyRequests,
        InternalError, ServerTimeout, ServiceUnavailable, Timeout,
    )
}

_BY_CODE: dict[int, type[StatusError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed,
    406: NotAcceptable, 409: Conflict, 410: Gone, 413: RequestEntityTooLarge, 415: UnsupportedMediaType,
    422: Invalid, 429: TooManyRequests, 500: InternalError, 503: ServiceUnavailable, 504: Timeout,
}


def from_status(status: dict[str, Any], http_code: int | None = None) -> StatusError:
    """Rebuild the error class a ``Status`` body describes (client side)."""
    code = int(status.get("code") or http_code or 500)
    reason = str(status.get("reason") or "")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or StatusError
    return cls(str(status.get("message", "")), details=status.get("details"), code=code, reason=reason or cls.reason)


# ---- constructors with upstream's exact messages (apimachinery pkg/api/errors/errors.go) ----

def qualified_resource(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> NotFound:
    return NotFound(
        f'{qualified_resource(resource, group)} "{name}" not found',
        details={"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource},
    )


def already_exists(resource: str, group: str, name: str) -> AlreadyExists:
    return AlreadyExists(
        f'{qualified_resource(resource, group)} "{name}" already exists',
        details={"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource},
    )


def conflict(resource: str, group: str, name: str, why: str) -> Conflict:
    return Conflict(
        f'Operation cannot be fulfilled on {qualified_resource(resource, group)} "{name}": {why}',
        details={"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource},
    )


OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(kind: str, group: str, name: str, causes: list[dict[str, Any]]) -> Invalid:
    """422 with one cause per field error; the message joins them the way upstream does."""
    qualified = f"{kind}.{group}" if group else kind
    texts = [c["message"] if not c.get("field") else f'{c["field"]}: {c["message"]}' for c in causes]
    if len(texts) == 1:
        joined = texts[0]
    else:
        joined = "[" + ", ".join(texts) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return Invalid(f'{qualified} "{name}" is invalid: {joined}', details=details)


def expired(message: str) -> Expired:
    return Expired(message)


def invalid_options(options_kind: str, field: str, value: str, supported: list[str]) -> Invalid:
    """422 for a bad query option, e.g. ``CreateOptions.meta.k8s.io "" is invalid: fieldValidation: ...``."""
    sv = ", ".join(f'"{s}"' for s in supported)
    body = f'Unsupported value: "{value}": supported values: {sv}'
    return Invalid(
        f'{options_kind}.meta.k8s.io "" is invalid: {field}: {body}',
        details={"group": "meta.k8s.io", "kind": options_kind,
                 "causes": [{"reason": "FieldValueNotSupported", "message": body, "field": field}]},
    )
