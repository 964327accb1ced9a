"""Request-scoped helpers: the services, and the calling user with the scope a route needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from mist.auth.principal import identify
from mist.auth.sessions import COOKIE_NAME
from mist.auth.tokens import allows
from mist.auth.users import is_admin
from mist.db.models import User
from mist.errors import NotAuthenticated, PermissionDenied
from mist.services import Services


def services(request: Request) -> Services:
    return request.app.state.services


def require(scope: str) -> Callable[..., User]:
    def caller(request: Request, svc: Annotated[Services, Depends(services)]) -> User:
        found = svc.db.call(identify, request.cookies.get(COOKIE_NAME), request.headers.get("authorization"))
        if found is None:
            raise NotAuthenticated("sign in first: no valid session or API token")
        user, granted = found
        if not allows(granted, scope):
            raise PermissionDenied(f"this token's scope '{granted}' does not allow this; it needs '{scope}'")
        # Dependencies run before the request is validated: a validation error is then answered
        # knowing who asked (api/errors.py hides the ids they cannot reach).
        request.state.caller = user
        return user

    return caller


Svc = Annotated[Services, Depends(services)]
ReadUser = Annotated[User, Depends(require("read"))]
DeployUser = Annotated[User, Depends(require("deploy"))]
CurrentUser = Annotated[User, Depends(require("admin"))]


def admins(what: str) -> Callable[..., User]:
    """Refuses members before their request is even read (the service checks again)."""
    def admin(user: CurrentUser) -> User:
        if not is_admin(user):
            raise PermissionDenied(f"only the owner and admins can {what}")
        return user

    return admin


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def record(
    svc: Services, request: Request, actor: User | None, action: str, target: str = "", **details: Any
) -> None:
    """Audit rule: a route records what it did once the service call succeeded (or a refusal worth
    knowing about), since it knows who asked and from where."""
    await svc.audit.record(actor, action, target, client_ip(request), **details)


def ok(data: Any = None, message: str = "OK") -> dict:
    return {"success": True, "message": message, "data": data}
