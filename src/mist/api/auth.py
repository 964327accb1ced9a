"""Sign-up of the owner, sign-in, sign-out, password change, and who am I.

The routes that touch passwords are async: argon2 runs on its own pool (mist.auth.passwords), and
the sign-in throttle is checked on the event loop before any hash is computed.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from mist.api.deps import CurrentUser, ReadUser, Svc, client_ip, ok, record
from mist.api.schemas import LoginIn, PasswordChangeIn, SignupIn
from mist.auth import sessions, users
from mist.auth.passwords import hash_password
from mist.errors import MistError, NotAuthenticated

router = APIRouter(prefix="/api/auth", tags=["auth"])


def user_json(user) -> dict:
    return {"id": user.id, "username": user.username, "email": user.email, "role": user.role,
            "disabled": user.disabled}


def _set_cookie(response: Response, svc, token: str) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME, token, httponly=True, samesite="lax",
        secure=svc.settings.secure_cookies, path="/",
        max_age=svc.settings.session_ttl_hours * 3600,
    )


def _signup(session, body: SignupIn, password_hash: str, ttl: timedelta) -> tuple[dict, str]:
    user = users.signup_owner(session, body.username, body.email, password_hash)
    return user_json(user), sessions.open_session(session, user, ttl)


@router.post("/signup")
async def signup(body: SignupIn, response: Response, svc: Svc) -> dict:
    ttl = timedelta(hours=svc.settings.session_ttl_hours)
    await asyncio.to_thread(svc.db.call, users.ensure_signup_open)
    password_hash = await hash_password(body.password)
    data, token = await asyncio.to_thread(svc.db.call, _signup, body, password_hash, ttl)
    _set_cookie(response, svc, token)
    return ok(data, "Owner account created")


@router.post("/login")
async def login(body: LoginIn, request: Request, response: Response, svc: Svc) -> dict:
    email, ip = users.normalize_email(body.email), client_ip(request)
    svc.throttle.admit(email, ip)  # before any hash: a refused attempt costs nothing
    try:
        user = await users.authenticate(svc.db, email, body.password)
    except NotAuthenticated:
        await asyncio.to_thread(record, svc, request, None, "auth.login_failed", email=email)
        raise
    svc.throttle.succeeded(email, ip)
    ttl = timedelta(hours=svc.settings.session_ttl_hours)
    token = await asyncio.to_thread(svc.db.call, sessions.open_session, user, ttl)
    await asyncio.to_thread(record, svc, request, user, "auth.login")
    _set_cookie(response, svc, token)
    return ok(user_json(user), "Signed in")


@router.put("/password")
async def change_password(body: PasswordChangeIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    """Guesses at the current password (from a stolen session) are throttled like sign-ins."""
    ip = client_ip(request)
    svc.throttle.admit(user.email, ip)
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    try:
        await users.change_password(svc.db, user, body.current, body.new, keep_session=cookie)
    except MistError:
        await asyncio.to_thread(record, svc, request, user, "auth.password_change_failed")
        raise
    svc.throttle.succeeded(user.email, ip)
    await asyncio.to_thread(record, svc, request, user, "auth.password_changed", f"user:{user.id}")
    return ok(None, "Password changed; your other sessions are signed out")


@router.post("/logout")
def logout(request: Request, response: Response, svc: Svc) -> dict:
    svc.db.call(sessions.revoke, request.cookies.get(sessions.COOKIE_NAME))
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return ok(None, "Signed out")


@router.get("/me")
def me(user: ReadUser) -> dict:
    return ok(user_json(user))
