"""mist.api.nodes in process, without an engine: the owner-and-admins rule, bad input named, and an
engine that cannot be reached answered as such (the swarm itself: tests/swarm/)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient


@pytest.fixture
def owner(mist: MistClient) -> MistClient:
    mist.signup()
    return mist


def test_nodes_are_for_the_owner_and_admins(http: TestClient, owner: MistClient) -> None:
    owner.create_user("member")
    owner.post("/api/auth/logout", {})
    MistClient(http).login("member@example.com")
    for method, path, body in (("GET", "/api/nodes", None),
                               ("PUT", "/api/nodes/update", {"id": "abc", "availability": "drain"})):
        response = http.request(method, path, json=body)
        assert response.status_code == 403 and "owner and admins" in response.json()["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({"id": "abc", "availability": "offline"}, "availability"), ({"id": "../x", "availability": "drain"}, "id"),
    ({"availability": "drain"}, "id"),
])
def test_bad_node_changes_are_refused_naming_the_field(http: TestClient, owner: MistClient, body: dict,
                                                       field: str) -> None:
    response = http.put("/api/nodes/update", json=body)
    assert response.status_code == 400 and field in response.json()["message"]


def test_without_an_engine_the_answer_says_so(http: TestClient, owner: MistClient) -> None:
    response = http.get("/api/nodes")
    assert response.status_code == 503 and "Docker engine" in response.json()["message"]
