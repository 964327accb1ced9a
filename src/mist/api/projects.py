"""Projects and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mist.api import shapes
from mist.api.deps import CurrentUser, ReadUser, Svc, ok
from mist.api.refs import MAX_ID, Ref
from mist.api.schemas import MembersIn, ProjectCreateIn

router = APIRouter(prefix="/api/projects", tags=["projects"])

ProjectId = Annotated[int, Query(alias="id", ge=1, le=MAX_ID), Ref("project")]


@router.post("/create")
async def create(body: ProjectCreateIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(shapes.project(await svc.projects.create(user, body.name, body.description)), "Project created")


@router.get("/getAll")
async def get_all(user: ReadUser, svc: Svc) -> dict:
    return ok([shapes.project(p) for p in await svc.projects.list_for(user)])


@router.get("/getFromId")
async def get_from_id(project_id: ProjectId, user: ReadUser, svc: Svc) -> dict:
    return ok(shapes.project(await svc.projects.get(user, project_id)))


@router.put("/updateMembers")
async def update_members(project_id: ProjectId, body: MembersIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(shapes.project(await svc.projects.update_members(user, project_id, body.userIds)), "Members updated")


@router.delete("/delete")
async def delete(project_id: ProjectId, user: CurrentUser, svc: Svc) -> dict:
    await svc.projects.delete(user, project_id)
    return ok(None, "Project deleted")
