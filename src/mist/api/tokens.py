"""API tokens of the calling user; a token is shown once, when it is created."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mist.api.deps import CurrentUser, Svc, ok, record
from mist.api.schemas import IdIn, TokenIn
from mist.auth import tokens

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


@router.post("/create")
def create(body: TokenIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        row, token = tokens.create(session, user, body.name, body.scope, body.expiresAt)
        data = {**tokens.to_json(row), "token": token}
    record(svc, request, user, "token.create", f"token:{data['id']}", name=body.name, scope=body.scope)
    return ok(data, "Token created; it is shown only this once")


@router.get("/getAll")
def get_all(user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok([tokens.to_json(t) for t in tokens.list_for(session, user)])


@router.delete("/delete")
def delete(body: IdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        row = tokens.delete(session, user, body.id)
        name = row.name
    record(svc, request, user, "token.delete", f"token:{body.id}", name=name)
    return ok(None, "Token revoked")
