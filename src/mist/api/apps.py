"""Applications: create, read, update, delete; their env vars one by one, deploy key and volumes."""

from __future__ import annotations

from fastapi import APIRouter

from mist import apps, volumes
from mist.api.deps import CurrentUser, ReadUser, Svc, ok
from mist.api.schemas import (
    AppCreateIn,
    AppDeleteIn,
    AppIdIn,
    AppUpdateIn,
    DeployKeyIn,
    EnvCreateIn,
    EnvUpdateIn,
    EnvVarIdIn,
    EnvVarIn,
    EnvVars,
    ProjectIdIn,
    VolumeCreateIn,
    VolumeDeleteIn,
)
from mist.apps import REDEPLOY, EnvInput
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
        app = apps.create(session, user, fields, _env(body.envVars) or [], svc.box)
        return ok(apps.to_json(app, user), "Application created")


@router.post("/getById")
def get_by_id(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok(apps.to_json(app_for(session, user, body.appId), user))


@router.post("/getByProjectId")
def get_by_project(body: ProjectIdIn, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok([apps.to_json(a, user) for a in apps.list_for_project(session, user, body.projectId)])


@router.put("/update")
def update(body: AppUpdateIn, user: CurrentUser, svc: Svc) -> dict:
    fields = body.model_dump(exclude_unset=True, exclude={"appId", "envVars"})
    env = _env(body.envVars) if "envVars" in body.model_fields_set else None
    with svc.db.session() as session:
        app, action, notes = apps.update(session, user, body.appId, fields, env, svc.box)
        return ok({**apps.to_json(app, user), "actionRequired": action}, "; ".join(["Application updated", *notes]))


@router.delete("/delete")
def delete(body: AppDeleteIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        removed = apps.delete(session, user, body.appId, body.deleteVolumes)
    svc.cleanup.remove(removed)
    return ok(None, "Application deleted")


@router.post("/deployKey")
def deploy_key(body: DeployKeyIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        app = apps.deploy_key(session, user, body.appId, body.rotate, svc.box)
        public = app.deploy_key_public
    if body.forgetHostKeys:
        svc.git.forget_host_keys(body.appId)
    return ok({"publicKey": public}, "Add this public key to the repository's deploy keys")


@router.post("/envs/create")
def env_create(body: EnvCreateIn, user: CurrentUser, svc: Svc) -> dict:
    item = EnvInput(body.key, body.value, body.secret, body.buildTime, body.runtime)
    with svc.db.session() as session:
        row, action = apps.add_env(session, user, body.appId, item)
        return ok({**apps.env_to_json(row), "actionRequired": action}, "Environment variable created")


@router.post("/envs/get")
def env_get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok(apps.list_env(session, user, body.appId))


@router.put("/envs/update")
def env_update(body: EnvUpdateIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        row, action = apps.change_env(session, user, body.id, body.model_dump(exclude={"id"}))
        return ok({**apps.env_to_json(row), "actionRequired": action}, "Environment variable updated")


@router.delete("/envs/delete")
def env_delete(body: EnvVarIdIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        action = apps.remove_env(session, user, body.id)
    return ok({"actionRequired": action}, "Environment variable deleted")


@router.post("/volumes/create")
def volume_create(body: VolumeCreateIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        volume = volumes.create(session, user, body.appId, body.name, body.containerPath, body.hostPath,
                                body.readOnly, svc.settings.data_dir, svc.settings.mount_roots)
        return ok({**volumes.to_json(volume), "actionRequired": REDEPLOY}, "Volume created")


@router.post("/volumes/get")
def volume_get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        return ok([volumes.to_json(v) for v in volumes.list_for(session, user, body.appId)])


@router.delete("/volumes/delete")
def volume_delete(body: VolumeDeleteIn, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        volume = volumes.get(session, user, body.id)
        if body.removeData and not volume.host_path:
            # Data first: if the engine refuses (the volume is mounted), nothing has changed.
            svc.cleanup.remove_volume(volumes.docker_name(volume))
        volumes.delete(session, user, body.id)
    return ok({"actionRequired": REDEPLOY}, "Volume deleted")
