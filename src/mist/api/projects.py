"""Projects and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mist import projects
from mist.api.deps import CurrentUser, ReadUser, Svc, ok
from mist.api.refs import Ref
from mist.api.schemas import MembersIn, ProjectCreateIn
from mist.auth.permissions import project_for

router = APIRouter(prefix="/api/projects", tags=["projects"])

ProjectId = Annotated[int, Query(alias="id", ge=1, le=2**63 - 1), Ref("project")]


@router.post("/create")
def create(body: ProjectCreateIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        project = projects.create(session, user, body.name, body.description)
        return ok(projects.to_json(project), "Project created")


@router.get("/getAll")
def get_all(user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok([projects.to_json(p) for p in projects.list_for(session, user)])


@router.get("/getFromId")
def get_from_id(project_id: ProjectId, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok(projects.to_json(project_for(session, user, project_id)))


@router.put("/updateMembers")
def update_members(project_id: ProjectId, body: MembersIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        project = projects.update_members(session, user, project_id, body.userIds)
        return ok(projects.to_json(project), "Members updated")


@router.delete("/delete")
def delete(project_id: ProjectId, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        removed = projects.delete(session, user, project_id)
    svc.cleanup.remove(removed)
    svc.cleanup.remove_network(project_id)
    return ok(None, "Project deleted")
