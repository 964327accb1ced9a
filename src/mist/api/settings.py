"""What the server and an app run with, each value with where it came from (`mist settings`,
`mist status`)."""

from __future__ import annotations

from fastapi import APIRouter

from mist import app_settings, settings_report
from mist.api.deps import ReadUser, Svc, ok
from mist.api.schemas import AppIdQuery as AppId

router = APIRouter(prefix="/api", tags=["settings"])

@router.get("/settings")
def mist_settings(user: ReadUser, svc: Svc) -> dict:
    return ok({"settings": settings_report.for_user(user, svc.settings)})


@router.get("/apps/settings")
async def app_settings_of(appId: AppId, user: ReadUser, svc: Svc) -> dict:  # noqa: N803 - the API's name
    effective = app_settings.resolve(await svc.apps.get(user, appId), svc.settings)
    return ok({"appId": appId, "settings": effective.rows()})
