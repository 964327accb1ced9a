"""Retention: expired sessions and old audit entries are deleted, at start-up and then hourly.

Nothing else ever removes them, so without this the two tables would only grow; an expired session
is useless, and audit entries are kept for MIST_AUDIT_RETENTION_DAYS.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from mist import audit
from mist.auth import sessions
from mist.db.engine import Database
from mist.db.models import utcnow

log = logging.getLogger(__name__)


def sweep(session: Session, now: datetime, audit_retention: timedelta) -> tuple[int, int]:
    """One pass in one transaction: (sessions purged, audit entries purged)."""
    return sessions.purge_expired(session, now), audit.purge_older_than(session, now - audit_retention)


class Housekeeping:
    def __init__(self, db: Database, audit_retention_days: int, interval_seconds: float = 3600) -> None:
        self.db = db
        self.audit_retention = timedelta(days=audit_retention_days)
        self.interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mist-housekeeping")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None

    async def run_once(self) -> tuple[int, int]:
        purged = await self.db.run(sweep, utcnow(), self.audit_retention)
        if any(purged):
            log.info("housekeeping: purged %d expired sessions and %d old audit entries", *purged)
        return purged

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a locked or broken database must not end retention for good
                log.exception("housekeeping failed; trying again in %d s", self.interval)
            await asyncio.sleep(self.interval)
