"""Backup schedules: cron expressions, read with croniter. Pure functions of an expression and a
clock, so the scheduler's decisions are tested without waiting for one.

Times are naive UTC, like every stored time (mist.db.models.utcnow): `0 3 * * *` is 03:00 UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter

from mist.errors import InvalidInput

MAX_CHARS = 100


def check(expression: str) -> str:
    """The expression, normalised; raises InvalidInput naming the problem. Five fields only (minute
    hour day month weekday): seconds or years are not what people mean by cron."""
    text = " ".join(expression.split())
    if len(text) > MAX_CHARS:
        raise InvalidInput(f"backupSchedule: at most {MAX_CHARS} characters")
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise InvalidInput(
            f"backupSchedule: {expression!r} is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *'")
    return text


def last_due(expression: str, now: datetime) -> datetime:
    """The latest time at or before `now` the schedule asked for a backup."""
    at = now.replace(second=0, microsecond=0)
    if croniter.match(expression, at):
        return at
    return croniter(expression, now).get_prev(datetime)


def next_due(expression: str, now: datetime) -> datetime:
    return croniter(expression, now).get_next(datetime)


def interval(expression: str, at: datetime) -> timedelta:
    """How long the schedule waits after the run due at or before `at` (not constant: `0 3 * * 1-5`
    waits three days over a weekend)."""
    previous = last_due(expression, at)
    return next_due(expression, previous) - previous


def overdue(expression: str, since: datetime, last_success: datetime | None, now: datetime) -> tuple[datetime, bool]:
    """Since when the schedule waits for a success (the last success, or when it was set if none came
    after), and whether that is longer than twice its interval: a `backup.missed`."""
    reference = max(last_success, since) if last_success else since
    return reference, now - reference > 2 * interval(expression, now)
