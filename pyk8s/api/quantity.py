"""resource.Quantity: parse, compare and print resource amounts exactly as apimachinery does.

Quantities travel as strings (``"500m"``, ``"1Gi"``, ``"1.5"``). Upstream parses them into an exact
fixed-point number, remembers which family of suffix was used (decimal SI, binary SI or a decimal
exponent), and prints the *canonical* form: no fractional digits, the largest suffix of that family
that keeps the value exact (``1.5`` -> ``1500m``, ``1536Mi`` stays, ``1024Mi`` -> ``1Gi``). Values finer than
a nano-unit round up (away from zero) to ``1n``; binary-SI values are capped at 2^63-1. A string that is
already canonical is kept verbatim, with upstream's quirks (``+1`` stays ``+1``).

Values are held as exact ``Decimal``s and never go through floats. Bad input raises ``QuantityError``
carrying upstream's message; callers wrap it in the error their context needs (a body decode error is
a 400 upstream).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

ERR_FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_MAX_INT64 = 2**63 - 1
_MAX_BINARY = Decimal(_MAX_INT64)
_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")


class QuantityError(ValueError):
    """A string that is not a quantity; ``str()`` is upstream's message."""


class Format(StrEnum):
    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi
    DECIMAL_SI = "DecimalSI"  # 12M


_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {e: s for s, e in _BINARY_SUFFIXES.items()}


def _dec(coefficient: int, exponent: int = 0) -> Decimal:
    """An exact Decimal coefficient * 10**exponent (no context rounding)."""
    return Decimal(f"{coefficient}e{exponent}")


def _parts(value: Decimal) -> tuple[int, int]:
    """(signed integer coefficient, exponent) of a finite Decimal."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits)) or "0")
    return (-coefficient if sign else coefficient), exponent


def _scan(text: str) -> tuple[bool, str, str, str, str]:
    """Split into (positive, numeric text, integer digits, fraction digits, suffix) like upstream's scanner."""
    positive = True
    pos, end = 0, len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    while pos < end and text[pos] == "0":  # leading zeros
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos >= end:
        return positive, text, text[start:] or "0", "", ""
    num = text[start:pos] or "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _parse_int64(text: str) -> int | None:
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not all(c in _DIGITS for c in body):
        return None
    n = int(text)
    return n if -(2**63) <= n <= _MAX_INT64 else None


