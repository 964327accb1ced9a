"""Domains of web apps; every change goes straight to the proxy."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from mist import domains
from mist.api.deps import CurrentUser, ReadUser, Svc, ok
from mist.api.schemas import AppIdIn, DomainIn, IdIn

router = APIRouter(prefix="/api/apps/domains", tags=["domains"])


def _add(session, user, app_id: int, name: str) -> dict:
    return domains.to_json(domains.add(session, user, app_id, name))


def _list(session, user, app_id: int) -> list[dict]:
    return [domains.to_json(d) for d in domains.list_for(session, user, app_id)]


@router.post("/create")
async def create(body: DomainIn, user: CurrentUser, svc: Svc) -> dict:
    data = await asyncio.to_thread(svc.db.call, _add, user, body.appId, body.domain)
    await svc.router.refresh()
    return ok(data, "Domain added")


@router.post("/get")
async def get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok(await asyncio.to_thread(svc.db.call, _list, user, body.appId))


@router.delete("/delete")
async def delete(body: IdIn, user: CurrentUser, svc: Svc) -> dict:
    await asyncio.to_thread(svc.db.call, domains.delete, user, body.id)
    await svc.router.refresh()
    return ok(None, "Domain removed")
