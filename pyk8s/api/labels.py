"""Label selectors with the semantics and error messages of apimachinery's ``pkg/labels``.

Three ways in: the text form of ``?labelSelector=`` and ``kubectl -l`` (``parse_selector``), the
``metav1.LabelSelector`` dict found in workload specs (``from_label_selector``), and a plain label map
(``selector_from_set``). One ``Selector`` type comes out, and its ``str()`` is upstream's canonical text
(requirements sorted by key, set values sorted), which is what ``Scale.status.selector`` and the
``Selector`` table columns show. Parse errors are ``errors.BadRequest`` with upstream's message text,
exactly what a real apiserver answers to a bad ``labelSelector`` query parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from pyk8s.api import errors
from pyk8s.api.field_errors import go_quote
from pyk8s.api.validation_names import is_qualified_name, is_valid_label_value


class Operator(StrEnum):
    """selection.Operator values, spelled as upstream spells them."""

    DOES_NOT_EXIST = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    IN = "in"
    NOT_EQUALS = "!="
    NOT_IN = "notin"
    EXISTS = "exists"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


# Upstream lists the binary operators in this order in "expected: ..." messages.
_BINARY_OPERATORS = (
    Operator.IN, Operator.NOT_IN, Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS,
    Operator.GREATER_THAN, Operator.LESS_THAN,
)

_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): optional sign, ASCII digits, int64 range; None otherwise."""
    if not _INT64_RE.fullmatch(text):
        return None
    n = int(text)
    return n if _INT64_MIN <= n <= _INT64_MAX else None


# ---- field-error text, as apimachinery's field.Error renders it ----

def _go_json(value: Any) -> str:
    """encoding/json.Marshal output: compact, HTML characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _invalid(path: str, bad_value: Any, detail: str) -> str:
    """field.Invalid(path, bad_value, detail).Error()."""
    shown = go_quote(bad_value) if isinstance(bad_value, str) else _go_json(bad_value)
    return f"{path}: Invalid value: {shown}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """utilerrors aggregate text: one message alone, several deduplicated inside brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---- label key / value validation ----

def validate_label_key(key: str) -> list[str]:
    """Upstream's messages for a bad label key (metav1 validation's ValidateLabelName); empty when valid."""
    return is_qualified_name(key)


def validate_label_value(value: str) -> list[str]:
    """Upstream's messages for a bad label value; empty when valid."""
    return is_valid_label_value(value)


# ---- requirements and selectors ----

