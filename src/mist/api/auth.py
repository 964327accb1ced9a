"""Sign-up of the owner, sign-in, sign-out, and who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from mist.api.deps import ReadUser, Svc, ok, record
from mist.api.schemas import LoginIn, SignupIn
from mist.auth import sessions, users
from mist.errors import NotAuthenticated

router = APIRouter(prefix="/api/auth", tags=["auth"])


def user_json(user) -> dict:
    return {"id": user.id, "username": user.username, "email": user.email, "role": user.role}


def _set_cookie(response: Response, svc, token: str) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME, token, httponly=True, samesite="lax",
        secure=svc.settings.secure_cookies, path="/",
        max_age=svc.settings.session_ttl_hours * 3600,
    )


@router.post("/signup")
def signup(body: SignupIn, response: Response, svc: Svc) -> dict:
    ttl = timedelta(hours=svc.settings.session_ttl_hours)
    with svc.db.session() as session:
        user = users.signup_owner(session, body.username, body.email, body.password)
        token = sessions.open_session(session, user, ttl)
        data = user_json(user)
    _set_cookie(response, svc, token)
    return ok(data, "Owner account created")


@router.post("/login")
def login(body: LoginIn, request: Request, response: Response, svc: Svc) -> dict:
    ttl = timedelta(hours=svc.settings.session_ttl_hours)
    try:
        with svc.db.session() as session:
            user = users.authenticate(session, body.email, body.password)
            token = sessions.open_session(session, user, ttl)
            data = user_json(user)
    except NotAuthenticated:
        record(svc, request, None, "auth.login_failed", email=body.email.strip().lower())
        raise
    record(svc, request, user, "auth.login")
    _set_cookie(response, svc, token)
    return ok(data, "Signed in")


@router.post("/logout")
def logout(request: Request, response: Response, svc: Svc) -> dict:
    svc.db.call(sessions.revoke, request.cookies.get(sessions.COOKIE_NAME))
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return ok(None, "Signed out")


@router.get("/me")
def me(user: ReadUser) -> dict:
    return ok(user_json(user))
