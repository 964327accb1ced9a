"""Input at the edges of what the database holds answers the same 4xx on SQLite and on PostgreSQL, and
never a 500: PostgreSQL refuses what SQLite stores silently (a NUL character, a string longer than its
column, a number beyond a 32-bit INTEGER), so every such input is checked before it is written."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from support.client import MistClient
from support.gitserver import GitServer

from mist.config import Settings

REPO = "https://git.example.com/acme/shop.git"
BIG = 2**31  # one past the largest id a PostgreSQL INTEGER column holds


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False, database_url=database_url)


def test_ids_beyond_32_bits_are_malformed_and_the_largest_is_unknown(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    mist.app(project["id"], "shop", REPO, port=8000)
    for value, status in ((BIG, 400), (BIG - 1, 404)):
        assert http.get("/api/projects/getFromId", params={"id": value}).status_code == status
        assert http.get("/api/apps/container/status", params={"appId": value}).status_code == status
        assert http.get(f"/api/deployment/logs/{value}").status_code == status
        assert http.post("/api/apps/getById", json={"appId": value}).status_code == status
        assert http.post("/api/deployment/stop", json={"deploymentId": value}).status_code == status
        response = http.put("/api/projects/updateMembers", params={"id": value}, json={"userIds": [1]})
        assert response.status_code == status
    refused = http.put("/api/projects/updateMembers", params={"id": project["id"]}, json={"userIds": [BIG]})
    assert refused.status_code == 400


def test_nul_characters_are_refused_before_anything_is_written(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    refused = http.post("/api/projects/create", json={"name": "shop", "description": "a\x00b"})
    assert refused.status_code == 400 and "description" in refused.json()["message"]
    assert "NUL" in refused.json()["message"]
    assert mist.get("/api/projects/getAll")["data"] == []
    project = mist.project()
    for env in ({"K": "v\x00"}, [{"key": "K", "value": "v\x00"}], {"K\x00": "v"}):
        body = {"name": "shop", "projectId": project["id"], "appType": "web", "gitRepository": REPO,
                "port": 8000, "envVars": env}
        assert http.post("/api/apps/create", json=body).status_code == 400, env
    assert mist.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"] == []


def test_the_longest_domain_is_stored_and_audited(mist: MistClient) -> None:
    mist.signup()
    app = mist.app(mist.project()["id"], "shop", REPO, port=8000)
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])  # 253 characters
    assert mist.post("/api/apps/domains/create", {"appId": app["id"], "domain": longest})["data"]["domain"] == longest
    entry = next(e for e in mist.get("/api/audit-logs")["data"]["logs"] if e["action"] == "domain.create")
    assert longest.startswith(entry["target"].removeprefix("domain:"))


def test_a_git_host_longer_than_a_host_name_is_refused(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    for repo in (f"https://{'a' * 254}/shop.git", f"git@{'a' * 254}:shop.git"):
        body = {"name": "shop", "projectId": project["id"], "appType": "web", "gitRepository": repo,
                "port": 8000, "gitToken": "t0ken"}
        refused = http.post("/api/apps/create", json=body)
        assert refused.status_code == 400 and "host name" in refused.json()["message"], repo


def test_webhook_input_the_database_cannot_hold_is_refused(
    http: TestClient, mist: MistClient, git_server: GitServer,
) -> None:
    repo = f"limits-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"README": "x"})
    mist.signup()
    app = mist.app(mist.project()["id"], "shop", git_server.url_for(repo), port=8000)
    secret = mist.post("/api/apps/webhook", {"appId": app["id"]})["data"]["secret"]
    sha = git_server.commit(repo, {"a": "1"}, "Add a")

    def send(message: str, delivery: str) -> httpx.Response:
        body = json.dumps({"ref": "refs/heads/main", "after": sha, "head_commit": {"id": sha, "message": message}})
        digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        return http.post(f"/api/webhooks/{app['id']}", content=body, headers={
            "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": f"sha256={digest}"})

    long_delivery = send("Add a", "d" * 129)
    assert long_delivery.status_code == 400 and "delivery id" in long_delivery.json()["message"]
    nul = send("Add a\x00", "d" * 128)
    assert nul.status_code == 400 and "NUL" in nul.json()["message"]
    assert mist.post("/api/deployment/getByAppId", {"appId": app["id"]})["data"] == []
