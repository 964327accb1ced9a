"""mist.api.settings: Mist's settings with their sources (owner and admins), and an app's effective
settings with theirs (its members)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from support.client import PASSWORD, MistClient

from mist.config import Settings
from mist.server import create_app
from mist.services import build_services

REPO = "https://git.example.com/acme/shop.git"
DATABASE_URL = "postgresql+psycopg://mist:hunter2@db.internal:5432/mist"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set before the `settings` fixture reads the environment (autouse fixtures come first)."""
    monkeypatch.setenv("MIST_DRAIN_SECONDS", "3")
    monkeypatch.setenv("MIST_RESTART_POLICY", "always")


@pytest.fixture
def http(settings: Settings) -> Iterator[TestClient]:
    # The server runs on the test database but reports settings naming a password-protected one,
    # as a production server on PostgreSQL would.
    shown = settings.model_copy(update={"database_url": DATABASE_URL})
    with TestClient(create_app(settings, replace(build_services(settings), settings=shown))) as client:
        yield client


def table(mist: MistClient) -> dict[str, tuple[object, str]]:
    return {r["key"]: (r["value"], r["source"]) for r in mist.get("/api/settings")["data"]["settings"]}


def test_the_owner_sees_every_setting_and_where_it_came_from(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    settings = table(mist)
    assert set(settings) == {f"MIST_{name.upper()}" for name in Settings.model_fields}
    assert settings["MIST_DRAIN_SECONDS"] == (3, "environment")
    assert settings["MIST_RESTART_POLICY"] == ("always", "environment")
    assert settings["MIST_PORT"] == (8080, "default")
    assert settings["MIST_WORKERS"] == (1, "command line")  # given as an argument, as `mist serve --workers`
    assert settings["MIST_DATABASE_URL"][0] == "postgresql+psycopg://mist:********@db.internal:5432/mist"
    assert "hunter2" not in http.get("/api/settings").text


def test_admins_may_read_the_settings_and_users_may_not(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    mist.create_user("ada", role="admin")
    mist.create_user("bob")
    mist.login("ada@example.com")
    assert "MIST_PORT" in table(mist)
    mist.login("bob@example.com")
    response = http.get("/api/settings")
    assert response.status_code == 403 and "owner and admins" in response.json()["message"]
    http.cookies.clear()
    assert http.get("/api/settings").status_code == 401


def test_members_see_their_apps_effective_settings(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    app = mist.app(project["id"], "web", REPO, port=8000)

    def effective(app_id: int) -> dict[str, tuple[object, str]]:
        data = mist.get("/api/apps/settings", appId=app_id)["data"]
        assert data["appId"] == app_id
        return {r["key"]: (r["value"], r["source"]) for r in data["settings"]}

    before = effective(app["id"])
    assert before["restartPolicy"] == ("always", "global")
    assert before["memoryLimit"] == (None, "default")
    assert before["updateStrategy"] == ("rolling", "default")
    assert before["healthcheckRetries"] == (15, "default")
    assert before["healthStageTimeout"] == (300, "default")

    mist.put("/api/apps/update", {"appId": app["id"], "restartPolicy": "on-failure", "memoryLimit": 256,
                                  "updateStrategy": "recreate", "healthcheckPath": "/health"})
    after = effective(app["id"])
    assert after["restartPolicy"] == ("on-failure", "app")
    assert after["memoryLimit"] == (256, "app")
    assert after["updateStrategy"] == ("recreate", "app")
    assert after["healthcheckPath"] == ("/health", "app")

    database = mist.app(project["id"], "db", appType="database", templateName="redis")
    assert effective(database["id"])["updateStrategy"] == ("recreate", "app type")


def test_other_users_cannot_see_an_apps_settings(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    app = mist.app(mist.project()["id"], "web", REPO, port=8000)
    mist.create_user("bob")
    http.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    response = http.get("/api/apps/settings", params={"appId": app["id"]})
    assert response.status_code == 404
    assert http.get("/api/apps/settings", params={"appId": 999}).status_code == 404
    assert http.get("/api/apps/settings", params={"appId": 0}).status_code == 400
