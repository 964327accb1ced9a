"""Server-side sessions behind the cookie. Owns writes to `sessions`; stores only token hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from mist.db.models import AuthSession, User, utcnow

COOKIE_NAME = "mist_session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, ttl: timedelta) -> str:
    """Returns the token for the cookie; the database keeps only its hash."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthSession(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=now + ttl)
    )
    return token


def user_for_token(session: Session, token: str | None) -> User | None:
    if not token:
        return None
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    return session.get(User, row.user_id)


def revoke(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(AuthSession).where(AuthSession.token_hash == _digest(token)))


def revoke_all(session: Session, user_id: int, keep: str | None = None) -> None:
    """Ends every session of a user, except the one behind the cookie value `keep`."""
    query = delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep:
        query = query.where(AuthSession.token_hash != _digest(keep))
    session.execute(query)


def purge_expired(session: Session, now: datetime) -> int:
    """Deletes the sessions that have ended by `now` (naive UTC); they can never be used again."""
    # A DELETE gives a CursorResult, whose row count the ORM's typing does not show.
    return cast(CursorResult[Any], session.execute(delete(AuthSession).where(AuthSession.expires_at <= now))).rowcount