def _interpret(suffix: str) -> tuple[int, int, Format] | None:
    """(base, exponent, format) for a suffix, or None when it is not one."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        parsed = _parse_int64(suffix[1:])
        if parsed is None:
            return None
        exponent = (parsed + 2**31) % 2**32 - 2**31  # Go's int32() conversion wraps
        return 10, exponent, Format.DECIMAL_EXPONENT
    return None


def _round_up_to_nano(value: Decimal) -> Decimal:
    """Round a positive value up to a multiple of 1e-9."""
    coefficient, exponent = _parts(value)
    if exponent >= -9:
        return value
    shift = -9 - exponent
    if shift >= len(str(coefficient)):
        return _dec(1, -9)  # below one nano-unit: the smallest representable amount
    nanos, rest = divmod(coefficient, 10**shift)
    return _dec(nanos + (1 if rest else 0), -9)


class Quantity:
    """An exact amount plus the suffix family it prints with. Immutable; compares by value."""

    __slots__ = ("_text", "format", "value")

    value: Decimal
    format: Format

    def __init__(self, value: Decimal | int | str, format: Format = Format.DECIMAL_SI, *, _text: str | None = None):
        self.value = value if isinstance(value, Decimal) else Decimal(value)
        self.format = Format(format)
        self._text = _text

    # ---- construction ----

    @classmethod
    def parse(cls, text: str) -> Quantity:
        """resource.ParseQuantity. Raises QuantityError with upstream's message."""
        if not text:
            raise QuantityError(ERR_FORMAT_WRONG)
        if text == "0":
            return cls(Decimal(0), Format.DECIMAL_SI, _text="0")
        positive, value, num, denom, suffix = _scan(text)
        interpreted = _interpret(suffix)
        if interpreted is None:
            raise QuantityError(ERR_SUFFIX)
        base, exponent, fmt = interpreted

        # Fast path: small exact values, which also keep their text when it is already canonical.
        mantissa = 1
        if fmt == Format.BINARY_SI:
            scale = 0
            if exponent >= 0 and not denom:
                mantissa = 1 << exponent
                precision = 15 - len(num) - int(exponent * 3 / 10) - 1
            else:
                precision = -1
        else:
            scale = exponent
            precision = 18 - (len(num) + len(denom))
        if precision >= 0:
            scale -= len(denom)
            if scale >= -9:
                shifted = num + denom
                digits = int(shifted)
                result = digits * mantissa
                if result <= _MAX_INT64:
                    if not positive:
                        result = -result
                    keep = (
                        exponent % 10 == 0 and digits & 0x07 != 0
                        if fmt == Format.BINARY_SI
                        else scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"
                    )
                    return cls(_dec(result, scale), fmt, _text=text if keep else None)

        # Slow path: arbitrary size, rounded up to nano-units, binary capped at 2^63-1.
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise QuantityError(ERR_NUMERIC) from None
        if not amount.is_finite():
            raise QuantityError(ERR_NUMERIC)
        coefficient, exp = _parts(amount)
        amount = _dec(coefficient, exp + exponent) if base == 10 else _dec(coefficient << exponent, exp)
        negative = amount < 0
        amount = amount.copy_abs()
        if amount != 0:
            amount = _round_up_to_nano(amount)
        if fmt == Format.BINARY_SI and amount > _MAX_BINARY:
            amount = _MAX_BINARY
        if fmt == Format.BINARY_SI and 0 < amount < 1:
            fmt = Format.DECIMAL_SI
        return cls(amount.copy_negate() if negative else amount, fmt)

    @classmethod
    def from_json(cls, raw: Any) -> Quantity:
        """Quantity.UnmarshalJSON for a decoded JSON value: null -> 0, numbers and (trimmed) strings parsed."""
        if raw is None:
            return cls(Decimal(0), Format.DECIMAL_SI)
        if isinstance(raw, bool):
            raise QuantityError(ERR_FORMAT_WRONG)
        if isinstance(raw, int | float):
            return cls.parse(repr(raw))
        if isinstance(raw, str):
            return cls.parse(raw.strip())
        raise QuantityError(ERR_FORMAT_WRONG)

    # ---- reading ----

    def __str__(self) -> str:
        if self._text is None:
            self._text = format_quantity(self.value, self.format)
        return self._text

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r}, {self.format.value})"

    def is_zero(self) -> bool:
        return self.value == 0

    def sign(self) -> int:
        return (self.value > 0) - (self.value < 0)

    def scaled_value(self, scale: int) -> int:
        """ceil(|q| / 10^scale) with q's sign (ScaledValue: rounds away from zero)."""
        coefficient, exponent = _parts(self.value)
        shift = exponent - scale
        if shift >= 0:
            return coefficient * 10**shift
        q, r = divmod(abs(coefficient), 10**-shift)
        q += 1 if r else 0
        return -q if coefficient < 0 else q

    def int_value(self) -> int:
        """Value(): the amount rounded up (away from zero) to a whole number."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """MilliValue(): the amount in thousandths, rounded up (away from zero)."""
        return self.scaled_value(-3)

    def as_float(self) -> float:
        return float(self.value)

    # ---- comparing and arithmetic ----

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __le__(self, other: Quantity) -> bool:
        return self.value <= other.value

    def __gt__(self, other: Quantity) -> bool:
        return self.value > other.value

    def __ge__(self, other: Quantity) -> bool:
        return self.value >= other.value

    def cmp(self, other: Quantity) -> int:
        """-1, 0 or 1, like upstream's Cmp."""
        return (self.value > other.value) - (self.value < other.value)

    def __add__(self, other: Quantity) -> Quantity:
        """Add: the result keeps this quantity's format, or takes the other's when this one is zero."""
        with localcontext() as ctx:
            ctx.prec = 200
            total = self.value + other.value
        return Quantity(total, other.format if self.is_zero() else self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        with localcontext() as ctx:
            ctx.prec = 200
            total = self.value - other.value
        return Quantity(total, other.format if self.is_zero() else self.format)

    def __neg__(self) -> Quantity:
        return Quantity(self.value.copy_negate(), self.format)


def format_quantity(value: Decimal | int, fmt: Format = Format.DECIMAL_SI) -> str:
    """The canonical text of ``value`` in ``fmt`` (Quantity.String for a freshly built quantity).

    Binary SI falls back to decimal SI for magnitudes under 1024 or fractional values. Like upstream,
    a decimal-SI exponent beyond the suffix table (above ``E``) prints without a suffix.
    """
    amount = value if isinstance(value, Decimal) else Decimal(value)
    if amount == 0:
        return "0"
    coefficient, exponent = _parts(amount)
    # Move factors of ten into the exponent.
    text = str(abs(coefficient))
    stripped = text.rstrip("0")
    exponent += len(text) - len(stripped)
    number = int(stripped)
    negative = coefficient < 0
    if fmt == Format.BINARY_SI:
        if -1024 < amount < 1024 or exponent < 0:
            fmt = Format.DECIMAL_SI
        else:
            whole, times = number * 10**exponent, 0
            while whole >= 1024 and whole % 1024 == 0:
                whole //= 1024
                times += 1
            return f"{'-' if negative else ''}{whole}{_BINARY_BY_EXPONENT.get(times * 10, '')}"
    elif fmt != Format.DECIMAL_SI:
        fmt = Format.DECIMAL_EXPONENT
    # Lower the exponent to a multiple of three.
    down = exponent % 3
    number *= 10**down
    exponent -= down
    if negative:
        number = -number
    if fmt == Format.DECIMAL_SI:
        return f"{number}{_DECIMAL_BY_EXPONENT.get(exponent, '')}"
    return f"{number}e{exponent}" if exponent else str(number)


def parse_quantity(text: str) -> Decimal:
    """The exact value of a quantity string (``"500m"`` -> ``Decimal("0.5")``); QuantityError if bad."""
    return Quantity.parse(text).value


def canonicalize(text: str) -> str:
    """The canonical text of a quantity string, as the apiserver stores and returns it."""
    return str(Quantity.parse(text))


def compare_quantities(a: str, b: str) -> int:
    """-1, 0 or 1 comparing two quantity strings by value."""
    return Quantity.parse(a).cmp(Quantity.parse(b))
