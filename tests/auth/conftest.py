"""A migrated database (SQLite, then PostgreSQL) with two users, for the auth modules' unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mist.db.engine import Database
from mist.db.models import User


@pytest.fixture
def db(migrated: Callable[..., Database]) -> Database:
    return migrated(User(id=1, username="owner", email="owner@x", password_hash="x", role="owner"),
                    User(id=2, username="bob", email="bob@x", password_hash="x", role="user"))
