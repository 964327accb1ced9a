"""Users, created and managed by the owner and admins; anyone may sign themselves out everywhere."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from mist.api.auth import user_json
from mist.api.deps import CurrentUser, Svc, ok, record
from mist.api.schemas import IdIn, UserCreateIn, UserUpdateIn
from mist.auth import users
from mist.auth.passwords import hash_password
from mist.errors import PermissionDenied

router = APIRouter(prefix="/api/users", tags=["users"])


def _create(session, actor, body: UserCreateIn, password_hash: str) -> dict:
    return user_json(users.create_user(session, actor, body.username, body.email, password_hash, body.role))


@router.post("/create")
async def create(body: UserCreateIn, user: CurrentUser, svc: Svc) -> dict:
    if not users.is_admin(user):  # before hashing: a refused request costs no argon2
        raise PermissionDenied("only the owner and admins can create users")
    password_hash = await hash_password(body.password)
    return ok(await asyncio.to_thread(svc.db.call, _create, user, body, password_hash), "User created")


@router.get("/getAll")
def get_all(user: CurrentUser, svc: Svc) -> dict:
    if not users.is_admin(user):
        raise PermissionDenied("only the owner and admins can list users")
    with svc.db.session() as session:
        return ok([user_json(u) for u in users.list_users(session)])


@router.put("/update")
def update(body: UserUpdateIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        data = user_json(users.update_user(session, user, body.id, body.role, body.disabled))
    changes = body.model_dump(exclude={"id"}, exclude_none=True)
    record(svc, request, user, "user.update", f"user:{body.id}", username=data["username"], **changes)
    return ok(data, "User updated" + ("; their sessions and API tokens are revoked" if body.disabled else ""))


@router.delete("/delete")
def delete(body: IdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        username = users.delete_user(session, user, body.id).username
    record(svc, request, user, "user.delete", f"user:{body.id}", username=username)
    return ok(None, "User deleted")


@router.post("/revokeSessions")
def revoke_sessions(body: IdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        username = users.revoke_sessions(session, user, body.id).username
    record(svc, request, user, "user.revoke_sessions", f"user:{body.id}", username=username)
    return ok(None, "Every session and API token of the user is revoked")
