"""Users, created by the owner and admins."""

from __future__ import annotations

from fastapi import APIRouter

from mist.api.auth import user_json
from mist.api.deps import CurrentUser, Svc, ok
from mist.api.schemas import UserCreateIn
from mist.auth import users
from mist.errors import PermissionDenied

router = APIRouter(prefix="/api/users", tags=["users"])


@router.post("/create")
def create(body: UserCreateIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        created = users.create_user(session, user, body.username, body.email, body.password, body.role)
        return ok(user_json(created), "User created")


@router.get("/getAll")
def get_all(user: CurrentUser, svc: Svc) -> dict:
    if not users.is_admin(user):
        raise PermissionDenied("only the owner and admins can list users")
    with svc.db.session() as session:
        return ok([user_json(u) for u in users.list_users(session)])
