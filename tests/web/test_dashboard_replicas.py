"""Replicas on the dashboard, in Chromium, on a real `mist serve` without an engine: the settings form's
Replicas field (refused with the server's reason on one engine), and the Runtime panel's table of
replicas when the status answers them (Swarm mode; the status is a fixed Swarm-shaped answer here, the
swarm integration suite shows the real one)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from browser_support import open_page, screenshot
from support.client import MistClient
from support.engine import engineless_servers
from support.server import MistServer
from test_dashboard_admin import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Route

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect

REPO = "https://git.example.com/acme/shop.git"


def replica(slot: int, node: str, state: str = "running", restarts: int = 0, error: str | None = None) -> dict:
    return {"task": f"mist-app-1.{slot}", "slot": slot, "node": node, "state": state,
            "health": "healthy" if state == "running" else "starting", "startedAt": "2026-01-01T10:00:00Z",
            "restarts": restarts, "error": error, "deploymentId": 1}


SWARM_STATUS = {
    "appId": 1, "deploymentId": 1, "deploymentNumber": 1, "containerId": "mist-app-1", "name": "mist-app-1",
    "state": "running", "health": "starting", "startedAt": "2026-01-01T10:00:00Z", "uptime": 60,
    "image": "127.0.0.1:5000/mist-app-1@sha256:abc", "restarts": 2, "exitCode": None, "cpuLimit": None,
    "memoryLimit": None, "restartPolicy": "unless-stopped",
    "replicas": [replica(1, "manager"), replica(2, "worker-1", restarts=2),
                 replica(3, "worker-1", state="starting", error="<b>not yet</b>")],
}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MistServer]:
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start()


@pytest.fixture
def app_id(server: MistServer) -> Iterator[int]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        yield owner.app(owner.project()["id"], "web", REPO, port=8000)["id"]


def with_replicas(count: int) -> Callable[[Route], None]:
    """The app as the server answers it, with `count` replicas (a swarm server's app)."""
    def handle(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["data"]["replicas"] = count
        route.fulfill(response=response, body=json.dumps(body))
    return handle


def test_the_runtime_panel_lists_the_replicas(browser, server: MistServer, app_id: int) -> None:
    context, page, errors = open_page(browser, server.url)
    page.route("**/api/apps/getById", with_replicas(3))
    page.route("**/api/apps/container/status?*", lambda route: route.fulfill(
        status=200, content_type="application/json",
        body=json.dumps({"success": True, "message": "OK", "data": SWARM_STATUS})))
    sign_in(page, "owner@example.com")
    page.goto(f"/#/apps/{app_id}")

    expect(page.get_by_test_id("app-replicas")).to_have_text("3 replicas")
    rows = page.get_by_test_id("replica-row")
    expect(rows).to_have_count(3)
    expect(page.locator("[data-fact=replicas]")).to_have_text("2 of 3 running")
    expect(rows.nth(1).get_by_test_id("replica-node")).to_have_text("worker-1")
    expect(rows.nth(1)).to_contain_text("2")
    expect(rows.nth(2)).to_have_attribute("data-state", "starting")
    expect(rows.nth(2)).to_contain_text("<b>not yet</b>")  # the server's text, never HTML
    screenshot(page, "runtime-replicas")
    assert errors == []
    context.close()


def test_the_settings_form_sends_replicas_and_shows_the_servers_refusal(
    browser, server: MistServer, app_id: int,
) -> None:
    context, page, errors = open_page(browser, server.url)
    sign_in(page, "owner@example.com")
    page.goto(f"/#/apps/{app_id}/settings")
    field = page.get_by_test_id("replicas-input")
    expect(field).to_have_value("1")
    field.fill("3")
    page.get_by_test_id("save-app").click()
    # This server runs apps on one engine: more than one replica is refused, saying what it needs.
    expect(page.get_by_test_id("form-message")).to_contain_text("MIST_RUNTIME=swarm")
    # A new database has no Replicas field: it runs one replica, which owns its volume.
    page.goto("/#/projects/1/new")
    expect(page.get_by_test_id("replicas-input")).to_be_visible()
    page.select_option("select[name=appType]", "database")
    expect(page.get_by_test_id("replicas-input")).to_be_hidden()
    assert errors == []
    context.close()
