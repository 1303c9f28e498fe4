"""Human-readable ages and durations, as apimachinery's ``util/duration`` renders them.

Every Age, Last Seen, Duration and "N (5m ago)" cell of a server-side Table goes through
``human_duration``; getting its boundaries exactly right is what makes our ``kubectl get`` output
indistinguishable from a real cluster's.
"""

from __future__ import annotations

import datetime

UNKNOWN = "<unknown>"

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_YEAR_DAYS = 365


def _too_negative(seconds: float) -> str | None:
    """Upstream tolerates up to 2s of clock skew (shown as 0s) and calls anything older ``<invalid>``."""
    whole = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    return None


def human_duration(seconds: float) -> str:
    """~2-3 significant figures: 45s, 2m5s, 33m, 5h12m, 22h, 3d4h, 45d, 2y30d, 9y (``duration.HumanDuration``)."""
    special = _too_negative(seconds)
    if special is not None:
        return special
    secs = int(seconds)
    if secs < 2 * _MINUTE:
        return f"{secs}s"
    minutes = secs // _MINUTE
    if minutes < 10:
        rest = secs % _MINUTE
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = secs // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        rest = hours % 24
        return f"{days}d" if rest == 0 else f"{days}d{rest}h"
    if hours < 24 * _YEAR_DAYS * 2:
        return f"{days}d"
    years = days // _YEAR_DAYS
    if hours < 24 * _YEAR_DAYS * 8:
        rest = days % _YEAR_DAYS
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{years}y"


def short_human_duration(seconds: float) -> str:
    """One unit only: 45s, 2m, 5h, 3d, 2y (``duration.ShortHumanDuration``).

    No server-side Table column uses it (they all use ``human_duration``); client-side printers do.
    """
    special = _too_negative(seconds)
    if special is not None:
        return special
    secs = int(seconds)
    if secs < _MINUTE:
        return f"{secs}s"
    if secs < _HOUR:
        return f"{secs // _MINUTE}m"
    if secs < _DAY:
        return f"{secs // _HOUR}h"
    hours = secs // _HOUR
    if hours < 24 * _YEAR_DAYS:
        return f"{hours // 24}d"
    return f"{hours // 24 // _YEAR_DAYS}y"


def parse_timestamp(value: object) -> datetime.datetime | None:
    """A metav1.Time / MicroTime string as an aware UTC datetime; None when absent, unparsable or Go's zero time."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    parsed = parsed.astimezone(datetime.UTC)
    if parsed.year == 1 and parsed.month == 1 and parsed.day == 1 and parsed.hour == 0 and parsed.minute == 0 \
            and parsed.second == 0 and parsed.microsecond == 0:
        return None  # 0001-01-01T00:00:00Z is metav1.Time's zero value
    return parsed


def as_utc(now: datetime.datetime) -> datetime.datetime:
    """``now`` as an aware UTC datetime (naive values are taken to be UTC)."""
    return now.replace(tzinfo=datetime.UTC) if now.tzinfo is None else now.astimezone(datetime.UTC)


def seconds_between(start: datetime.datetime, end: datetime.datetime) -> float:
    return (as_utc(end) - as_utc(start)).total_seconds()


def translate_timestamp_since(timestamp: object, now: datetime.datetime) -> str:
    """Age of a timestamp string at ``now`` (``translateTimestampSince``); ``<unknown>`` when missing."""
    parsed = parse_timestamp(timestamp)
    if parsed is None:
        return UNKNOWN
    return human_duration(seconds_between(parsed, now))
