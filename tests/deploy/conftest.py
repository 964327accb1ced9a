"""A migrated database (SQLite, then PostgreSQL) with an owner and a project, for the deploy modules' unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mist.db.engine import Database
from mist.db.models import Project, User


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    with database.session() as s:
        s.add(User(id=1, username="o", email="o@x", password_hash="x", role="owner"))
        s.flush()  # the models declare no relationship to order these inserts by
        s.add(Project(id=1, name="p", owner_id=1))
    yield database
    database.dispose()
