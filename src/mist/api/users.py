"""Users, created and managed by the owner and admins; anyone may sign themselves out everywhere."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mist.api import shapes
from mist.api.deps import CurrentUser, Svc, ok, record
from mist.api.schemas import IdIn, UserCreateIn, UserUpdateIn

router = APIRouter(prefix="/api/users", tags=["users"])


@router.post("/create")
async def create(body: UserCreateIn, user: CurrentUser, svc: Svc) -> dict:
    created = await svc.users.create(user, body.username, body.email, body.password, body.role)
    return ok(shapes.user(created), "User created")


@router.get("/getAll")
async def get_all(user: CurrentUser, svc: Svc) -> dict:
    return ok([shapes.user(u) for u in await svc.users.list_for(user)])


@router.put("/update")
async def update(body: UserUpdateIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    data = shapes.user(await svc.users.update(user, body.id, body.role, body.disabled))
    changes = body.model_dump(exclude={"id"}, exclude_none=True)
    await record(svc, request, user, "user.update", f"user:{body.id}", username=data["username"], **changes)
    return ok(data, "User updated" + ("; their sessions and API tokens are revoked" if body.disabled else ""))


@router.delete("/delete")
async def delete(body: IdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    removed = await svc.users.delete(user, body.id)
    await record(svc, request, user, "user.delete", f"user:{body.id}", username=removed.username)
    return ok(None, "User deleted")


@router.post("/revokeSessions")
async def revoke_sessions(body: IdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    target = await svc.users.revoke_sessions(user, body.id)
    await record(svc, request, user, "user.revoke_sessions", f"user:{body.id}", username=target.username)
    return ok(None, "Every session and API token of the user is revoked")
