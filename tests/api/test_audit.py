"""mist.api.audit: sign-ins, deploy actions and token events, readable by the owner and admins."""

from __future__ import annotations

from fastapi.testclient import TestClient
from support.client import PASSWORD, MistClient


def test_audit_log_records_who_did_what(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    mist.create_user("bob")
    http.post("/api/auth/login", json={"email": "owner@example.com", "password": "wrong-password"})
    mist.login("owner@example.com")
    token = mist.post("/api/tokens/create", {"name": "ci", "scope": "deploy"})["data"]
    http.request("DELETE", "/api/tokens/delete", json={"id": token["id"]})

    logs = mist.get("/api/audit-logs", limit=10)["data"]
    actions = [(e["action"], e["username"]) for e in logs["logs"]]
    assert actions[:4] == [("token.delete", "owner"), ("token.create", "owner"),
                           ("auth.login", "owner"), ("auth.login_failed", "")]
    assert logs["total"] == 4 and logs["logs"][3]["details"] == {"email": "owner@example.com"}
    assert mist.get("/api/audit-logs", limit=1, offset=1)["data"]["logs"][0]["action"] == "token.create"
    assert http.get("/api/audit-logs", params={"limit": 0}).status_code == 400

    http.post("/api/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    assert http.get("/api/audit-logs").status_code == 403
