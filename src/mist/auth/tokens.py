"""API tokens: `Authorization: Bearer mist_...` acts as its user, within its scope.
Owns writes to `api_tokens`; only a hash of each token is stored, and it is shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import ApiToken, User, utcnow
from mist.errors import InvalidInput, NotFound

# Each scope includes the ones before it; a session has every scope of its user.
SCOPES = ("read", "deploy", "admin")
PREFIX = "mist_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def allows(scope: str, needed: str) -> bool:
    return SCOPES.index(scope) >= SCOPES.index(needed)


def create(session: Session, user: User, name: str, scope: str, expires_at: datetime | None) -> tuple[ApiToken, str]:
    if scope not in SCOPES:
        raise InvalidInput(f"scope: must be one of {', '.join(SCOPES)}")
    if expires_at is not None:
        if expires_at.tzinfo is not None:  # stored as naive UTC, like every time in the database
            expires_at = expires_at.astimezone(UTC).replace(tzinfo=None)
        if expires_at <= utcnow():
            raise InvalidInput("expiresAt: must be in the future")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip(), scope=scope, token_hash=_digest(token),
                   prefix=token[:12], expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def resolve(session: Session, token: str) -> tuple[User, str] | None:
    """The user and scope a bearer token stands for, or None if it is unknown or expired."""
    if not token.startswith(PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        return None
    row.last_used_at = utcnow()
    return session.get_one(User, row.user_id), row.scope


def list_for(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def delete(session: Session, user: User, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"token {token_id} not found")
    session.delete(row)
    return row


def revoke_all(session: Session, user_id: int) -> None:
    session.execute(sql_delete(ApiToken).where(ApiToken.user_id == user_id))


class Tokens:
    """The calling user's API tokens as the API asks for them, each call one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, user: User, name: str, scope: str, expires_at: datetime | None) -> tuple[ApiToken, str]:
        return await self.db.run(create, user, name, scope, expires_at)

    async def list_for(self, user: User) -> list[ApiToken]:
        return await self.db.run(list_for, user)

    async def delete(self, user: User, token_id: int) -> ApiToken:
        return await self.db.run(delete, user, token_id)
