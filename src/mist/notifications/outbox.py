"""The durable outbox of notifications. Owns writes to `notification_deliveries` and
`notification_attempts`.

A delivery row is added in the very transaction that writes what it tells of (a deployment's
outcome): both commit, or neither. Dispatchers then claim due rows with a lease, the same way on
SQLite and PostgreSQL: `next_attempt_at` is pushed past the lease and `claimed_by` set to a token of
this claim, so a dispatcher that dies mid-attempt leaves the row due again once the lease lapses,
and one whose lease lapsed cannot record over another's attempt.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mist.db.engine import affected
from mist.db.models import Deployment, Notification, NotificationAttempt, NotificationDelivery
from mist.notifications import events

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# How long after each failed attempt the next one is made; after the last, the delivery has failed.
BACKOFF = (timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
           timedelta(hours=2))
ANSWER_CHARS = 500


def subscribers(session: Session, event: str) -> list[Notification]:
    """The enabled notifications that asked for `event` (few rows: filtered here, not in SQL)."""
    rows = session.scalars(select(Notification).where(Notification.enabled.is_(True)).order_by(Notification.id))
    return [n for n in rows if event in json.loads(n.events)]


def enqueue(session: Session, event: str, payload: dict[str, Any]) -> list[int]:
    """Adds one delivery of `payload` per notification subscribed to `event`, in the caller's
    transaction. Answers their ids."""
    return _add(session, subscribers(session, event), event, payload)


def _add(session: Session, notifications: list[Notification], event: str, payload: dict[str, Any]) -> list[int]:
    body = json.dumps(payload)
    rows = [NotificationDelivery(notification_id=n.id, event=event, payload=body) for n in notifications]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def enqueue_deployment(session: Session, deployment_id: int) -> list[int]:
    """The deployment's final outcome, to whoever subscribed to it; called by mist.deploy.store in
    the transaction that writes that outcome."""
    deployment = session.get_one(Deployment, deployment_id)
    session.refresh(deployment)  # the outcome was just written by an UPDATE the session did not track
    event = events.deployment_event(deployment.status)
    notifications = subscribers(session, event) if event is not None else []
    if event is None or not notifications:
        return []
    return _add(session, notifications, event, events.deployment_payload(session, deployment, event))


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    token: str


def enqueue_claimed(session: Session, notification: Notification, event: str, payload: dict[str, Any],
                    now: datetime, lease: timedelta) -> Claim:
    """A delivery already claimed by the caller, who attempts it at once (the test route): no
    dispatcher takes it first, and if the caller dies it is retried like any other."""
    token = uuid.uuid4().hex
    row = NotificationDelivery(notification_id=notification.id, event=event, payload=json.dumps(payload),
                               next_attempt_at=now + lease, claimed_by=token)
    session.add(row)
    session.flush()
    return Claim(row.id, token)


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int) -> list[Claim]:
    """Takes up to `limit` due deliveries. On PostgreSQL the rows another dispatcher is claiming are
    skipped (FOR UPDATE SKIP LOCKED); SQLite runs one writer at a time. The UPDATE checks again that
    the row is still due, so a row is never held by two claims."""
    due = (select(NotificationDelivery.id)
           .where(NotificationDelivery.status == PENDING, NotificationDelivery.next_attempt_at <= now)
           .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
           .limit(limit).with_for_update(skip_locked=True))
    claims = []
    for delivery_id in list(session.scalars(due)):
        token = uuid.uuid4().hex
        result = session.execute(
            update(NotificationDelivery)
            .where(NotificationDelivery.id == delivery_id, NotificationDelivery.status == PENDING,
                   NotificationDelivery.next_attempt_at <= now)
            .values(next_attempt_at=now + lease, claimed_by=token, updated_at=now))
        if affected(result) == 1:
            claims.append(Claim(delivery_id, token))
    return claims


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    ok: bool
    status_code: int | None
    answer: str


@dataclass(frozen=True)
class Recorded:
    status: str
    attempt: int  # 1 for the first
    next_attempt_at: datetime | None


def record(session: Session, claim: Claim, outcome: Outcome, now: datetime,
           backoff: tuple[timedelta, ...] = BACKOFF) -> Recorded | None:
    """Records the attempt and what comes next: delivered, a retry after the backoff, or failed
    once the backoff is spent. None when the claim had lapsed (another dispatcher owns the row now)."""
    row = session.get(NotificationDelivery, claim.delivery_id)
    if row is None or row.claimed_by != claim.token or row.status != PENDING:
        return None
    attempt = row.attempts_made + 1
    if outcome.ok:
        status, next_at = DELIVERED, None
    elif attempt <= len(backoff):
        status, next_at = PENDING, now + backoff[attempt - 1]
    else:
        status, next_at = FAILED, None
    result = session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == claim.delivery_id, NotificationDelivery.claimed_by == claim.token,
               NotificationDelivery.status == PENDING)
        .values(status=status, attempts_made=attempt, next_attempt_at=next_at or now, claimed_by="", updated_at=now))
    if affected(result) != 1:
        return None
    session.add(NotificationAttempt(delivery_id=claim.delivery_id, at=now, ok=outcome.ok,
                                    status_code=outcome.status_code, answer=outcome.answer[:ANSWER_CHARS]))
    return Recorded(status, attempt, next_at)


def get(session: Session, delivery_id: int) -> NotificationDelivery | None:
    return session.get(NotificationDelivery, delivery_id)


def recent(session: Session, limit: int, notification_id: int | None = None
           ) -> list[tuple[NotificationDelivery, list[NotificationAttempt]]]:
    """The newest deliveries first, each with its attempts in order. One statement, so one snapshot:
    on PostgreSQL two would each see the latest commit, and could show a delivery's status from
    before the attempt they list."""
    newest = select(NotificationDelivery.id).order_by(NotificationDelivery.id.desc()).limit(limit)
    if notification_id is not None:
        newest = newest.where(NotificationDelivery.notification_id == notification_id)
    rows = session.execute(
        select(NotificationDelivery, NotificationAttempt)
        .outerjoin(NotificationAttempt, NotificationAttempt.delivery_id == NotificationDelivery.id)
        .where(NotificationDelivery.id.in_(newest.scalar_subquery()))
        .order_by(NotificationDelivery.id.desc(), NotificationAttempt.id))
    found: dict[int, tuple[NotificationDelivery, list[NotificationAttempt]]] = {}
    for delivery, attempt in rows:
        _, attempts = found.setdefault(delivery.id, (delivery, []))
        if attempt is not None:
            attempts.append(attempt)
    return list(found.values())


def last_deliveries(session: Session) -> dict[int, tuple[str, datetime]]:
    """Per notification, the status of the delivery attempted last and when: the list's `lastDelivery`."""
    newest = (select(func.max(NotificationAttempt.id))
              .join(NotificationDelivery, NotificationAttempt.delivery_id == NotificationDelivery.id)
              .group_by(NotificationDelivery.notification_id))
    rows = session.execute(
        select(NotificationDelivery.notification_id, NotificationDelivery.status, NotificationAttempt.at)
        .join(NotificationAttempt, NotificationAttempt.delivery_id == NotificationDelivery.id)
        .where(NotificationAttempt.id.in_(newest)))
    return {row.notification_id: (row.status, row.at) for row in rows}


def prune(session: Session, before: datetime) -> int:
    """Deletes finished deliveries (their attempts go with them) last touched before `before`: the
    outbox is a recent history, not an archive."""
    result = session.execute(delete(NotificationDelivery).where(
        NotificationDelivery.status.in_((DELIVERED, FAILED)), NotificationDelivery.updated_at < before))
    return affected(result)
