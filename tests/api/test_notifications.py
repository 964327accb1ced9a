"""mist.api.notifications: validation (a 4xx naming the field, nothing written), what is shown of a
target, the secret answered once, and the owner-and-admins rule."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

SLACK = "https://hooks.slack.com/services/T0001/B0002/XXXXsecretTOKEN"
DISCORD = "https://discord.com/api/webhooks/123456789/abc_DEF-secretTOKEN"
GOOD = {"name": "ops", "kind": "webhook", "target": "https://ci.example.com/hook", "events": ["deployment.failed"]}


@pytest.fixture
def owner(mist: MistClient) -> MistClient:
    mist.signup()
    return mist


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "sms"}, "kind"), ({"kind": None}, "kind"), ({"target": "file:///etc/passwd"}, "target"),
    ({"target": "ftp://example.com/"}, "target"), ({"target": ""}, "target"), ({"events": []}, "events"),
    ({"events": ["deployment.exploded"]}, "events"), ({"events": "deployment.failed"}, "events"),
    ({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"enabled": "yes"}, "enabled"),
    ({"kind": "email", "target": "ops@example.com"}, "MIST_SMTP_URL"), ({"kind": "slack"}, "target"),
    ({"kind": "discord", "target": SLACK}, "target"), ({"surprise": 1}, "surprise"),
])
def test_a_bad_notification_is_refused_naming_the_field_and_nothing_is_written(
    http: TestClient, owner: MistClient, change: dict, field: str
) -> None:
    response = http.post("/api/notifications/create", json={**GOOD, **change})
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert owner.get("/api/notifications/getAll")["data"] == []


def test_the_secret_is_answered_once_and_targets_are_shown_masked(owner: MistClient) -> None:
    hook = owner.post("/api/notifications/create", {**GOOD, "target": "https://bot:pw@ci.example.com/h?token=abc"})
    assert hook["message"].endswith("shown only this once")
    secret = hook["data"]["secret"]
    assert len(secret) == 64 and int(secret, 16) >= 0
    slack = owner.post("/api/notifications/create", {**GOOD, "kind": "slack", "target": SLACK})["data"]
    discord = owner.post("/api/notifications/create", {**GOOD, "kind": "discord", "target": DISCORD,
                                                        "enabled": False})["data"]
    assert "secret" not in slack and "secret" not in discord
    listed = owner.get("/api/notifications/getAll")["data"]
    assert [n["target"] for n in listed] == [
        "https://********@ci.example.com/h?token=********",
        "https://hooks.slack.com/services/T0001/B0002/********",
        "https://discord.com/api/webhooks/123456789/********",
    ]
    assert [n["enabled"] for n in listed] == [True, True, False]
    assert listed[0]["events"] == ["deployment.failed"] and listed[0]["lastDelivery"] is None
    assert set(listed[0]) == {"id", "name", "kind", "target", "events", "enabled", "createdAt", "updatedAt",
                              "lastDelivery"}
    for text in (secret, "XXXXsecretTOKEN", "abc_DEF-secretTOKEN", "pw@"):
        assert text not in str(listed)


def test_update_changes_what_is_sent_and_checks_it_like_create(http: TestClient, owner: MistClient) -> None:
    hook = owner.post("/api/notifications/create", GOOD)["data"]
    slack = owner.post("/api/notifications/create", {**GOOD, "kind": "slack", "target": SLACK})["data"]
    updated = owner.put("/api/notifications/update", {
        "id": hook["id"], "name": "renamed", "events": ["deployment.succeeded", "deployment.stopped"],
        "enabled": False, "target": "http://ci.example.com/other"})["data"]
    assert (updated["name"], updated["events"], updated["enabled"], updated["target"]) == (
        "renamed", ["deployment.succeeded", "deployment.stopped"], False, "http://ci.example.com/other")
    assert "secret" not in updated
    for body, status, word in (
        ({"id": hook["id"], "target": "gopher://x"}, 400, "target"),
        ({"id": slack["id"], "target": "https://example.com/x"}, 400, "target"),
        ({"id": slack["id"], "rotateSecret": True}, 400, "rotateSecret"),
        ({"id": hook["id"], "events": []}, 400, "events"),
        ({"id": hook["id"], "name": None}, 400, "name"),
        ({"id": 999}, 404, "notification 999"),
    ):
        response = http.put("/api/notifications/update", json=body)
        assert response.status_code == status and word in response.json()["message"], (body, response.text)
    assert owner.get("/api/notifications/getAll")["data"][0]["name"] == "renamed"


def test_delete_and_unknown_ids(http: TestClient, owner: MistClient) -> None:
    hook = owner.post("/api/notifications/create", GOOD)["data"]
    assert http.request("DELETE", "/api/notifications/delete", json={"id": 999}).status_code == 404
    assert http.post("/api/notifications/test", json={"id": 999}).status_code == 404
    assert http.get("/api/notifications/deliveries", params={"notificationId": 999}).status_code == 404
    for query in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"notificationId": -1}):
        assert http.get("/api/notifications/deliveries", params=query).status_code == 400
    owner.http.request("DELETE", "/api/notifications/delete", json={"id": hook["id"]})
    assert owner.get("/api/notifications/getAll")["data"] == []
    actions = [e["action"] for e in owner.get("/api/audit-logs")["data"]["logs"]]
    assert {"notification.create", "notification.delete"} <= set(actions)


def test_members_are_refused_whatever_they_send(http: TestClient, owner: MistClient) -> None:
    hook = owner.post("/api/notifications/create", GOOD)["data"]
    owner.create_user("member")
    owner.create_user("boss", role="admin")
    owner.login("member@example.com")
    for method, path, body in (
        ("GET", "/api/notifications/getAll", None), ("POST", "/api/notifications/create", GOOD),
        ("POST", "/api/notifications/create", {"kind": "nonsense"}), ("PUT", "/api/notifications/update",
                                                                       {"id": hook["id"], "name": "mine"}),
        ("DELETE", "/api/notifications/delete", {"id": hook["id"]}), ("POST", "/api/notifications/test",
                                                                     {"id": hook["id"]}),
        ("GET", "/api/notifications/deliveries", None),
    ):
        response = http.request(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
    owner.login("boss@example.com")
    assert [n["id"] for n in owner.get("/api/notifications/getAll")["data"]] == [hook["id"]]
