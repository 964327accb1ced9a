"""Sign-up of the owner, sign-in, sign-out, password change, and who am I.

The routes that touch passwords are async: argon2 runs on its own pool (mist.auth.passwords), and
the sign-in throttle is checked on the event loop before any hash is computed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from mist.api import shapes
from mist.api.deps import CurrentUser, ReadUser, Svc, client_ip, ok, record
from mist.api.schemas import LoginIn, PasswordChangeIn, SignupIn
from mist.auth import sessions
from mist.auth.users import normalize_email
from mist.errors import MistError, NotAuthenticated

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _set_cookie(response: Response, svc, token: str) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME, token, httponly=True, samesite="lax",
        secure=svc.settings.secure_cookies, path="/",
        max_age=svc.settings.session_ttl_hours * 3600,
    )


@router.post("/signup")
async def signup(body: SignupIn, response: Response, svc: Svc) -> dict:
    user, token = await svc.users.signup(body.username, body.email, body.password)
    _set_cookie(response, svc, token)
    return ok(shapes.user(user), "Owner account created")


@router.post("/login")
async def login(body: LoginIn, request: Request, response: Response, svc: Svc) -> dict:
    email, ip = normalize_email(body.email), client_ip(request)
    svc.throttle.admit(email, ip)  # before any hash: a refused attempt costs nothing
    try:
        user, token = await svc.users.login(email, body.password)
    except NotAuthenticated:
        await record(svc, request, None, "auth.login_failed", email=email)
        raise
    svc.throttle.succeeded(email, ip)
    await record(svc, request, user, "auth.login")
    _set_cookie(response, svc, token)
    return ok(shapes.user(user), "Signed in")


@router.put("/password")
async def change_password(body: PasswordChangeIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    """Guesses at the current password (from a stolen session) are throttled like sign-ins."""
    ip = client_ip(request)
    svc.throttle.admit(user.email, ip)
    cookie = request.cookies.get(sessions.COOKIE_NAME)
    try:
        await svc.users.change_password(user, body.current, body.new, keep_session=cookie)
    except MistError:
        await record(svc, request, user, "auth.password_change_failed")
        raise
    svc.throttle.succeeded(user.email, ip)
    await record(svc, request, user, "auth.password_changed", f"user:{user.id}")
    return ok(None, "Password changed; your other sessions are signed out")


@router.post("/logout")
async def logout(request: Request, response: Response, svc: Svc) -> dict:
    await svc.users.logout(request.cookies.get(sessions.COOKIE_NAME))
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return ok(None, "Signed out")


@router.get("/me")
def me(user: ReadUser) -> dict:
    return ok(shapes.user(user))
