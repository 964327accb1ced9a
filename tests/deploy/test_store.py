"""mist.deploy.store: the deployments table as a durable queue."""

from __future__ import annotations

from datetime import timedelta
import pytest
from sqlalchemy import update

from mist.db.engine import Database
from mist.db.models import App, Deployment, utcnow
from mist.deploy import store
from mist.deploy.stages import COMPLETED, STARTING_NEW

LEASE = timedelta(seconds=30)


@pytest.fixture(autouse=True)
def apps(db: Database) -> None:
    with db.session() as s:
        s.add_all([App(id=i, project_id=1, name=f"a{i}", app_type="web") for i in (1, 2)])


def enqueue(db: Database, app_id: int) -> int:
    with db.session() as s:
        return store.enqueue(s, s.get(App, app_id), "c" * 40, "msg").id


def test_numbers_are_sequential_per_app(db: Database) -> None:
    ids = [enqueue(db, 1), enqueue(db, 2), enqueue(db, 1)]
    with db.session() as s:
        numbers = [s.get(Deployment, i).deployment_number for i in ids]
    assert numbers == [1, 1, 2]


def test_one_deployment_per_app_at_a_time_in_order_and_apps_in_parallel(db: Database) -> None:
    a1, a2, b1 = enqueue(db, 1), enqueue(db, 1), enqueue(db, 2)
    assert db.call(store.claim_next, "w1", LEASE) == a1
    # a2 waits for a1; the other app's deployment runs beside it.
    assert db.call(store.claim_next, "w2", LEASE) == b1
    assert db.call(store.claim_next, "w3", LEASE) is None
    assert db.call(store.succeed, a1, "w1", COMPLETED)
    assert db.call(store.claim_next, "w3", LEASE) == a2


def test_success_makes_exactly_one_deployment_active(db: Database) -> None:
    first, second = enqueue(db, 1), enqueue(db, 1)
    for dep, worker in ((first, "w1"), (second, "w2")):
        assert db.call(store.claim_next, worker, LEASE) == dep
        assert db.call(store.succeed, dep, worker, COMPLETED)
    rows = {d.id: d.is_active for d in db.call(store.list_for_app, 1)}
    assert rows == {first: False, second: True}


def test_a_worker_that_lost_its_claim_cannot_write(db: Database) -> None:
    dep = enqueue(db, 1)
    db.call(store.claim_next, "w1", LEASE)
    assert db.call(store.fail, dep, None, "Interrupted") is True
    assert db.call(store.set_stage, dep, "w1", STARTING_NEW) is False
    assert db.call(store.succeed, dep, "w1", COMPLETED) is False
    row = db.call(store.get, dep)
    assert (row.status, row.error_message) == ("failed", "Interrupted")


def test_lapsed_leases_are_found_and_renewed_ones_are_not(db: Database) -> None:
    stale, fresh = enqueue(db, 1), enqueue(db, 2)
    db.call(store.claim_next, "dead", LEASE)
    db.call(store.claim_next, "alive", LEASE)
    with db.session() as s:
        s.execute(update(Deployment).where(Deployment.id == stale)
                  .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert db.call(store.renew_lease, fresh, "alive", LEASE)
    assert [d.id for d in db.call(store.interrupted, expired_before=utcnow())] == [stale]
    assert [d.id for d in db.call(store.interrupted)] == [stale, fresh]


def test_json_has_every_field_of_the_contract(db: Database) -> None:
    dep = enqueue(db, 1)
    data = store.to_json(db.call(store.get, dep))
    assert set(data) >= {
        "id", "app_id", "deployment_number", "commit_hash", "commit_message", "status", "stage",
        "progress", "duration", "is_active", "rolled_back_from", "created_at", "updated_at",
    }
    assert (data["status"], data["stage"], data["progress"]) == ("pending", "", 0)
    assert data["created_at"].endswith("Z")
