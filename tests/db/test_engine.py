"""mist.db.engine on PostgreSQL: the URL forms it takes, and processes starting together on one empty
database (each migrates at start-up) end with one schema at head and no error."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

import mist.db
from mist.db.engine import Database


def test_a_plain_postgresql_url_uses_psycopg(fresh_postgres_url: str) -> None:
    db = Database(fresh_postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    assert db.url == fresh_postgres_url and not db.is_sqlite
    with db.session() as s:
        assert s.scalar(text("SELECT 1")) == 1
    db.dispose()


def test_other_databases_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="SQLite or PostgreSQL, not mysql"):
        Database("mysql://mist@localhost/mist")


def test_processes_migrating_one_database_together_take_turns(fresh_postgres_url: str) -> None:
    databases = [Database(fresh_postgres_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases))

    def migrate(db: Database) -> None:
        try:
            start.wait(timeout=30)
            db.migrate()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with databases[0].session() as s:
        version = s.scalar(text("SELECT version_num FROM alembic_version"))
    for db in databases:
        db.dispose()
    head = ScriptDirectory(str(Path(mist.db.__file__).with_name("migrations"))).get_current_head()
    assert version == head
