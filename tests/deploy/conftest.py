"""A migrated database with an owner and a project, for the deploy modules' unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mist.db.engine import Database
from mist.db.models import Project, User


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    database.migrate()
    with database.session() as s:
        s.add(User(id=1, username="o", email="o@x", password_hash="x", role="owner"))
        s.flush()  # the models declare no relationship to order these inserts by
        s.add(Project(id=1, name="p", owner_id=1))
    return database
