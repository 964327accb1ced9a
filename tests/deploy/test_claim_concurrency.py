"""mist.deploy.store.claim_next under concurrency: many workers (threads with their own connections)
claiming at once, while deployments keep arriving, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from mist.db.engine import Database
from mist.db.models import App, Deployment
from mist.deploy import store
from mist.deploy.stages import COMPLETED, PENDING, RUNNING

LEASE = timedelta(seconds=30)
APPS = 5
WORKERS = 6
ARRIVALS = 40


@pytest.fixture(autouse=True)
def apps(db: Database) -> None:
    with db.session() as s:
        s.add_all([App(id=i, project_id=1, name=f"a{i}", app_type="web") for i in range(1, APPS + 1)])


def enqueue(db: Database, app_id: int) -> int:
    with db.session() as s:
        return store.enqueue(s, s.get(App, app_id), "c" * 40, "msg").id


def running_count(db: Database, app_id: int) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Deployment)
                        .where(Deployment.app_id == app_id, Deployment.status.in_(RUNNING)))


def test_each_deployment_is_claimed_once_and_an_app_never_runs_two(db: Database) -> None:
    queued = [enqueue(db, app) for app in range(1, APPS + 1) for _ in range(3)]
    guard = threading.Lock()
    running: set[int] = set()  # apps between their claim's commit and their finish's commit
    claimed: list[int] = []
    superseded: list[int] = []
    problems: list[str] = []
    arriving = threading.Event()
    arriving.set()

    def arrive() -> None:
        # More deployments of the same apps keep arriving while the workers claim.
        try:
            for app in itertools.islice(itertools.cycle(range(1, APPS + 1)), ARRIVALS):
                dep = enqueue(db, app)
                with guard:
                    queued.append(dep)
                time.sleep(0.002)
        finally:
            arriving.clear()

    def work(name: str) -> None:
        try:
            while True:
                with db.session() as s:
                    dep, older = store.claim_next(s, name, LEASE)
                    time.sleep(0.003)  # a slow commit widens the window other claims race in
                if dep is None:
                    if not arriving.is_set() and not db.call(lambda s: s.scalar(
                            select(Deployment.id).where(Deployment.status == PENDING).limit(1))):
                        return
                    time.sleep(0.002)
                    continue
                app = db.call(store.get, dep).app_id
                with guard:
                    claimed.append(dep)
                    superseded.extend(older)
                    if app in running:
                        problems.append(f"app {app} got #{dep} while running another")
                    running.add(app)
                if (count := running_count(db, app)) != 1:
                    problems.append(f"app {app} has {count} running deployments")
                time.sleep(0.003)  # the deployment "runs"
                with guard:
                    running.discard(app)
                if not db.call(store.succeed, dep, name, COMPLETED, "img", "cid", "{}"):
                    problems.append(f"{name} lost #{dep}")
        except Exception as exc:  # noqa: BLE001 - a failing thread must fail the test
            problems.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=arrive)] + [
        threading.Thread(target=work, args=(f"w{n}",)) for n in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert problems == []
    assert len(claimed) == len(set(claimed)) and len(superseded) == len(set(superseded))
    assert set(claimed).isdisjoint(superseded)
    assert sorted(claimed + superseded) == sorted(queued)
    statuses = {d.id: d.status for app in range(1, APPS + 1) for d in db.call(store.list_for_app, app)}
    assert {statuses[d] for d in claimed} == {"success"}
    assert {statuses[d] for d in superseded} <= {"stopped"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_in_progress_makes_others_skip_its_app_without_waiting(db: Database) -> None:
    """PostgreSQL: an app whose row another claim holds is skipped (SKIP LOCKED), never waited on,
    and never claimed twice: the second claim looks again once it holds the lock."""
    first_app, other_app = enqueue(db, 1), enqueue(db, 2)
    with db.session() as holding:
        assert store.claim_next(holding, "w1", LEASE) == (first_app, [])
        with db.session() as s:
            s.execute(text("SET LOCAL lock_timeout = '10s'"))  # a claim that waited would fail, not hang
            assert store.claim_next(s, "w2", LEASE) == (other_app, [])
        assert db.call(store.claim_next, "w3", LEASE) == (None, [])
    assert db.call(store.claim_next, "w3", LEASE) == (None, [])
    assert db.call(store.get, first_app).claimed_by == "w1"
