"""mist.backups.scheduler on SQLite and PostgreSQL, with a clock the test controls: a due run is
queued once however many ticks (or processes) see it, runs due before the schedule was set are not,
a run missed while Mist was down is queued once at the next tick, and a schedule with no successful
backup for twice its interval raises `backup.missed` once per gap."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from mist.backups import store
from mist.backups.scheduler import tick
from mist.db.engine import Database
from mist.db.models import App, Backup, Notification, NotificationDelivery, Project, User

SET_AT = datetime(2026, 11, 30, 2, 30, 10)


@pytest.fixture
def db(migrated: Callable[..., Database]) -> Database:
    return migrated(
        User(id=1, username="o", email="o@x", password_hash="x", role="owner"),
        Project(id=1, name="shop", owner_id=1),
        App(id=7, project_id=1, name="pg", app_type="database", template_name="postgres",
            backup_schedule="0 3 * * *", backup_schedule_since=SET_AT, backup_retention=3),
        App(id=8, project_id=1, name="cache", app_type="database", template_name="redis"),  # no schedule
        Notification(id=1, name="ops", kind="webhook", target="x", events=json.dumps(["backup.missed"])),
    )


def _backups(db: Database) -> list[tuple[int, str, datetime | None]]:
    with db.session() as s:
        return [(b.app_id, b.trigger, b.scheduled_for) for b in s.scalars(select(Backup).order_by(Backup.id))]


def _missed(db: Database) -> list[dict]:
    with db.session() as s:
        return [json.loads(d.payload) for d in s.scalars(select(NotificationDelivery).where(
            NotificationDelivery.event == "backup.missed"))]


def test_nothing_is_queued_before_the_first_due_time_after_the_schedule_was_set(db: Database) -> None:
    assert db.call(tick, datetime(2026, 11, 30, 2, 59)) == ([], [])
    assert _backups(db) == []


def test_a_due_run_is_queued_once_however_many_ticks_see_it(db: Database) -> None:
    first, _ = db.call(tick, datetime(2026, 11, 30, 3, 0, 5))
    again, _ = db.call(tick, datetime(2026, 11, 30, 3, 0, 20))
    later, _ = db.call(tick, datetime(2026, 11, 30, 9, 0))
    assert len(first) == 1 and again == [] and later == []
    assert _backups(db) == [(7, "schedule", datetime(2026, 11, 30, 3, 0))]


def test_a_second_process_enqueuing_the_same_run_makes_no_second_row(db: Database) -> None:
    with db.session() as s:
        app = s.get_one(App, 7)
        assert store.enqueue_scheduled(s, app, datetime(2026, 11, 30, 3, 0)) is not None
    # The other process had not seen the row when it checked: the unique (app, due time) refuses it.
    with db.session() as s:
        s.add(Backup(app_id=7, project_id=1, app_name="pg", engine="postgres", trigger="schedule",
                     scheduled_for=datetime(2026, 12, 1, 3, 0)))
    with db.session() as s:
        assert store.enqueue_scheduled(s, s.get_one(App, 7), datetime(2026, 12, 1, 3, 0)) is None
    assert len(_backups(db)) == 2


def test_after_days_down_only_the_last_missed_run_is_queued_at_start_up(db: Database) -> None:
    queued, _ = db.call(tick, datetime(2026, 12, 3, 14, 0))
    assert len(queued) == 1
    assert _backups(db) == [(7, "schedule", datetime(2026, 12, 3, 3, 0))]


def test_no_success_for_twice_the_interval_is_told_once_per_gap(db: Database) -> None:
    assert db.call(tick, datetime(2026, 12, 1, 3, 30))[1] == []  # one day: not yet
    assert db.call(tick, datetime(2026, 12, 2, 2, 31))[1] == [7]
    assert db.call(tick, datetime(2026, 12, 2, 9, 0))[1] == []  # the same gap, told already
    [payload] = _missed(db)
    assert payload["app"] == {"id": 7, "name": "pg"} and payload["project"]["name"] == "shop"
    assert payload["backup"]["schedule"] == "0 3 * * *" and "twice" in payload["backup"]["error"]

    # A success ends the gap; the next gap is told again.
    with db.session() as s:
        s.add(Backup(app_id=7, project_id=1, app_name="pg", engine="postgres", trigger="manual",
                     status="success", verified=True, finished_at=datetime(2026, 12, 2, 10, 0)))
    assert db.call(tick, datetime(2026, 12, 3, 10, 0))[1] == []
    assert db.call(tick, datetime(2026, 12, 4, 10, 1))[1] == [7]
    assert len(_missed(db)) == 2


def test_retention_keeps_the_newest_n_and_never_the_newest_verified_one(db: Database) -> None:
    with db.session() as s:
        for i in range(5):
            s.add(Backup(app_id=7, project_id=1, app_name="pg", engine="postgres", trigger="manual",
                         status="success", verified=i == 0, name=f"b{i}",
                         finished_at=datetime(2026, 12, 1) + timedelta(hours=i)))
        s.add(Backup(app_id=7, project_id=1, app_name="pg", engine="postgres", trigger="manual", status="failed"))
        s.add(Backup(app_id=8, project_id=1, app_name="cache", engine="redis", trigger="manual", status="success"))
    with db.session() as s:
        victims = [b.name for b in store.retention_victims(s, 7, 2)]
    # b4, b3 are the newest two; b0 is the only verified one, so it stays too; failed and other apps' rows stay.
    assert victims == ["b2", "b1"]
    with db.session() as s:
        left = [(b.app_id, b.name, b.status) for b in s.scalars(select(Backup).order_by(Backup.id))]
    assert left == [(7, "b0", "success"), (7, "b3", "success"), (7, "b4", "success"), (7, "", "failed"),
                    (8, "", "success")]
