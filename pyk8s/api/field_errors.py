"""Field-level validation errors with upstream's exact wording.

Validation code returns lists of :class:`FieldError`; the apiserver turns a non-empty list into a 422
``Invalid`` Status whose ``details.causes`` carry one entry per error. ``FieldError.body()`` renders
the text the way k8s.io/apimachinery's ``field.Error.ErrorBody`` does (``Required value``,
``Invalid value: "x": detail``, ``Unsupported value: "x": supported values: "a", "b"``...), so clients
that print or match on the message see what a real apiserver sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from pyk8s.api import errors

# ErrorType values (they double as StatusCause ``reason``).
REQUIRED: Final = "FieldValueRequired"
INVALID: Final = "FieldValueInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
DUPLICATE: Final = "FieldValueDuplicate"
NOT_FOUND: Final = "FieldValueNotFound"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
INTERNAL: Final = "InternalError"

_TITLES: Final = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}

# Types whose body never shows the bad value.
_VALUELESS: Final = frozenset({REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL})


class _Omit:
    """Marker for "do not print the value" (upstream's field.OmitValueType)."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()


class GoValue(str):
    """A bad value already rendered the way upstream prints it (e.g. a Go ``%#v`` struct)."""


class Path:
    """An upstream-style field path: ``spec.containers[0].image``, ``metadata.labels[app]``.

    Rendering follows field.Path.String exactly: a name is joined with ``.`` (no dot first), an index or a
    map key is a subscript ``[...]``, and an empty name renders as ``[]`` (so ``Path.of("")`` is upstream's
    "whole object" path ``[]``). Validation builds a path for nearly every field it visits and renders one
    only for the rare error, so a path keeps just its rendered text: extending it is one string
    concatenation. Two paths are equal when they render the same.
    """

    __slots__ = ("_text",)

    def __init__(self) -> None:
        self._text = ""

    @classmethod
    def of(cls, *names: str) -> Path:
        return _ROOT.child(*names) if names else _ROOT

    def child(self, name: str, *more: str) -> Path:
        text = self._text
        # The first name is spelt out: nearly every call has just one, and this runs for most fields validated.
        if not name:
            text += "[]"
        elif text:
            text = text + "." + name
        else:
            text = name
        for part in more:
            if not part:
                text += "[]"
            elif text:
                text = text + "." + part
            else:
                text = part
        p = _new_path(Path)
        p._text = text
        return p

    def index(self, i: int) -> Path:
        p = _new_path(Path)
        p._text = f"{self._text}[{i}]"
        return p

    def key(self, k: str) -> Path:
        p = _new_path(Path)
        p._text = f"{self._text}[{k}]"
        return p

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Path({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


_new_path = object.__new__
_ROOT: Final = Path()


_GO_ESCAPES: Final = {
    '"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\v": "\\v",
}


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote): double quotes, backslash escapes, printable UTF-8 kept."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_json(value: Any) -> str:
    """Go's json.Marshal output for a JSON value: compact, HTML-escaped, string maps sorted by key."""

    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            items = [(str(k), norm(x)) for k, x in v.items()]
            if all(isinstance(x, str) for _, x in items):  # a Go map[string]string: keys come out sorted
                items.sort()
            return dict(items)
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v

    text = json.dumps(norm(value), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def format_value(value: Any) -> str:
    """How ErrorBody prints a bad value: %v for numbers/bools, %q for strings, JSON otherwise."""
    if isinstance(value, GoValue):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, str):
        return go_quote(value)
    return _go_json(value)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field-level validation error (k8s.io/apimachinery field.Error)."""

    type: str
    field: str
    bad_value: Any = ""
    detail: str = ""

    def body(self) -> str:
        """The message without the field name (upstream ErrorBody)."""
        title = _TITLES.get(self.type, f"<unknown error {go_quote(self.type)}>")
        if self.type in _VALUELESS or self.bad_value is OMIT:
            s = title
        else:
            s = f"{title}: {format_value(self.bad_value)}"
        if self.detail:
            s += f": {self.detail}"
        return s

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, Any]:
        """The ``StatusCause`` for this error (empty fields omitted, as upstream's omitempty does)."""
        out: dict[str, Any] = {"reason": self.type, "message": self.body()}
        if self.field:
            out["field"] = self.field
        return out


# ---- constructors mirroring upstream's field.Required/Invalid/... ----


def _p(path: Path | str) -> str:
    return str(path)


def required(path: Path | str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, _p(path), "", detail)


def invalid(path: Path | str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, _p(path), value, detail)


def type_invalid(path: Path | str, value: Any, detail: str) -> FieldError:
    return FieldError(TYPE_INVALID, _p(path), value, detail)


def not_supported(path: Path | str, value: Any, valid_values: list[str] | tuple[str, ...]) -> FieldError:
    detail = ""
    if valid_values:
        detail = "supported values: " + ", ".join(go_quote(str(v)) for v in valid_values)
    return FieldError(NOT_SUPPORTED, _p(path), value, detail)


def forbidden(path: Path | str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, _p(path), "", detail)


def too_long(path: Path | str, max_length: int) -> FieldError:
    if max_length >= 0:
        detail = f"may not be more than {max_length} {'byte' if max_length == 1 else 'bytes'}"
    else:
        detail = "value is too long"
    return FieldError(TOO_LONG, _p(path), "<value omitted>", detail)


def too_many(path: Path | str, actual: int, maximum: int) -> FieldError:
    detail = (
        f"must have at most {maximum} {'item' if maximum == 1 else 'items'}" if maximum >= 0 else "has too many items"
    )
    return FieldError(TOO_MANY, _p(path), actual if actual >= 0 else OMIT, detail)


def duplicate(path: Path | str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, _p(path), value)


def not_found(path: Path | str, value: Any, detail: str = "") -> FieldError:
    return FieldError(NOT_FOUND, _p(path), value, detail)


def internal(path: Path | str, detail: str) -> FieldError:
    return FieldError(INTERNAL, _p(path), OMIT, detail)


def invalid_error(kind: str, group: str, name: str, errs: list[FieldError]) -> errors.Invalid:
    """The 422 ``Invalid`` StatusError upstream's NewInvalid builds from a field error list."""
    return errors.invalid(kind, group, name, [e.cause() for e in errs])
