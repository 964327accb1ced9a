"""Applications: create, read, update, delete."""

from __future__ import annotations

from fastapi import APIRouter

from mist import apps
from mist.api.deps import CurrentUser, ReadUser, Svc, ok
from mist.api.schemas import AppCreateIn, AppIdIn, AppUpdateIn, EnvVarIn, EnvVars, ProjectIdIn
from mist.apps import EnvInput
from mist.auth.permissions import app_for

router = APIRouter(prefix="/api/apps", tags=["apps"])


def _env(value: EnvVars | None) -> list[EnvInput] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return [EnvInput(key=k, value=v) for k, v in value.items()]
    return [_one(item) for item in value]


def _one(item: EnvVarIn) -> EnvInput:
    return EnvInput(item.key, item.value, item.secret, item.buildTime, item.runtime)


@router.post("/create")
def create(body: AppCreateIn, user: CurrentUser, svc: Svc) -> dict:
    fields = body.model_dump(exclude={"envVars"})
    with svc.db.session() as session:
        app = apps.create(session, user, fields, _env(body.envVars) or [])
        return ok(apps.to_json(app), "Application created")


@router.post("/getById")
def get_by_id(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok(apps.to_json(app_for(session, user, body.appId)))


@router.post("/getByProjectId")
def get_by_project(body: ProjectIdIn, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok([apps.to_json(a) for a in apps.list_for_project(session, user, body.projectId)])


@router.put("/update")
def update(body: AppUpdateIn, user: CurrentUser, svc: Svc) -> dict:
    fields = body.model_dump(exclude_unset=True, exclude={"appId", "envVars"})
    env = _env(body.envVars) if "envVars" in body.model_fields_set else None
    with svc.db.session() as session:
        app = apps.update(session, user, body.appId, fields, env)
        return ok(apps.to_json(app), "Application updated")


@router.delete("/delete")
def delete(body: AppIdIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        removed = apps.delete(session, user, body.appId)
    svc.cleanup.remove(removed)
    return ok(None, "Application deleted")
