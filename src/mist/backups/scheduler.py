"""Runs the backup schedules: one process at a time (the lead, db.locks.BACKUP_LEADER) looks every
few seconds at each database app with a schedule, and queues the run last due unless it exists.

Nothing is remembered in memory: the due time is computed from the cron expression and the clock,
and the queued row carries it (unique per app), so a restart, an upgrade or a second process neither
loses a run nor makes one twice. A run missed while Mist was down is the last due one: queued once
at start-up. A schedule with no successful backup for twice its interval raises `backup.missed`,
once per gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.backups import schedule, store
from mist.db.engine import Database
from mist.db.locks import Leadership
from mist.db.models import App, utcnow
from mist.notifications import events, outbox

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0


def tick(session: Session, now: datetime) -> tuple[list[int], list[int]]:
    """Queues what is due and tells of what was missed; answers (backup ids queued, app ids missed)."""
    queued, missed = [], []
    apps = session.scalars(select(App).where(App.backup_schedule != "", App.template_name != "").order_by(App.id))
    for app in apps:
        since = app.backup_schedule_since or app.created_at
        due = schedule.last_due(app.backup_schedule, now)
        # A time due before the schedule was set was never asked for.
        if due >= since and (row := store.enqueue_scheduled(session, app, due)) is not None:
            queued.append(row.id)
        last_success = store.last_success_at(session, app.id)
        reference, missed_now = schedule.overdue(app.backup_schedule, since, last_success, now)
        told = app.backup_missed_at is not None and app.backup_missed_at >= reference
        if missed_now and not told:
            outbox.enqueue(session, events.BACKUP_MISSED,
                           events.missed_payload(session, app, app.backup_schedule, last_success))
            app.backup_missed_at = now
            missed.append(app.id)
    session.flush()
    return queued, missed


class Scheduler:
    def __init__(self, db: Database, leadership: Leadership, wake_workers: Callable[[], None], *,
                 clock: Callable[[], datetime] = utcnow, tick_seconds: float = TICK_SECONDS) -> None:
        self.db = db
        self.leadership = leadership
        self.wake_workers = wake_workers
        self.clock = clock  # tests drive time through it
        self.tick_seconds = tick_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mist-backup-schedules")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None
        await self.leadership.release()

    async def run_once(self) -> tuple[list[int], list[int]]:
        queued, missed = await self.db.run(tick, self.clock())
        for backup_id in queued:
            log.info("backup %d queued by its schedule", backup_id)
        for app_id in missed:
            log.warning("app %d: no successful backup for twice its schedule's interval (backup.missed)", app_id)
        if queued:
            self.wake_workers()
        return queued, missed

    async def _loop(self) -> None:
        while True:
            try:
                if await self.leadership.claim():
                    await self.run_once()
            except Exception:  # a locked or broken database must not end the schedules for good
                log.exception("backup schedules: the check failed; trying again in %g s", self.tick_seconds)
            await asyncio.sleep(self.tick_seconds)
