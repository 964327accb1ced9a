"""The audit log: who did what, when, from where. Owns writes to `audit_logs`.

An entry is written once the change it describes has been committed, so the log never claims
something that did not happen; refusals worth knowing about (a failed sign-in, a badly signed
webhook) get entries of their own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import AuditLog, User


def record(
    session: Session, actor: User | None, action: str, target: str = "", ip: str = "", **details: Any
) -> None:
    session.add(AuditLog(
        user_id=actor.id if actor else None, username=actor.username if actor else "",
        action=action, target=_fit(target, AuditLog.target), ip=_fit(ip, AuditLog.ip),
        details=json.dumps(details) if details else "",
    ))


def _fit(value: str, column: Any) -> str:
    """Cut to the column's length: a label ("domain:" and 253 characters) may be longer, and
    PostgreSQL, unlike SQLite, refuses a string that does not fit."""
    return value[:column.type.length]


def page(session: Session, limit: int, offset: int) -> tuple[list[AuditLog], int]:
    total = session.scalar(select(func.count()).select_from(AuditLog)) or 0
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def purge_older_than(session: Session, cutoff: datetime) -> int:
    """Deletes the entries written before `cutoff` (naive UTC): the log is kept for a set time
    (MIST_AUDIT_RETENTION_DAYS), not for ever."""
    # A DELETE gives a CursorResult, whose row count the ORM's typing does not show.
    return cast(CursorResult[Any], session.execute(delete(AuditLog).where(AuditLog.created_at < cutoff))).rowcount


class Audit:
    """The audit log as the API uses it, off the event loop. Routes decide what to record (they
    know who asked and from where), once the service call they describe has succeeded."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, actor: User | None, action: str, target: str = "", ip: str = "", **details: Any) -> None:
        await self.db.run(record, actor, action, target, ip, **details)

    async def page(self, limit: int, offset: int) -> tuple[list[AuditLog], int]:
        return await self.db.run(page, limit, offset)
