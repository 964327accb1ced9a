"""A migrated database (SQLite, then PostgreSQL) with an owner and a project, for the deploy modules' unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mist.db.engine import Database
from mist.db.models import Project, User


@pytest.fixture
def db(migrated: Callable[..., Database]) -> Database:
    return migrated(User(id=1, username="o", email="o@x", password_hash="x", role="owner"),
                    Project(id=1, name="p", owner_id=1))
