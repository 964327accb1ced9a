"""Notifications as the API uses them: owner and admins only. Owns writes to `notifications`.

Targets and webhook secrets are stored encrypted and never answered again, except a webhook's
secret once, when it is made (create, or update with rotateSecret).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.auth.users import is_admin
from mist.db.engine import Database
from mist.db.models import Notification, NotificationAttempt, NotificationDelivery, User, utcnow
from mist.errors import InvalidInput, NotFound, PermissionDenied
from mist.notifications import events, outbox, targets
from mist.notifications.dispatcher import LEASE, Dispatcher
from mist.secretbox import SecretBox

SECRET_BYTES = 32


@dataclass(frozen=True)
class View:
    """A notification as it may be shown: its target with the secrets masked."""

    row: Notification
    target: str
    events: list[str]
    last_delivery: tuple[str, datetime] | None


@dataclass(frozen=True)
class Attempted:
    """What the test route answers: how the first attempt went."""

    delivery_id: int
    delivered: bool
    status_code: int | None
    error: str | None


def _admin(user: User) -> None:
    if not is_admin(user):
        raise PermissionDenied("only the owner and admins can manage notifications")


def _events(names: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(names))
    if not chosen:
        raise InvalidInput(f"events: name one or more of {', '.join(events.SUBSCRIBABLE)}")
    unknown = [name for name in chosen if name not in events.SUBSCRIBABLE]
    if unknown:
        raise InvalidInput(f"events: unknown event '{unknown[0][:64]}'; known: {', '.join(events.SUBSCRIBABLE)}")
    return chosen


class Notifications:
    def __init__(self, db: Database, box: SecretBox, dispatcher: Dispatcher, smtp_url: str) -> None:
        self.db = db
        self.box = box
        self.dispatcher = dispatcher
        self.smtp_url = smtp_url

    def _target(self, kind: str, target: str) -> str:
        if kind == "email" and not self.smtp_url:
            raise InvalidInput("target: e-mail notifications need MIST_SMTP_URL set on the server")
        return targets.check(kind, target)

    def _view(self, row: Notification, last: tuple[str, datetime] | None) -> View:
        return View(row, targets.shown(row.kind, self.box.decrypt(row.target)), json.loads(row.events), last)

    def _get(self, session: Session, notification_id: int) -> Notification:
        row = session.get(Notification, notification_id)
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        return row

    def _create(self, session: Session, user: User, name: str, kind: str, target: str, names: list[str],
                enabled: bool) -> tuple[View, str | None]:
        _admin(user)
        if kind not in targets.KINDS:
            raise InvalidInput(f"kind: must be one of {', '.join(targets.KINDS)}")
        stored, chosen = self._target(kind, target), _events(names)
        secret = secrets.token_hex(SECRET_BYTES) if kind == "webhook" else None
        row = Notification(name=name.strip(), kind=kind, target=self.box.encrypt(stored),
                           secret=self.box.encrypt(secret) if secret else "", events=json.dumps(chosen),
                           enabled=enabled)
        session.add(row)
        session.flush()
        return self._view(row, None), secret

    async def create(self, user: User, name: str, kind: str, target: str, names: list[str],
                     enabled: bool = True) -> tuple[View, str | None]:
        return await self.db.run(self._create, user, name, kind, target, names, enabled)

    def _list(self, session: Session, user: User) -> list[View]:
        _admin(user)
        last = outbox.last_deliveries(session)
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [self._view(row, last.get(row.id)) for row in rows]

    async def list_all(self, user: User) -> list[View]:
        return await self.db.run(self._list, user)

    def _update(self, session: Session, user: User, notification_id: int, changes: dict[str, Any],
                rotate_secret: bool) -> tuple[View, str | None]:
        _admin(user)
        row = self._get(session, notification_id)
        if "name" in changes:
            row.name = changes["name"].strip()
        if "target" in changes:
            row.target = self.box.encrypt(self._target(row.kind, changes["target"]))
        if "events" in changes:
            row.events = json.dumps(_events(changes["events"]))
        if "enabled" in changes:
            row.enabled = changes["enabled"]
        secret = None
        if rotate_secret:
            if row.kind != "webhook":
                raise InvalidInput("rotateSecret: only webhook notifications have a secret")
            secret = secrets.token_hex(SECRET_BYTES)
            row.secret = self.box.encrypt(secret)
        row.updated_at = utcnow()
        session.flush()
        return self._view(row, outbox.last_deliveries(session).get(row.id)), secret

    async def update(self, user: User, notification_id: int, changes: dict[str, Any],
                     rotate_secret: bool = False) -> tuple[View, str | None]:
        """`changes`: the fields sent (name, target, events, enabled), validated here."""
        return await self.db.run(self._update, user, notification_id, changes, rotate_secret)

    def _delete(self, session: Session, user: User, notification_id: int) -> Notification:
        _admin(user)
        row = self._get(session, notification_id)
        session.delete(row)  # its deliveries and their attempts go with it (ON DELETE CASCADE)
        return row

    async def delete(self, user: User, notification_id: int) -> Notification:
        return await self.db.run(self._delete, user, notification_id)

    def _enqueue_test(self, session: Session, user: User, notification_id: int) -> outbox.Claim:
        _admin(user)
        row = self._get(session, notification_id)
        return outbox.enqueue_claimed(session, row, events.TEST, events.probe_payload(row.name), utcnow(), LEASE)

    async def test(self, user: User, notification_id: int) -> Attempted:
        """Sends `notification.test` through the outbox now and answers how the first attempt went;
        a failed one is retried like any delivery."""
        claim = await self.db.run(self._enqueue_test, user, notification_id)
        outcome = await self.dispatcher.attempt(claim)
        if outcome is None:
            raise NotFound(f"notification {notification_id} not found")  # deleted meanwhile
        return Attempted(claim.delivery_id, outcome.ok, outcome.status_code, None if outcome.ok else outcome.answer)

    def _deliveries(self, session: Session, user: User, limit: int, notification_id: int | None
                    ) -> list[tuple[NotificationDelivery, list[NotificationAttempt]]]:
        _admin(user)
        if notification_id is not None:
            self._get(session, notification_id)
        return outbox.recent(session, limit, notification_id)

    async def deliveries(self, user: User, limit: int, notification_id: int | None = None
                         ) -> list[tuple[NotificationDelivery, list[NotificationAttempt]]]:
        return await self.db.run(self._deliveries, user, limit, notification_id)
