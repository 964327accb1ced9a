"""mist.notifications.chat: Slack and Discord through apprise. The network is a fake here (no chat
service is reachable from the tests): requests' Session.request, which apprise's plugins call, is
replaced by a recorder, so the real apprise builds and sends the real request."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from mist.notifications import chat, events

SLACK = "https://hooks.slack.com/services/T0001/B0002/XXXXsecretTOKEN"
DISCORD = "https://discord.com/api/webhooks/123456789/abc_DEF-secretTOKEN"
PAYLOAD = events.with_link({
    "event": "deployment.failed", "at": "2026-12-07T10:00:00Z",
    "project": {"id": 1, "name": "shop"}, "app": {"id": 4, "name": "web"},
    "deployment": {"id": 9, "number": 3, "status": "failed", "commitHash": "a" * 40,
                   "commitMessage": "Fix login", "error": "the build broke"},
    "url": None,
}, "https://mist.example.com")


class Network:
    def __init__(self, status: int) -> None:
        self.status = status
        self.sent: list[tuple[str, str, Any]] = []

    def request(self, _session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.sent.append((method, url, kwargs.get("data") or kwargs.get("json")))
        response = requests.Response()
        response.status_code = self.status
        response._content = b"ok" if self.status < 400 else b"invalid_token"
        return response


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    fake = Network(200)
    monkeypatch.setattr(requests.Session, "request", lambda self, *a, **k: fake.request(self, *a, **k))
    return fake


def test_the_apprise_urls_of_slack_and_discord() -> None:
    assert chat.apprise_url("slack", SLACK) == "slack://T0001/B0002/XXXXsecretTOKEN/?footer=no&image=no&cto=5&rto=8"
    assert chat.apprise_url("discord", DISCORD) == (
        "discord://123456789/abc_DEF-secretTOKEN/?avatar=no&footer=no&cto=5&rto=8")


def test_slack_gets_the_headline_and_the_facts_at_its_incoming_webhook(network: Network) -> None:
    outcome = chat.send("slack", SLACK, PAYLOAD)
    assert outcome.ok
    ((method, url, data),) = network.sent
    assert (method.upper(), url) == ("POST", SLACK)
    text = json.dumps(json.loads(data))
    assert "shop/web deployment #3 failed" in text and "the build broke" in text
    assert "https://mist.example.com/#/apps/4/deployments/9" in text


def test_discord_gets_the_same_at_its_webhook(network: Network) -> None:
    network.status = 204
    assert chat.send("discord", DISCORD, PAYLOAD).ok
    ((_, url, data),) = network.sent
    assert url.startswith(DISCORD)
    assert "shop/web deployment #3 failed" in json.dumps(json.loads(data))


def test_a_refusal_is_a_failed_attempt_with_apprise_s_words_as_the_answer(network: Network) -> None:
    network.status = 403
    outcome = chat.send("slack", SLACK, PAYLOAD)
    assert not outcome.ok and outcome.answer
    assert "403" in outcome.answer or "Forbidden" in outcome.answer
