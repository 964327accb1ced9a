"""mist.api.deployments: the contract's request and response shapes, and its errors."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from support.client import MistClient
from support.gitserver import GitServer


@pytest.fixture
def app(mist: MistClient, git_server: GitServer) -> dict:
    repo = f"contract-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"README": "no Dockerfile here"}, message="Fix user authentication bug")
    mist.signup()
    project = mist.project()
    return {**mist.app(project["id"], "contract", git_server.url_for(repo), port=8000), "repo": repo}


def test_add_returns_the_raw_pending_deployment_of_the_exact_tip(
    http: TestClient, mist: MistClient, app: dict, git_server: GitServer
) -> None:
    tip = git_server.commit(app["repo"], {"a": "1"}, message="Add user profile page")
    response = http.post("/api/deployment/add", json={"appId": app["id"]})
    assert response.status_code == 200
    body = response.json()
    assert "success" not in body  # no envelope
    assert body["app_id"] == app["id"]
    assert body["commit_hash"] == tip and len(tip) == 40
    assert body["commit_message"] == "Add user profile page"
    assert (body["status"], body["stage"], body["progress"]) == ("pending", "", 0)
    assert body["created_at"].endswith("Z")

    second = mist.deploy(app["id"])
    listing = http.post("/api/deployment/getByAppId", json={"appId": app["id"]}).json()
    assert listing["success"] is True and listing["message"] == "Deployments retrieved successfully"
    assert [d["id"] for d in listing["data"]] == [second["id"], body["id"]]  # newest first
    assert [d["deployment_number"] for d in listing["data"]] == [2, 1]


def test_a_repository_with_nothing_to_build_fails_with_a_message_saying_what_was_looked_for(
    http: TestClient, mist: MistClient, app: dict
) -> None:
    deployment = mist.deploy(app["id"])
    final = mist.wait_final(app["id"], deployment["id"], timeout=60)
    assert final["status"] == "failed" and final["stage"] == "building_image"
    for looked_for in ("Dockerfile", "requirements.txt", "package.json", "go.mod", "index.html", "builder"):
        assert looked_for in final["error_message"]
    response = http.get(f"/api/deployment/logs/{deployment['id']}")
    assert response.headers["content-type"].startswith("text/plain")
    assert "Cloning repository..." in response.text
    assert "Deployment failed: Mist found nothing it knows how to build" in response.text


def test_bad_deploy_requests(http: TestClient, app: dict) -> None:
    cases = [
        ({}, 400), ({"appId": "1"}, 400), ({"appId": None}, 400), ({"appId": -1}, 400),
        ({"appId": 1.5}, 400), ({"appId": 999}, 404), ({"appId": 2**63}, 400),
    ]
    for body, status in cases:
        response = http.post("/api/deployment/add", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["message"]
    assert http.get("/api/deployment/logs/abc").status_code == 400
    assert http.get("/api/deployment/logs/999").status_code == 404
    assert http.post("/api/deployment/getByAppId", json={"appId": app["id"]}).json()["data"] == []


def test_unknown_branch_is_reported_and_queues_nothing(http: TestClient, mist: MistClient, app: dict) -> None:
    mist.put("/api/apps/update", {"appId": app["id"], "gitBranch": "does-not-exist"})
    response = http.post("/api/deployment/add", json={"appId": app["id"]})
    assert response.status_code == 422
    assert "does-not-exist" in response.json()["message"]
    assert mist.deployments(app["id"]) == []


def test_websocket_refuses_anonymous_outsiders_and_bad_ids(http: TestClient, mist: MistClient, app: dict) -> None:
    deployment = mist.deploy(app["id"])
    url = f"/ws/deployment/logs?deploymentId={deployment['id']}"
    for query, status in ((url, None), ("/ws/deployment/logs?deploymentId=x", 400),
                          ("/ws/deployment/logs?deploymentId=999", 404)):
        if status is None:
            continue
        with pytest.raises(WebSocketDenialResponse) as denied:
            with http.websocket_connect(query):
                pass
        assert denied.value.status_code == status
    mist.create_user("eve")
    mist.login("eve@example.com")
    with pytest.raises(WebSocketDenialResponse) as denied:
        with http.websocket_connect(url):
            pass
    assert denied.value.status_code == 404
    http.cookies.clear()
    with pytest.raises(WebSocketDenialResponse) as denied:
        with http.websocket_connect(url):
            pass
    assert denied.value.status_code == 401


def test_stop_and_rollback_refuse_what_they_cannot_do(http: TestClient, mist: MistClient, app: dict) -> None:
    for path in ("/api/deployment/stop", "/api/deployment/rollback"):
        assert http.post(path, json={}).status_code == 400
        assert http.post(path, json={"deploymentId": "1"}).status_code == 400
        assert http.post(path, json={"deploymentId": 999}).status_code == 404
    failed = mist.deploy(app["id"])  # no Dockerfile: it fails
    assert mist.wait_final(app["id"], failed["id"], timeout=60)["status"] == "failed"
    stop = http.post("/api/deployment/stop", json={"deploymentId": failed["id"]})
    assert stop.status_code == 409 and "already ended (failed)" in stop.json()["message"]
    rollback = http.post("/api/deployment/rollback", json={"deploymentId": failed["id"]})
    assert rollback.status_code == 409 and "did not succeed" in rollback.json()["message"]


def test_a_watcher_resumes_from_a_line_number(http: TestClient, mist: MistClient, app: dict) -> None:
    deployment = mist.deploy(app["id"])
    mist.wait_final(app["id"], deployment["id"], timeout=60)
    stored = mist.logs(deployment["id"]).splitlines()
    with http.websocket_connect(f"/ws/deployment/logs?deploymentId={deployment['id']}&since=2") as ws:
        messages = []
        while True:
            messages.append(ws.receive_json())
            if messages[-1]["type"] == "status":
                break
    lines = [m for m in messages if m["type"] == "log"]
    assert [m["seq"] for m in lines] == list(range(2, len(stored)))
    assert [m["data"]["line"] for m in lines] == stored[2:]
    assert [m["type"] for m in messages[-2:]] == ["error", "status"]
    with pytest.raises(WebSocketDenialResponse) as denied:
        with http.websocket_connect(f"/ws/deployment/logs?deploymentId={deployment['id']}&since=-1"):
            pass
    assert denied.value.status_code == 400
