"""Users: sign-up of the owner, sign-in, and management by the owner and admins. Owns writes to `users`.

Passwords are hashed and checked by the async callers here (on the hash pool of
mist.auth.passwords); the functions taking a database session only ever see finished hashes, so no
transaction stays open while argon2 runs.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mist.auth import sessions, tokens
from mist.auth.passwords import hash_password, verify_password
from mist.db.engine import Database
from mist.db.models import User
from mist.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied

ROLES = ("owner", "admin", "user")
SIGNUP_CLOSED = "sign-up is closed: Mist already has an owner; ask them for an account"


def is_admin(user: User) -> bool:
    return user.role in ("owner", "admin")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _create(session: Session, username: str, email: str, password_hash: str, role: str) -> User:
    email = normalize_email(email)
    clash = session.scalar(
        select(User).where(or_(User.username == username, User.email == email))
    )
    if clash is not None:
        field = "username" if clash.username == username else "email"
        raise Conflict(f"a user with this {field} already exists")
    user = User(username=username, email=email, password_hash=password_hash, role=role)
    session.add(user)
    session.flush()
    return user


def ensure_signup_open(session: Session) -> None:
    """Checked before the password is hashed too, so a closed sign-up costs no argon2."""
    if session.scalar(select(User.id).limit(1)) is not None:
        raise Conflict(SIGNUP_CLOSED)


def signup_owner(session: Session, username: str, email: str, password_hash: str) -> User:
    ensure_signup_open(session)
    try:
        return _create(session, username, email, password_hash, "owner")
    except IntegrityError as exc:
        # A concurrent sign-up passed the check above too; the one-owner index let only one win.
        raise Conflict(SIGNUP_CLOSED) from exc


def create_user(
    session: Session, actor: User, username: str, email: str, password_hash: str, role: str
) -> User:
    if not is_admin(actor):
        raise PermissionDenied("only the owner and admins can create users")
    if role not in ("admin", "user"):
        raise InvalidInput("role: must be 'admin' or 'user'")
    try:
        return _create(session, username, email, password_hash, role)
    except IntegrityError as exc:
        raise Conflict("a user with this username or email already exists") from exc


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


async def authenticate(db: Database, email: str, password: str) -> User:
    """The user with this e-mail and password. A disabled account gets the very answer a wrong
    password gets, after the same work, so the answer tells nothing about the account."""
    user = await db.run(by_email, email)
    if not await verify_password(user.password_hash if user else None, password) or user is None or user.disabled:
        raise NotAuthenticated("wrong e-mail or password")
    return user


async def change_password(db: Database, user: User, current: str, new: str, keep_session: str | None) -> None:
    """Sets a new password; every other session of the user ends (a thief's included), the
    caller's own stays."""
    if not await verify_password(user.password_hash, current):
        raise InvalidInput("current: this is not your current password")
    new_hash = await hash_password(new)
    await db.run(_set_password, user.id, new_hash, keep_session)


def _set_password(session: Session, user_id: int, password_hash: str, keep_session: str | None) -> None:
    user = session.get(User, user_id)
    if user is None:
        raise NotAuthenticated("sign in first: no valid session or API token")
    user.password_hash = password_hash
    sessions.revoke_all(session, user_id, keep=keep_session)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def _managed(session: Session, actor: User, user_id: int) -> User:
    if not is_admin(actor):
        raise PermissionDenied("only the owner and admins can manage users")
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"user {user_id} not found")
    return target


def _revoke_access(session: Session, user: User) -> None:
    sessions.revoke_all(session, user.id)
    tokens.revoke_all(session, user.id)


