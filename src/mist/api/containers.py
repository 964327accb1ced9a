"""The app's running container: control, status and runtime logs (REST; the live stream is in ws.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mist.api.deps import DeployUser, ReadUser, Svc, ok
from mist.api.schemas import AppIdQuery as AppId
from mist.containers import MAX_TAIL

router = APIRouter(prefix="/api/apps/container", tags=["containers"])

Tail = Annotated[int, Query(ge=1, le=MAX_TAIL)]


@router.post("/stop")
async def stop(appId: AppId, user: DeployUser, svc: Svc) -> dict:  # noqa: N803 - the API's name
    return ok(await svc.containers.stop(user, appId), "Container stopped")


@router.post("/start")
async def start(appId: AppId, user: DeployUser, svc: Svc) -> dict:  # noqa: N803
    return ok(await svc.containers.start(user, appId), "Container started")


@router.post("/restart")
async def restart(appId: AppId, user: DeployUser, svc: Svc) -> dict:  # noqa: N803
    return ok(await svc.containers.restart(user, appId), "Container restarted")


@router.get("/status")
async def status(appId: AppId, user: ReadUser, svc: Svc) -> dict:  # noqa: N803
    return ok(await svc.containers.status(user, appId))


@router.get("/logs")
async def logs(appId: AppId, user: ReadUser, svc: Svc, tail: Tail = 100) -> dict:  # noqa: N803
    return ok({"logs": await svc.containers.logs(user, appId, tail)})
