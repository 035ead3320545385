"""Cron schedules as a Kubernetes CronJob takes them: checked before `pulumi up`, and their period.

Why check here: the API server refuses a malformed schedule only at `pulumi up`, half-way through
an update, with a message that names no stack key. Why the period: the restore-drill alert fires
when the last successful drill is older than twice the schedule's period, and for an irregular
schedule (``0 3 * * 1-5``) the period that matters is the longest wait between two runs (Friday to
Monday), or the alert would fire every weekend.

The grammar is the one the CronJob controller parses: five fields (minute, hour, day of month,
month, day of week 0-6 with 0 = Sunday), each a list of ``*``, ``?``, ``N``, ``N-M`` with an
optional ``/step`` (``N/step`` means ``N-max/step``), month and weekday names (``jan``, ``mon``),
and the macros ``@yearly``, ``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight``,
``@hourly``. When both day fields are restricted a day matches either (cron's rule); when one is
``*``/``?`` both must match. Times are those of the controller's clock (UTC unless configured).
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)}
_WEEKDAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _WEEKDAYS),
)
#: Eight years from a leap year: every calendar pattern (leap days too) occurs at least twice.
_HORIZON_START = dt.date(2024, 1, 1)
_HORIZON_DAYS = 8 * 365 + 2

ALLOWED = (
    "five fields 'minute hour day-of-month month day-of-week' (e.g. '0 3 * * 0' = Sundays 03:00)"
    " or one of " + ", ".join(MACROS)
)


class CronError(ValueError):
    """The schedule is not one a CronJob accepts, or it never fires."""


@dataclass(frozen=True)
class CronSchedule:
    """The parsed schedule: the values each field allows, and whether a day field is a wildcard."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month is * or ?
    any_weekday: bool  # day of week is * or ?

    def fires_on(self, day: dt.date) -> bool:
        """Whether the schedule fires at some time of `day`."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.isoweekday() % 7 in self.weekdays
        return dom and dow if self.any_day or self.any_weekday else dom or dow

    def longest_gap_seconds(self) -> int:
        """The longest time between two consecutive runs (the period the alert doubles)."""
        times = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        gap = max((b - a for a, b in itertools.pairwise(times)), default=0)
        previous: int | None = None
        runs = 0
        for offset in range(_HORIZON_DAYS):
            if not self.fires_on(_HORIZON_START + dt.timedelta(days=offset)):
                continue
            runs += len(times)
            if previous is not None:
                gap = max(gap, (offset - previous) * 1440 - times[-1] + times[0])
            previous = offset
        if runs < 2:
            raise CronError("the schedule never fires (no such day, e.g. 30 February)")
        return gap * 60


def _number(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise CronError(f"{name} field: {text!r} is not a number" + (" or a name" if names else ""))
        value = int(text)
    if not low <= value <= high:
        raise CronError(f"{name} field: {value} is outside {low}-{high}")
    return value


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """The values of one field, and whether it is a wildcard (for the day-matching rule)."""
    values: set[int] = set()
    wildcard = False
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if slash and not step_text.isdigit():
            raise CronError(f"{name} field: step {step_text!r} in {part!r} is not a number")
        step = int(step_text) if slash else 1
        if step < 1:
            raise CronError(f"{name} field: step 0 in {part!r}")
        if base in ("*", "?"):
            start, end = low, high
            wildcard = wildcard or step == 1
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, name, low, high, names), _number(last, name, low, high, names)
            if start > end:
                raise CronError(f"{name} field: range {base!r} runs backwards")
        else:
            start = _number(base, name, low, high, names)
            end = high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values), wildcard


def parse_cron(text: str) -> CronSchedule:
    """Parse a CronJob schedule; CronError says what is wrong and what is allowed."""
    expanded = MACROS.get(text.strip().lower(), text)
    parts = expanded.split()
    if len(parts) != len(_FIELDS):
        raise CronError(f"{text!r} has {len(parts)} field(s); allowed: {ALLOWED}")
    parsed = [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    return CronSchedule(
        minutes=parsed[0][0],
        hours=parsed[1][0],
        days=parsed[2][0],
        months=parsed[3][0],
        weekdays=parsed[4][0],
        any_day=parsed[2][1],
        any_weekday=parsed[4][1],
    )


def schedule_period_seconds(text: str) -> int:
    """The longest gap between two runs of a valid schedule, in seconds."""
    return parse_cron(text).longest_gap_seconds()
