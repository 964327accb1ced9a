"""Applications: create, read, update, delete; their env vars one by one, deploy key and volumes."""

from __future__ import annotations

from fastapi import APIRouter

from mist.api import shapes
from mist.api.deps import CurrentUser, ReadUser, Svc, ok
from mist.api.schemas import (
    AppCreateIn,
    AppDeleteIn,
    AppIdIn,
    AppIdQuery,
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
async def create(body: AppCreateIn, user: CurrentUser, svc: Svc) -> dict:
    app = await svc.apps.create(user, body.model_dump(exclude={"envVars"}), _env(body.envVars) or [])
    return ok(shapes.app(app, user), "Application created")


@router.get("/dockerfile")
async def dockerfile(appId: AppIdQuery, user: ReadUser, svc: Svc) -> dict:  # noqa: N803 - the API's name
    """What the next build would use, generated for the tip of the app's branch ("eject")."""
    return ok(shapes.dockerfile(await svc.dockerfiles.show(user, appId)))


@router.post("/getById")
async def get_by_id(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok(shapes.app(await svc.apps.get(user, body.appId), user))


@router.post("/getByProjectId")
async def get_by_project(body: ProjectIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok([shapes.app(a, user) for a in await svc.apps.list_for_project(user, body.projectId)])


@router.put("/update")
async def update(body: AppUpdateIn, user: CurrentUser, svc: Svc) -> dict:
    fields = body.model_dump(exclude_unset=True, exclude={"appId", "envVars"})
    env = _env(body.envVars) if "envVars" in body.model_fields_set else None
    app, action, notes = await svc.apps.update(user, body.appId, fields, env)
    return ok({**shapes.app(app, user), "actionRequired": action}, "; ".join(["Application updated", *notes]))


@router.delete("/delete")
async def delete(body: AppDeleteIn, user: CurrentUser, svc: Svc) -> dict:
    await svc.apps.delete(user, body.appId, body.deleteVolumes, body.deleteBackups)
    return ok(None, "Application deleted")


@router.post("/deployKey")
async def deploy_key(body: DeployKeyIn, user: CurrentUser, svc: Svc) -> dict:
    public = await svc.apps.deploy_key(user, body.appId, body.rotate, body.forgetHostKeys)
    return ok({"publicKey": public}, "Add this public key to the repository's deploy keys")


@router.post("/envs/create")
async def env_create(body: EnvCreateIn, user: CurrentUser, svc: Svc) -> dict:
    item = EnvInput(body.key, body.value, body.secret, body.buildTime, body.runtime)
    row, action = await svc.apps.add_env(user, body.appId, item)
    return ok({**shapes.env_var(row), "actionRequired": action}, "Environment variable created")


@router.post("/envs/get")
async def env_get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok([shapes.env_var(e) for e in await svc.apps.list_env(user, body.appId)])


@router.put("/envs/update")
async def env_update(body: EnvUpdateIn, user: CurrentUser, svc: Svc) -> dict:
    row, action = await svc.apps.change_env(user, body.id, body.model_dump(exclude={"id"}))
    return ok({**shapes.env_var(row), "actionRequired": action}, "Environment variable updated")


@router.delete("/envs/delete")
async def env_delete(body: EnvVarIdIn, user: CurrentUser, svc: Svc) -> dict:
    action = await svc.apps.remove_env(user, body.id)
    return ok({"actionRequired": action}, "Environment variable deleted")


@router.post("/volumes/create")
async def volume_create(body: VolumeCreateIn, user: CurrentUser, svc: Svc) -> dict:
    volume = await svc.volumes.create(user, body.appId, body.name, body.containerPath, body.hostPath, body.readOnly)
    return ok({**shapes.volume(volume), "actionRequired": REDEPLOY}, "Volume created")


@router.post("/volumes/get")
async def volume_get(body: AppIdIn, user: ReadUser, svc: Svc) -> dict:
    return ok([shapes.volume(v) for v in await svc.volumes.list_for(user, body.appId)])


@router.delete("/volumes/delete")
async def volume_delete(body: VolumeDeleteIn, user: CurrentUser, svc: Svc) -> dict:
    await svc.volumes.delete(user, body.id, body.removeData)
    return ok({"actionRequired": REDEPLOY}, "Volume deleted")
