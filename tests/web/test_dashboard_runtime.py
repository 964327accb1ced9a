"""The running app on the dashboard, in Chromium, on a real `mist serve` and the real Docker engine.

One scenario: a busybox service that prints a line every 0.2 s is deployed from the UI; the Runtime
panel shows it running and its log arrives live (ANSI colours rendered, markup kept as text, nothing
repeated after the log's socket is cut); Restart, Stop (an "exited" marker in the log) and Start
work; a memory limit and restart policy saved in the settings ask for a restart, which the notice's
button does; the git token is kept, replaced and removed write-only; a deploy key is made and
rotated; a volume is added and removed. A redis app shows its connection details, the password only
on "Show"; a plain user sees neither the password nor the host path field.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import pytest
from browser_support import DESKTOP, PHONE, open_page, screenshot
from support.client import PASSWORD
from support.gitserver import GitServer
from support.server import MistServer
from test_dashboard import api, deploy_from_ui, wait_detail
from test_dashboard_admin import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.docker
expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect

XSS = "<img src=x onerror=alert(1)>"
DOCKERFILE = r"""FROM mist-test/busybox:1
CMD ["sh", "-c", "printf '\\033[32mready\\033[0m {nonce}\\n'; echo '<img src=x onerror=alert(1)>'; i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.2; done"]
"""  # noqa: E501 (one Dockerfile instruction)
LINE = re.compile(r"line-(\d+)")


def runtime(page: Page):
    return page.get_by_test_id("runtime")


def runtime_lines(page: Page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=runtime-log] .log-line'), (el) => el.textContent)"
    )


def numbers(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := LINE.fullmatch(line))]


def wait_more_lines(page: Page, count: int, timeout: int = 20_000) -> None:
    """Until at least `count` more line-N lines than now are shown."""
    page.wait_for_function(
        """(n) => [...document.querySelectorAll('[data-testid=runtime-log] .log-line:not(.log-marker)')]
            .filter((l) => /^line-\\d+$/.test(l.textContent)).length >= n""",
        arg=len(numbers(runtime_lines(page))) + count, timeout=timeout)


def clear_toasts(page: Page) -> None:
    """Before a screenshot: the scenario runs faster than toasts fade."""
    page.evaluate("() => document.getElementById('toasts').replaceChildren()")


def fact(page: Page, name: str):
    return runtime(page).locator(f"[data-fact={name}]")


def test_runtime_panel_logs_settings_deploy_key_volumes_and_database(
    browser, server: MistServer, git_server: GitServer
) -> None:
    repo = f"ticker-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": DOCKERFILE.replace("{nonce}", uuid.uuid4().hex)}, message="ticker")
    context, page, errors = open_page(browser, server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    api(page, "POST", "/api/auth/signup", {"username": "ada", "email": "ada@example.com", "password": PASSWORD})
    project = api(page, "POST", "/api/projects/create", {"name": "shop", "description": ""})["data"]
    app = api(page, "POST", "/api/apps/create", {
        "name": "ticker", "projectId": project["id"], "appType": "service",
        "gitRepository": git_server.url_for(repo), "gitBranch": "main"})["data"]

    # --- Never deployed: nothing to control or follow ----------------------------------------------
    page.goto(f"/#/apps/{app['id']}")
    expect(runtime(page)).to_have_attribute("data-state", "not_deployed")
    expect(runtime(page).get_by_test_id("container-state")).to_have_text("not deployed")
    expect(page.get_by_test_id("runtime-log")).to_be_hidden()
    for action in ("start", "restart", "stop"):
        expect(page.get_by_test_id(f"container-{action}")).to_be_disabled()

    # --- Deploy: the panel shows it running, the log arrives live ------------------------------------
    deployment = deploy_from_ui(page, None)
    wait_detail(page, deployment, "success")
    expect(runtime(page)).to_have_attribute("data-state", "running")
    expect(page.get_by_test_id("runtime-log-connection")).to_have_text("live")
    wait_more_lines(page, 5)
    log = page.get_by_test_id("runtime-log")
    expect(log.locator(".ansi-fg-32")).to_have_text("ready")
    expect(log.locator(".log-line").filter(has_text="onerror")).to_have_text(XSS)
    assert page.locator("#view img").count() == 0 and dialogs == []
    expect(fact(page, "deployment")).to_have_text("#1")
    expect(fact(page, "memoryLimit")).to_have_text("none")
    expect(page.get_by_test_id("container-start")).to_be_disabled()
    shown = numbers(runtime_lines(page))
    assert shown == list(range(1, len(shown) + 1)), shown  # every line once, in order
    clear_toasts(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "desktop-08-runtime")

    # The log's socket is cut: it reconnects, the server sends the tail again, nothing shows twice.
    assert page.evaluate("() => window.__mistDropRuntimeSocket(300)")
    page.wait_for_function("() => window.__mistRuntimeStats().connects === 2", timeout=10_000)
    wait_more_lines(page, 3)
    shown = numbers(runtime_lines(page))
    assert shown == list(range(1, len(shown) + 1)), shown
    assert page.evaluate("() => window.__mistRuntimeStats().duplicates") > 0

    # --- Restart, Stop, Start ------------------------------------------------------------------------
    started = fact(page, "startedAt").locator("span").get_attribute("title")
    page.get_by_test_id("container-restart").click()
    expect(page.locator(".toast-success").filter(has_text="Container restarted")).to_be_visible()
    expect(runtime(page)).to_have_attribute("data-state", "running")
    expect(fact(page, "startedAt").locator("span")).not_to_have_attribute("title", started)

    stop = page.get_by_test_id("container-stop")
    stop.click()
    expect(stop).to_have_text("Confirm stop?")
    stop.click()
    expect(runtime(page)).to_have_attribute("data-state", "exited")
    expect(runtime(page).get_by_test_id("container-state")).to_have_text("exited")
    expect(fact(page, "exitCode")).not_to_have_text("—")
    expect(log.locator(".log-marker").last).to_have_text("── container exited ──")
    expect(page.get_by_test_id("container-start")).to_be_enabled()
    expect(stop).to_be_disabled()
    clear_toasts(page)
    screenshot(page, "desktop-09-runtime-stopped")

    page.get_by_test_id("container-start").click()
    expect(runtime(page)).to_have_attribute("data-state", "running")
    expect(page.locator(".toast-success").filter(has_text="Container started")).to_be_visible()
    # The log goes on after the marker: the started container's new lines.
    page.wait_for_function(
        """() => { const rows = [...document.querySelectorAll('[data-testid=runtime-log] .log-line')];
            const i = rows.findLastIndex((r) => r.classList.contains('log-marker'));
            return rows.slice(i + 1).some((r) => /^line-\\d+$/.test(r.textContent)); }""", timeout=20_000)

    # --- Settings: limits ask for a restart, the notice's button does it ------------------------------
    page.get_by_test_id("settings").click()
    form = page.get_by_test_id("app-form")
    expect(page.get_by_test_id("env-hint")).to_contain_text("${{<app>.URL}}")
    form.locator("input[name=memoryLimit]").fill("64")
    form.locator("select[name=restartPolicy]").select_option("always")
    page.get_by_test_id("save-app").click()
    expect(page.locator(".toast-success").filter(has_text="Application saved")).to_be_visible()
    notice = page.get_by_test_id("action-notice")
    expect(notice).to_have_attribute("data-action", "restart")
    expect(notice).to_contain_text("Restart the container to apply")
    saved = api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]
    assert (saved["memoryLimit"], saved["cpuLimit"], saved["restartPolicy"]) == (64, None, "always")
    expect(form.locator("input[name=memoryLimit]")).to_have_value("64")
    clear_toasts(page)
    screenshot(page, "desktop-10-settings-restart-notice")
    notice.get_by_test_id("notice-restart").click()
    expect(notice).to_have_attribute("data-action", "done")
    status = api(page, "GET", f"/api/apps/container/status?appId={app['id']}")["data"]
    assert (status["state"], status["memoryLimit"], status["restartPolicy"]) == ("running", 64, "always")

    # A change that needs nothing: no notice. The git token is write-only: kept, then removed.
    page.get_by_test_id("git-token").fill("tok-123")
    page.get_by_test_id("save-app").click()
    expect(page.get_by_test_id("git-token-remove")).to_be_visible()
    expect(page.get_by_test_id("action-notice")).to_have_count(0)
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["hasGitToken"] is True
    expect(page.get_by_test_id("git-token")).to_have_value("")
    expect(page.get_by_test_id("git-token")).to_have_attribute("placeholder", re.compile("kept"))
    page.get_by_test_id("git-token-remove").check()
    expect(page.get_by_test_id("git-token")).to_be_disabled()
    page.get_by_test_id("save-app").click()
    expect(page.get_by_test_id("git-token-remove")).to_have_count(0)
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["hasGitToken"] is False

    # --- Deploy key: made on request, copied, rotated --------------------------------------------------
    key = page.get_by_test_id("deploy-key")
    expect(key).to_be_hidden()
    page.get_by_test_id("deploy-key-create").click()
    expect(key).to_have_value(re.compile(r"^ssh-ed25519 \S+"))
    first_key = key.input_value()
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["deployKey"] == first_key
    page.get_by_test_id("deploy-key-copy").click()
    expect(page.locator(".toast-success").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == first_key
    rotate = page.get_by_test_id("deploy-key-rotate")
    rotate.click()
    expect(rotate).to_contain_text("Confirm rotate?")
    rotate.click()
    expect(page.locator(".toast-success").filter(has_text="Deploy key rotated")).to_be_visible()
    expect(key).not_to_have_value(first_key)
    expect(key).to_have_value(re.compile(r"^ssh-ed25519 "))
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["deployKey"] == key.input_value()

    # --- Volumes: added and removed, each change asks for a redeploy ------------------------------------
    volume_form = page.get_by_test_id("volume-form")
    expect(volume_form.locator("input[name=hostPath]")).to_be_visible()  # the owner may mount host directories
    volume_form.locator("input[name=volumeName]").fill("data")
    volume_form.locator("input[name=containerPath]").fill("/data")
    volume_form.get_by_role("button", name="Add volume").click()
    volumes = page.get_by_test_id("volumes")
    expect(volumes.get_by_test_id("volume")).to_have_count(1)
    expect(volumes).to_contain_text("data → /data")
    section = page.get_by_test_id("volume-section")
    expect(section.get_by_test_id("action-notice")).to_have_attribute("data-action", "redeploy")
    expect(section.get_by_test_id("action-notice")).to_contain_text("Redeploy to apply")
    expect(section.get_by_test_id("notice-deploy")).to_be_visible()
    assert [(v["name"], v["containerPath"], v["hostPath"]) for v in
            api(page, "POST", "/api/apps/volumes/get", {"appId": app["id"]})["data"]] == [("data", "/data", None)]
    clear_toasts(page)
    screenshot(page, "desktop-11-settings-deploy-key-volumes", full_page=True)
    remove = volumes.get_by_test_id("volume-remove")
    remove.click()
    volumes.get_by_role("button", name="Confirm remove?").click()
    expect(volumes.get_by_test_id("volume")).to_have_count(0)
    assert api(page, "POST", "/api/apps/volumes/get", {"appId": app["id"]})["data"] == []

    # --- The app page on a phone: nothing wider than the screen -------------------------------------------
    page.goto(f"/#/apps/{app['id']}")
    expect(runtime(page)).to_have_attribute("data-state", "running")
    expect(fact(page, "memoryLimit")).to_have_text("64 MiB")
    page.set_viewport_size(PHONE)
    wait_more_lines(page, 1)
    clear_toasts(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "phone-06-runtime")
    screenshot(page, "phone-07-runtime-full", full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(DESKTOP)

    # Leaving the page closes the runtime log's socket.
    assert page.evaluate("() => window.__mistRuntimeStats() !== null")
    page.goto(f"/#/projects/{project['id']}")
    expect(page.get_by_role("heading", name="shop")).to_be_visible()
    assert page.evaluate("() => window.__mistRuntimeStats()") is None

    # --- A database app: connection details, the password on request ---------------------------------------
    cache = api(page, "POST", "/api/apps/create", {
        "name": "cache", "projectId": project["id"], "appType": "database", "templateName": "redis"})["data"]
    connection = cache["connection"]
    assert connection["password"]
    page.goto(f"/#/apps/{cache['id']}")
    card = page.get_by_test_id("connection")
    expect(card.get_by_test_id("connection-host")).to_have_value("cache")
    expect(card.get_by_test_id("connection-port")).to_have_value("6379")
    url = card.get_by_test_id("connection-url")
    expect(url).to_have_value(re.compile(r"^redis://.*:\*{8}@cache:6379"))
    assert connection["password"] not in url.input_value()
    password = card.get_by_test_id("connection-password")
    expect(password).to_have_value("••••••••")
    expect(runtime(page)).to_have_attribute("data-state", "not_deployed")
    clear_toasts(page)
    screenshot(page, "desktop-12-database-connection", full_page=True)
    card.get_by_test_id("connection-show").click()
    expect(password).to_have_value(connection["password"])
    expect(url).to_have_value(connection["url"])
    card.get_by_test_id("connection-show").click()
    expect(password).to_have_value("••••••••")
    assert errors == [] and dialogs == [], (errors, dialogs)

    # --- A plain user: no password, no host path --------------------------------------------------------------
    api(page, "POST", "/api/users/create",
        {"username": "bob", "email": "bob@example.com", "password": PASSWORD, "role": "user"})
    context.close()
    context, page, errors = open_page(browser, server.url)
    sign_in(page, "bob@example.com")
    mine = api(page, "POST", "/api/projects/create", {"name": "bobs", "description": ""})["data"]
    bobs_cache = api(page, "POST", "/api/apps/create", {
        "name": "cache", "projectId": mine["id"], "appType": "database", "templateName": "redis"})["data"]
    assert bobs_cache["connection"]["password"] is None
    page.goto(f"/#/apps/{bobs_cache['id']}")
    card = page.get_by_test_id("connection")
    expect(card.get_by_test_id("connection-password-hidden")).to_be_visible()
    expect(card.get_by_test_id("connection-show")).to_have_count(0)
    expect(card.get_by_test_id("connection-url")).to_have_value(re.compile(r":\*{8}@cache:6379"))
    page.get_by_test_id("settings").click()
    expect(page.get_by_test_id("volume-form")).to_be_visible()
    expect(page.get_by_test_id("volume-form").locator("input[name=hostPath]")).to_have_count(0)
    expect(page.get_by_test_id("deploy-key-section")).to_have_count(0)  # a database has no repository
    assert errors == [], errors
    context.close()
