"""mist.db migrations: a database migrated from nothing has exactly the tables the models describe, and
upgrading a populated database keeps every row and every reference between rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.migration import MigrationContext

import mist.db
from support.first_revision import FIRST_REVISION_ROWS, insert as _insert
from mist.db.engine import Database, MigrationError
from mist.db.models import Base

def _rows(path: Path, table: str) -> list[dict]:
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = [dict(row) for row in connection.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    connection.close()
    return rows


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(mist.db.__file__).with_name("migrations")))
    return cfg


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    connection.close()
    return tables


def _revision(path: Path) -> str:
    return _rows(path, "alembic_version")[0]["version_num"]


def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    db.migrate()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_upgrading_a_populated_first_revision_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "mist.db"
    db = Database(f"sqlite:///{path}")
    db.migrate("0001")
    _insert(path, FIRST_REVISION_ROWS)
    assert _tables(path) - {"alembic_version"} == FIRST_REVISION_ROWS.keys()  # every table of 0001 is filled
    before = {table: _rows(path, table) for table in FIRST_REVISION_ROWS}

    db.migrate()

    assert _revision(path) == ScriptDirectory.from_config(_alembic_config()).get_current_head()
    for table, old_rows in before.items():
        new_rows = _rows(path, table)
        assert len(new_rows) == len(old_rows), table
        for old, new in zip(old_rows, new_rows, strict=True):
            # Columns added by later revisions may appear; every original column keeps its value.
            assert {column: new[column] for column in old} == old, table
    rolled_back = {row["id"]: row["rolled_back_from"] for row in _rows(path, "deployments")}
    assert rolled_back[4] == 2 and rolled_back[7] == 6


def test_a_migration_leaving_a_broken_reference_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "mist.db"
    db = Database(f"sqlite:///{path}")
    db.migrate("0001")
    # A row pointing at an app that does not exist: the check after the upgrade must refuse it.
    _insert(path, {"env_vars": [{"id": 1, "app_id": 99, "key": "K", "value": "v", "is_secret": 0,
                                 "build_time": 0, "runtime": 1}]}, foreign_keys=False)

    with pytest.raises(MigrationError, match="env_vars"):
        db.migrate()

    assert _revision(path) == "0001"
    assert _tables(path) - {"alembic_version"} == FIRST_REVISION_ROWS.keys()
    assert len(_rows(path, "env_vars")) == 1
