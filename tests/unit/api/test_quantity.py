"""resource.Quantity: parsing, canonical printing, comparison and errors, from upstream's tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pyk8s.api.quantity import (
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Format,
    Quantity,
    QuantityError,
    canonicalize,
    compare_quantities,
    format_quantity,
    parse_quantity,
)

B, D, X = Format.BINARY_SI, Format.DECIMAL_SI, Format.DECIMAL_EXPONENT
KI, MI, GI = 1024, 1024**2, 1024**3


def dec(coefficient: int, exponent: int) -> Decimal:
    return Decimal(f"{coefficient}e{exponent}")


# upstream TestQuantityParse: input -> (exact value, format)
@pytest.mark.parametrize(("text", "value", "fmt"), [
    ("0", dec(0, 0), D), ("0n", dec(0, 0), D), ("0u", dec(0, 0), D), ("0m", dec(0, 0), D),
    ("0Ki", dec(0, 0), B), ("0k", dec(0, 0), D), ("0Mi", dec(0, 0), B), ("0Gi", dec(0, 0), B),
    ("1", dec(1, 0), D),
    ("1Ki", dec(KI, 0), B), ("8Ki", dec(8 * KI, 0), B), ("7Mi", dec(7 * MI, 0), B), ("6Gi", dec(6 * GI, 0), B),
    ("5Ti", dec(5 * 1024**4, 0), B), ("4Pi", dec(4 * 1024**5, 0), B), ("3Ei", dec(3 * 1024**6, 0), B),
    ("5n", dec(5, -9), D), ("4u", dec(4, -6), D), ("3m", dec(3, -3), D), ("8k", dec(8, 3), D),
    ("50k", dec(5, 4), D), ("7M", dec(7, 6), D), ("6G", dec(6, 9), D), ("5T", dec(5, 12), D),
    ("2P", dec(2, 15), D), ("1E", dec(1, 18), D),
    ("1E-3", dec(1, -3), X), ("1e3", dec(1, 3), X), ("1E6", dec(1, 6), X), ("1E18", dec(1, 18), X),
    ("100.035k", dec(100035, 0), D),
    ("0.001", dec(1, -3), D), ("0.0005k", dec(5, -1), D), ("0.5e-2", dec(5, -3), X),
    ("1.3E+6", dec(13, 5), X), ("1.7E18", dec(17, 17), X), ("6.987654321G", dec(6987654321, 0), D),
    ("1.01E", dec(101, 16), D),
    # rounding up to the nano and saturation
    ("3.001n", dec(4, -9), D), ("1.1E-9", dec(2, -9), X), ("0.0000000001", dec(1, -9), D),
    ("0.00000012345", dec(124, -9), D), ("0.00000012354", dec(124, -9), D),
    ("9Ei", dec(2**63 - 1, 0), B), ("9223372036854775807Ki", dec(2**63 - 1, 0), B), ("12E", dec(12, 18), D),
    # fractional binary
    ("100.035Ki", dec(10243584, -2), B), ("0.5Mi", dec(MI // 2, 0), B), ("0.05Gi", dec(536870912, -1), B),
    ("0.000000000001Ki", dec(2, -9), D),  # rounds up and changes format
    (".001", dec(1, -3), D), (".0001k", dec(100, -3), D), ("1.", dec(1, 0), D), ("1.G", dec(1, 9), D),
    ("-1.5", dec(-15, -1), D), ("-9Ei", dec(-(2**63 - 1), 0), B), ("-0.0000000001", dec(-1, -9), D),
])
def test_parse_value_and_format(text: str, value: Decimal, fmt: Format) -> None:
    q = Quantity.parse(text)
    assert q.value == value
    assert q.format == fmt
    assert parse_quantity(text) == value


# canonical output, including upstream's "keep the input when it is already canonical" shortcut
@pytest.mark.parametrize(("text", "canonical"), [
    ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"),
    (".001Ki", "1024m"), (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
    ("-1024Mi", "-1Gi"), ("-.001Ki", "-1024m"),
    ("1.5", "1500m"), ("1.5Gi", "1536Mi"), ("500m", "500m"), ("0.5", "500m"), ("1000m", "1"),
    ("100m", "100m"), ("1536Mi", "1536Mi"), ("2048Ki", "2Mi"), ("1025Ki", "1025Ki"), ("0.1m", "100u"),
    ("1e3", "1e3"), ("1e14", "100e12"), ("1.2e3", "1200"), ("0.5e0", "500e-3"), ("1E6", "1E6"),
    ("12E", "12E"), ("9Ei", "9223372036854775807"), ("3.001n", "4n"), ("0", "0"), ("-0", "0"), ("0Ki", "0"),
    ("+1", "+1"), ("01", "01"), ("1.", "1."), ("100.035k", "100.035k"), ("100.035Ki", "102435840m"),
    ("1000E", "1"),  # upstream prints exponents beyond its suffix table without a suffix
])
def test_canonical(text: str, canonical: str) -> None:
    assert canonicalize(text) == canonical
    assert str(Quantity.parse(text)) == canonical


# upstream TestQuantityString: quantity built from (value, format) -> canonical text
@pytest.mark.parametrize(("value", "fmt", "text"), [
    (dec(GI, 0), B, "1Gi"), (dec(300 * MI, 0), B, "300Mi"), (dec(6 * KI, 0), B, "6Ki"),
    (dec(1001 * GI, 0), B, "1001Gi"), (dec(1024**4, 0), B, "1Ti"), (dec(5, 0), B, "5"), (dec(500, -3), B, "500m"),
    (dec(1, 9), D, "1G"), (dec(1000, 6), D, "1G"), (dec(1000000, 3), D, "1G"), (dec(1000000000, 0), D, "1G"),
    (dec(1, -3), D, "1m"), (dec(80, -3), D, "80m"), (dec(1080, -3), D, "1080m"), (dec(108, -2), D, "1080m"),
    (dec(10800, -4), D, "1080m"), (dec(300, 6), D, "300M"), (dec(1, 12), D, "1T"), (dec(1234567, 6), D, "1234567M"),
    (dec(1234567, -3), B, "1234567m"), (dec(3, 3), D, "3k"), (dec(1025, 0), B, "1025"), (dec(0, 0), D, "0"),
    (dec(0, 0), B, "0"), (dec(1, 9), X, "1e9"), (dec(1, -3), X, "1e-3"), (dec(1, -9), X, "1e-9"),
    (dec(80, -3), X, "80e-3"), (dec(300, 6), X, "300e6"), (dec(1, 12), X, "1e12"), (dec(3, 3), X, "3e3"),
    (dec(0, 0), X, "0"), (dec(1, -9), D, "1n"), (dec(80, -9), D, "80n"), (dec(1080, -9), D, "1080n"),
    (dec(108, -8), D, "1080n"), (dec(10800, -10), D, "1080n"), (dec(1, -6), D, "1u"), (dec(80, -6), D, "80u"),
    (dec(1080, -6), D, "1080u"), (dec(-1536, 0), B, "-1536"), (dec(-2048, 0), B, "-2Ki"),
])
def test_format_quantity(value: Decimal, fmt: Format, text: str) -> None:
    assert format_quantity(value, fmt) == text
    assert str(Quantity(value, fmt)) == text
    assert Quantity.parse(text).value == value  # the canonical text parses back to the same amount


@pytest.mark.parametrize(("text", "message"), [
    ("", ERR_FORMAT_WRONG), ("abc", ERR_FORMAT_WRONG), ("1x", ERR_FORMAT_WRONG), ("1.5.5", ERR_FORMAT_WRONG),
    ("1 Gi", ERR_FORMAT_WRONG), ("1Gb", ERR_FORMAT_WRONG), ("1e3.5", ERR_FORMAT_WRONG), (" 1", ERR_FORMAT_WRONG),
    ("1GG", ERR_SUFFIX), ("1e", ERR_SUFFIX), ("1ki", ERR_SUFFIX), ("1i", ERR_SUFFIX), ("--1", ERR_SUFFIX),
    ("1e99999999999999999999", ERR_SUFFIX),
    (".e-20", ERR_NUMERIC),
])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as exc:
        Quantity.parse(text)
    assert str(exc.value) == message


def test_error_message_text() -> None:
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(("a", "b", "want"), [
    ("1Gi", "1024Mi", 0), ("1", "1000m", 0), ("1k", "1000", 0), ("1e3", "1k", 0),
    ("500m", "1", -1), ("1Gi", "1G", 1), ("-1", "0", -1), ("100Mi", "0.1Gi", -1), ("1n", "0", 1),
])
def test_compare(a: str, b: str, want: int) -> None:
    assert compare_quantities(a, b) == want
    assert (Quantity.parse(a) == Quantity.parse(b)) is (want == 0)
    assert (Quantity.parse(a) < Quantity.parse(b)) is (want < 0)


def test_arithmetic_and_scaled_values() -> None:
    total = Quantity.parse("0") + Quantity.parse("1Gi")
    assert total.format == B  # a zero receiver takes the other's format
    assert str(total + Quantity.parse("512Mi")) == "1536Mi"
    assert str(Quantity.parse("1") - Quantity.parse("250m")) == "750m"
    assert str(-Quantity.parse("1.5")) == "-1500m"
    assert Quantity.parse("1.2").int_value() == 2  # rounds up
    assert Quantity.parse("-1.2").int_value() == -2  # away from zero
    assert Quantity.parse("1.5").milli_value() == 1500
    assert Quantity.parse("1n").milli_value() == 1
    assert Quantity.parse("2Gi").int_value() == 2 * GI
    assert Quantity.parse("250m").scaled_value(-6) == 250000


@pytest.mark.parametrize(("raw", "text"), [
    (None, "0"), (1, "1"), (0.5, "500m"), ("  2Gi ", "2Gi"), (1e-07, "100e-9"), (1024, "1024"),
])
def test_from_json(raw: object, text: str) -> None:
    assert str(Quantity.from_json(raw)) == text


def test_from_json_rejects_other_types() -> None:
    with pytest.raises(QuantityError):
        Quantity.from_json(True)
    with pytest.raises(QuantityError):
        Quantity.from_json({"a": 1})


def test_huge_exponent_stays_cheap() -> None:
    q = Quantity.parse("1e2000000000")
    assert q > Quantity.parse("9Ei")
    assert str(q) == "100e1999999998"
