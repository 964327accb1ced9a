"""A migrated database (SQLite, then PostgreSQL) with two users, for the auth modules' unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mist.db.engine import Database
from mist.db.models import User


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    with database.session() as s:
        s.add(User(id=1, username="owner", email="owner@x", password_hash="x", role="owner"))
        s.add(User(id=2, username="bob", email="bob@x", password_hash="x", role="user"))
    yield database
    database.dispose()
