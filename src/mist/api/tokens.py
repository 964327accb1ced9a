"""API tokens of the calling user; a token is shown once, when it is created."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mist.api import shapes
from mist.api.deps import CurrentUser, Svc, ok, record
from mist.api.schemas import IdIn, TokenIn

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


@router.post("/create")
async def create(body: TokenIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    row, token = await svc.tokens.create(user, body.name, body.scope, body.expiresAt)
    await record(svc, request, user, "token.create", f"token:{row.id}", name=body.name, scope=body.scope)
    return ok({**shapes.token(row), "token": token}, "Token created; it is shown only this once")


@router.get("/getAll")
async def get_all(user: CurrentUser, svc: Svc) -> dict:
    return ok([shapes.token(t) for t in await svc.tokens.list_for(user)])


@router.delete("/delete")
async def delete(body: IdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    row = await svc.tokens.delete(user, body.id)
    await record(svc, request, user, "token.delete", f"token:{body.id}", name=row.name)
    return ok(None, "Token revoked")
