"""Who is calling, from a request's session cookie or bearer token, and with which scope."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mist.auth import tokens
from mist.auth.sessions import user_for_token
from mist.db.models import User


def identify(session: Session, cookie: str | None, authorization: str | None) -> tuple[User, str] | None:
    """A bearer token, when given, decides alone (a bad one is not rescued by a cookie); a session
    carries every scope of its user. None for a disabled or deleted user, a revoked or expired
    session or token."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        found = tokens.resolve(session, token.strip())
    else:
        user = user_for_token(session, cookie)
        found = (user, "admin") if user else None
    # Checked on every request (and by open WebSockets, again and again), so disabling a user
    # ends their access at once even if a session or token somehow survived.
    if found is None or found[0] is None or found[0].disabled:
        return None
    return found
