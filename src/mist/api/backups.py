"""Backups of database apps, their restores, and where they are kept. Members of a project back up
and restore its databases; deleting or downloading a backup and managing destinations are for the
owner and admins (the service checks; `_admin` refuses members before their request is read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse

from mist.api import shapes
from mist.api.deps import CurrentUser, Svc, admins, ok, record
from mist.api.refs import MAX_ID, Ref
from mist.api.schemas import (
    AppIdIn,
    BackupIdIn,
    DestinationCreateIn,
    IdIn,
    ProjectIdIn,
    RestoreIdIn,
    RestoreIn,
)
from mist.backups.destinations import DestinationInput
from mist.db.models import User

Admin = Annotated[User, Depends(admins("manage backup destinations"))]
router = APIRouter(prefix="/api/backups", tags=["backups"])


@router.post("/create")
async def create(body: AppIdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    row = await svc.backups.create(user, body.appId)
    await record(svc, request, user, "backup.create", f"backup:{row.id}", appId=row.app_id)
    return ok(shapes.backup(row), "Backup queued")


@router.post("/getByAppId")
async def get_by_app(body: AppIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok([shapes.backup(b) for b in await svc.backups.list_for_app(user, body.appId)])


@router.post("/getByProjectId")
async def get_by_project(body: ProjectIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok([shapes.backup(b) for b in await svc.backups.list_for_project(user, body.projectId)])


@router.post("/getById")
async def get_by_id(body: BackupIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(shapes.backup(await svc.backups.get(user, body.id)))


@router.post("/status")
async def status(body: AppIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(shapes.backup_status(await svc.backups.status(user, body.appId)))


@router.post("/verify")
async def verify(body: BackupIdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    row = await svc.backups.verify(user, body.id)
    await record(svc, request, user, "backup.verify", f"backup:{row.id}")
    return ok(shapes.backup(row), "Verification queued")


@router.delete("/delete")
async def delete(body: BackupIdIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    row = await svc.backups.delete(user, body.id)
    await record(svc, request, user, "backup.delete", f"backup:{row.id}", appId=row.app_id)
    return ok(None, "Backup deleted")


@router.get("/download/{backup_id}")
async def download(
    backup_id: Annotated[int, Path(ge=1, le=MAX_ID), Ref("backup")], request: Request, user: CurrentUser, svc: Svc,
) -> StreamingResponse:
    row, filename, chunks = await svc.backups.download(user, backup_id)
    await record(svc, request, user, "backup.download", f"backup:{row.id}", appId=row.app_id)
    return StreamingResponse(chunks, media_type="application/octet-stream",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/restore")
async def restore(body: RestoreIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    row = await svc.backups.restore(user, body.backupId, body.targetAppId)
    await record(svc, request, user, "backup.restore", f"restore:{row.id}", backupId=row.backup_id, appId=row.app_id)
    return ok(shapes.restore(row), "Restore queued")


@router.post("/restores/getById")
async def restore_by_id(body: RestoreIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok(shapes.restore(await svc.backups.get_restore(user, body.id), with_log=True))


@router.post("/restores/getByAppId")
async def restores_by_app(body: AppIdIn, user: CurrentUser, svc: Svc) -> dict:
    return ok([shapes.restore(r) for r in await svc.backups.restores_for_app(user, body.appId)])


@router.post("/destinations/create")
async def create_destination(body: DestinationCreateIn, request: Request, user: Admin, svc: Svc) -> dict:
    row = await svc.backups.create_destination(user, DestinationInput(
        name=body.name, endpoint=body.endpoint, bucket=body.bucket, region=body.region, prefix=body.prefix,
        access_key=body.accessKey, secret_key=body.secretKey))
    await record(svc, request, user, "backup_destination.create", f"backup_destination:{row.id}", name=row.name)
    return ok(shapes.backup_destination(row), "Backup destination created")


@router.get("/destinations/getAll")
async def destinations(user: Admin, svc: Svc) -> dict:
    return ok([shapes.backup_destination(d) for d in await svc.backups.list_destinations(user)])


@router.delete("/destinations/delete")
async def delete_destination(body: IdIn, request: Request, user: Admin, svc: Svc) -> dict:
    row = await svc.backups.delete_destination(user, body.id)
    await record(svc, request, user, "backup_destination.delete", f"backup_destination:{body.id}", name=row.name)
    return ok(None, "Backup destination deleted")
