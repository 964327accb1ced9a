"""What the server and an app run with, each value with where it came from (`mist settings`,
`mist status`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mist import app_settings, settings_report
from mist.api.deps import ReadUser, Svc, ok
from mist.api.refs import MAX_ID, Ref

router = APIRouter(prefix="/api", tags=["settings"])

AppId = Annotated[int, Query(ge=1, le=MAX_ID), Ref("application")]


@router.get("/settings")
def mist_settings(user: ReadUser, svc: Svc) -> dict:
    return ok({"settings": settings_report.for_user(user, svc.settings)})


@router.get("/apps/settings")
async def app_settings_of(appId: AppId, user: ReadUser, svc: Svc) -> dict:  # noqa: N803 - the API's name
    effective = app_settings.resolve(await svc.apps.get(user, appId), svc.settings)
    return ok({"appId": appId, "settings": effective.rows()})
