"""Notifications (owner and admins): where deployment outcomes are told, and how each delivery went.
A webhook's secret is answered once, by create and by update with rotateSecret."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from mist.api import shapes
from mist.api.deps import Svc, admins, ok, record
from mist.api.refs import MAX_ID
from mist.api.schemas import IdIn, NotificationCreateIn, NotificationUpdateIn
from mist.db.models import User

Admin = Annotated[User, Depends(admins("manage notifications"))]
router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.post("/create")
async def create(body: NotificationCreateIn, request: Request, user: Admin, svc: Svc) -> dict:
    view, secret = await svc.notifications.create(user, body.name, body.kind, body.target, body.events, body.enabled)
    await record(svc, request, user, "notification.create", f"notification:{view.row.id}",
                 name=view.row.name, kind=view.row.kind)
    data = shapes.notification(view)
    if secret is None:
        return ok(data, "Notification created")
    return ok({**data, "secret": secret}, "Notification created; its secret is shown only this once")


@router.get("/getAll")
async def get_all(user: Admin, svc: Svc) -> dict:
    return ok([shapes.notification(v) for v in await svc.notifications.list_all(user)])


@router.put("/update")
async def update(body: NotificationUpdateIn, request: Request, user: Admin, svc: Svc) -> dict:
    changes = body.model_dump(exclude_unset=True, exclude={"id", "rotateSecret"})
    view, secret = await svc.notifications.update(user, body.id, changes, body.rotateSecret)
    await record(svc, request, user, "notification.update", f"notification:{body.id}",
                 fields=sorted(changes), rotateSecret=body.rotateSecret)
    data = shapes.notification(view)
    if secret is None:
        return ok(data, "Notification updated")
    return ok({**data, "secret": secret}, "Notification updated; its new secret is shown only this once")


@router.delete("/delete")
async def delete(body: IdIn, request: Request, user: Admin, svc: Svc) -> dict:
    row = await svc.notifications.delete(user, body.id)
    await record(svc, request, user, "notification.delete", f"notification:{body.id}", name=row.name)
    return ok(None, "Notification deleted")


@router.post("/test")
async def test(body: IdIn, request: Request, user: Admin, svc: Svc) -> dict:
    attempted = await svc.notifications.test(user, body.id)
    await record(svc, request, user, "notification.test", f"notification:{body.id}", delivered=attempted.delivered)
    data: dict = {"delivered": attempted.delivered, "deliveryId": attempted.delivery_id}
    if attempted.status_code is not None:
        data["statusCode"] = attempted.status_code
    if attempted.error is not None:
        data["error"] = attempted.error
    return ok(data, "Test notification delivered" if attempted.delivered else "Test notification not delivered")


@router.get("/deliveries")
async def deliveries(
    user: Admin, svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    notificationId: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,  # noqa: N803 - the API's name
) -> dict:
    rows = await svc.notifications.deliveries(user, limit, notificationId)
    return ok([shapes.notification_delivery(d, attempts) for d, attempts in rows])
