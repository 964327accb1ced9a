"""Push-to-deploy: the endpoint git hosts call, and the per-app settings for it."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mist import webhooks
from mist.api import shapes
from mist.api.deps import CurrentUser, Svc, ok, record
from mist.api.schemas import WebhookSettingsIn
from mist.errors import NotAuthenticated

router = APIRouter(tags=["webhooks"])


@router.post("/api/apps/webhook")
async def settings(body: WebhookSettingsIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    secret = await svc.apps.webhook_secret(user, body.appId, body.rotate)
    if body.rotate:
        await record(svc, request, user, "webhook.rotate", f"app:{body.appId}")
    url = str(request.base_url).rstrip("/") + f"/api/webhooks/{body.appId}"
    return ok({"url": url, "secret": secret})


@router.post("/api/webhooks/{app_id}")
async def receive(app_id: int, request: Request, svc: Svc) -> dict:
    body = await request.body()  # bounded by MIST_WEBHOOK_MAX_BODY_KB, enforced while reading
    headers = {k.lower(): v for k, v in request.headers.items()}
    event = webhooks.event_of(headers)
    try:
        outcome = await svc.webhooks.receive(app_id, event, headers, body)
    except NotAuthenticated as exc:
        await record(svc, request, None, "webhook.rejected", f"app:{app_id}",
                     provider=event.provider, reason=exc.message)
        raise
    deployment = shapes.deployment(outcome.deployment) if outcome.deployment else None
    await record(svc, request, None,
                 "webhook.replay_ignored" if outcome.replay else "webhook.received", f"app:{app_id}",
                 provider=event.provider, delivery=event.delivery[:128], outcome=outcome.message,
                 deploymentId=deployment["id"] if deployment else None)
    return ok(deployment, outcome.message)
