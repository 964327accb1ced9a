"""Push-to-deploy from GitHub, Gitea and GitLab. Owns writes to `webhook_deliveries`.

The signature is checked first, in constant time, and a missing or wrong one is refused: never
skipped, whatever the payload says. Only pushes to the app's branch deploy, exactly the pushed
commit; "[skip deploy]" or "[skip ci]" in the head commit's message skips, and so does an app whose
deployment strategy is manual. A redelivered event (same delivery id) does not deploy twice.

A delivery id is not signed, so a captured push could be replayed under a fresh one: a push of a
commit the app already deployed (or is deploying), or of one older than its active deployment's
commit (an ancestor of it, per the app's git mirror), does not deploy either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import App, Deployment, WebhookDelivery
from mist.deploy import store
from mist.deploy.stages import PENDING, RUNNING, SUCCEEDED
from mist.errors import InvalidInput, NotAuthenticated, NotFound
from mist.git import GitRepos

if TYPE_CHECKING:
    from mist.deploy.worker import Workers

SKIP_MARKERS = ("[skip deploy]", "[skip ci]")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
MAX_DELIVERY = WebhookDelivery.delivery.type.length


@dataclass(frozen=True)
class Event:
    provider: str  # github | gitea | gitlab
    kind: str  # push, ping, ...
    delivery: str


def event_of(headers: dict[str, str]) -> Event:
    if "x-github-event" in headers:
        event = Event("github", headers["x-github-event"], headers.get("x-github-delivery", ""))
    elif "x-gitea-event" in headers:
        event = Event("gitea", headers["x-gitea-event"], headers.get("x-gitea-delivery", ""))
    elif "x-gitlab-event" in headers:
        kind = "push" if headers["x-gitlab-event"] == "Push Hook" else headers["x-gitlab-event"]
        event = Event("gitlab", kind, headers.get("x-gitlab-event-uuid", ""))
    else:
        raise InvalidInput("not a GitHub, Gitea or GitLab webhook (no event header)")
    # Git hosts send UUIDs; PostgreSQL, unlike SQLite, refuses a longer one than the column holds.
    if len(event.delivery) > MAX_DELIVERY:
        raise InvalidInput(f"the delivery id header is longer than {MAX_DELIVERY} characters")
    return event


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
    if "\x00" in message:  # git refuses one in a message; PostgreSQL in a text column
        raise InvalidInput("the push payload's commit message contains a NUL character")
    return ref, commit, message


def secret_of(session: Session, app_id: int) -> str:
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"application {app_id} not found")
    return app.webhook_secret


@dataclass(frozen=True)
class Outcome:
    """What a verified event did: `message` says it; `replay` marks a push ignored as a replay."""

    message: str
    deployment: Deployment | None = None
    replay: bool = False


@dataclass(frozen=True)
class _Push:
    """A push to the app's branch that may deploy, once checked against the app's history."""

    commit: str
    subject: str
    active_commit: str  # of the app's active deployment; "" when there is none


# A commit deployed by one of these is not deployed again by a push; a failed or stopped one may be.
_DEPLOYED = (*SUCCEEDED, PENDING, *RUNNING)


async def receive(db: Database, git: GitRepos, app_id: int, event: Event, body: bytes) -> Outcome:
    """Called after `verify`."""
    outcome, push = await db.run(_read, app_id, event, body)
    if push is None:
        return outcome
    if push.active_commit and await git.is_ancestor(app_id, push.commit, push.active_commit):
        return Outcome(
            f"skipped: commit {push.commit[:7]} is older than the active deployment's commit "
            f"{push.active_commit[:7]}", replay=True,
        )
    return await db.run(_accept, app_id, event, push)


def _read(session: Session, app_id: int, event: Event, body: bytes) -> tuple[Outcome, _Push | None]:
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"application {app_id} not found")
    if event.kind == "ping":
        return Outcome("pong"), None
    if event.kind != "push":
        return Outcome(f"ignored: {event.kind} events do not deploy"), None
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidInput("the webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("the webhook body is not a JSON object")
    ref, commit, message = _head(payload)
    if ref != f"refs/heads/{app.git_branch}":
        return Outcome(f"skipped: {ref} is not the app's branch {app.git_branch}"), None
    if not _SHA.match(commit) or set(commit) == {"0"}:
        return Outcome("skipped: the push deleted the branch or names no commit"), None
    if any(marker in message.lower() for marker in SKIP_MARKERS):
        return Outcome("skipped: the head commit asks not to deploy"), None
    if app.deployment_strategy != "auto":
        return Outcome("skipped: automatic deployment is off for this app"), None
    if _delivered(session, app.id, event, commit):
        return Outcome("skipped: this event was delivered before"), None
    if replayed := _already_deployed(session, app.id, commit):
        return replayed, None
    active = store.active(session, app.id)
    subject = message.strip().splitlines()[0] if message.strip() else ""
    return Outcome(""), _Push(commit, subject, active.commit_hash if active else "")


def _accept(session: Session, app_id: int, event: Event, push: _Push) -> Outcome:
    """Records the delivery and queues the deployment, checking again in the writing transaction."""
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"application {app_id} not found")
    if replayed := _already_deployed(session, app.id, push.commit):
        return replayed
    delivery = WebhookDelivery(app_id=app.id, provider=event.provider, delivery=_delivery_id(event, push.commit))
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        return Outcome("skipped: this event was delivered before")
    deployment = store.enqueue(session, app, push.commit, push.subject)
    delivery.deployment_id = deployment.id
    return Outcome("deploying", deployment)


def _delivery_id(event: Event, commit: str) -> str:
    return event.delivery or f"commit:{commit}"


def _delivered(session: Session, app_id: int, event: Event, commit: str) -> bool:
    return session.scalar(select(WebhookDelivery.id).where(
        WebhookDelivery.app_id == app_id, WebhookDelivery.provider == event.provider,
        WebhookDelivery.delivery == _delivery_id(event, commit),
    )) is not None


def _already_deployed(session: Session, app_id: int, commit: str) -> Outcome | None:
    earlier = session.scalar(
        select(Deployment).where(
            Deployment.app_id == app_id, Deployment.commit_hash == commit, Deployment.status.in_(_DEPLOYED),
        ).order_by(Deployment.id.desc()).limit(1)
    )
    if earlier is None:
        return None
    doing = "is already deployed" if earlier.status in SUCCEEDED else "is already being deployed"
    return Outcome(
        f"skipped: commit {commit[:7]} {doing} (deployment #{earlier.deployment_number}); "
        "deploy it again from Mist itself if that is what you want", replay=True,
    )


class Webhooks:
    """What the endpoint git hosts call asks: check the signature, then queue the pushed commit
    (or say why not) and wake a worker."""

    def __init__(self, db: Database, git: GitRepos, workers: Workers) -> None:
        self.db = db
        self.git = git
        self.workers = workers

    async def receive(self, app_id: int, event: Event, headers: dict[str, str], body: bytes) -> Outcome:
        """Raises NotAuthenticated when the signature is missing or wrong, before reading the payload."""
        verify(event, headers, body, await self.db.run(secret_of, app_id))
        outcome = await receive(self.db, self.git, app_id, event, body)
        if outcome.deployment is not None:
            self.workers.notify()
        return outcome
