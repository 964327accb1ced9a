"""mist.api.apps: deploy keys and git tokens for private repositories are write-only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

from mist.db.models import App


@pytest.fixture
def project(mist: MistClient) -> dict:
    mist.signup()
    return mist.project()


def stored(http: TestClient, app_id: int) -> App:
    return http.app.state.services.db.call(lambda s: s.get(App, app_id))


def test_deploy_key_shows_only_its_public_half_and_is_stored_encrypted(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    app = mist.app(project["id"], "api", "ssh://git@git.example.com/acme/api.git", port=8000)
    assert app["deployKey"] is None
    first = mist.post("/api/apps/deployKey", {"appId": app["id"]})["data"]["publicKey"]
    assert first.startswith("ssh-ed25519 ") and first.endswith(f" mist-app-{app['id']}")
    # Asking again gives the same key; rotating makes a new one.
    assert mist.post("/api/apps/deployKey", {"appId": app["id"]})["data"]["publicKey"] == first
    rotated = mist.post("/api/apps/deployKey", {"appId": app["id"], "rotate": True})["data"]["publicKey"]
    assert rotated != first
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["deployKey"] == rotated

    row = stored(http, app["id"])
    assert row.deploy_key_private.startswith("v1:") and "PRIVATE KEY" not in row.deploy_key_private
    everything = str(mist.post("/api/apps/getByProjectId", {"projectId": project["id"]}))
    assert "PRIVATE KEY" not in everything and row.deploy_key_private not in everything


def test_git_token_is_write_only_and_can_be_removed(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "api", "https://git.example.com/acme/api.git", port=8000,
                   gitToken="glpat-secret-123456")
    assert app["hasGitToken"] is True and "glpat-secret-123456" not in str(app)
    assert "glpat-secret-123456" not in stored(http, app["id"]).git_token
    fetched = mist.post("/api/apps/getById", {"appId": app["id"]})["data"]
    assert "glpat-secret-123456" not in str(fetched) and "gitToken" not in fetched

    # An update that does not mention the token keeps it; "" removes it.
    mist.put("/api/apps/update", {"appId": app["id"], "port": 9000})
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["hasGitToken"] is True
    cleared = mist.put("/api/apps/update", {"appId": app["id"], "gitToken": ""})["data"]
    assert cleared["hasGitToken"] is False and stored(http, app["id"]).git_token == ""


def test_bad_credentials_input_is_refused(http: TestClient, mist: MistClient, project: dict) -> None:
    body = {"name": "api", "projectId": project["id"], "gitRepository": "https://h/a.git", "port": 1}
    response = http.post("/api/apps/create", json={**body, "gitToken": "two words"})
    assert response.status_code == 400 and "gitToken" in response.json()["message"]
    db = mist.app(project["id"], "db", appType="database", templateName="redis")
    response = http.post("/api/apps/deployKey", json={"appId": db["id"]})
    assert response.status_code == 400 and "database" in response.json()["message"]
    assert http.post("/api/apps/deployKey", json={"appId": 999}).status_code == 404


def test_outsiders_cannot_make_or_read_deploy_keys(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "api", "ssh://git@git.example.com/acme/api.git", port=8000)
    mist.create_user("eve")
    mist.login("eve@example.com")
    assert http.post("/api/apps/deployKey", json={"appId": app["id"]}).status_code == 404


def test_git_token_is_bound_to_the_origin_it_was_saved_for(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "api", "https://git.example.com/acme/api.git", port=8000, gitToken="tok-1234567")
    assert stored(http, app["id"]).git_token_origin == "https://git.example.com:443"
    # Same origin (another path, a user name, another case): the token stays.
    for same in ("https://git.example.com/acme/other.git", "https://ci@GIT.example.com:443/acme/api.git"):
        kept = mist.put("/api/apps/update", {"appId": app["id"], "gitRepository": same})
        assert kept["data"]["hasGitToken"] is True and kept["message"] == "Application updated", same
    # Another scheme, host or port drops it, and says so.
    for moved in ("http://git.example.com/acme/api.git", "https://evil.example.net/acme/api.git",
                  "https://git.example.com:8443/acme/api.git", "git@git.example.com:acme/api.git"):
        mist.put("/api/apps/update", {"appId": app["id"], "gitRepository": "https://git.example.com/acme/api.git",
                                      "gitToken": "tok-1234567"})
        dropped = mist.put("/api/apps/update", {"appId": app["id"], "gitRepository": moved})
        assert dropped["data"]["hasGitToken"] is False, moved
        assert "token was dropped because the repository moved to another host" in dropped["message"]
        row = stored(http, app["id"])
        assert (row.git_token, row.git_token_origin) == ("", "")
    # A new token in the same request is bound to the new origin.
    both = mist.put("/api/apps/update", {"appId": app["id"], "gitRepository": "https://other.example.org/a/b.git",
                                         "gitToken": "tok-7654321"})
    assert both["data"]["hasGitToken"] is True and "dropped" not in both["message"]
    assert stored(http, app["id"]).git_token_origin == "https://other.example.org:443"


def test_a_token_saved_before_origins_were_recorded_is_bound_to_its_repository(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    app = mist.app(project["id"], "api", "https://git.example.com/acme/api.git", port=8000, gitToken="tok-1234567")

    def forget_origin(session) -> None:  # noqa: ANN001
        session.get(App, app["id"]).git_token_origin = ""

    http.app.state.services.db.call(forget_origin)
    mist.put("/api/apps/update", {"appId": app["id"], "port": 9000})
    assert stored(http, app["id"]).git_token_origin == "https://git.example.com:443"
    http.app.state.services.db.call(forget_origin)
    moved = mist.put("/api/apps/update", {"appId": app["id"], "gitRepository": "https://evil.example.net/a.git"})
    assert moved["data"]["hasGitToken"] is False
