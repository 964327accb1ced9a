"""A migrated SQLite database with two users, for the auth modules' unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mist.db.engine import Database
from mist.db.models import User


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    database.migrate()
    with database.session() as s:
        s.add(User(id=1, username="owner", email="owner@x", password_hash="x", role="owner"))
        s.add(User(id=2, username="bob", email="bob@x", password_hash="x", role="user"))
    return database
