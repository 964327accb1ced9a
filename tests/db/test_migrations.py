"""mist.db migrations, on SQLite and on PostgreSQL: a database migrated from nothing has exactly the
tables the models describe, and upgrading a populated database keeps every row and every reference
between rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, MetaData, Table, create_engine, inspect, select
from sqlalchemy.pool import NullPool
from support.first_revision import FIRST_REVISION_ROWS
from support.first_revision import insert as _insert

import mist.db
from mist.db.engine import Database, MigrationError
from mist.db.models import Base


def _connect(url: str):  # noqa: ANN202 - a context manager of a throwaway connection
    return create_engine(url, poolclass=NullPool).begin()


def _rows(url: str, table: str) -> list[dict]:
    with _connect(url) as connection:
        reflected = Table(table, MetaData(), autoload_with=connection)
        query = select(reflected).order_by(*reflected.primary_key.columns)
        return [dict(row._mapping) for row in connection.execute(query)]


def _fill(url: str, rows: dict[str, list[dict]]) -> None:
    """Inserts rows as the first release stored them: on SQLite byte for byte, on PostgreSQL typed."""
    if url.startswith("sqlite:///"):
        _insert(Path(url.removeprefix("sqlite:///")), rows)
        return
    with _connect(url) as connection:
        for table, table_rows in rows.items():
            reflected = Table(table, MetaData(), autoload_with=connection)
            times = {c.name for c in reflected.columns if isinstance(c.type, DateTime)}
            connection.execute(reflected.insert(), [
                {k: datetime.fromisoformat(v) if k in times and v else v for k, v in row.items()}
                for row in table_rows
            ])


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(mist.db.__file__).with_name("migrations")))
    return cfg


def _tables(url: str) -> set[str]:
    with _connect(url) as connection:
        return set(inspect(connection).get_table_names())


def _revision(url: str) -> str:
    return _rows(url, "alembic_version")[0]["version_num"]


def test_migrations_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == []


def test_upgrading_a_populated_first_revision_keeps_every_row(database_url: str) -> None:
    db = Database(database_url)
    db.migrate("0001")
    _fill(database_url, FIRST_REVISION_ROWS)
    assert _tables(database_url) - {"alembic_version"} == FIRST_REVISION_ROWS.keys()  # every table of 0001 is filled
    before = {table: _rows(database_url, table) for table in FIRST_REVISION_ROWS}

    db.migrate()
    db.dispose()

    assert _revision(database_url) == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    for table, old_rows in before.items():
        new_rows = _rows(database_url, table)
        assert len(new_rows) == len(old_rows), table
        for old, new in zip(old_rows, new_rows, strict=True):
            # Columns added by later revisions may appear; every original column keeps its value.
            assert {column: new[column] for column in old} == old, table
    rolled_back = {row["id"]: row["rolled_back_from"] for row in _rows(database_url, "deployments")}
    assert rolled_back[4] == 2 and rolled_back[7] == 6


def test_a_migration_leaving_a_broken_reference_changes_nothing(tmp_path: Path) -> None:
    """SQLite only: PostgreSQL enforces foreign keys during migrations, so no check is needed there."""
    path = tmp_path / "mist.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    db.migrate("0001")
    # A row pointing at an app that does not exist: the check after the upgrade must refuse it.
    _insert(path, {"env_vars": [{"id": 1, "app_id": 99, "key": "K", "value": "v", "is_secret": 0,
                                 "build_time": 0, "runtime": 1}]}, foreign_keys=False)

    with pytest.raises(MigrationError, match="env_vars"):
        db.migrate()

    assert _revision(url) == "0001"
    assert _tables(url) - {"alembic_version"} == FIRST_REVISION_ROWS.keys()
    assert len(_rows(url, "env_vars")) == 1
