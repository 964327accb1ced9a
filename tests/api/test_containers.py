"""mist.api.containers without an engine: who may ask, and what an app that never ran answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from support.client import MistClient

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def app(mist: MistClient) -> dict:
    mist.signup()
    return mist.app(mist.project()["id"], "web", REPO, port=8000)


def test_an_app_never_deployed_has_no_container_to_control(http: TestClient, mist: MistClient, app: dict) -> None:
    status = mist.get("/api/apps/container/status", appId=app["id"])["data"]
    assert status["state"] == "not_deployed" and status["containerId"] is None
    for action in ("stop", "start", "restart"):
        response = http.post(f"/api/apps/container/{action}", params={"appId": app["id"]})
        assert response.status_code == 409 and "deploy it first" in response.json()["message"]
    assert http.get("/api/apps/container/logs", params={"appId": app["id"]}).status_code == 409


@pytest.mark.parametrize("params", [{}, {"appId": "x"}, {"appId": 0}, {"appId": 1, "tail": 0},
                                    {"appId": 1, "tail": 10_001}])
def test_bad_parameters_are_400(http: TestClient, app: dict, params: dict) -> None:
    assert http.get("/api/apps/container/logs", params=params).status_code == 400


def test_outsiders_get_404_and_anonymous_callers_401(http: TestClient, mist: MistClient, app: dict) -> None:
    mist.create_user("eve")
    mist.login("eve@example.com")
    assert http.get("/api/apps/container/status", params={"appId": app["id"]}).status_code == 404
    assert http.post("/api/apps/container/restart", params={"appId": app["id"]}).status_code == 404
    with pytest.raises(WebSocketDisconnect), http.websocket_connect(f"/ws/container/logs?appId={app['id']}"):
        pass
    http.post("/api/auth/logout")
    http.cookies.clear()
    assert http.get("/api/apps/container/status", params={"appId": app["id"]}).status_code == 401
    with pytest.raises(WebSocketDisconnect), http.websocket_connect(f"/ws/container/logs?appId={app['id']}"):
        pass


def test_read_tokens_may_look_but_not_control(http: TestClient, mist: MistClient, app: dict) -> None:
    token = mist.post("/api/tokens/create", {"name": "ci", "scope": "read"})["data"]["token"]
    http.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/apps/container/status", params={"appId": app["id"]}, headers=headers).status_code == 200
    assert http.post("/api/apps/container/stop", params={"appId": app["id"]}, headers=headers).status_code == 403
