"""The cron parser and next-time computation, against hand-checked dates (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actr_py.actors.cron import CronError, CronExpr


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def nxt(expr: str, after: datetime) -> datetime | None:
    return CronExpr.parse(expr).next_datetime(after)


def test_every_minute_is_strictly_after() -> None:
    assert nxt("* * * * *", at(2026, 1, 1, 10, 0, 30)) == at(2026, 1, 1, 10, 1)
    assert nxt("* * * * *", at(2026, 1, 1, 10, 0)) == at(2026, 1, 1, 10, 1)


def test_lists_ranges_and_steps() -> None:
    e = CronExpr.parse("0,30 9-17/4 * * *")
    assert e.minutes == {0, 30}
    assert e.hours == {9, 13, 17}
    assert CronExpr.parse("*/15 * * * *").minutes == {0, 15, 30, 45}
    assert CronExpr.parse("5/20 * * * *").minutes == {5, 25, 45}
    assert nxt("0,30 9-17/4 * * *", at(2026, 3, 2, 13, 10)) == at(2026, 3, 2, 13, 30)
    assert nxt("0,30 9-17/4 * * *", at(2026, 3, 2, 17, 30)) == at(2026, 3, 3, 9, 0)


def test_rollover_across_month_and_year() -> None:
    assert nxt("0 0 1 * *", at(2026, 12, 15)) == at(2027, 1, 1)
    assert nxt("0 0 31 * *", at(2026, 4, 1)) == at(2026, 5, 31)  # April has no 31st
    assert nxt("0 0 29 2 *", at(2026, 3, 1)) == at(2028, 2, 29)  # next leap day


def test_names_and_sunday_as_0_or_7() -> None:
    # 2026-03-01 is a Sunday.
    assert nxt("0 12 * * sun", at(2026, 2, 26)) == at(2026, 3, 1, 12, 0)
    assert nxt("0 12 * * 7", at(2026, 2, 26)) == at(2026, 3, 1, 12, 0)
    assert nxt("0 12 * * 0", at(2026, 2, 26)) == at(2026, 3, 1, 12, 0)
    assert nxt("0 0 1 jan-mar mon", at(2026, 3, 31)) == at(2027, 1, 1)  # either field matches
    assert CronExpr.parse("0 0 * jan,JUL *").months == {1, 7}


def test_day_fields_or_when_both_restricted_and_when_one_is_star() -> None:
    # 2026-03-02 is a Monday; the 13th is a Friday.
    both = "0 0 13 * 1"  # the 13th OR any Monday
    assert nxt(both, at(2026, 3, 3)) == at(2026, 3, 9)  # Monday comes first
    assert nxt(both, at(2026, 3, 10)) == at(2026, 3, 13)  # then the 13th
    only_dow = "0 0 * * 1"  # the day-of-month star does not restrict
    assert nxt(only_dow, at(2026, 3, 3)) == at(2026, 3, 9)
    stepped_star = "0 0 */2 * 1"  # starts with '*': AND, odd days that are Mondays
    assert nxt(stepped_star, at(2026, 3, 3)) == at(2026, 3, 9)
    assert nxt(stepped_star, at(2026, 3, 10)) == at(2026, 3, 23)


def test_impossible_date_never_fires() -> None:
    assert nxt("0 0 30 2 *", at(2026, 1, 1)) is None


def test_epoch_seconds_api() -> None:
    e = CronExpr.parse("30 * * * *")
    assert e.next_after(at(2026, 1, 1, 0, 31).timestamp()) == at(2026, 1, 1, 1, 30).timestamp()


@pytest.mark.parametrize(
    "bad",
    ["", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
     "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *", "* * * foo *"],
)
def test_bad_expressions_name_the_problem(bad: str) -> None:
    with pytest.raises(CronError):
        CronExpr.parse(bad)
