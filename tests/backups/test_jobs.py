"""mist.backups.jobs on SQLite and PostgreSQL, with the in-memory engine and a dumper that keeps its
database in a dict: the orchestration is what is tested here (the real dump recipes are in
test_dumps.py, the whole on the real engine in tests/integration/test_backups.py). A backup counts
only once verified; whatever fails deletes its file and tells; a restore backs up what it replaces
first and restores nothing when that fails; retention; a job whose process died is failed."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.fake_engine import FakeEngine

from mist.backups import jobs as jobs_module
from mist.backups import store
from mist.backups.destinations import Storages
from mist.backups.dumps import Database, Log
from mist.backups.jobs import BackupJobs
from mist.db.engine import Database as Db
from mist.db.models import (
    App,
    Backup,
    Deployment,
    Notification,
    NotificationDelivery,
    Project,
    Restore,
    User,
    utcnow,
)
from mist.errors import VerificationFailed
from mist.secretbox import SecretBox

KEY = b"k" * 32


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """The test's coroutine, run on a loop of its own (pytest sees the fixtures it asks for)."""
    @functools.wraps(test)
    def sync(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))
    return sync


class DictDumper:
    """A database that is a dict: dumps it as JSON, restores by replacing it, verifies by parsing."""

    extension = "json"

    def __init__(self) -> None:
        self.data: dict[str, str] = {"greeting": "hello"}
        self.fail_verify = False
        self.fail_dump_after: int | None = None
        self.verified: list[bytes] = []

    async def ready(self, engine: object, db: Database) -> None:
        return None

    async def dump(self, engine: object, db: Database) -> AsyncIterator[bytes]:
        body = json.dumps(self.data).encode()
        for i in range(0, len(body), 3):
            if self.fail_dump_after is not None and i >= self.fail_dump_after:
                raise VerificationFailed("pg_dump exited with code 1")
            yield body[i:i + 3]

    async def restore(self, engine: object, db: Database, chunks: AsyncIterable[bytes], log: Log) -> None:
        body = b"".join([c async for c in chunks])
        self.data = json.loads(body)
        await log("restored the dict")

    async def verify(self, engine: object, image: str, chunks: AsyncIterable[bytes], log: Log) -> str:
        body = b"".join([c async for c in chunks])
        self.verified.append(body)
        if self.fail_verify:
            raise VerificationFailed("the backup cannot be restored: not a dump")
        return f"loaded {len(json.loads(body))} keys"


@pytest.fixture
def dumper(monkeypatch: pytest.MonkeyPatch) -> DictDumper:
    fake = DictDumper()
    monkeypatch.setitem(jobs_module.DUMPERS, "postgres", fake)
    return fake


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def db(migrated: Callable[..., Db], engine: FakeEngine) -> Db:
    container = engine.add_container("mist-app-7", 7, 1)
    return migrated(
        User(id=1, username="o", email="o@x", password_hash="x", role="owner"),
        Project(id=1, name="shop", owner_id=1),
        App(id=7, project_id=1, name="pg", app_type="database", template_name="postgres", backup_retention=2),
        Deployment(id=1, app_id=7, deployment_number=1, status="success", is_active=True,
                   container_id=container.id),
        Notification(id=1, name="ops", kind="webhook", target="x",
                     events=json.dumps(["backup.succeeded", "backup.failed"])),
    )


@pytest.fixture
def jobs(db: Db, engine: FakeEngine, tmp_path: Path) -> BackupJobs:
    return BackupJobs(db, engine, Storages(db, SecretBox(tmp_path / "secret"), tmp_path / "backups"), KEY, {})


def _queue(db: Db, trigger: str = store.MANUAL) -> int:
    with db.session() as s:
        return store.enqueue(s, s.get_one(App, 7), trigger).id


def _row(db: Db, backup_id: int) -> Backup:
    with db.session() as s:
        return s.get_one(Backup, backup_id)


def _events(db: Db) -> list[str]:
    with db.session() as s:
        return [d.event for d in s.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id))]


def _files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "backups").rglob("*") if p.is_file())


@run
async def test_a_backup_counts_only_once_its_stored_file_was_restored(
    db: Db, jobs: BackupJobs, dumper: DictDumper, tmp_path: Path
) -> None:
    backup_id = _queue(db)
    assert await jobs.run_once()
    row = _row(db, backup_id)
    assert (row.status, row.verified, row.error) == ("success", True, "")
    assert row.location.endswith(f"app-7/backup-{backup_id}.json.mist") and row.size_bytes > 0
    # What verification restored is what was dumped, decrypted from the stored file.
    assert dumper.verified == [json.dumps({"greeting": "hello"}).encode()]
    assert _files(tmp_path) == [f"backup-{backup_id}.json.mist"]
    assert b"hello" not in (tmp_path / "backups" / "app-7" / f"backup-{backup_id}.json.mist").read_bytes()
    assert _events(db) == ["backup.succeeded"]
    assert not await jobs.run_once()  # nothing left


