"""Small accessors and helpers over ObjectMeta in plain-dict objects."""

from __future__ import annotations

import datetime
import random
import secrets
import uuid
from typing import Any

import orjson

Obj = dict[str, Any]

_GENERATE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # upstream's utilrand alphabet (no vowels, no confusables)
GENERATE_SUFFIX_LEN = 5
MAX_GENERATED_NAME_LEN = 63 - GENERATE_SUFFIX_LEN


def copy(obj: Any) -> Any:
    """A deep copy of a JSON value (orjson round trip: ~10x faster than deepcopy)."""
    return orjson.loads(orjson.dumps(obj))


def meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = {}
        obj["metadata"] = m
    return m


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def namespace_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def labels_of(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


# UIDs and generated names need uniqueness, not secrecy: one generator seeded from the OS is enough, and it
# avoids a getrandom() system call per object (measured at ~150 µs each on our VMs).
_random = random.Random(secrets.randbits(256))


def new_uid() -> str:
    """A random (version 4) UUID."""
    return str(uuid.UUID(int=_random.getrandbits(128), version=4))


def generate_name(base: str) -> str:
    """``base`` + 5 random characters, as upstream's SimpleNameGenerator does (base cut to 58)."""
    if len(base) > MAX_GENERATED_NAME_LEN:
        base = base[:MAX_GENERATED_NAME_LEN]
    return base + "".join(_random.choice(_GENERATE_CHARS) for _ in range(GENERATE_SUFFIX_LEN))


def now_rfc3339(now: datetime.datetime | None = None) -> str:
    """RFC 3339 at second precision, UTC, as metav1.Time serialises."""
    t = now or datetime.datetime.now(datetime.UTC)
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro(now: datetime.datetime | None = None) -> str:
    """RFC 3339 with microseconds, as metav1.MicroTime serialises."""
    t = now or datetime.datetime.now(datetime.UTC)
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_empty(value: Any) -> bool:
    """Unset in the sense kubectl bodies use: None, {} or missing."""
    return value is None or value == {} or value == []
