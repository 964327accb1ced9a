"""Push-to-deploy: the endpoint git hosts call, and the per-app settings for it."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from mist import apps, webhooks
from mist.api.deps import CurrentUser, Svc, ok, record
from mist.api.schemas import WebhookSettingsIn
from mist.deploy import store
from mist.errors import NotAuthenticated

router = APIRouter(tags=["webhooks"])


@router.post("/api/apps/webhook")
def settings(body: WebhookSettingsIn, request: Request, user: CurrentUser, svc: Svc) -> dict:
    with svc.db.session() as session:
        secret = apps.webhook_secret(session, user, body.appId, body.rotate)
    if body.rotate:
        record(svc, request, user, "webhook.rotate", f"app:{body.appId}")
    url = str(request.base_url).rstrip("/") + f"/api/webhooks/{body.appId}"
    return ok({"url": url, "secret": secret})


@router.post("/api/webhooks/{app_id}")
async def receive(app_id: int, request: Request, svc: Svc) -> dict:
    body = await request.body()  # bounded by MIST_WEBHOOK_MAX_BODY_KB, enforced while reading
    headers = {k.lower(): v for k, v in request.headers.items()}
    event = webhooks.event_of(headers)
    secret = await asyncio.to_thread(svc.db.call, webhooks.secret_of, app_id)
    try:
        webhooks.verify(event, headers, body, secret)
    except NotAuthenticated as exc:
        await asyncio.to_thread(record, svc, request, None, "webhook.rejected", f"app:{app_id}",
                                provider=event.provider, reason=exc.message)
        raise
    outcome = await webhooks.receive(svc.db, svc.git, app_id, event, body)
    deployment = store.to_json(outcome.deployment) if outcome.deployment else None
    await asyncio.to_thread(record, svc, request, None,
                            "webhook.replay_ignored" if outcome.replay else "webhook.received", f"app:{app_id}",
                            provider=event.provider, delivery=event.delivery[:128], outcome=outcome.message,
                            deploymentId=deployment["id"] if deployment else None)
    if deployment:
        svc.workers.notify()
    return ok(deployment, outcome.message)
