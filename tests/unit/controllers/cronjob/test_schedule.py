"""CronJob schedule math: robfig/cron parsing semantics, time zones, macros and the missed-start rules."""

from __future__ import annotations

import datetime

import pytest

from pyk8s.controllers.cronjob import schedule as sc

UTC = datetime.UTC


def t(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def nexts(spec: str, start: str, n: int = 3, tz: str | None = None) -> list[str]:
    s = sc.parse(spec, tz)
    out, cur = [], t(start)
    for _ in range(n):
        nxt = s.next(cur)
        assert nxt is not None
        out.append(nxt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        cur = nxt
    return out


def test_standard_fields_and_next_is_strictly_after() -> None:
    assert nexts("*/15 * * * *", "2026-01-01T00:00:00Z") == [
        "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z"]
    assert nexts("5/20 1 * * *", "2026-01-01T00:59:30Z") == [
        "2026-01-01T01:05:00Z", "2026-01-01T01:25:00Z", "2026-01-01T01:45:00Z"]
    assert nexts("0 9 * JAN-MAR mon", "2026-01-01T00:00:00Z", 2) == ["2026-01-05T09:00:00Z", "2026-01-12T09:00:00Z"]


@pytest.mark.parametrize(("macro", "first"), [
    ("@yearly", "2027-01-01T00:00:00Z"), ("@annually", "2027-01-01T00:00:00Z"),
    ("@monthly", "2026-02-01T00:00:00Z"), ("@weekly", "2026-01-04T00:00:00Z"),
    ("@daily", "2026-01-02T00:00:00Z"), ("@midnight", "2026-01-02T00:00:00Z"),
    ("@hourly", "2026-01-01T01:00:00Z"),
])
def test_macros(macro: str, first: str) -> None:
    assert nexts(macro, "2026-01-01T00:00:00Z", 1) == [first]


def test_every_is_a_constant_delay_in_whole_seconds() -> None:
    assert nexts("@every 1h30m", "2026-01-01T00:00:00.700000Z", 2) == ["2026-01-01T01:30:00Z",
                                                                      "2026-01-01T03:00:00Z"]
    assert nexts("@every 500ms", "2026-01-01T00:00:00Z", 1) == ["2026-01-01T00:00:01Z"]


def test_day_of_month_and_week_follow_robfig() -> None:
    # Both restricted: either matches (1 Jan 2026 is a Thursday; the 13th or any Friday).
    assert nexts("0 0 13 * 5", "2026-01-01T00:00:00Z", 3) == [
        "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"]
    # A '*' or '?' field (even with step 1) means both must match.
    assert nexts("0 0 ? * 5", "2026-01-01T00:00:00Z", 2) == ["2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"]
    assert nexts("0 0 */1 * 5", "2026-01-01T00:00:00Z", 1) == ["2026-01-02T00:00:00Z"]
    # '*/2' is not a star for robfig: either field may match.
    assert nexts("0 0 */2 * 5", "2026-01-01T00:00:00Z", 3) == [
        "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z"]


def test_time_zone_field_and_tz_prefix() -> None:
    assert nexts("0 9 * * *", "2026-01-01T00:00:00Z", 1, tz="Europe/Berlin") == ["2026-01-01T08:00:00Z"]
    assert nexts("0 9 * * *", "2026-07-01T00:00:00Z", 1, tz="Europe/Berlin") == ["2026-07-01T07:00:00Z"]
    assert nexts("CRON_TZ=America/New_York 0 9 * * *", "2026-01-01T00:00:00Z", 1) == ["2026-01-01T14:00:00Z"]
    assert sc.format_schedule("0 9 * * *", "Asia/Tokyo") == "TZ=Asia/Tokyo 0 9 * * *"
    assert sc.format_schedule("TZ=UTC 0 9 * * *", "Asia/Tokyo") == "TZ=UTC 0 9 * * *"
    assert sc.format_schedule("0 9 * * *", "Not/AZone") == "0 9 * * *"


@pytest.mark.parametrize(("spec", "message"), [
    ("foo", "expected exactly 5 fields, found 1: [foo]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_bad_schedules(spec: str, message: str) -> None:
    with pytest.raises(sc.ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        sc.parse(spec)


def test_unknown_zone() -> None:
    with pytest.raises(sc.ScheduleError, match="unknown time zone Mars/Olympus"):
        sc.load_zone("Mars/Olympus")


def test_most_recent_schedule_time() -> None:
    hourly = sc.parse("0 * * * *")
    created = t("2026-01-01T00:30:00Z")
    # Nothing due yet.
    assert sc.most_recent_schedule_time(created, t("2026-01-01T00:59:59Z"), hourly) == (
        created, None, sc.MissedSchedules.NONE)
    # Exactly one due.
    assert sc.most_recent_schedule_time(created, t("2026-01-01T01:10:00Z"), hourly) == (
        created, t("2026-01-01T01:00:00Z"), sc.MissedSchedules.NONE)
    # Several missed: the latest is returned.
    _, latest, missed = sc.most_recent_schedule_time(created, t("2026-01-01T05:10:00Z"), hourly)
    assert latest == t("2026-01-01T05:00:00Z") and missed is sc.MissedSchedules.FEW
    # More than 100 missed: still the latest, flagged as many.
    _, latest, missed = sc.most_recent_schedule_time(created, t("2026-01-10T05:10:00Z"), hourly)
    assert latest == t("2026-01-10T05:00:00Z") and missed is sc.MissedSchedules.MANY
    # startingDeadlineSeconds moves the earliest time up to now - deadline.
    earliest, latest, missed = sc.most_recent_schedule_time(created, t("2026-01-10T05:10:00Z"), hourly, 3600)
    assert earliest == t("2026-01-10T04:10:00Z") and latest == t("2026-01-10T05:00:00Z")
    assert missed is sc.MissedSchedules.NONE
    assert sc.next_schedule_time(created, t("2026-01-10T05:30:00Z"), hourly, 600) == (None,
                                                                                      sc.MissedSchedules.NONE)


def test_a_schedule_that_never_fires_is_invalid() -> None:
    never = sc.parse("0 0 31 2 *")
    with pytest.raises(sc.ScheduleError, match="time difference between two schedules is less than 1 second"):
        sc.most_recent_schedule_time(t("2026-01-01T00:00:00Z"), t("2026-06-01T00:00:00Z"), never)


def test_next_schedule_delay() -> None:
    every5 = sc.parse("*/5 * * * *")
    created = t("2026-01-01T00:00:00Z")
    assert sc.next_schedule_delay(created, t("2026-01-01T00:01:00Z"), every5) == pytest.approx(240.1)
    # After missed activations the next one after now counts.
    assert sc.next_schedule_delay(created, t("2026-01-01T00:12:00Z"), every5) == pytest.approx(180.1)


def test_job_names_and_scheduled_timestamp() -> None:
    when = t("2026-01-01T00:05:00Z")
    assert sc.job_name("hello", when) == f"hello-{int(when.timestamp()) // 60}" == "hello-29453765"
    assert sc.scheduled_timestamp(when, None) == "2026-01-01T00:05:00Z"
    assert sc.scheduled_timestamp(when, "Europe/Berlin") == "2026-01-01T01:05:00+01:00"
    assert sc.scheduled_timestamp(when, "Europe/London") == "2026-01-01T00:05:00Z"
    assert sc.rfc1123z(when) == "Thu, 01 Jan 2026 00:05:00 +0000"
