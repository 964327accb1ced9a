"""mist.api.users and the account routes of mist.api.auth: managing users, passwords, sessions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from support.client import PASSWORD, MistClient

NEW_PASSWORD = "a different long passphrase"


@pytest.fixture
def second(http: TestClient) -> Iterator[MistClient]:
    """Another browser on the same server, with a cookie jar of its own."""
    other = TestClient(http.app)  # not entered: the app's lifespan already runs in `http`
    yield MistClient(other)
    other.close()


def test_owner_manages_roles_and_the_answer_says_disabled(mist: MistClient, second: MistClient) -> None:
    mist.signup()
    bob = mist.create_user("bob")
    assert bob["disabled"] is False
    promoted = mist.put("/api/users/update", {"id": bob["id"], "role": "admin"})["data"]
    assert promoted["role"] == "admin" and promoted["disabled"] is False
    disabled = mist.put("/api/users/update", {"id": bob["id"], "disabled": True})["data"]
    assert disabled["disabled"] is True
    assert {u["username"]: u["disabled"] for u in mist.get("/api/users/getAll")["data"]} == {
        "owner": False, "bob": True}
    mist.put("/api/users/update", {"id": bob["id"], "disabled": False})
    second.login("bob@example.com")

    actions = [(e["action"], e["target"], e["details"]) for e in mist.get("/api/audit-logs")["data"]["logs"]]
    assert ("user.update", f"user:{bob['id']}", {"username": "bob", "disabled": True}) in actions
    assert ("user.update", f"user:{bob['id']}", {"username": "bob", "role": "admin"}) in actions


def test_the_owner_and_yourself_are_protected(http: TestClient, mist: MistClient, second: MistClient) -> None:
    owner = mist.signup()
    admin = mist.create_user("root2", role="admin")
    second.login("root2@example.com")
    refusals = [
        ("PUT", "/api/users/update", {"id": owner["id"], "role": "user"}, 403, "owner's role"),
        ("PUT", "/api/users/update", {"id": owner["id"], "disabled": True}, 403, "owner cannot be disabled"),
        ("DELETE", "/api/users/delete", {"id": owner["id"]}, 403, "owner cannot be deleted"),
        ("PUT", "/api/users/update", {"id": admin["id"], "role": "owner"}, 400, "role"),
        ("PUT", "/api/users/update", {"id": admin["id"], "disabled": True}, 403, "your own account"),
        ("DELETE", "/api/users/delete", {"id": admin["id"]}, 403, "your own account"),
        ("POST", "/api/users/revokeSessions", {"id": owner["id"]}, 403, "only the owner"),
        ("PUT", "/api/users/update", {"id": 999, "role": "user"}, 404, "user 999 not found"),
        ("PUT", "/api/users/update", {"id": admin["id"]}, 400, "nothing to change"),
        ("PUT", "/api/users/update", {"id": admin["id"], "disabled": "yes"}, 400, "disabled"),
    ]
    for method, path, body, status, message in refusals:
        response = second.http.request(method, path, json=body)
        assert response.status_code == status, (body, response.text)
        assert message in response.json()["message"]
    # The owner can change an admin, and nothing above was written.
    assert mist.put("/api/users/update", {"id": admin["id"], "role": "user"})["data"]["role"] == "user"
    assert all(not u["disabled"] for u in mist.get("/api/users/getAll")["data"])


def test_plain_users_cannot_manage_users(mist: MistClient, second: MistClient) -> None:
    owner = mist.signup()
    bob = mist.create_user("bob")
    eve = mist.create_user("eve")
    second.login("bob@example.com")
    for method, path, body in [("PUT", "/api/users/update", {"id": eve["id"], "disabled": True}),
                               ("PUT", "/api/users/update", {"id": bob["id"], "role": "admin"}),
                               ("DELETE", "/api/users/delete", {"id": eve["id"]}),
                               ("POST", "/api/users/revokeSessions", {"id": owner["id"]})]:
        response = second.http.request(method, path, json=body)
        assert response.status_code == 403, (path, body, response.text)
    # ...but may sign themselves out everywhere.
    second.post("/api/users/revokeSessions", {"id": bob["id"]})
    assert second.http.get("/api/auth/me").status_code == 401


def test_a_disabled_user_gets_the_wrong_password_answer(http: TestClient, mist: MistClient,
                                                         second: MistClient) -> None:
    mist.signup()
    bob = mist.create_user("bob")
    second.login("bob@example.com")
    mist.put("/api/users/update", {"id": bob["id"], "disabled": True})
    assert second.http.get("/api/auth/me").status_code == 401
    disabled = second.http.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    wrong = second.http.post("/api/auth/login", json={"email": "eve@example.com", "password": PASSWORD})
    assert disabled.status_code == wrong.status_code == 401
    assert disabled.json() == wrong.json()


def test_delete_removes_the_user_and_their_access(mist: MistClient, second: MistClient) -> None:
    mist.signup()
    bob = mist.create_user("bob")
    second.login("bob@example.com")
    token = second.post("/api/tokens/create", {"name": "ci", "scope": "read"})["data"]["token"]
    project = mist.project()
    mist.put("/api/projects/updateMembers", {"userIds": [bob["id"]]}, id=project["id"])
    mist.http.request("DELETE", "/api/users/delete", json={"id": bob["id"]}).raise_for_status()
    assert second.http.get("/api/auth/me").status_code == 401
    assert second.http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert [u["username"] for u in mist.get("/api/users/getAll")["data"]] == ["owner"]
    assert mist.http.request("DELETE", "/api/users/delete", json={"id": bob["id"]}).status_code == 404
    # The project stays; its member list lost bob.
    assert mist.get("/api/projects/getFromId", id=project["id"])["success"]


def test_password_change(http: TestClient, mist: MistClient, second: MistClient) -> None:
    mist.signup()
    second.login("owner@example.com")
    wrong = http.put("/api/auth/password", json={"current": "not it at all", "new": NEW_PASSWORD})
    assert wrong.status_code == 400 and "current" in wrong.json()["message"]
    short = http.put("/api/auth/password", json={"current": PASSWORD, "new": "short"})
    assert short.status_code == 400
    mist.put("/api/auth/password", {"current": PASSWORD, "new": NEW_PASSWORD})
    assert http.get("/api/auth/me").status_code == 200  # this session stays
    assert second.http.get("/api/auth/me").status_code == 401  # the other one ended
    assert second.http.post("/api/auth/login", json={"email": "owner@example.com",
                                                     "password": PASSWORD}).status_code == 401
    second.post("/api/auth/login", {"email": "owner@example.com", "password": NEW_PASSWORD})
    actions = [e["action"] for e in mist.get("/api/audit-logs")["data"]["logs"]]
    assert "auth.password_changed" in actions and "auth.password_change_failed" in actions


def test_login_is_throttled_before_hashing(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    http.cookies.clear()
    for _ in range(5):
        assert http.post("/api/auth/login", json={"email": "owner@example.com", "password": "wrong one"}
                         ).status_code == 401
    throttled = http.post("/api/auth/login", json={"email": "owner@example.com", "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert "too many failed sign-ins" in throttled.json()["message"]
    # Another account from the same address is not locked by this one.
    assert http.post("/api/auth/login", json={"email": "x@example.com", "password": "nope"}).status_code == 401
