"""The background task that delivers notifications: one per process, beside the deploy workers.

It claims due deliveries from the outbox (several processes share it safely, see outbox.claim_due),
makes one attempt at each, and records it with the receiver's answer; a failed attempt is retried
after the backoff and logged without any secret. Nothing here waits on deployments, and nothing a
receiver does reaches a deployment's row: the outcome was committed before its notification existed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import Notification, NotificationDelivery, utcnow
from mist.errors import MistError
from mist.notifications import events, outbox
from mist.notifications.outbox import BACKOFF, Claim, Outcome
from mist.notifications.senders import Senders, Target
from mist.secretbox import SecretBox

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
BATCH = 10
# Longer than an attempt can take (senders.ATTEMPT_TIMEOUT): a claim lapses only if its process died.
LEASE = timedelta(seconds=60)
RETENTION = timedelta(days=30)
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Loaded:
    name: str
    to: Target
    event: str
    payload: dict[str, Any]


def _load(session: Session, claim: Claim, box: SecretBox) -> Loaded | None:
    delivery = session.get(NotificationDelivery, claim.delivery_id)
    if delivery is None:  # its notification was deleted since the claim
        return None
    notification = session.get_one(Notification, delivery.notification_id)
    return Loaded(
        name=notification.name,
        to=Target(notification.kind, box.decrypt(notification.target),
                  box.decrypt(notification.secret) if notification.secret else ""),
        event=delivery.event, payload=json.loads(delivery.payload),
    )


class Dispatcher:
    def __init__(self, db: Database, box: SecretBox, senders: Senders, public_url: str, *,
                 clock: Callable[[], datetime] = utcnow, backoff: tuple[timedelta, ...] = BACKOFF,
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.db = db
        self.box = box
        self.senders = senders
        self.public_url = public_url
        # Tests drive time and the schedule through these two.
        self.clock = clock
        self.backoff = backoff
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._pruned_at: datetime | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mist-notifications")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None
        await self.senders.aclose()

    async def run_once(self) -> int:
        """Claims what is due and attempts each; answers how many were claimed."""
        claims = await self.db.run(outbox.claim_due, self.clock(), LEASE, BATCH)
        results = await asyncio.gather(*(self.attempt(c) for c in claims), return_exceptions=True)
        for claim, result in zip(claims, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                # Left claimed: the lease lapses and the delivery is tried again.
                log.error("notification delivery %d: attempt broke: %s", claim.delivery_id, type(result).__name__)
        return len(claims)

    async def attempt(self, claim: Claim) -> Outcome | None:
        """One attempt at a claimed delivery, recorded; None if the delivery is gone."""
        try:
            loaded = await self.db.run(_load, claim, self.box)
        except MistError as exc:  # a credential that cannot be decrypted: the attempt fails, saying why
            outcome = Outcome(False, None, exc.message)
            await self.db.run(outbox.record, claim, outcome, self.clock(), self.backoff)
            log.warning("notification delivery %d failed: %s", claim.delivery_id, exc.message)
            return outcome
        if loaded is None:
            return None
        payload = events.with_link(loaded.payload, self.public_url)
        outcome = await self.senders.send(loaded.to, loaded.event, payload, claim.delivery_id)
        recorded = await self.db.run(outbox.record, claim, outcome, self.clock(), self.backoff)
        if not outcome.ok and recorded is not None:
            after = (f"next attempt at {recorded.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
                     if recorded.next_attempt_at else "giving up")
            log.warning("notification '%s' (%s): delivery %d of %s, attempt %d failed: %s%s; %s",
                        loaded.name, loaded.to.kind, claim.delivery_id, loaded.event, recorded.attempt,
                        f"HTTP {outcome.status_code} " if outcome.status_code else "",
                        outcome.answer[:200].replace("\n", " "), after)
        return outcome

    async def prune(self) -> int:
        """Deletes finished deliveries older than RETENTION."""
        removed = await self.db.run(outbox.prune, self.clock() - RETENTION)
        if removed:
            log.info("notifications: removed %d finished deliveries older than %d days", removed, RETENTION.days)
        return removed

    async def _loop(self) -> None:
        while True:
            claimed = 0
            try:
                claimed = await self.run_once()
                now = self.clock()
                if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                    self._pruned_at = now
                    await self.prune()
            except Exception:  # a locked or broken database must not end deliveries for good
                log.exception("notifications: the dispatcher failed; trying again in %g s", self.poll_seconds)
            if claimed < BATCH:  # after a full batch, more may be due at once
                await asyncio.sleep(self.poll_seconds)
