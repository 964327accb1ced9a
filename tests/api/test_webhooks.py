"""mist.api.webhooks: signed pushes deploy exactly the pushed commit, once; anything else does not."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient
from support.gitserver import GitServer


@pytest.fixture
def app(mist: MistClient, git_server: GitServer) -> dict:
    repo = f"hook-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"README": "x"})
    mist.signup()
    created = mist.app(mist.project()["id"], "shop", git_server.url_for(repo), port=8000)
    hook = mist.post("/api/apps/webhook", {"appId": created["id"]})["data"]
    assert hook["url"].endswith(f"/api/webhooks/{created['id']}")
    sha = git_server.commit(repo, {"a": "1"}, message="Add a")
    return {**created, "secret": hook["secret"], "sha": sha}


def push(sha: str, message: str = "Add a", branch: str = "main") -> bytes:
    return json.dumps({"ref": f"refs/heads/{branch}", "after": sha,
                       "head_commit": {"id": sha, "message": message},
                       "commits": [{"id": sha, "message": message}]}).encode()


def signed(provider: str, secret: str, body: bytes, delivery: str = "", event: str = "push") -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    delivery = delivery or uuid.uuid4().hex
    return {
        "github": {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": f"sha256={digest}"},
        "gitea": {"X-Gitea-Event": event, "X-Gitea-Delivery": delivery, "X-Gitea-Signature": digest},
        "gitlab": {"X-Gitlab-Event": "Push Hook" if event == "push" else event,
                   "X-Gitlab-Event-UUID": delivery, "X-Gitlab-Token": secret},
    }[provider]


@pytest.mark.parametrize("provider", ["github", "gitea", "gitlab"])
def test_a_signed_push_deploys_the_pushed_commit_once(
    http: TestClient, mist: MistClient, app: dict, provider: str
) -> None:
    body = push(app["sha"])
    headers = signed(provider, app["secret"], body, delivery="d-1")
    http.cookies.clear()  # git hosts have no session
    response = http.post(f"/api/webhooks/{app['id']}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    deployment = response.json()["data"]
    assert (deployment["commit_hash"], deployment["commit_message"]) == (app["sha"], "Add a")
    again = http.post(f"/api/webhooks/{app['id']}", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["data"] is None
    assert "delivered before" in again.json()["message"]
    mist.login("owner@example.com")
    assert [d["id"] for d in mist.deployments(app["id"])] == [deployment["id"]]


@pytest.mark.parametrize("provider", ["github", "gitea", "gitlab"])
def test_missing_or_wrong_signatures_are_rejected_and_logged(
    http: TestClient, mist: MistClient, app: dict, provider: str
) -> None:
    body = push(app["sha"])
    good = signed(provider, app["secret"], body)
    wrong = signed(provider, "not-the-secret", body)
    missing = {k: v for k, v in good.items() if "Signature" not in k and "Token" not in k}
    tampered = push(app["sha"], message="something else")
    for headers, content in ((wrong, body), (missing, body), (good, tampered)):
        if provider == "gitlab" and content is tampered:
            continue  # GitLab sends a shared token, not a signature of the body
        response = http.post(f"/api/webhooks/{app['id']}", content=content, headers=headers)
        assert response.status_code == 401, (headers, response.text)
    assert mist.deployments(app["id"]) == []
    rejected = [e for e in mist.get("/api/audit-logs")["data"]["logs"] if e["action"] == "webhook.rejected"]
    assert rejected and rejected[0]["details"]["provider"] == provider


def test_other_branches_skip_markers_and_manual_apps_do_not_deploy(
    http: TestClient, mist: MistClient, app: dict
) -> None:
    def send(body: bytes) -> str:
        response = http.post(f"/api/webhooks/{app['id']}", content=body, headers=signed("github", app["secret"], body))
        assert response.status_code == 200, response.text
        assert response.json()["data"] is None
        return response.json()["message"]

    assert "not the app's branch" in send(push(app["sha"], branch="feature"))
    assert "asks not to deploy" in send(push(app["sha"], message="Fix typo [skip ci]"))
    assert "asks not to deploy" in send(push(app["sha"], message="Docs [SKIP DEPLOY]"))
    assert send(push("0" * 40)).startswith("skipped")
    mist.put("/api/apps/update", {"appId": app["id"], "deploymentStrategy": "manual"})
    assert "automatic deployment is off" in send(push(app["sha"]))
    ping = http.post(
        f"/api/webhooks/{app['id']}", content=b"{}", headers=signed("github", app["secret"], b"{}", event="ping")
    )
    assert ping.json()["message"] == "pong"
    assert mist.deployments(app["id"]) == []


def test_webhook_settings_are_for_owners_and_admins_and_rotate(
    http: TestClient, mist: MistClient, app: dict
) -> None:
    rotated = mist.post("/api/apps/webhook", {"appId": app["id"], "rotate": True})["data"]["secret"]
    assert rotated != app["secret"]
    body = push(app["sha"])
    old = http.post(f"/api/webhooks/{app['id']}", content=body, headers=signed("github", app["secret"], body))
    assert old.status_code == 401
    assert http.post("/api/webhooks/999", content=body, headers=signed("github", rotated, body)).status_code == 404
    assert http.post(f"/api/webhooks/{app['id']}", content=body).status_code == 400  # no event header
    mist.create_user("bob")
    mist.put("/api/projects/updateMembers", {"userIds": [2]}, id=app["projectId"])
    mist.login("bob@example.com")
    assert http.post("/api/apps/webhook", json={"appId": app["id"]}).status_code == 403
