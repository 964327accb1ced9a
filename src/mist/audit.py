"""The audit log: who did what, when, from where. Owns writes to `audit_logs`.

An entry is written once the change it describes has been committed, so the log never claims
something that did not happen; refusals worth knowing about (a failed sign-in, a badly signed
webhook) get entries of their own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mist.db.models import AuditLog, User, iso


def record(
    session: Session, actor: User | None, action: str, target: str = "", ip: str = "", **details: Any
) -> None:
    session.add(AuditLog(
        user_id=actor.id if actor else None, username=actor.username if actor else "",
        action=action, target=target, ip=ip, details=json.dumps(details) if details else "",
    ))


def page(session: Session, limit: int, offset: int) -> tuple[list[AuditLog], int]:
    total = session.scalar(select(func.count()).select_from(AuditLog))
    rows = session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def purge_older_than(session: Session, cutoff: datetime) -> int:
    """Deletes the entries written before `cutoff` (naive UTC): the log is kept for a set time
    (MIST_AUDIT_RETENTION_DAYS), not for ever."""
    return session.execute(delete(AuditLog).where(AuditLog.created_at < cutoff)).rowcount


def to_json(row: AuditLog) -> dict:
    return {
        "id": row.id, "userId": row.user_id, "username": row.username, "action": row.action,
        "target": row.target, "details": json.loads(row.details) if row.details else {},
        "ip": row.ip, "createdAt": iso(row.created_at),
    }
