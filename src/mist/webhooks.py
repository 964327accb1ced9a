"""Push-to-deploy from GitHub, Gitea and GitLab. Owns writes to `webhook_deliveries`.

The signature is checked first, in constant time, and a missing or wrong one is refused: never
skipped, whatever the payload says. Only pushes to the app's branch deploy, exactly the pushed
commit; "[skip deploy]" or "[skip ci]" in the head commit's message skips, and so does an app whose
deployment strategy is manual. A redelivered event (same delivery id) does not deploy twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mist.db.models import App, Deployment, WebhookDelivery
from mist.deploy import store
from mist.errors import InvalidInput, NotAuthenticated, NotFound

SKIP_MARKERS = ("[skip deploy]", "[skip ci]")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class Event:
    provider: str  # github | gitea | gitlab
    kind: str  # push, ping, ...
    delivery: str


def event_of(headers: dict[str, str]) -> Event:
    if "x-github-event" in headers:
        return Event("github", headers["x-github-event"], headers.get("x-github-delivery", ""))
    if "x-gitea-event" in headers:
        return Event("gitea", headers["x-gitea-event"], headers.get("x-gitea-delivery", ""))
    if "x-gitlab-event" in headers:
        kind = "push" if headers["x-gitlab-event"] == "Push Hook" else headers["x-gitlab-event"]
        return Event("gitlab", kind, headers.get("x-gitlab-event-uuid", ""))
    raise InvalidInput("not a GitHub, Gitea or GitLab webhook (no event header)")


def verify(event: Event, headers: dict[str, str], body: bytes, secret: str) -> None:
    if not secret:
        raise NotAuthenticated("webhooks are not set up for this app: no secret")
    if event.provider == "gitlab":
        given, expected = headers.get("x-gitlab-token", ""), secret
    else:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if event.provider == "github":
            given, expected = headers.get("x-hub-signature-256", ""), f"sha256={digest}"
        else:
            given, expected = headers.get("x-gitea-signature", ""), digest
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAuthenticated(f"the {event.provider} webhook signature is missing or wrong")


def _head(payload: dict[str, Any]) -> tuple[str, str, str]:
    """(branch ref, pushed commit, head commit message) of a push payload of any of the three."""
    ref = payload.get("ref")
    commit = payload.get("after") or payload.get("checkout_sha") or ""
    head = payload.get("head_commit") or {}
    message = head.get("message") if isinstance(head, dict) else None
    if message is None:
        commits = [c for c in payload.get("commits") or [] if isinstance(c, dict)]
        match = [c for c in commits if c.get("id") == commit] or commits[-1:]
        message = match[0].get("message", "") if match else ""
    if not isinstance(ref, str) or not isinstance(commit, str) or not isinstance(message, str):
        raise InvalidInput("the push payload has no ref, commit or message")
    return ref, commit, message


def secret_of(session: Session, app_id: int) -> str:
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"application {app_id} not found")
    return app.webhook_secret


def receive(session: Session, app_id: int, event: Event, body: bytes) -> tuple[str, Deployment | None]:
    """Called after `verify`. Returns what happened, and the deployment when one was queued."""
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"application {app_id} not found")
    if event.kind == "ping":
        return "pong", None
    if event.kind != "push":
        return f"ignored: {event.kind} events do not deploy", None
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("the webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("the webhook body is not a JSON object")
    ref, commit, message = _head(payload)
    if ref != f"refs/heads/{app.git_branch}":
        return f"skipped: {ref} is not the app's branch {app.git_branch}", None
    if not _SHA.match(commit) or set(commit) == {"0"}:
        return "skipped: the push deleted the branch or names no commit", None
    if any(marker in message.lower() for marker in SKIP_MARKERS):
        return "skipped: the head commit asks not to deploy", None
    if app.deployment_strategy != "auto":
        return "skipped: automatic deployment is off for this app", None
    delivery = WebhookDelivery(app_id=app.id, provider=event.provider, delivery=event.delivery or f"commit:{commit}")
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        return "skipped: this event was delivered before", None
    subject = message.strip().splitlines()[0] if message.strip() else ""
    deployment = store.enqueue(session, app, commit, subject)
    delivery.deployment_id = deployment.id
    return "deploying", deployment
