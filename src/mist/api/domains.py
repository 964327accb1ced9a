"""Domains of web apps; every change goes straight to the proxy, and into the audit log."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from mist import domains
from mist.api.deps import CurrentUser, ReadUser, Svc, ok, record
from mist.api.schemas import AppIdIn, DomainIdIn, DomainIn

router = APIRouter(prefix="/api/apps/domains", tags=["domains"])


def _add(session, user, app_id: int, name: str, public_host: str, reserved: frozenset[str]) -> dict:
    return domains.to_json(domains.add(session, user, app_id, name, public_host, reserved))


def _list(session, user, app_id: int) -> list[dict]:
    return [domains.to_json(d) for d in domains.list_for(session, user, app_id)]


def _delete(session, user, domain_id: int) -> dict:
    return domains.to_json(domains.delete(session, user, domain_id))


@router.post("/create")
async def create(body: DomainIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    settings = svc.settings
    data = await asyncio.to_thread(
        svc.db.call, _add, user, body.appId, body.domain, settings.public_host, settings.reserved_hosts
    )
    await asyncio.to_thread(record, svc, request, user, "domain.create", f"domain:{data['domain']}",
                            appId=data["appId"])
    await svc.router.refresh()
    return ok(data, "Domain added")


@router.post("/get")
async def get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok(await asyncio.to_thread(svc.db.call, _list, user, body.appId))


@router.delete("/delete")
async def delete(body: DomainIdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    removed = await asyncio.to_thread(svc.db.call, _delete, user, body.id)
    await asyncio.to_thread(record, svc, request, user, "domain.delete", f"domain:{removed['domain']}",
                            appId=removed["appId"])
    await svc.router.refresh()
    return ok(None, "Domain removed")
