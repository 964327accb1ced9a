"""Request-scoped helpers: the services, and the calling user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from mist.auth.sessions import COOKIE_NAME, user_for_token
from mist.db.models import User
from mist.errors import NotAuthenticated
from mist.services import Services


def services(request: Request) -> Services:
    return request.app.state.services


def current_user(request: Request, svc: Annotated[Services, Depends(services)]) -> User:
    user = svc.db.call(user_for_token, request.cookies.get(COOKIE_NAME))
    if user is None:
        raise NotAuthenticated("sign in first: no valid session")
    return user


Svc = Annotated[Services, Depends(services)]
CurrentUser = Annotated[User, Depends(current_user)]


def ok(data: Any = None, message: str = "OK") -> dict:
    return {"success": True, "message": message, "data": data}
