"""Domains of web apps; every change goes straight to the proxy, and into the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mist.api import shapes
from mist.api.deps import CurrentUser, ReadUser, Svc, ok, record
from mist.api.schemas import AppIdIn, DomainIdIn, DomainIn

router = APIRouter(prefix="/api/apps/domains", tags=["domains"])


@router.post("/create")
async def create(body: DomainIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    data = shapes.domain(await svc.domains.add(user, body.appId, body.domain))
    await record(svc, request, user, "domain.create", f"domain:{data['domain']}",
                 appId=data["appId"])
    return ok(data, "Domain added")


@router.post("/get")
async def get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok([shapes.domain(d) for d in await svc.domains.list_for(user, body.appId)])


@router.delete("/delete")
async def delete(body: DomainIdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    removed = await svc.domains.delete(user, body.id)
    await record(svc, request, user, "domain.delete", f"domain:{removed.domain}",
                 appId=removed.app_id)
    return ok(None, "Domain removed")
