"""mist.auth.principal.identify: the one check every request and every open WebSocket relies on."""

from __future__ import annotations

from datetime import timedelta

from mist.auth import sessions, tokens, users
from mist.auth.principal import identify
from mist.db.engine import Database
from mist.db.models import User


def _credentials(db: Database) -> tuple[str, str]:
    with db.session() as s:
        bob = s.get(User, 2)
        cookie = sessions.open_session(s, bob, timedelta(hours=1))
        _row, token = tokens.create(s, bob, "ci", "deploy", None)
    return cookie, f"Bearer {token}"


def _who(db: Database, cookie: str | None, authorization: str | None) -> str | None:
    found = db.call(identify, cookie, authorization)
    return f"{found[0].username}/{found[1]}" if found else None


def test_a_session_and_a_token_identify_their_user(db: Database) -> None:
    cookie, bearer = _credentials(db)
    assert _who(db, cookie, None) == "bob/admin"
    assert _who(db, None, bearer) == "bob/deploy"


def test_a_disabled_user_is_nobody_even_with_live_credentials(db: Database) -> None:
    cookie, bearer = _credentials(db)
    with db.session() as s:
        s.get(User, 2).disabled = True  # as if a session had survived the revocation
    assert _who(db, cookie, None) is None
    assert _who(db, None, bearer) is None


def test_revoked_and_deleted_users_are_nobody(db: Database) -> None:
    cookie, bearer = _credentials(db)
    with db.session() as s:
        users.revoke_sessions(s, s.get(User, 1), 2)
    assert _who(db, cookie, None) is None and _who(db, None, bearer) is None

    cookie, bearer = _credentials(db)
    with db.session() as s:
        users.delete_user(s, s.get(User, 1), 2)
    assert _who(db, cookie, None) is None and _who(db, None, bearer) is None
