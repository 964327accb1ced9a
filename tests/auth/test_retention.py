"""Retention: sessions.purge_expired, audit.purge_older_than and the Housekeeping loop that runs them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from mist import audit
from mist.auth import sessions
from mist.db.engine import Database
from mist.db.models import AuditLog, AuthSession, utcnow
from mist.housekeeping import Housekeeping

NOW = datetime(2026, 6, 1, 12, 0, 0)


def _session(db: Database, token_hash: str, expires_at: datetime) -> None:
    with db.session() as s:
        s.add(AuthSession(token_hash=token_hash, user_id=2, created_at=expires_at - timedelta(days=14),
                          expires_at=expires_at))


def _entry(db: Database, action: str, created_at: datetime) -> None:
    with db.session() as s:
        s.add(AuditLog(action=action, created_at=created_at))


def test_purge_expired_deletes_only_ended_sessions(db: Database) -> None:
    _session(db, "old", NOW - timedelta(days=1))
    _session(db, "just-ended", NOW)
    _session(db, "live", NOW + timedelta(seconds=1))
    assert db.call(sessions.purge_expired, NOW) == 2
    assert db.call(lambda s: list(s.scalars(select(AuthSession.token_hash)))) == ["live"]
    assert db.call(sessions.purge_expired, NOW) == 0


def test_purge_older_than_keeps_the_retention_window(db: Database) -> None:
    cutoff = NOW - timedelta(days=90)
    _entry(db, "ancient", cutoff - timedelta(days=400))
    _entry(db, "just-too-old", cutoff - timedelta(seconds=1))
    _entry(db, "at-cutoff", cutoff)
    _entry(db, "recent", NOW)
    assert db.call(audit.purge_older_than, cutoff) == 2
    kept = db.call(lambda s: list(s.scalars(select(AuditLog.action).order_by(AuditLog.id))))
    assert kept == ["at-cutoff", "recent"]


def test_housekeeping_runs_at_start_and_stops(db: Database) -> None:
    now = utcnow()
    _session(db, "expired", now - timedelta(hours=1))
    _session(db, "live", now + timedelta(hours=1))
    _entry(db, "old", now - timedelta(days=31))
    _entry(db, "new", now - timedelta(days=29))

    async def scenario() -> None:
        keeper = Housekeeping(db, audit_retention_days=30, interval_seconds=3600)
        await keeper.start()
        for _ in range(200):  # the first sweep runs at once, not an hour later
            if db.call(lambda s: len(list(s.scalars(select(AuditLog))))) == 1:
                break
            await asyncio.sleep(0.02)
        await keeper.stop()

    asyncio.run(scenario())
    assert db.call(lambda s: list(s.scalars(select(AuthSession.token_hash)))) == ["live"]
    assert db.call(lambda s: list(s.scalars(select(AuditLog.action)))) == ["new"]
