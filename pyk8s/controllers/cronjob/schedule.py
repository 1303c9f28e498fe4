"""CronJob schedule math: parsing a schedule the way upstream's robfig/cron ``ParseStandard`` does, and the
cronjob controller's missed-start rules (pkg/controller/cronjob/utils.go).

Accepted syntax is exactly what the apiserver validates (five fields, the ``@yearly``..``@hourly`` macros,
``@every <Go duration>``, an optional ``TZ=``/``CRON_TZ=`` prefix); ``spec.timeZone`` becomes such a prefix.
Five-field schedules are iterated with croniter, with robfig's day-of-month/day-of-week rule: when either
field starts with ``*`` or ``?`` both must match, otherwise either may. Times without a zone run in UTC
(the zone kube-controller-manager runs in).
"""

from __future__ import annotations

import datetime
import enum
import re
import zoneinfo
from dataclasses import dataclass
from typing import Final

from croniter import CroniterBadDateError, croniter

from pyk8s.api.validation.batch import CronError, parse_schedule

UTC: Final = datetime.UTC

# The cronjob controller requeues this much after the next schedule time, to absorb clock skew.
NEXT_SCHEDULE_DELTA: Final = datetime.timedelta(milliseconds=100)

# More missed start times than this earns a TooManyMissedTimes warning.
MAX_MISSED_SCHEDULES: Final = 100

_MACROS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_GO_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_UNITS: Final = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}


class ScheduleError(ValueError):
    """A schedule (or time zone) the controller cannot use; the message is upstream's error text."""


class MissedSchedules(enum.Enum):
    NONE = "none"
    FEW = "few"
    MANY = "many"


