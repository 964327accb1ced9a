"""Users: sign-up of the owner, creation of further users, look-ups. Owns writes to `users`."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mist.auth.passwords import hash_password, verify_password
from mist.db.models import User
from mist.errors import Conflict, InvalidInput, NotAuthenticated, PermissionDenied

ROLES = ("owner", "admin", "user")


def is_admin(user: User) -> bool:
    return user.role in ("owner", "admin")


def _create(session: Session, username: str, email: str, password: str, role: str) -> User:
    email = email.strip().lower()
    clash = session.scalar(
        select(User).where(or_(User.username == username, User.email == email))
    )
    if clash is not None:
        field = "username" if clash.username == username else "email"
        raise Conflict(f"a user with this {field} already exists")
    user = User(username=username, email=email, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def signup_owner(session: Session, username: str, email: str, password: str) -> User:
    if session.scalar(select(func.count()).select_from(User)):
        raise Conflict("sign-up is closed: Mist already has an owner; ask them for an account")
    return _create(session, username, email, password, "owner")


def create_user(
    session: Session, actor: User, username: str, email: str, password: str, role: str
) -> User:
    if not is_admin(actor):
        raise PermissionDenied("only the owner and admins can create users")
    if role not in ("admin", "user"):
        raise InvalidInput("role: must be 'admin' or 'user'")
    return _create(session, username, email, password, role)


def authenticate(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(user.password_hash if user else None, password):
        raise NotAuthenticated("wrong e-mail or password")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))
