"""mist.notifications.events: the link to the dashboard and the texts people read."""

from __future__ import annotations

from mist.notifications import events

PAYLOAD = {
    "event": "deployment.failed", "at": "2026-12-07T10:00:00Z",
    "project": {"id": 1, "name": "shop"}, "app": {"id": 4, "name": "web"},
    "deployment": {"id": 9, "number": 3, "status": "failed", "commitHash": "a" * 40,
                   "commitMessage": "Fix login", "error": "the build broke"},
    "url": None,
}


def test_the_link_points_at_the_deployment_in_the_dashboard() -> None:
    assert events.with_link(PAYLOAD, "https://mist.example.com/")["url"] == (
        "https://mist.example.com/#/apps/4/deployments/9")
    assert events.with_link(PAYLOAD, "")["url"] is None
    assert events.with_link(events.probe_payload("ops"), "https://m.example.com")["url"] == "https://m.example.com/"


def test_headline_and_description_name_the_app_and_the_outcome() -> None:
    assert events.headline(PAYLOAD) == "Mist: shop/web deployment #3 failed"
    text = events.description(events.with_link(PAYLOAD, "https://m.example.com"))
    assert "App: web" in text and "Error: the build broke" in text and "Commit: aaaaaaaaaaaa Fix login" in text
    assert "Link: https://m.example.com/#/apps/4/deployments/9" in text
    assert events.headline(events.probe_payload("ops")) == "Mist: test notification 'ops'"


def test_only_known_outcomes_raise_events() -> None:
    assert [events.deployment_event(s) for s in ("success", "failed", "stopped", "rolled_back", "pending")] == [
        "deployment.succeeded", "deployment.failed", "deployment.stopped", None, None]
