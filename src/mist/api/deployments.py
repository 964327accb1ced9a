"""The Deployments API, exactly as the published contract spells it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import PlainTextResponse

from mist.api.deps import CurrentUser, Svc, ok
from mist.api.schemas import AppIdIn, DeploymentIdIn

router = APIRouter(prefix="/api/deployment", tags=["deployments"])


@router.post("/add")
async def add(body: AppIdIn, user: CurrentUser, svc: Svc) -> dict:
    # The contract returns the new deployment itself, without the envelope.
    return await svc.deployments.trigger(user, body.appId)


@router.post("/stop")
async def stop(body: DeploymentIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(await svc.deployments.stop(user, body.deploymentId), "Deployment stopped")


@router.post("/rollback")
async def rollback(body: DeploymentIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(await svc.deployments.rollback(user, body.deploymentId), "Rollback queued")


@router.post("/getByAppId")
def get_by_app_id(body: AppIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(svc.deployments.list_for_app(user, body.appId), "Deployments retrieved successfully")


@router.get("/logs/{deployment_id}", response_class=PlainTextResponse)
def logs(
    deployment_id: Annotated[int, Path(ge=1, le=2**63 - 1)], user: CurrentUser, svc: Svc
) -> PlainTextResponse:
    return PlainTextResponse(svc.deployments.log_text(user, deployment_id))
