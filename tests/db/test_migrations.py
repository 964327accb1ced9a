"""mist.db migrations: a database migrated from nothing has exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mist.db.engine import Database
from mist.db.models import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    db.migrate()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