def update_user(
    session: Session, actor: User, user_id: int, role: str | None, disabled: bool | None
) -> User:
    """Changes a user's role or disables them; disabling ends their sessions and API tokens."""
    target = _managed(session, actor, user_id)
    if role is None and disabled is None:
        raise InvalidInput("nothing to change: send role, disabled or both")
    if role is not None and role != target.role:
        if target.role == "owner":
            raise PermissionDenied("the owner's role cannot be changed")
        if role not in ("admin", "user"):
            raise InvalidInput("role: must be 'admin' or 'user'")
        target.role = role
    if disabled:
        if target.role == "owner":
            raise PermissionDenied("the owner cannot be disabled")
        if target.id == actor.id:
            raise PermissionDenied("you cannot disable your own account")
        _revoke_access(session, target)
    if disabled is not None:
        target.disabled = disabled
    return target


def delete_user(session: Session, actor: User, user_id: int) -> User:
    """Removes a user; their project memberships go with them (cascade) and the projects they
    created stay, without an owner of their own. Sessions and tokens are ended explicitly, so
    access ends even on a connection that has foreign keys off."""
    target = _managed(session, actor, user_id)
    if target.role == "owner":
        raise PermissionDenied("the owner cannot be deleted")
    if target.id == actor.id:
        raise PermissionDenied("you cannot delete your own account")
    _revoke_access(session, target)
    session.delete(target)
    return target


def revoke_sessions(session: Session, actor: User, user_id: int) -> User:
    """Signs a user out everywhere: every session and API token ends. Anyone may do it for
    themselves; the owner and admins for others, except for the owner."""
    if user_id == actor.id:
        target = session.get(User, actor.id)
        if target is None:
            raise NotAuthenticated("sign in first: no valid session or API token")
    else:
        target = _managed(session, actor, user_id)
        if target.role == "owner":
            raise PermissionDenied("only the owner can sign the owner out")
    _revoke_access(session, target)
    return target


def _signup(session: Session, username: str, email: str, password_hash: str, ttl: timedelta) -> tuple[User, str]:
    user = signup_owner(session, username, email, password_hash)
    return user, sessions.open_session(session, user, ttl)


class Users:
    """Accounts and sign-in as the API asks for them. Passwords are hashed before any transaction
    opens; a request refused for its caller's role costs no argon2."""

    def __init__(self, db: Database, session_ttl: timedelta) -> None:
        self.db = db
        self.session_ttl = session_ttl

    async def signup(self, username: str, email: str, password: str) -> tuple[User, str]:
        """The owner's account and a session token for it; only while Mist has no owner."""
        await self.db.run(ensure_signup_open)
        password_hash = await hash_password(password)
        return await self.db.run(_signup, username, email, password_hash, self.session_ttl)

    async def login(self, email: str, password: str) -> tuple[User, str]:
        """The user and a new session token; NotAuthenticated when the pair is wrong."""
        user = await authenticate(self.db, email, password)
        return user, await self.db.run(sessions.open_session, user, self.session_ttl)

    async def change_password(self, user: User, current: str, new: str, keep_session: str | None) -> None:
        await change_password(self.db, user, current, new, keep_session)

    async def logout(self, session_token: str | None) -> None:
        await self.db.run(sessions.revoke, session_token)

    async def create(self, actor: User, username: str, email: str, password: str, role: str) -> User:
        if not is_admin(actor):  # before hashing: a refused request costs no argon2
            raise PermissionDenied("only the owner and admins can create users")
        password_hash = await hash_password(password)
        return await self.db.run(create_user, actor, username, email, password_hash, role)

    async def list_for(self, actor: User) -> list[User]:
        if not is_admin(actor):
            raise PermissionDenied("only the owner and admins can list users")
        return await self.db.run(list_users)

    async def update(self, actor: User, user_id: int, role: str | None, disabled: bool | None) -> User:
        return await self.db.run(update_user, actor, user_id, role, disabled)

    async def delete(self, actor: User, user_id: int) -> User:
        return await self.db.run(delete_user, actor, user_id)

    async def revoke_sessions(self, actor: User, user_id: int) -> User:
        return await self.db.run(revoke_sessions, actor, user_id)
