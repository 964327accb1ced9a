"""mist.backups.schedule: which run is due, when the next comes, and what is refused at save."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mist.backups.schedule import check, interval, last_due, next_due
from mist.errors import InvalidInput


@pytest.mark.parametrize("text", ["0 3 * *", "0 3 * * * *", "61 * * * *", "@daily", "nonsense", "", "x" * 101])
def test_what_is_not_a_five_field_cron_expression_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput, match="backupSchedule"):
        check(text)


def test_an_expression_is_kept_with_its_spacing_normalised() -> None:
    assert check("  0  3 * *   1-5 ") == "0 3 * * 1-5"


def test_the_run_due_is_the_last_one_at_or_before_now() -> None:
    assert last_due("0 3 * * *", datetime(2026, 11, 30, 19, 0)) == datetime(2026, 11, 30, 3, 0)
    assert last_due("0 3 * * *", datetime(2026, 11, 30, 2, 59)) == datetime(2026, 11, 29, 3, 0)
    # At the very minute it is due, that minute's run is the one due.
    assert last_due("*/5 * * * *", datetime(2026, 11, 30, 19, 5, 30)) == datetime(2026, 11, 30, 19, 5)
    assert next_due("0 3 * * *", datetime(2026, 11, 30, 19, 0)) == datetime(2026, 12, 1, 3, 0)


def test_the_interval_is_the_wait_after_the_last_run_so_weekends_count() -> None:
    assert interval("0 3 * * *", datetime(2026, 11, 30, 12)) == timedelta(days=1)
    saturday = datetime(2026, 11, 28, 12)
    assert interval("0 3 * * 1-5", saturday) == timedelta(days=3)
