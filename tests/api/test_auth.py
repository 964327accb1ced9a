"""mist.api.auth and mist.api.users: the owner's sign-up, sessions, roles; every route needs a session."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import PASSWORD, MistClient

# Webhooks authenticate by the signature of their body instead (see test_webhooks.py).
OPEN_ROUTES = {"/api/auth/signup", "/api/auth/login", "/api/auth/logout", "/api/webhooks/{app_id}"}


def test_signup_makes_the_owner_once_and_sets_a_safe_cookie(http: TestClient, mist: MistClient) -> None:
    response = http.post("/api/auth/signup", json={"username": "ada", "email": "Ada@Example.com", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["data"] == {"id": 1, "username": "ada", "email": "ada@example.com", "role": "owner",
                                        "disabled": False}
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert mist.get("/api/auth/me")["data"]["role"] == "owner"

    again = http.post("/api/auth/signup", json={"username": "eve", "email": "eve@example.com", "password": PASSWORD})
    assert again.status_code == 409
    assert "sign-up is closed" in again.json()["message"]


def test_login_logout_and_revoked_sessions(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    http.cookies.clear()
    wrong = http.post("/api/auth/login", json={"email": "owner@example.com", "password": "nope-nope"})
    assert wrong.status_code == 401 and wrong.json()["success"] is False
    mist.login("owner@example.com")
    token = http.cookies.get("mist_session")
    assert mist.get("/api/auth/me")["data"]["username"] == "owner"
    assert http.post("/api/auth/logout").status_code == 200
    # The server forgot the session: replaying the old cookie does not work.
    http.cookies.set("mist_session", token)
    assert http.get("/api/auth/me").status_code == 401


def test_only_owner_and_admins_create_users(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    admin = mist.create_user("root2", role="admin")
    assert admin["role"] == "admin"
    mist.create_user("bob")
    assert http.post("/api/users/create", json={"username": "x", "email": "x@example.com",
                                                "password": PASSWORD, "role": "owner"}).status_code == 400
    dup = http.post("/api/users/create", json={"username": "bob", "email": "b2@example.com", "password": PASSWORD})
    assert dup.status_code == 409
    mist.login("bob@example.com")
    denied = http.post("/api/users/create", json={"username": "c", "email": "c@example.com", "password": PASSWORD})
    assert denied.status_code == 403
    assert http.get("/api/users/getAll").status_code == 403


def test_every_api_route_refuses_anonymous_callers(http: TestClient) -> None:
    paths = {p: ops for p, ops in http.app.openapi()["paths"].items() if p.startswith("/api/")}
    assert len(paths) >= 15
    for path, operations in paths.items():
        if path in OPEN_ROUTES:
            continue
        for method in operations:
            url = path.replace("{deployment_id}", "1")
            response = http.request(method.upper(), url, json={"appId": 1}, params={"id": 1})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["success"] is False


@pytest.mark.parametrize("body", [
    {"username": "a", "email": "a@example.com", "password": "short"},
    {"username": "a", "email": "not-an-email", "password": PASSWORD},
    {"username": "-a", "email": "a@example.com", "password": PASSWORD},
    {"username": 5, "email": "a@example.com", "password": PASSWORD},
    {"email": "a@example.com", "password": PASSWORD},
])
def test_bad_signups_are_400_and_create_nobody(http: TestClient, mist: MistClient, body: dict) -> None:
    response = http.post("/api/auth/signup", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"]
    mist.signup()  # still possible: nothing was written
