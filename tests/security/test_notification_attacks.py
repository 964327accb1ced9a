"""Attacks on notifications, through the real server: a member reads or changes nothing of them, no
response or log line after creation repeats a webhook secret or a Slack or Discord token (nor the
SMTP password), and a target that is not an http(s) URL is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.client import MistClient
from support.receivers import WebhookReceiver, wait_for
from support.server import MistServer

from .conftest import Team

SLACK = "https://hooks.slack.com/services/T0001/B0002/XXXXslackTOKEN"
DISCORD = "https://discord.com/api/webhooks/123456789/abc_DEF-discordTOKEN"
SMTP_PASSWORD = "smtp-hunter2"


@pytest.fixture
def server(server_factory: Callable[..., MistServer]) -> MistServer:
    return server_factory(smtp_url=f"smtp://mist:{SMTP_PASSWORD}@127.0.0.1:9?from=mist@example.com")


def _create(client: MistClient, kind: str, target: str) -> dict:
    return client.post("/api/notifications/create", {
        "name": kind, "kind": kind, "target": target, "events": ["deployment.failed"]})["data"]


def test_a_member_can_neither_read_nor_change_notifications(team: Team) -> None:
    hook = _create(team.owner, "webhook", "https://ci.example.com/hook")
    attempts = (
        ("GET", "/api/notifications/getAll", None),
        ("POST", "/api/notifications/create", {"name": "mine", "kind": "webhook",
                                               "target": "https://evil.example.com/", "events": ["deployment.failed"]}),
        ("PUT", "/api/notifications/update", {"id": hook["id"], "target": "https://evil.example.com/"}),
        ("PUT", "/api/notifications/update", {"id": hook["id"], "rotateSecret": True}),
        ("DELETE", "/api/notifications/delete", {"id": hook["id"]}),
        ("POST", "/api/notifications/test", {"id": hook["id"]}),
        ("GET", "/api/notifications/deliveries", None),
    )
    for method, path, body in attempts:
        response = team.member.http.request(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
        assert "secret" not in response.text
    (kept,) = team.owner.get("/api/notifications/getAll")["data"]
    assert kept["target"] == "https://ci.example.com/hook"


def test_secrets_and_tokens_are_never_answered_or_logged_after_creation(
    server: MistServer, owner: MistClient, receiver: WebhookReceiver
) -> None:
    hook = _create(owner, "webhook", receiver.url + "?token=query-TOKEN-1234")
    secret = hook["secret"]
    slack, discord = _create(owner, "slack", SLACK), _create(owner, "discord", DISCORD)
    mail = _create(owner, "email", "ops@example.com")
    receiver.status, receiver.answer = 500, f"no: {secret} query-TOKEN-1234".encode()
    tested = owner.post("/api/notifications/test", {"id": hook["id"]})
    mailed = owner.post("/api/notifications/test", {"id": mail["id"]})  # the SMTP port is closed
    assert tested["data"]["delivered"] is False and mailed["data"]["delivered"] is False
    wait_for(lambda: "attempt 1 failed" in server.output())
    renamed = owner.put("/api/notifications/update", {"id": slack["id"], "name": "chat"})
    answers = [
        tested, mailed, renamed, owner.get("/api/notifications/getAll"),
        owner.get("/api/notifications/deliveries"), owner.get("/api/audit-logs"), owner.get("/api/settings"),
        owner.put("/api/notifications/update", {"id": discord["id"], "enabled": False}),
    ]
    for leaked in (secret, "XXXXslackTOKEN", "abc_DEF-discordTOKEN", "query-TOKEN-1234", SMTP_PASSWORD):
        assert leaked not in str(answers), leaked
        assert leaked not in server.log_path.read_text(errors="replace"), leaked
    assert "no: ******** ********" in str(answers)


@pytest.mark.parametrize("target", [
    "file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "ftp://example.com/", "dict://127.0.0.1:11211/",
    "javascript:alert(1)", "//example.com/hook", "unix:///var/run/docker.sock",
])
def test_a_target_that_is_not_http_is_refused(owner: MistClient, target: str) -> None:
    response = owner.http.post("/api/notifications/create", json={
        "name": "x", "kind": "webhook", "target": target, "events": ["deployment.failed"]})
    assert response.status_code == 400 and "target" in response.json()["message"]
    hook = _create(owner, "webhook", "https://ci.example.com/hook")
    response = owner.http.put("/api/notifications/update", json={"id": hook["id"], "target": target})
    assert response.status_code == 400 and "target" in response.json()["message"]
