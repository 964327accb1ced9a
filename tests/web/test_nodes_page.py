"""The dashboard's Nodes page in Chromium, on a real `mist serve` with MIST_RUNTIME=swarm and the test
engine as a single-node swarm: the owner sees the node with its role and resources, drains it and
makes it active again; a member sees no nav item and gets the server's refusal at the page's URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from browser_support import open_page, screenshot
from support.client import MistClient
from support.engine import mist_servers
from support.server import MistServer
from support.swarm import Swarm, single_node_swarm
from test_notifications_page import sign_in

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect

pytestmark = [pytest.mark.swarm, pytest.mark.docker]


@pytest.fixture
def swarm(engine: docker.DockerClient) -> Iterator[Swarm]:
    with single_node_swarm(engine) as made:
        yield made


@pytest.fixture
def server(tmp_path: Path, engine: docker.DockerClient, swarm: Swarm) -> Iterator[MistServer]:
    with mist_servers(engine, tmp_path / "data") as start:
        # Nothing is deployed or routed here: the registry swarm mode requires is named, never reached.
        yield start(workers=1, runtime="swarm", registry="127.0.0.1:5000", proxy_enabled="false")


def test_the_owner_drains_and_activates_the_node_and_a_member_is_refused(
    browser, server: MistServer, swarm: Swarm
) -> None:
    import httpx

    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        owner.create_user("member")
    context, page, errors = open_page(browser, server.url)
    sign_in(page, "owner@example.com")
    page.goto("/#/nodes")
    row = page.locator(f"[data-testid=node-row][data-id='{swarm.manager_id}']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("manager (leader)")
    expect(row.get_by_test_id("node-state")).to_have_text("ready")
    expect(row.get_by_test_id("node-availability")).to_have_text("active")
    row.get_by_test_id("node-drain").click()
    expect(page.locator(".toast-success").filter(has_text="is drain")).to_be_visible()
    expect(row.get_by_test_id("node-availability")).to_have_text("drain")
    screenshot(page, "nodes-drained")
    row.get_by_test_id("node-activate").click()
    expect(row.get_by_test_id("node-availability")).to_have_text("active")
    assert errors == []
    context.close()

    context, page, errors = open_page(browser, server.url)
    sign_in(page, "member@example.com")
    page.goto("/#/nodes")
    expect(page.get_by_text("only the owner and admins can see and change the swarm's nodes")).to_be_visible()
    context.close()
