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


def succeed(db: Database, dep: int, worker: str) -> bool:
    """Whether the worker's success was recorded (store.succeed answers the row, or None)."""
    return db.call(store.succeed, dep, worker, COMPLETED, "img", "cid", "{}") is not None


def test_one_deployment_per_app_at_a_time_and_apps_in_parallel(db: Database) -> None:
    a1, b1 = enqueue(db, 1), enqueue(db, 2)
    assert db.call(store.claim_next, "w1", LEASE) == (a1, [])
    a2 = enqueue(db, 1)
    # a2 waits for a1; the other app's deployment runs beside it.
    assert db.call(store.claim_next, "w2", LEASE) == (b1, [])
    assert db.call(store.claim_next, "w3", LEASE) == (None, [])
    assert succeed(db, a1, "w1")
    assert db.call(store.claim_next, "w3", LEASE) == (a2, [])


def test_the_newest_waiting_deployment_supersedes_the_older_ones(db: Database) -> None:
    running = enqueue(db, 1)
    db.call(store.claim_next, "w1", LEASE)
    burst = [enqueue(db, 1) for _ in range(3)]
    assert succeed(db, running, "w1")
    assert db.call(store.claim_next, "w1", LEASE) == (burst[-1], burst[:2])
    newest = db.call(store.get, burst[-1]).deployment_number
    for dep in burst[:2]:
        row = db.call(store.get, dep)
        assert (row.status, row.error_message) == ("stopped", f"superseded by #{newest}")


def test_success_makes_exactly_one_deployment_active(db: Database) -> None:
    done = []
    for worker in ("w1", "w2"):
        dep = enqueue(db, 1)
        assert db.call(store.claim_next, worker, LEASE) == (dep, [])
        assert succeed(db, dep, worker)
        done.append(dep)
    rows = {d.id: d.is_active for d in db.call(store.list_for_app, 1)}
    assert rows == {done[0]: False, done[1]: True}


def test_a_rollback_marks_the_deployment_it_replaced(db: Database) -> None:
    first = enqueue(db, 1)
    db.call(store.claim_next, "w", LEASE)
    succeed(db, first, "w")
    second = enqueue(db, 1)
    db.call(store.claim_next, "w", LEASE)
    succeed(db, second, "w")
    with db.session() as s:
        rollback = store.enqueue_rollback(s, s.get(App, 1), s.get(Deployment, first)).id
    assert db.call(store.claim_next, "w", LEASE) == (rollback, [])
    assert succeed(db, rollback, "w")
    rows = {d.id: (d.status, d.is_active, d.rolled_back_from, d.rollback_of) for d in db.call(store.list_for_app, 1)}
    assert rows == {
        first: ("success", False, None, None),
        second: ("rolled_back", False, None, None),
        rollback: ("success", True, second, first),
    }


def test_images_beyond_the_retention_are_pruned_but_never_the_active_one(db: Database) -> None:
    deps = []
    for _ in range(4):
        dep = enqueue(db, 1)
        db.call(store.claim_next, "w", LEASE)
        db.call(store.succeed, dep, "w", COMPLETED, f"mist-app-1:{dep}", "cid", "{}")
        deps.append(dep)
    assert db.call(store.prune_images, 1, 2) == [f"mist-app-1:{deps[0]}", f"mist-app-1:{deps[1]}"]
    assert db.call(store.prune_images, 1, 2) == []
    assert [d.image_removed for d in sorted(db.call(store.list_for_app, 1), key=lambda d: d.id)] == [
        True, True, False, False,
    ]


def test_a_worker_that_lost_its_claim_cannot_write(db: Database) -> None:
    dep = enqueue(db, 1)
    db.call(store.claim_next, "w1", LEASE)
    assert db.call(store.finish, dep, None, "failed", "Interrupted") is True
    assert db.call(store.set_stage, dep, "w1", STARTING_NEW) is False
    assert succeed(db, dep, "w1") is False
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
