"""Name and label format checks with apimachinery's exact error strings.

Every checker returns a list of messages, empty when the value is valid, worded exactly as
k8s.io/apimachinery ``pkg/util/validation`` (and ``pkg/api/validate/content``) words them, regex
text included, because kubectl users and tests read these strings. Callers turn the messages into
field errors (``field: Invalid value: "x": <message>``) themselves.

Lengths are counted in UTF-8 bytes, as Go counts them, and every pattern must match the whole string.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_KEY_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)

_DNS1123_LABEL_RE = re.compile(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(DNS1035_LABEL_FMT)
_LABEL_KEY_RE = re.compile(LABEL_KEY_FMT)
_LABEL_VALUE_RE = re.compile(LABEL_VALUE_FMT)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def empty_error() -> str:
    return "must be non-empty"


def regex_error(msg: str, regex: str, *examples: str) -> str:
    """The regex explanation upstream appends (its double spaces between examples included)."""
    if not examples:
        return f"{msg} (regex used for validation is '{regex}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{regex}')"


def _byte_len(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


# The same label keys, label values and names are checked over and over (every pod of a Deployment carries
# the same ones), so each checker remembers, in a bounded set, the values it found valid: their answer is [].
_MAX_REMEMBERED = 4096


def _remember(valid: set[str], value: str) -> None:
    if len(valid) >= _MAX_REMEMBERED:
        valid.clear()
    valid.add(value)


_VALID_DNS1123_LABELS: set[str] = set()
_VALID_DNS1123_SUBDOMAINS: set[str] = set()
_VALID_DNS1035_LABELS: set[str] = set()
_VALID_QUALIFIED_NAMES: set[str] = set()
_VALID_LABEL_VALUES: set[str] = set()


def _length_and_format(value: str, max_length: int, pattern: re.Pattern[str], fmt: str, msg: str,
                       *examples: str) -> list[str]:
    """The byte-length limit and the whole-string pattern that most of these checks consist of."""
    errs: list[str] = []
    if _byte_len(value) > max_length:
        errs.append(max_len_error(max_length))
    if not pattern.fullmatch(value):
        errs.append(regex_error(msg, fmt, *examples))
    return errs


def is_dns1123_label(value: str) -> list[str]:
    """RFC 1123 label: lower-case alphanumerics and '-', at most 63 bytes."""
    if value.__class__ is str and value in _VALID_DNS1123_LABELS:
        return []
    errs: list[str] = []
    if _byte_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # A valid subdomain that is not a valid label can only be failing on its dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    if not errs:
        _remember(_VALID_DNS1123_LABELS, value)
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain: dot-separated labels, at most 253 bytes (object names, most resources)."""
    if value.__class__ is str and value in _VALID_DNS1123_SUBDOMAINS:
        return []
    errs = _length_and_format(value, DNS1123_SUBDOMAIN_MAX_LENGTH, _DNS1123_SUBDOMAIN_RE, DNS1123_SUBDOMAIN_FMT,
                              _DNS1123_SUBDOMAIN_MSG, "example.com")
    if not errs:
        _remember(_VALID_DNS1123_SUBDOMAINS, value)
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """RFC 1035 label: like an RFC 1123 label but starting with a letter (Service names)."""
    if value.__class__ is str and value in _VALID_DNS1035_LABELS:
        return []
    errs = _length_and_format(value, DNS1035_LABEL_MAX_LENGTH, _DNS1035_LABEL_RE, DNS1035_LABEL_FMT,
                              _DNS1035_LABEL_MSG, "my-name", "abc-123")
    if not errs:
        _remember(_VALID_DNS1035_LABELS, value)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 bytes."""
    if value.__class__ is str and value in _VALID_QUALIFIED_NAMES:
        return []
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _byte_len(name) > LABEL_KEY_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(LABEL_KEY_NAME_MAX_LENGTH))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    if not errs:
        _remember(_VALID_QUALIFIED_NAMES, value)
    return errs


# Upstream now calls the qualified-name check IsLabelKey; both names mean the same function.
is_label_key = is_qualified_name


def is_valid_label_value(value: str) -> list[str]:
    """A label value: empty, or at most 63 bytes of alphanumerics, '-', '_' and '.', alphanumeric at both ends."""
    if value.__class__ is str and value in _VALID_LABEL_VALUES:
        return []
    errs = _length_and_format(value, LABEL_VALUE_MAX_LENGTH, _LABEL_VALUE_RE, LABEL_VALUE_FMT, _LABEL_VALUE_MSG,
                              "MyValue", "my_value", "12345")
    if not errs:
        _remember(_VALID_LABEL_VALUES, value)
    return errs
