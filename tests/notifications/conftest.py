"""A migrated database (SQLite, then PostgreSQL) with an owner, a project and an app, and a way to
add notifications to it, for the notification modules' unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mist.db.engine import Database
from mist.db.models import App, EnvVar, Notification, Project, User
from mist.secretbox import SecretBox


@pytest.fixture
def db(migrated: Callable[..., Database]) -> Database:
    return migrated(User(id=1, username="o", email="o@x", password_hash="x", role="owner"),
                    Project(id=1, name="shop", owner_id=1),
                    App(id=4, project_id=1, name="web", app_type="service", git_repository="git://git.x/a.git"),
                    EnvVar(app_id=4, key="API_KEY", value="s3cr3t-env-value", is_secret=True))


@pytest.fixture
def box(tmp_path: Path) -> SecretBox:
    return SecretBox(tmp_path / "secret.key")


@pytest.fixture
def notification(db: Database, box: SecretBox) -> Callable[..., int]:
    def add(events: list[str], enabled: bool = True, target: str = "http://127.0.0.1:9/hook",
            kind: str = "webhook", secret: str = "k" * 64) -> int:
        with db.session() as s:
            row = Notification(name="n", kind=kind, target=box.encrypt(target), secret=box.encrypt(secret),
                               events=json.dumps(events), enabled=enabled)
            s.add(row)
            s.flush()
            return row.id

    return add
