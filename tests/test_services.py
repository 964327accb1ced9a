"""The services routes call (mist.services): each owns its transaction and then drives the adapters
(clean-up, router, git, workers) itself, so no route has to. Fakes stand in for the adapters."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mist.api import shapes
from mist.apps import Apps, Removed
from mist.db.engine import Database
from mist.db.models import App, Deployment, Domain, Project, User, Volume
from mist.deploy import store
from mist.domains import Domains
from mist.errors import Conflict, NotAuthenticated
from mist.projects import Projects
from mist.secretbox import SecretBox
from mist.volumes import Volumes
from mist.webhooks import Event, Webhooks


class FakeCleanup:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.refuse_volume = False

    async def remove(self, removed: list[Removed]) -> None:
        self.calls.append(("remove", removed))

    async def remove_network(self, project_id: int) -> None:
        self.calls.append(("remove_network", project_id))

    async def remove_volume(self, name: str) -> None:
        if self.refuse_volume:
            raise Conflict(f"volume {name} is in use")
        self.calls.append(("remove_volume", name))


class FakeRouter:
    def __init__(self) -> None:
        self.refreshes = 0

    async def refresh(self) -> None:
        self.refreshes += 1


class FakeWorkers:
    def __init__(self) -> None:
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1


class FakeGit:
    def __init__(self) -> None:
        self.forgotten: list[int] = []

    async def forget_host_keys(self, app_id: int) -> None:
        self.forgotten.append(app_id)


@pytest.fixture
def db(migrated: Callable[..., Database]) -> Database:
    # The app has no explicit id: PostgreSQL's sequence must stay ahead of the rows, for the apps tests create.
    return migrated(User(id=1, username="o", email="o@x", password_hash="x", role="owner"),
                    Project(id=1, name="p", owner_id=1),
                    App(project_id=1, name="web", app_type="web", port=8000, git_repository="https://x/r.git",
                        webhook_secret="s3cret"))


@pytest.fixture(autouse=True)
def app_is_first(db: Database) -> None:
    assert db.call(lambda s: s.get(App, 1)) is not None


@pytest.fixture
def owner(db: Database) -> User:
    return db.call(lambda s: s.get(User, 1))


@pytest.fixture
def cleanup() -> FakeCleanup:
    return FakeCleanup()


def test_deleting_an_app_hands_what_it_leaves_to_cleanup(db: Database, owner: User, cleanup: FakeCleanup,
                                                         tmp_path: Path) -> None:
    apps = Apps(db, SecretBox(tmp_path / "key"), cleanup, FakeGit())
    asyncio.run(apps.delete(owner, 1, volumes=True))
    assert cleanup.calls == [("remove", [Removed(1, True)])]
    assert db.call(lambda s: s.get(App, 1)) is None


def test_a_deploy_key_request_can_forget_the_pinned_host_keys(db: Database, owner: User, tmp_path: Path) -> None:
    git = FakeGit()
    apps = Apps(db, SecretBox(tmp_path / "key"), FakeCleanup(), git)
    public = asyncio.run(apps.deploy_key(owner, 1, rotate=False, forget_host_keys=True))
    assert public.startswith("ssh-ed25519 ") and git.forgotten == [1]


def test_a_new_app_can_be_shown_once_its_session_is_closed(db: Database, owner: User, tmp_path: Path) -> None:
    apps = Apps(db, SecretBox(tmp_path / "key"), FakeCleanup(), FakeGit())
    fields = {"projectId": 1, "name": "api", "appType": "web", "port": 80, "gitRepository": "https://x/a.git"}
    app = asyncio.run(apps.create(owner, fields, []))
    assert shapes.app(app, owner)["envVars"] == []


def test_deleting_a_project_removes_its_apps_and_network(db: Database, owner: User, cleanup: FakeCleanup) -> None:
    asyncio.run(Projects(db, cleanup).delete(owner, 1))
    assert cleanup.calls == [("remove", [Removed(1, False)]), ("remove_network", 1)]


def test_domain_changes_go_to_the_proxy(db: Database, owner: User) -> None:
    router = FakeRouter()
    domains = Domains(db, router, "mist.example.com", frozenset({"mist.example.com"}))  # type: ignore[arg-type]
    added = asyncio.run(domains.add(owner, 1, "app.example.com"))
    assert router.refreshes == 1
    asyncio.run(domains.delete(owner, added.id))
    assert router.refreshes == 2 and db.call(lambda s: s.get(Domain, added.id)) is None


def test_a_volume_whose_data_the_engine_keeps_is_not_deleted(db: Database, owner: User,
                                                             cleanup: FakeCleanup, tmp_path: Path) -> None:
    volumes = Volumes(db, cleanup, tmp_path, [])  # type: ignore[arg-type]
    volume = asyncio.run(volumes.create(owner, 1, "data", "/data", "", False))
    cleanup.refuse_volume = True
    with pytest.raises(Conflict):
        asyncio.run(volumes.delete(owner, volume.id, remove_data=True))
    assert db.call(lambda s: s.get(Volume, volume.id)) is not None
    cleanup.refuse_volume = False
    asyncio.run(volumes.delete(owner, volume.id, remove_data=True))
    assert cleanup.calls == [("remove_volume", "mist-app-1-vol-data")]
    assert db.call(lambda s: s.get(Volume, volume.id)) is None


def _push(commit: str) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"ref": "refs/heads/main", "after": commit, "head_commit": {"message": "m"}}).encode()
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    return {"x-github-event": "push", "x-hub-signature-256": signature}, body


def test_a_webhook_push_queues_and_wakes_a_worker(db: Database) -> None:
    workers = FakeWorkers()
    hooks = Webhooks(db, FakeGit(), workers)  # type: ignore[arg-type]
    headers, body = _push("a" * 40)
    outcome = asyncio.run(hooks.receive(1, Event("github", "push", "d1"), headers, body))
    assert outcome.deployment is not None and workers.notified == 1
    with pytest.raises(NotAuthenticated):
        asyncio.run(hooks.receive(1, Event("github", "push", "d2"), {**headers, "x-hub-signature-256": "x"}, body))
    assert workers.notified == 1


def test_a_deployment_is_shaped_as_the_contract_spells_it(db: Database) -> None:
    with db.session() as s:
        dep = store.enqueue(s, s.get(App, 1), "c" * 40, "msg").id
    data = shapes.deployment(db.call(lambda s: s.get(Deployment, dep)))
    assert set(data) >= {
        "id", "app_id", "deployment_number", "commit_hash", "commit_message", "status", "stage",
        "progress", "duration", "is_active", "rolled_back_from", "created_at", "updated_at",
    }
    assert (data["status"], data["stage"], data["progress"]) == ("pending", "", 0)
    assert data["created_at"].endswith("Z")
