"""Name and label format checks return apimachinery's exact messages."""

from __future__ import annotations

import pytest

from pyk8s.api.validation_names import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)

DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(("value", "expected"), [
    ("a", []),
    ("my-name", []),
    ("123-abc", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 bytes"]),
    ("a.b", ["must not contain dots"]),
    ("A", [DNS1123_LABEL_MSG]),
    ("-a", [DNS1123_LABEL_MSG]),
    ("a-", [DNS1123_LABEL_MSG]),
    ("", [DNS1123_LABEL_MSG]),
    ("a_b", [DNS1123_LABEL_MSG]),
    ("a\n", [DNS1123_LABEL_MSG]),
    ("-" + "a" * 63, ["must be no more than 63 bytes", DNS1123_LABEL_MSG]),
])
def test_dns1123_label(value: str, expected: list[str]) -> None:
    assert is_dns1123_label(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("example.com", []),
    ("a", []),
    ("kube-system", []),
    ("a." * 126 + "a", []),  # 253 bytes
    ("a" * 254, ["must be no more than 253 bytes"]),
    ("A" * 254, ["must be no more than 253 bytes", DNS1123_SUBDOMAIN_MSG]),
    ("Example.com", [DNS1123_SUBDOMAIN_MSG]),
    ("a..b", [DNS1123_SUBDOMAIN_MSG]),
    (".a", [DNS1123_SUBDOMAIN_MSG]),
    ("", [DNS1123_SUBDOMAIN_MSG]),
    ("my_name", [DNS1123_SUBDOMAIN_MSG]),
])
def test_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert is_dns1123_subdomain(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("my-name", []),
    ("abc-123", []),
    ("1abc", [DNS1035_MSG]),
    ("a.b", [DNS1035_MSG]),
    ("a" * 64, ["must be no more than 63 bytes"]),
])
def test_dns1035_label(value: str, expected: list[str]) -> None:
    assert is_dns1035_label(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("app", []),
    ("MyName", []),
    ("my.name", []),
    ("123-abc", []),
    ("app.kubernetes.io/name", []),
    ("a_b", []),
    ("", ["name part must be non-empty", NAME_PART_MSG]),
    ("-a", [NAME_PART_MSG]),
    ("a" * 64, ["name part must be no more than 63 bytes"]),
    ("/a", ["prefix part must be non-empty"]),
    ("a/", ["name part must be non-empty", NAME_PART_MSG]),
    ("Example.com/a", ["prefix part " + DNS1123_SUBDOMAIN_MSG]),
    ("a/b/c", [
        "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
        "(e.g. 'example.com/MyName')"
    ]),
])
def test_qualified_name(value: str, expected: list[str]) -> None:
    assert is_qualified_name(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("", []),
    ("v1", []),
    ("MyValue", []),
    ("my_value", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 bytes"]),
    ("-a", [LABEL_VALUE_MSG]),
    ("a b", [LABEL_VALUE_MSG]),
    ("é", [LABEL_VALUE_MSG]),
    ("é" * 32, ["must be no more than 63 bytes", LABEL_VALUE_MSG]),  # 64 bytes, as Go counts
])
def test_label_value(value: str, expected: list[str]) -> None:
    assert is_valid_label_value(value) == expected
