"""mist.api.tokens: bearer tokens act as their user within their scope, on every route."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

REPO = "https://git.example.com/acme/shop.git"


def bearer(http: TestClient, token: str) -> httpx.Client:
    client = TestClient(http.app)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_token_scopes_read_deploy_admin(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    app = mist.app(project["id"], "shop", REPO, port=8000)
    made = {
        s: mist.post("/api/tokens/create", {"name": f"ci-{s}", "scope": s})["data"] for s in ("read", "deploy", "admin")
    }
    assert all(t["token"].startswith("mist_") for t in made.values())
    listed = mist.get("/api/tokens/getAll")["data"]
    assert {t["name"] for t in listed} == {"ci-read", "ci-deploy", "ci-admin"}
    assert all("token" not in t for t in listed)  # shown once, at creation

    read = bearer(http, made["read"]["token"])
    assert read.post("/api/apps/getById", json={"appId": app["id"]}).status_code == 200
    assert read.post("/api/deployment/getByAppId", json={"appId": app["id"]}).status_code == 200
    denied = read.post("/api/deployment/add", json={"appId": app["id"]})
    assert denied.status_code == 403 and "needs 'deploy'" in denied.json()["message"]
    assert read.put("/api/apps/update", json={"appId": app["id"], "port": 9}).status_code == 403

    deploy = bearer(http, made["deploy"]["token"])
    # Allowed past the scope check: it reaches git, which cannot resolve this remote.
    assert deploy.post("/api/deployment/add", json={"appId": app["id"]}).status_code == 422
    assert deploy.post("/api/projects/create", json={"name": "x"}).status_code == 403

    admin = bearer(http, made["admin"]["token"])
    assert admin.post("/api/projects/create", json={"name": "x"}).status_code == 200

    assert bearer(http, "mist_not-a-token").get("/api/auth/me").status_code == 401
    assert bearer(http, made["read"]["token"][:-1]).get("/api/auth/me").status_code == 401


def test_tokens_keep_per_project_rules_and_die_when_deleted_or_expired(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    app = mist.app(mist.project()["id"], "shop", REPO, port=8000)
    mist.create_user("bob")
    mist.login("bob@example.com")
    token = mist.post("/api/tokens/create", {"name": "bob", "scope": "admin"})["data"]
    bobs = bearer(http, token["token"])
    assert bobs.post("/api/apps/getById", json={"appId": app["id"]}).status_code == 404

    past = http.post("/api/tokens/create", json={"name": "old", "scope": "read", "expiresAt": "2001-01-01T00:00:00Z"})
    assert past.status_code == 400 and "future" in past.json()["message"]
    soon = mist.post("/api/tokens/create", {"name": "soon", "scope": "read", "expiresAt": "2099-01-01T00:00:00+02:00"})
    assert soon["data"]["expiresAt"] == "2098-12-31T22:00:00Z"

    assert http.request("DELETE", "/api/tokens/delete", json={"id": token["id"]}).status_code == 200
    assert bobs.get("/api/auth/me").status_code == 401
    # Nobody deletes another user's token.
    mist.login("owner@example.com")
    assert http.request("DELETE", "/api/tokens/delete", json={"id": soon["data"]["id"]}).status_code == 404


@pytest.mark.parametrize("body", [{"name": "x", "scope": "root"}, {"name": "", "scope": "read"}, {"scope": "read"}])
def test_bad_token_requests(http: TestClient, mist: MistClient, body: dict) -> None:
    mist.signup()
    assert http.post("/api/tokens/create", json=body).status_code == 400