@run
async def test_a_backup_that_cannot_be_restored_is_failed_its_file_deleted_and_told(
    db: Db, jobs: BackupJobs, dumper: DictDumper, tmp_path: Path
) -> None:
    dumper.fail_verify = True
    backup_id = _queue(db)
    await jobs.run_once()
    row = _row(db, backup_id)
    assert (row.status, row.verified) == ("failed", False) and "not a dump" in row.error
    assert _files(tmp_path) == [] and _events(db) == ["backup.failed"]


@run
async def test_a_dump_that_breaks_midway_leaves_no_file(db: Db, jobs: BackupJobs, dumper: DictDumper,
                                                         tmp_path: Path) -> None:
    dumper.fail_dump_after = 6
    backup_id = _queue(db)
    await jobs.run_once()
    assert _row(db, backup_id).status == "failed" and "pg_dump" in _row(db, backup_id).error
    assert _files(tmp_path) == []


@run
async def test_a_stopped_database_fails_the_backup_saying_so(db: Db, jobs: BackupJobs, dumper: DictDumper,
                                                            engine: FakeEngine) -> None:
    for container in list(engine.containers.values()):
        await engine.stop(container.id)
    backup_id = _queue(db)
    await jobs.run_once()
    assert "not running" in _row(db, backup_id).error


@run
async def test_retention_keeps_the_newest_two_and_deletes_their_files(
    db: Db, jobs: BackupJobs, dumper: DictDumper, tmp_path: Path
) -> None:
    ids = []
    for _ in range(4):
        ids.append(_queue(db))
        await jobs.run_once()
    with db.session() as s:
        assert list(s.scalars(select(Backup.id).order_by(Backup.id))) == ids[2:]
    assert _files(tmp_path) == sorted(f"backup-{i}.json.mist" for i in ids[2:])


@run
async def test_a_restore_backs_up_what_it_replaces_first_then_brings_the_data_back(
    db: Db, jobs: BackupJobs, dumper: DictDumper
) -> None:
    backup_id = _queue(db)
    await jobs.run_once()
    dumper.data = {"greeting": "overwritten", "junk": "1"}
    with db.session() as s:
        restore_id = store.enqueue_restore(s, s.get_one(Backup, backup_id), s.get_one(App, 7)).id
    assert await jobs.run_once()
    with db.session() as s:
        restore = s.get_one(Restore, restore_id)
        before = s.get_one(Backup, restore.before_backup_id)
    assert restore.status == "success", restore.log
    assert dumper.data == {"greeting": "hello"}
    assert (before.trigger, before.status, before.verified) == ("before_restore", "success", True)
    # The before_restore backup holds the data as it was, proven by its own verification.
    assert dumper.verified[-1] == json.dumps({"greeting": "overwritten", "junk": "1"}).encode()
    lines = restore.log.splitlines()
    assert lines[0].startswith(f"Restoring backup #{backup_id}") and lines[-1] == "Restore finished"
    assert "restored the dict" in lines


@run
async def test_nothing_is_restored_when_the_data_it_replaces_cannot_be_backed_up(
    db: Db, jobs: BackupJobs, dumper: DictDumper
) -> None:
    backup_id = _queue(db)
    await jobs.run_once()
    dumper.data, dumper.fail_verify = {"greeting": "current"}, True
    with db.session() as s:
        restore_id = store.enqueue_restore(s, s.get_one(Backup, backup_id), s.get_one(App, 7)).id
    await jobs.run_once()
    with db.session() as s:
        restore = s.get_one(Restore, restore_id)
    assert restore.status == "failed" and "could not be backed up" in restore.error
    assert dumper.data == {"greeting": "current"}


@run
async def test_a_job_whose_process_died_is_failed_once_its_lease_lapses(
    db: Db, jobs: BackupJobs, dumper: DictDumper
) -> None:
    backup_id = _queue(db)
    with db.session() as s:
        claimed = store.claim_backup(s, "dead-worker", timedelta(seconds=60))
        assert claimed is not None and claimed.id == backup_id
        claimed.lease_until = utcnow() - timedelta(seconds=1)
    await jobs._fail_lapsed()
    row = _row(db, backup_id)
    assert row.status == "failed" and "Mist stopped" in row.error
    assert _events(db) == ["backup.failed"]


@run
async def test_one_job_per_app_at_a_time(db: Db, jobs: BackupJobs, dumper: DictDumper) -> None:
    first, second = _queue(db), _queue(db)
    with db.session() as s:
        assert store.claim_backup(s, "w1", timedelta(seconds=60)).id == first
    with db.session() as s:
        assert store.claim_backup(s, "w2", timedelta(seconds=60)) is None  # the app is busy
    await asyncio.sleep(0)
    assert _row(db, second).status == "pending"
