"""mist.notifications.outbox on SQLite and PostgreSQL: deliveries are written in the transaction of
the outcome they tell of, claimed with a lease (never by two dispatchers at once), and retried on
the backoff schedule until they fail."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mist.db.engine import Database
from mist.db.models import App, Deployment, NotificationAttempt, NotificationDelivery, utcnow
from mist.deploy import store
from mist.deploy.stages import COMPLETED, FAILED, STOPPED
from mist.notifications import outbox
from mist.notifications.outbox import BACKOFF, Outcome

LEASE = timedelta(seconds=60)
ALL = ["deployment.succeeded", "deployment.failed", "deployment.stopped"]


def _deliveries(db: Database) -> list[NotificationDelivery]:
    with db.session() as s:
        return list(s.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)))


def _running(db: Database) -> int:
    with db.session() as s:
        deployment = store.enqueue(s, s.get_one(App, 4), "c" * 40, "Fix the login page")
    deployment_id, _ = db.call(store.claim_next, "w1", timedelta(seconds=30))
    assert deployment_id == deployment.id
    return deployment_id


def test_each_final_outcome_is_enqueued_for_its_subscribers_only(db: Database, notification: Callable) -> None:
    everything, failures, disabled = notification(ALL), notification(["deployment.failed"]), notification(ALL, False)
    succeeded = _running(db)
    db.call(store.succeed, succeeded, "w1", COMPLETED, "img", "cid", "{}")
    failed = _running(db)
    assert db.call(store.finish, failed, "w1", FAILED, "the build broke")
    with db.session() as s:
        waiting = store.enqueue(s, s.get_one(App, 4), "d" * 40, "later").id
    assert db.call(store.stop_pending, waiting, "Stopped by o")

    rows = _deliveries(db)
    assert [(r.notification_id, r.event) for r in rows] == [
        (everything, "deployment.succeeded"), (everything, "deployment.failed"), (failures, "deployment.failed"),
        (everything, "deployment.stopped")]
    assert disabled not in {r.notification_id for r in rows}
    assert all(r.status == "pending" and r.attempts_made == 0 for r in rows)


def test_the_outcome_and_its_notifications_commit_together(db: Database, notification: Callable) -> None:
    notification(ALL)
    deployment_id = _running(db)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.session() as s:
        assert store.finish(s, deployment_id, "w1", FAILED, "broke")
        assert s.scalar(select(func.count()).select_from(NotificationDelivery)) == 1
        raise Boom  # the transaction rolls back: neither the outcome nor its notification remain
    assert _deliveries(db) == []
    assert db.call(store.get, deployment_id).status == "building"
    assert not db.call(store.finish, deployment_id, "someone-else", FAILED, "not theirs")
    assert _deliveries(db) == []  # a write that changed nothing tells nothing


def test_the_payload_names_what_happened_and_holds_no_secret(db: Database, notification: Callable) -> None:
    notification(ALL)
    deployment_id = _running(db)
    db.call(store.finish, deployment_id, "w1", STOPPED, "Stopped by o")
    (row,) = _deliveries(db)
    assert "s3cr3t-env-value" not in row.payload and "API_KEY" not in row.payload
    payload = json.loads(row.payload)
    assert payload["event"] == "deployment.stopped"
    assert payload["project"] == {"id": 1, "name": "shop"} and payload["app"] == {"id": 4, "name": "web"}
    assert payload["deployment"]["number"] == 1 and payload["deployment"]["status"] == "stopped"
    assert payload["deployment"]["commitMessage"] == "Fix the login page"
    assert payload["deployment"]["error"] == "Stopped by o" and payload["url"] is None


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_lapses(db: Database, notification: Callable) -> None:
    notification(ALL)
    db.call(store.finish, _running(db), "w1", FAILED, "broke")
    now = utcnow()
    (first,) = db.call(outbox.claim_due, now, LEASE, 10)
    assert db.call(outbox.claim_due, now, LEASE, 10) == []
    assert db.call(outbox.claim_due, now + LEASE - timedelta(seconds=1), LEASE, 10) == []
    (second,) = db.call(outbox.claim_due, now + LEASE, LEASE, 10)  # the first claimer died
    assert second.delivery_id == first.delivery_id and second.token != first.token
    # The first claimer, back too late, cannot record over the second's attempt.
    assert db.call(outbox.record, first, Outcome(True, 200, "ok"), now + LEASE) is None
    recorded = db.call(outbox.record, second, Outcome(True, 200, "ok"), now + LEASE)
    assert recorded is not None and recorded.status == "delivered"
    assert db.call(outbox.claim_due, now + 10 * LEASE, LEASE, 10) == []


def test_failed_attempts_follow_the_backoff_schedule_then_the_delivery_fails(
    db: Database, notification: Callable
) -> None:
    notification(ALL)
    db.call(store.finish, _running(db), "w1", FAILED, "broke")
    now = utcnow()
    for attempt, wait in enumerate((*BACKOFF, None), start=1):
        (claim,) = db.call(outbox.claim_due, now, LEASE, 10)
        recorded = db.call(outbox.record, claim, Outcome(False, 503, "x" * 900), now)
        assert recorded is not None and recorded.attempt == attempt
        if wait is None:
            assert (recorded.status, recorded.next_attempt_at) == ("failed", None)
            break
        assert (recorded.status, recorded.next_attempt_at) == ("pending", now + wait)
        assert db.call(outbox.claim_due, now + wait - timedelta(seconds=1), LEASE, 10) == []
        now += wait
    assert db.call(outbox.claim_due, now + timedelta(days=1), LEASE, 10) == []
    ((delivery, attempts),) = db.call(outbox.recent, 10)
    assert delivery.status == "failed" and len(attempts) == len(BACKOFF) + 1
    assert all(len(a.answer) == outbox.ANSWER_CHARS and a.status_code == 503 for a in attempts)


def test_concurrent_dispatchers_never_claim_the_same_delivery(db: Database, notification: Callable) -> None:
    notification(ALL)
    with db.session() as s:
        for _ in range(40):
            outbox.enqueue(s, "deployment.failed", {"event": "deployment.failed"})
    now, claimed, errors = utcnow(), [], []

    def dispatcher() -> None:
        try:
            while batch := db.call(outbox.claim_due, now, LEASE, 3):
                claimed.extend(c.delivery_id for c in batch)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors and db.is_sqlite:  # SQLite: a writer may find the database locked; none claims twice
        pytest.skip(f"SQLite serialized the writers: {errors[0]}")
    assert not errors
    assert sorted(claimed) == sorted({d.id for d in _deliveries(db)})


def test_finished_deliveries_are_pruned_after_the_retention(db: Database, notification: Callable) -> None:
    notification(ALL)
    with db.session() as s:
        outbox.enqueue(s, "deployment.failed", {})
        outbox.enqueue(s, "deployment.failed", {})
    now = utcnow()
    done, _ = db.call(outbox.claim_due, now, LEASE, 10)
    db.call(outbox.record, done, Outcome(True, 200, "ok"), now)
    assert db.call(outbox.prune, now - timedelta(days=1)) == 0
    assert db.call(outbox.prune, now + timedelta(days=1)) == 1  # the pending one stays, whatever its age
    assert [d.status for d in _deliveries(db)] == ["pending"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(NotificationAttempt)) == 0


def test_deleting_an_app_leaves_its_deliveries(db: Database, notification: Callable) -> None:
    """A delivery carries its payload: it still goes out after the app it tells of is gone."""
    notification(ALL)
    db.call(store.finish, _running(db), "w1", FAILED, "broke")
    with db.session() as s:
        s.delete(s.get_one(App, 4))
    assert db.call(outbox.claim_due, utcnow(), LEASE, 10)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Deployment)) == 0