def load_zone(name: str) -> datetime.tzinfo:
    """Go's time.LoadLocation: "" and "UTC" are UTC, anything else must be an IANA zone."""
    if name in ("", "UTC"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ScheduleError(f"unknown time zone {name}") from e


def format_schedule(schedule: str, time_zone: str | None) -> str:
    """The schedule string upstream parses: ``TZ=<timeZone> <schedule>`` when a loadable timeZone is set,
    the schedule unchanged when it already carries TZ (unsupported, but honoured) or no zone is set."""
    if "TZ" in schedule:
        return schedule
    if time_zone is not None:
        try:
            load_zone(time_zone)
        except ScheduleError:
            return schedule
        return f"TZ={time_zone} {schedule}"
    return schedule


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string such as ``1h30m`` or ``-1.5s`` (time.ParseDuration)."""
    sign = 1.0
    rest = text
    if rest[:1] in "+-" and rest:
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    total, pos = 0.0, 0
    while pos < len(rest):
        m = _GO_DURATION_PART.match(rest, pos)
        if m is None:
            raise ScheduleError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _GO_DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not rest:
        raise ScheduleError(f'time: invalid duration "{text}"')
    return sign * total


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. ``next(t)`` is the first activation strictly after ``t`` (None when there is none,
    e.g. ``0 0 31 2 *``), as a UTC datetime."""

    expression: str
    zone: datetime.tzinfo = UTC
    every: float | None = None  # @every: a constant delay in whole seconds

    def next(self, t: datetime.datetime) -> datetime.datetime | None:
        if self.every is not None:
            return t.replace(microsecond=0) + datetime.timedelta(seconds=self.every)
        fields = self.expression.split()
        day_or = not (_is_star(fields[2]) or _is_star(fields[4]))
        local = t.astimezone(self.zone)
        try:
            nxt = croniter(self.expression, local, day_or=day_or).get_next(datetime.datetime)
        except CroniterBadDateError:
            return None
        return nxt.astimezone(UTC)


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    """Parse ``schedule`` (with ``spec.timeZone`` applied as upstream does); ScheduleError on bad input."""
    spec = format_schedule(schedule, time_zone)
    try:
        parse_schedule(spec)
    except CronError as e:
        raise ScheduleError(str(e)) from e
    zone: datetime.tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        zone = load_zone(head.partition("=")[2])
        spec = spec.strip()
    if spec.startswith("@every "):
        seconds = parse_go_duration(spec[len("@every "):])
        # robfig/cron: at least one second, and whole seconds only.
        return Schedule(spec, zone, every=float(max(1, int(seconds))))
    expression = _MACROS.get(spec, spec)
    return Schedule(" ".join(_normalize_field(f) for f in expression.split()), zone)


def _normalize_field(field: str) -> str:
    """robfig/cron reads ``?`` as ``*`` in any field and ignores empty list items; croniter does neither."""
    parts = [p for p in field.split(",") if p]
    return ",".join("*" + p[1:] if p.startswith("?") else p for p in parts)


def _is_star(field: str) -> bool:
    """robfig/cron's star bit: a list item ``*`` or ``?`` without a step above one. When the day-of-month or
    day-of-week field has it, both fields must match a day; otherwise matching either is enough."""
    for part in field.split(","):
        range_part, _, step = part.partition("/")
        if range_part.partition("-")[0] in ("*", "?") and (not step or (step.isdigit() and int(step) <= 1)):
            return True
    return False


def _round_seconds(delta: datetime.timedelta) -> int:
    """Go's Duration.Round(time.Second): to the nearest second, halves away from zero."""
    micros = delta // datetime.timedelta(microseconds=1)
    sign = -1 if micros < 0 else 1
    whole, rem = divmod(abs(micros), 1_000_000)
    return sign * (whole + (1 if rem >= 500_000 else 0))


def most_recent_schedule_time(
    earliest: datetime.datetime,
    now: datetime.datetime,
    schedule: Schedule,
    starting_deadline_seconds: int | None = None,
) -> tuple[datetime.datetime, datetime.datetime | None, MissedSchedules]:
    """Upstream's mostRecentScheduleTime.

    ``earliest`` is status.lastScheduleTime, or the CronJob's creationTimestamp when it never ran; a
    ``starting_deadline_seconds`` moves it up to ``now - deadline``. Returns the earliest time used, the
    latest activation at or before ``now`` after it (None when there is none) and how many were missed.
    ScheduleError when two consecutive activations are less than a second apart (a schedule that never fires).
    """
    if starting_deadline_seconds is not None:
        deadline = now - datetime.timedelta(seconds=starting_deadline_seconds)
        if deadline > earliest:
            earliest = deadline
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return earliest, None, MissedSchedules.NONE
    if t1 is not None and t2 is not None and now < t2:
        return earliest, t1, MissedSchedules.NONE
    between = _round_seconds(t2 - t1) if t1 is not None and t2 is not None else 0
    if t1 is None or t2 is None or between < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    elapsed = int((now - t1).total_seconds())
    missed_count = elapsed // between + 1
    most_recent: datetime.datetime | None = None
    t: datetime.datetime | None = schedule.next(t1 + datetime.timedelta(seconds=(missed_count - 2) * between))
    while t is not None and t <= now:
        most_recent = t
        t = schedule.next(t)
    missed = MissedSchedules.MANY if missed_count > MAX_MISSED_SCHEDULES else MissedSchedules.FEW
    return earliest, most_recent, missed


def next_schedule_time(
    earliest: datetime.datetime,
    now: datetime.datetime,
    schedule: Schedule,
    starting_deadline_seconds: int | None,
) -> tuple[datetime.datetime | None, MissedSchedules]:
    """Upstream's nextScheduleTime: the unmet activation to start now (or None) and how many were missed."""
    _, most_recent, missed = most_recent_schedule_time(earliest, now, schedule, starting_deadline_seconds)
    if most_recent is None or most_recent > now:
        return None, missed
    return most_recent, missed


def next_schedule_delay(earliest: datetime.datetime, now: datetime.datetime, schedule: Schedule) -> float:
    """Upstream's nextScheduleTimeDuration: seconds until the next activation after the latest one, plus 100ms."""
    try:
        base, most_recent, missed = most_recent_schedule_time(earliest, now, schedule)
    except ScheduleError:
        most_recent, base, missed = now, now, MissedSchedules.NONE
    if most_recent is None:
        most_recent = base if missed is MissedSchedules.NONE else now
    nxt = schedule.next(most_recent)
    if nxt is None:
        nxt = now
    return (nxt + NEXT_SCHEDULE_DELTA - now).total_seconds()


def job_name(cronjob_name: str, scheduled: datetime.datetime) -> str:
    """``<cronjob>-<scheduled time in minutes since the epoch>``: one deterministic name per activation."""
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def scheduled_timestamp(scheduled: datetime.datetime, time_zone: str | None) -> str:
    """The batch.kubernetes.io/cronjob-scheduled-timestamp value: RFC 3339 in the CronJob's time zone."""
    local = scheduled.astimezone(load_zone(time_zone or ""))
    if not local.utcoffset():
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")  # Go prints a zero offset as "Z"
    text = local.strftime("%Y-%m-%dT%H:%M:%S%z")
    return text[:-2] + ":" + text[-2:]


def rfc1123z(t: datetime.datetime) -> str:
    """Go's time.RFC1123Z layout, in UTC (the MissSchedule event's format)."""
    return t.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
