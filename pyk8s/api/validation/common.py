"""Shared building blocks for the per-group validators.

String-format checks that are not names (ports, env vars, config keys, IPs, percentages), label and
selector checks, quantity parsing for comparisons, and the "semantic" equality upstream uses for
immutability checks. Messages are upstream's (k8s.io/apimachinery/pkg/util/validation).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, Final

from pyk8s.api import field_errors as fe
from pyk8s.api import quantity
from pyk8s.api.field_errors import FieldError, Path
from pyk8s.api.validation_names import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    regex_error,
)

Obj = dict[str, Any]
Errs = list[FieldError]
NameFn = Callable[[str, bool], list[str]]

IS_NEGATIVE_MSG: Final = "must be greater than or equal to 0"
IMMUTABLE_MSG: Final = "field is immutable"
NOT_POSITIVE_MSG: Final = "must be greater than zero"
MAX_INT32: Final = 2**31 - 1
PROTOCOLS: Final = ["SCTP", "TCP", "UDP"]


# ---------------------------------------------------------------- small accessors


def get(obj: Any, *keys: str | int) -> Any:
    """Walk dict keys / list indexes; None when anything on the way is missing or of the wrong type."""
    cur = obj
    for k in keys:
        if isinstance(k, int):
            if not isinstance(cur, list) or k >= len(cur):
                return None
            cur = cur[k]
        else:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(k)
    return cur


def dct(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def lst(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def i(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


# ---------------------------------------------------------------- message helpers (upstream wording)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def range_error(lo: int, hi: int) -> str:
    """``must be between lo and hi, inclusive`` (validation.InclusiveRangeError)."""
    return f"must be between {lo} and {hi}, inclusive"


def required_enum(value: str, allowed: list[str] | tuple[str, ...], path: Path, required_detail: str = "") -> Errs:
    """A required string enum: ``Required value`` when empty, ``Unsupported value`` when not in ``allowed``."""
    if not value:
        return [fe.required(path, required_detail)]
    if value not in allowed:
        return [fe.not_supported(path, value, allowed)]
    return []


# ---------------------------------------------------------------- names


def _mask_trailing_dash(name: str) -> str:
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def is_path_segment_name(name: str) -> list[str]:
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def path_segment_name(name: str, prefix: bool) -> list[str]:
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name] if prefix else is_path_segment_name(name)


def no_name_check(name: str, prefix: bool) -> list[str]:
    return []


def dns1123_label(value: str, path: Path) -> Errs:
    return [fe.invalid(path, value, m) for m in is_dns1123_label(value)]


def dns1123_subdomain(value: str, path: Path) -> Errs:
    return [fe.invalid(path, value, m) for m in is_dns1123_subdomain(value)]


def qualified_name(value: str, path: Path) -> Errs:
    return [fe.invalid(path, value, m) for m in is_qualified_name(value)]


# ---------------------------------------------------------------- other string formats


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [range_error(1, 65535)]


def port_number(port: int, path: Path) -> Errs:
    return [fe.invalid(path, port, m) for m in is_valid_port_num(port)]


_PORT_NAME_CHARSET = re.compile(r"^[-a-z0-9]+$")
_ONE_LETTER = re.compile(r"[a-z]")


_VALID_PORT_NAMES: set[str] = set()


def is_valid_port_name(port: str) -> list[str]:
    if port.__class__ is str and port in _VALID_PORT_NAMES:
        return []
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _ONE_LETTER.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    if not errs:
        if len(_VALID_PORT_NAMES) >= 4096:
            _VALID_PORT_NAMES.clear()
        _VALID_PORT_NAMES.add(port)
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


_ENV_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_RE = re.compile(f"^{_ENV_FMT}$")


def is_env_var_name(value: str) -> list[str]:
    errs = []
    if not _ENV_RE.match(value):
        errs.append(
            regex_error(
                "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
                "and must not start with a digit",
                _ENV_FMT,
                "my.env-name",
                "MY_ENV.NAME",
                "MyEnvName1",
            )
        )
    return errs + _chdir_prefix(value)


def is_relaxed_env_var_name(value: str) -> list[str]:
    """Env var names as the (1.32+ default-on) RelaxedEnvironmentVariableValidation gate accepts them."""
    errs = []
    if not value:
        errs.append("environment variable name must be non-empty")
    if not (value.isascii() and value.isprintable() and "=" not in value):
        errs.append("a valid environment variable name must consist only of printable ASCII characters other than '='")
    return errs


_CM_KEY_FMT = "[-._a-zA-Z0-9]+"
_CM_KEY_RE = re.compile(f"^{_CM_KEY_FMT}$")


_VALID_CONFIG_MAP_KEYS: set[str] = set()


def is_config_map_key(value: str) -> list[str]:
    if value.__class__ is str and value in _VALID_CONFIG_MAP_KEYS:
        return []
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _CM_KEY_RE.match(value):
        errs.append(
            regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CM_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    errs += _chdir_prefix(value)
    if not errs:
        if len(_VALID_CONFIG_MAP_KEYS) >= 4096:
            _VALID_CONFIG_MAP_KEYS.clear()
        _VALID_CONFIG_MAP_KEYS.add(value)
    return errs


_PERCENT_FMT = "[0-9]+%"
_PERCENT_RE = re.compile(f"^{_PERCENT_FMT}$")


def is_valid_percent(value: str) -> list[str]:
    if _PERCENT_RE.match(value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'", _PERCENT_FMT, "1%", "93%"
        )
    ]


_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER_RE = re.compile(f"^{_HEADER_FMT}$")


def is_http_header_name(value: str) -> list[str]:
    if _HEADER_RE.match(value):
        return []
    return [
        regex_error("a valid HTTP header must consist of alphanumeric characters or '-'", _HEADER_FMT, "X-Header-Name")
    ]


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_valid_ip(path: Path, value: str) -> Errs:
    if parse_ip(value) is None:
        return [fe.invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def is_valid_cidr(path: Path, value: str) -> Errs:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [fe.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def non_special_ip(value: str, path: Path) -> Errs:
    ip = parse_ip(value)
    if ip is None:
        return [fe.invalid(path, value, "must be a valid IP address")]
    errs = []
    if ip.is_unspecified:
        errs.append(fe.invalid(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(fe.invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(fe.invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    link_local_mc = (ip.version == 4 and ip in ipaddress.ip_network("224.0.0.0/24")) or (
        ip.version == 6 and ip in ipaddress.ip_network("ff02::/16")
    )
    if link_local_mc:
        errs.append(fe.invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


# ---------------------------------------------------------------- numbers, immutability


def nonnegative(value: Any, path: Path) -> Errs:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [fe.invalid(path, value, IS_NEGATIVE_MSG)]
    return []


def _normalize(v: Any) -> Any:
    """Drop zero values so that absent, null and empty compare equal (Go's semantic DeepEqual)."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            n = _normalize(x)
            if not (n is None or (not isinstance(n, bool) and n in ("", 0, [], {})) or n is False):
                out[k] = n
        return out
    if isinstance(v, list):
        return [_normalize(x) for x in v]
    return v


def semantic_equal(a: Any, b: Any) -> bool:
    # Values equal as they are stay equal once zero values are dropped: skip normalizing them.
    if a == b:
        return True
    return bool(_normalize({"v": a}) == _normalize({"v": b}))


def immutable(new: Any, old: Any, path: Path) -> Errs:
    if semantic_equal(new, old):
        return []
    return [fe.invalid(path, new, IMMUTABLE_MSG)]


# ---------------------------------------------------------------- labels, annotations, selectors


def label_name(key: str, path: Path) -> Errs:
    return [fe.invalid(path, key, m) for m in is_qualified_name(key)]


def label_map(value: Any, path: Path) -> Errs:
    if not isinstance(value, dict):
        return []
    errs: Errs = []
    for k, v in value.items():
        key = str(k)
        msgs = is_qualified_name(key)
        if msgs:
            errs += [fe.invalid(path, key, m) for m in msgs]
        text = v if isinstance(v, str) else ""
        msgs = is_valid_label_value(text)
        if msgs:
            errs += [fe.invalid(path, text, m) for m in msgs]
    return errs


TOTAL_ANNOTATION_SIZE_LIMIT: Final = 256 * 1024


def annotation_map(value: Any, path: Path) -> Errs:
    ann = dct(value)
    errs: Errs = []
    total = 0
    for k, v in ann.items():
        msgs = is_qualified_name(str(k).lower())
        if msgs:
            errs += [fe.invalid(path, k, m) for m in msgs]
        total += len(str(k).encode()) + len(s(v).encode())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(fe.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


_SELECTOR_OPS: Final = ("In", "NotIn", "Exists", "DoesNotExist")


def selector_requirement(req: Any, path: Path, allow_invalid_values: bool, numeric_ops: bool = False) -> Errs:
    """One ``matchExpressions`` entry (ValidateLabelSelectorRequirement); ``numeric_ops`` also admits the
    ``Gt``/``Lt`` operators of node selectors (validateNodeSelectorRequirement)."""
    op, values = s(get(req, "operator")), lst(get(req, "values"))
    vp = path.child("values")
    errs: Errs = []
    if op in ("In", "NotIn"):
        if not values:
            errs.append(fe.required(vp, "must be specified when `operator` is 'In' or 'NotIn'"))
    elif op in ("Exists", "DoesNotExist"):
        if values:
            errs.append(fe.forbidden(vp, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif numeric_ops and op in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(fe.required(vp, "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(fe.invalid(path.child("operator"), op, "not a valid selector operator"))
    errs += label_name(s(get(req, "key")), path.child("key"))
    if not allow_invalid_values:
        for n, v in enumerate(values):
            errs += [fe.invalid(vp.index(n), s(v), m) for m in is_valid_label_value(s(v))]
    return errs


def label_selector(sel: Any, path: Path, allow_invalid_values: bool = False) -> Errs:
    """metav1 LabelSelector validation (ValidateLabelSelector)."""
    if not isinstance(sel, dict):
        return []
    errs = label_map(sel.get("matchLabels"), path.child("matchLabels")) if sel.get("matchLabels") else []
    for n, req in enumerate(lst(sel.get("matchExpressions"))):
        errs += selector_requirement(req, path.child("matchExpressions").index(n), allow_invalid_values)
    return errs


def selector_is_valid(sel: Any) -> bool:
    """Whether LabelSelectorAsSelector would succeed (operators known, values consistent)."""
    if sel is None:
        return True
    if not isinstance(sel, dict):
        return False
    for req in lst(sel.get("matchExpressions")):
        op, values = s(get(req, "operator")), lst(get(req, "values"))
        if (
            op not in _SELECTOR_OPS
            or (op in ("In", "NotIn") and not values)
            or (op in ("Exists", "DoesNotExist") and values)
        ):
            return False
    return True


def selector_is_empty(sel: Any) -> bool:
    """labels.Selector.Empty(): a nil selector selects nothing (not empty); {} selects everything (empty)."""
    if sel is None:
        return False
    return not dct(sel).get("matchLabels") and not dct(sel).get("matchExpressions")


def selector_matches(sel: Any, lbls: Any) -> bool:
    """Does a metav1 LabelSelector (None meaning "nothing") match a label map?"""
    if sel is None:
        return False
    have = dct(lbls)
    for k, v in dct(dct(sel).get("matchLabels")).items():
        if have.get(k) != v:
            return False
    for req in lst(dct(sel).get("matchExpressions")):
        key, op, values = s(get(req, "key")), s(get(req, "operator")), lst(get(req, "values"))
        if op == "In" and have.get(key) not in values:
            return False
        if op == "NotIn" and key in have and have[key] in values:
            return False
        if op == "Exists" and key not in have:
            return False
        if op == "DoesNotExist" and key in have:
            return False
    return True


# ---------------------------------------------------------------- quantities and int-or-string


def parse_quantity(value: Any) -> Decimal | None:
    """A resource.Quantity as an exact number, or None when it does not parse."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return _parse_quantity_text(str(value))


@functools.lru_cache(maxsize=4096)
def _parse_quantity_text(text: str) -> Decimal | None:
    # Cached: a cluster uses few distinct amounts ("100m", "256Mi"), each parsed many times; Decimals are immutable.
    try:
        return quantity.parse_quantity(text)
    except quantity.QuantityError:
        return None


def quantity_text(value: Any) -> str:
    """How upstream prints a quantity in messages (its canonical String() form)."""
    try:
        return quantity.canonicalize(str(value))
    except quantity.QuantityError:
        return str(value)


def int_or_percent(value: Any) -> int:
    """getIntOrPercentValue: the number in "25%", the int itself, 0 otherwise."""
    if isinstance(value, str):
        if _PERCENT_RE.match(value):
            return int(value[:-1])
        return 0
    return i(value)


def positive_int_or_percent(value: Any, path: Path) -> Errs:
    if isinstance(value, str):
        return [fe.invalid(path, value, m) for m in is_valid_percent(value)]
    if isinstance(value, int) and not isinstance(value, bool):
        return nonnegative(value, path)
    return [fe.invalid(path, value, "must be an integer or percentage (e.g '5%%')")]


def not_more_than_100_percent(value: Any, path: Path) -> Errs:
    if isinstance(value, str) and _PERCENT_RE.match(value) and int(value[:-1]) > 100:
        return [fe.invalid(path, value, "must not be greater than 100%")]
    return []


def port_num_or_name_ok(value: Any) -> bool:
    """Whether ``port_num_or_name`` finds nothing wrong with `value` (without building its path)."""
    if isinstance(value, str):
        return not is_valid_port_name(value)
    return 1 <= i(value) <= 65535


def port_num_or_name(value: Any, path: Path) -> Errs:
    if isinstance(value, str):
        return [fe.invalid(path, value, m) for m in is_valid_port_name(value)]
    return port_number(i(value), path)


def each(items: Iterable[Any]) -> Iterable[tuple[int, Obj]]:
    """Enumerate list entries, treating non-objects as empty objects."""
    if not items:
        return ()
    return [(n, item if isinstance(item, dict) else {}) for n, item in enumerate(items)]
