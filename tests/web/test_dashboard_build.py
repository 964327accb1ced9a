"""The dashboard's build settings and generated Dockerfile in Chromium, on a real `mist serve`.

No engine: the settings only save, and the Dockerfile is generated from a real git server's branch
without building anything. Repository text (file names, Procfile lines) that looks like HTML must
reach the page as text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from browser_support import open_page, screenshot
from support.client import PASSWORD
from support.engine import engineless_servers
from support.gitserver import GitServer
from support.server import MistServer
from test_dashboard import api

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect

XSS = "<img src=x onerror=window.__xss=1>"
# A build setting needs a redeploy; never deployed, the notice says the first deployment applies it.
REDEPLOY = re.compile(r"^(re)?deploy$")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MistServer]:
    """A real server that reaches no engine (as tests/security's): these pages build nothing."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start()


@pytest.fixture
def signed_in(browser, server: MistServer, git_server: GitServer) -> Iterator[Callable[..., tuple]]:
    """`make(files)`: the owner's page, signed in, and a web app on a new repository holding `files`."""
    context, page, errors = open_page(browser, server.url)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    api(page, "POST", "/api/auth/signup", {"username": "ada", "email": "ada@example.com", "password": PASSWORD})
    project = api(page, "POST", "/api/projects/create", {"name": "shop", "description": ""})["data"]

    def make(files: dict[str, str], name: str = "web") -> tuple:
        repo = f"{name}-{uuid.uuid4().hex[:8]}"
        git_server.create_repo(repo, files, message="first")
        app = api(page, "POST", "/api/apps/create", {
            "name": name, "projectId": project["id"], "appType": "web", "port": 8000,
            "gitRepository": git_server.url_for(repo), "gitBranch": "main"})["data"]
        return page, app, project

    yield make
    assert errors == [] and dialogs == []
    assert not page.evaluate("() => window.__xss")
    context.close()


def show_dockerfile(page, app: dict):
    page.goto(f"/#/apps/{app['id']}")
    panel = page.get_by_test_id("dockerfile-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("dockerfile-result")).to_be_empty()  # nothing fetched before it is asked for
    panel.get_by_test_id("dockerfile-show").click()
    return panel


def test_the_build_section_saves_builder_and_commands(signed_in) -> None:
    page, app, project = signed_in({"requirements.txt": "flask\n", "app.py": "print('hi')\n"})
    assert app["builder"] == "auto"
    page.goto(f"/#/apps/{app['id']}/settings")
    section = page.get_by_test_id("build-section")
    expect(section).to_be_visible()
    start = section.get_by_test_id("startCommand")
    expect(start).to_have_attribute("placeholder", "detected: Procfile web:, else inferred")
    expect(section.get_by_test_id("builder")).to_have_value("auto")
    section.get_by_test_id("builder").select_option("python")
    section.get_by_test_id("startCommand").fill("gunicorn -b 0.0.0.0:8000 app:app")
    page.get_by_test_id("save-app").click()

    expect(page.get_by_test_id("action-notice")).to_have_attribute("data-action", REDEPLOY)
    expect(page.get_by_test_id("notice-deploy")).to_be_visible()
    saved = api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]
    assert (saved["builder"], saved["startCommand"], saved["buildCommand"], saved["releaseCommand"]) == (
        "python", "gunicorn -b 0.0.0.0:8000 app:app", "", "")
    # The page came back with the stored values; saving again with nothing changed sends nothing.
    expect(section.get_by_test_id("builder")).to_have_value("python")
    expect(section.get_by_test_id("startCommand")).to_have_value("gunicorn -b 0.0.0.0:8000 app:app")
    page.get_by_test_id("save-app").click()
    expect(page.locator(".toast").filter(has_text="Nothing changed")).to_be_visible()
    section.scroll_into_view_if_needed()
    screenshot(page, "desktop-12-build-settings")

    # Cleared again: "" means "as detected".
    section.get_by_test_id("startCommand").fill("")
    page.get_by_test_id("save-app").click()
    expect(page.get_by_test_id("action-notice")).to_have_attribute("data-action", REDEPLOY)
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["startCommand"] == ""

    # A database builds nothing: no Build section in its settings, no Dockerfile on its page.
    database = api(page, "POST", "/api/apps/create", {
        "name": "db", "projectId": project["id"], "appType": "database", "templateName": "postgres"})["data"]
    page.goto(f"/#/apps/{database['id']}/settings")
    expect(page.get_by_test_id("app-form")).to_be_visible()
    expect(page.get_by_test_id("build-section")).to_be_hidden()
    page.goto(f"/#/apps/{database['id']}")
    expect(page.get_by_test_id("deployments")).to_be_visible()
    expect(page.get_by_test_id("dockerfile-panel")).to_have_count(0)


def test_the_dockerfile_panel_shows_the_generated_dockerfile(signed_in) -> None:
    page, app, _ = signed_in({"requirements.txt": "flask\n", "app.py": "print('hi')\n"})
    panel = show_dockerfile(page, app)
    expect(panel.get_by_test_id("dockerfile-builder")).to_have_text("python")
    shown = api(page, "GET", f"/api/apps/dockerfile?appId={app['id']}")["data"]
    expect(panel.get_by_test_id("dockerfile-commit")).to_have_text(shown["commitHash"][:7])
    text = panel.get_by_test_id("dockerfile-text")
    expect(text).to_contain_text("FROM ")
    assert text.text_content() == shown["dockerfile"]
    findings = panel.get_by_test_id("dockerfile-findings").locator("li")
    assert findings.all_text_contents() == shown["findings"] and shown["findings"]
    expect(panel.get_by_test_id("dockerfile-release")).to_have_count(0)
    expect(panel).to_contain_text("mist apps dockerfile web > Dockerfile")
    screenshot(page, "desktop-13-dockerfile")

    # Copy: the clipboard holds exactly the Dockerfile (localhost is a secure context).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    panel.get_by_test_id("dockerfile-copy").click()
    expect(page.locator(".toast-success").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == shown["dockerfile"]


def test_repository_text_is_shown_as_text(signed_in) -> None:
    page, app, _ = signed_in({
        "requirements.txt": "flask\n",
        "app.py": "print('hi')\n",
        f"{XSS}.txt": "x\n",
        "Procfile": f"web: python3 app.py '{XSS}'\nrelease: echo '{XSS}'\n",
    })
    panel = show_dockerfile(page, app)
    expect(panel.get_by_test_id("dockerfile-builder")).to_have_text("python")
    expect(panel.get_by_test_id("dockerfile-text")).to_contain_text(XSS)
    expect(panel.get_by_test_id("dockerfile-findings")).to_contain_text(XSS)
    expect(panel.get_by_test_id("dockerfile-release")).to_contain_text(f"echo '{XSS}'")
    assert panel.locator("img").count() == 0
    assert not page.evaluate("() => window.__xss")


def test_a_repository_with_nothing_to_build_shows_why(signed_in) -> None:
    page, app, _ = signed_in({"README.md": "# notes\n", "notes.txt": "nothing to run\n"}, name="notes")
    panel = show_dockerfile(page, app)
    error = panel.get_by_test_id("dockerfile-error")
    expect(error).to_contain_text("Mist found nothing it knows how to build")
    expect(panel.get_by_test_id("dockerfile-text")).to_have_count(0)
    expect(panel.get_by_test_id("dockerfile-show")).to_be_enabled()
