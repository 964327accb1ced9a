"""Who is calling, from a request's session cookie or bearer token, and with which scope."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mist.auth import tokens
from mist.auth.sessions import user_for_token
from mist.db.models import User


def identify(session: Session, cookie: str | None, authorization: str | None) -> tuple[User, str] | None:
    """A bearer token, when given, decides alone (a bad one is not rescued by a cookie); a session
    carries every scope of its user."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return tokens.resolve(session, token.strip())
    user = user_for_token(session, cookie)
    return (user, "admin") if user else None