@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` clause. Build it with ``new_requirement`` to get upstream's validation."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op is Operator.GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


def new_requirement(key: str, operator: Operator, values: Iterable[str] = (), *, path: str = "") -> Requirement:
    """labels.NewRequirement: validate key, operator arity and values; BadRequest with upstream's text.

    ``path`` prefixes the field paths in messages (upstream passes none, so they read ``key``,
    ``values[0]``, ``values[0][<key>]``).
    """
    vals = tuple(values)
    problems = _requirement_problems(key, operator, vals, path)
    if problems:
        raise errors.BadRequest(_aggregate(problems))
    return Requirement(key, operator, vals)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _requirement_problems(key: str, operator: Operator, vals: tuple[str, ...], path: str) -> list[str]:
    problems: list[str] = []
    key_errs = validate_label_key(key)
    if key_errs:
        problems.append(_invalid(_child(path, "key"), key, "; ".join(key_errs)))
    values_path = _child(path, "values")
    # An empty tuple stands for Go's nil slice, which encoding/json prints as null.
    shown: Any = list(vals) if vals else None
    if operator in (Operator.IN, Operator.NOT_IN):
        if not vals:
            problems.append(_invalid(values_path, shown, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            problems.append(_invalid(values_path, shown, "exact-match compatibility requires one single value"))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            problems.append(_invalid(values_path, shown, "values set must be empty for exists and does not exist"))
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(vals) != 1:
            problems.append(_invalid(values_path, shown, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                problems.append(_invalid(f"{values_path}[{i}]", v,
                                         "for 'Gt', 'Lt' operators, the value must be an integer"))
    for i, v in enumerate(vals):
        value_errs = validate_label_value(v)
        if value_errs:
            problems.append(_invalid(f"{values_path}[{i}][{key}]", v, "; ".join(value_errs)))
    return problems


@dataclass(frozen=True, slots=True)
class Selector:
    """An AND of requirements, kept sorted by key; or the selector that matches nothing."""

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.matches_nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (Everything)."""
        return not self.matches_nothing and not self.requirements

    def add(self, *reqs: Requirement) -> Selector:
        if self.matches_nothing:
            return self
        return Selector(tuple(sorted((*self.requirements, *reqs), key=lambda r: r.key)))

    def requires_exact_match(self, key: str) -> str | None:
        """The single value the selector demands for ``key`` (=, == or a one-value in), else None."""
        for r in self.requirements:
            if r.key == key:
                exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                if r.operator in exact and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(matches_nothing=True)


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """Exact-match selector for a label map, without validation (labels.SelectorFromSet)."""
    if not labels:
        return EVERYTHING
    return Selector(tuple(Requirement(k, Operator.EQUALS, (v,)) for k, v in sorted(labels.items())))


# ---- the text parser (labels.Parse) ----

class _Tok(Enum):
    ERROR = 0
    END = 1
    CLOSED_PAR = 2
    COMMA = 3
    DOES_NOT_EXIST = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER_THAN = 7
    IDENTIFIER = 8
    IN = 9
    LESS_THAN = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_STRING_TO_TOKEN = {
    ")": _Tok.CLOSED_PAR, ",": _Tok.COMMA, "!": _Tok.DOES_NOT_EXIST, "==": _Tok.DOUBLE_EQUALS, "=": _Tok.EQUALS,
    ">": _Tok.GREATER_THAN, "in": _Tok.IN, "<": _Tok.LESS_THAN, "!=": _Tok.NOT_EQUALS, "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """The whole token stream, ending with END (upstream's Lexer run to completion).

    Like upstream's byte scanner, a NUL where a token would start ends the input, and a NUL inside
    a word or operator just ends that token.
    """
    items: list[tuple[_Tok, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n or text[pos] == "\x00":
            items.append((_Tok.END, ""))
            return items
        if text[pos] in _SPECIAL:
            # Longest run of special characters that still forms a token ("!=", "==", else one char).
            buffer, last = "", None
            while pos < n:
                ch = text[pos]
                if ch == "\x00":
                    pos += 1
                    break
                if ch not in _SPECIAL:
                    break
                candidate = buffer + ch
                if candidate in _STRING_TO_TOKEN:
                    buffer, last = candidate, (_STRING_TO_TOKEN[candidate], candidate)
                elif last is not None:
                    break
                else:  # unreachable with today's token table; kept for parity with upstream
                    buffer = candidate
                pos += 1
            items.append(last if last is not None else (_Tok.ERROR, f"error expected: keyword found '{buffer}'"))
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE and text[pos] != "\x00":
            pos += 1
        word = text[start:pos]
        if pos < n and text[pos] == "\x00":
            pos += 1
        items.append((_STRING_TO_TOKEN.get(word, _Tok.IDENTIFIER), word))


class _ParseError(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values_context: bool = True) -> tuple[_Tok, str]:
        return self._as(self.items[self.position], values_context)

    def consume(self, values_context: bool = True) -> tuple[_Tok, str]:
        item = self.items[self.position]
        self.position += 1
        return self._as(item, values_context)

    @staticmethod
    def _as(item: tuple[_Tok, str], values_context: bool) -> tuple[_Tok, str]:
        # In a values position "in" and "notin" are plain identifiers.
        if values_context and item[0] in (_Tok.IN, _Tok.NOT_IN):
            return _Tok.IDENTIFIER, item[1]
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_Tok.IDENTIFIER, _Tok.DOES_NOT_EXIST):
                try:
                    requirements.append(self.requirement())
                except _ParseError as e:
                    raise _ParseError(f"unable to parse requirement: {e}") from None
                t, lit = self.consume()
                if t is _Tok.END:
                    return requirements
                if t is _Tok.COMMA:
                    t2, lit2 = self.lookahead()
                    if t2 not in (_Tok.IDENTIFIER, _Tok.DOES_NOT_EXIST):
                        raise _ParseError(f"found '{lit2}', expected: identifier after ','")
                    continue
                raise _ParseError(f"found '{lit}', expected: ',' or 'end of string'")
            if tok is _Tok.END:
                return requirements
            raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, operator = self.key_and_inferred_operator()
        if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return self.new(key, operator, [])
        operator = self.operator()
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self.value_set()
        else:
            values = self.exact_value()
        return self.new(key, operator, sorted(values))

    @staticmethod
    def new(key: str, operator: Operator, values: list[str]) -> Requirement:
        problems = _requirement_problems(key, operator, tuple(values), "")
        if problems:
            raise _ParseError(_aggregate(problems))
        return Requirement(key, operator, tuple(values))

    def key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator: Operator | None = None
        tok, lit = self.consume()
        if tok is _Tok.DOES_NOT_EXIST:
            operator = Operator.DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok is not _Tok.IDENTIFIER:
            raise _ParseError(f"found '{lit}', expected: identifier")
        key_errs = validate_label_key(lit)
        if key_errs:
            # Upstream validates the key with a nil field path here, hence "<nil>".
            raise _ParseError(_invalid("<nil>", lit, "; ".join(key_errs)))
        if self.lookahead()[0] in (_Tok.END, _Tok.COMMA) and operator is None:
            operator = Operator.EXISTS
        return lit, operator

    def operator(self) -> Operator:
        tok, lit = self.consume(values_context=False)
        op = {
            _Tok.IN: Operator.IN, _Tok.EQUALS: Operator.EQUALS, _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
            _Tok.GREATER_THAN: Operator.GREATER_THAN, _Tok.LESS_THAN: Operator.LESS_THAN,
            _Tok.NOT_IN: Operator.NOT_IN, _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
        }.get(tok)
        if op is None:
            expected = ", ".join(o.value for o in _BINARY_OPERATORS)
            raise _ParseError(f"found '{lit}', expected: {expected}")
        return op

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok is not _Tok.OPEN_PAR:
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_Tok.IDENTIFIER, _Tok.COMMA):
            values = self.identifiers()
            self.consume()  # the ')' that identifiers() stopped in front of
            return values
        if tok is _Tok.CLOSED_PAR:
            self.consume()
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok is _Tok.IDENTIFIER:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 is _Tok.COMMA:
                    continue
                if tok2 is _Tok.CLOSED_PAR:
                    return values
                raise _ParseError(f"found '{lit2}', expected: ',' or ')'")
            if tok is _Tok.COMMA:
                if not values:
                    values.add("")  # "(,"
                tok2, _ = self.lookahead()
                if tok2 is _Tok.CLOSED_PAR:
                    values.add("")  # ",)"
                    return values
                if tok2 is _Tok.COMMA:
                    values.add("")  # ",,"
                continue
            raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_Tok.END, _Tok.COMMA):
            return {""}
        tok, lit = self.consume()
        if tok is _Tok.IDENTIFIER:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


def parse_selector(text: str) -> Selector:
    """labels.Parse: the ``?labelSelector=`` / ``kubectl -l`` syntax; BadRequest with upstream's message.

    Grammar: ``[!]key``, ``key=v``, ``key==v``, ``key!=v``, ``key in (a,b)``, ``key notin (a,b)``,
    ``key>n``, ``key<n``, joined by commas. The empty string selects everything.
    """
    try:
        requirements = _Parser(text).parse()
    except _ParseError as e:
        raise errors.BadRequest(str(e)) from None
    requirements.sort(key=lambda r: r.key)
    return Selector(tuple(requirements))


# ---- metav1.LabelSelector ----

_LABEL_SELECTOR_OPERATORS = {
    "In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS, "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector(obj: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector: None matches nothing, an empty selector matches everything.

    Raises BadRequest with upstream's text for a bad key, value or operator.
    """
    if obj is None:
        return NOTHING
    match_labels: Mapping[str, str] = obj.get("matchLabels") or {}
    expressions: list[Mapping[str, Any]] = obj.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    requirements: list[Requirement] = []
    for k, v in match_labels.items():
        requirements.append(new_requirement(k, Operator.EQUALS, [v]))
    for expr in expressions:
        raw_op = expr.get("operator", "")
        op = _LABEL_SELECTOR_OPERATORS.get(raw_op)
        if op is None:
            raise errors.BadRequest(f"{go_quote(str(raw_op))} is not a valid label selector operator")
        requirements.append(new_requirement(expr.get("key", ""), op, list(expr.get("values") or [])))
    return EVERYTHING.add(*requirements)


def selector_to_string(label_selector: Mapping[str, Any] | None) -> str:
    """The selector's canonical text, e.g. ``app=web,tier in (a,b)``; "" for None or empty.

    This is what ``Scale.status.selector`` carries. Raises BadRequest for an invalid selector.
    """
    return str(from_label_selector(label_selector))


def format_label_selector(label_selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector, the ``Selector`` column of tables: ``<none>`` when empty, ``<error>`` if bad."""
    try:
        text = selector_to_string(label_selector)
    except errors.BadRequest:
        return "<error>"
    return text or "<none>"


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels for a plain map (Service and RC selectors): sorted ``k=v`` pairs, or ``<none>``."""
    text = ",".join(sorted(f"{k}={v}" for k, v in (labels or {}).items()))
    return text or "<none>"
