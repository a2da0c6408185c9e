"""Five-field cron expressions, parsed and evaluated without I/O (times in UTC).

``minute hour day-of-month month day-of-week``, each field one of ``*``, a
number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``, or a comma
list of those. Months and weekdays also take English three-letter names
(``jan``, ``mon``); weekday 0 and 7 are both Sunday. As in Vixie cron, when
both day fields are restricted a day matches if *either* does; a day field
starting with ``*`` does not restrict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["CronError", "CronExpr"]


class CronError(ValueError):
    """An expression that does not parse; the message says which field and why."""


_MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}

# (name, low, high, names)
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)

#: Give up looking for a match after this many years (e.g. "0 0 30 2 *").
_HORIZON_YEARS = 9


def _number(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise CronError(f"{field}: {text!r} is not a number")
        value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is outside {low}-{high}")
    return value


def _parse_field(
    text: str, field: str, low: int, high: int, names: dict[str, int]
) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{field}: empty list item in {text!r}")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            start = _number(a, field, low, high, names)
            end = _number(b, field, low, high, names)
            if start > end:
                raise CronError(f"{field}: range {base!r} runs backwards")
        else:
            start = _number(base, field, low, high, names)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronExpr:
    """A parsed expression; :meth:`next_after` gives the next firing time."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    day_star: bool
    weekday_star: bool

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"{text!r}: a cron expression has 5 fields, got {len(parts)}")
        sets = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        return cls(
            text=text,
            minutes=sets[0],
            hours=sets[1],
            days=sets[2],
            months=sets[3],
            weekdays=weekdays,
            day_star=parts[2].startswith("*"),
            weekday_star=parts[4].startswith("*"),
        )

    def _day_matches(self, dt: datetime) -> bool:
        dom = dt.day in self.days
        dow = (dt.isoweekday() % 7) in self.weekdays
        if self.day_star or self.weekday_star:
            return dom and dow
        return dom or dow

    def next_datetime(self, after: datetime) -> datetime | None:
        """The first matching minute strictly after ``after`` (naive = UTC); None if never."""
        if after.tzinfo is None:
            after = after.replace(tzinfo=UTC)
        dt = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = dt.year + _HORIZON_YEARS
        while dt.year <= limit:
            if dt.month not in self.months:
                year, month = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
                dt = dt.replace(year=year, month=month, day=1, hour=0, minute=0)
                continue
            if not self._day_matches(dt):
                dt = (dt + timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if dt.hour not in self.hours:
                dt = (dt + timedelta(hours=1)).replace(minute=0)
                continue
            if dt.minute not in self.minutes:
                dt += timedelta(minutes=1)
                continue
            return dt
        return None

    def next_after(self, ts: float) -> float | None:
        """Like :meth:`next_datetime`, in epoch seconds."""
        found = self.next_datetime(datetime.fromtimestamp(ts, UTC))
        return None if found is None else found.timestamp()
