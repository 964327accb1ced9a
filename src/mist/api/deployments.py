"""The Deployments API, exactly as the published contract spells it, plus stop and rollback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from mist.api import shapes
from mist.api.deps import DeployUser, ReadUser, Svc, ok, record
from mist.api.refs import MAX_ID
from mist.api.schemas import AppIdIn, DeploymentIdIn

router = APIRouter(prefix="/api/deployment", tags=["deployments"])


@router.post("/add")
async def add(body: AppIdIn, request: Request, user: DeployUser, svc: Svc) -> dict:
    deployment = shapes.deployment(await svc.deployments.trigger(user, body.appId))
    await record(svc, request, user, "deployment.add", f"deployment:{deployment['id']}",
                 appId=body.appId, commit=deployment["commit_hash"])
    # The contract returns the new deployment itself, without the envelope.
    return deployment


@router.post("/stop")
async def stop(body: DeploymentIdIn, request: Request, user: DeployUser, svc: Svc) -> dict:
    deployment = shapes.deployment(await svc.deployments.stop(user, body.deploymentId))
    await record(svc, request, user, "deployment.stop", f"deployment:{body.deploymentId}",
                 status=deployment["status"])
    return ok(deployment, "Deployment stopped")


@router.post("/rollback")
async def rollback(body: DeploymentIdIn, request: Request, user: DeployUser, svc: Svc) -> dict:
    deployment = shapes.deployment(await svc.deployments.rollback(user, body.deploymentId))
    await record(svc, request, user, "deployment.rollback", f"deployment:{deployment['id']}",
                 rollbackTo=body.deploymentId)
    return ok(deployment, "Rollback queued")


@router.post("/getByAppId")
async def get_by_app_id(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    found = await svc.deployments.list_for_app(user, body.appId)
    return ok([shapes.deployment(d) for d in found], "Deployments retrieved successfully")


@router.get("/logs/{deployment_id}", response_class=PlainTextResponse)
def logs(
    deployment_id: Annotated[int, Path(ge=1, le=MAX_ID)], user: ReadUser, svc: Svc
) -> StreamingResponse:
    # Streamed a page at a time: a log may hold MIST_LOG_MAX_MB. Same content type as before (the contract's).
    return StreamingResponse(svc.deployments.log_blocks(user, deployment_id), media_type=PlainTextResponse.media_type)
