"""The dashboard end to end in Chromium, on a real `mist serve` and the real Docker engine.

One scenario, as a new user would go: set up the owner, create a project and an app, deploy and
watch the log live to `success`, edit the settings (a secret stays kept), deploy again while the
log's WebSocket is cut mid-build (the viewer resumes without losing or repeating a line), roll
back, stop a build, then sign in again on a phone-sized screen. Screenshots land in artifacts/screenshots/.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from browser_support import PHONE, open_page, screenshot, strip_ansi
from support.client import PASSWORD
from support.gitserver import GitServer
from support.server import MistServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.docker
expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect

DOCKERFILE = """\
FROM mist-test/busybox:1
RUN echo build-{nonce} && printf '\\033[31mred\\033[0m plain \\033[1;32mbold green\\033[0m <b>not bold</b>\\n'
RUN for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; sleep {pause}; done
CMD ["sh", "-c", "sleep 3600"]
"""
EVIL_MESSAGE = '<img src=x onerror="window.__xss=1"> second & "quoted"'
DEPLOY_TIMEOUT = 180_000


def dockerfile(pause: float) -> str:
    return DOCKERFILE.format(nonce=uuid.uuid4().hex, pause=pause)


def detail(page: Page):
    return page.get_by_test_id("deployment-detail")


def wait_detail(page: Page, deployment_id: int, status: str, timeout: int = DEPLOY_TIMEOUT) -> None:
    page.wait_for_function(
        """([id, status]) => {
            const el = document.querySelector('[data-testid=deployment-detail]');
            return el && el.dataset.id === String(id) && el.dataset.status === status;
        }""",
        arg=[deployment_id, status], timeout=timeout)


def viewer_lines(page: Page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=log] .log-line'), (el) => el.textContent)"
    )


def viewer_seqs(page: Page) -> list[int]:
    return page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-testid=log] .log-line'), (el) => Number(el.dataset.seq))"
    )


def stored_lines(page: Page, deployment_id: int) -> list[str]:
    response = page.request.get(f"/api/deployment/logs/{deployment_id}")
    assert response.ok, response.text()
    return [strip_ansi(line) for line in response.text().splitlines()]


def api(page: Page, method: str, path: str, body: dict | None = None):
    response = page.request.fetch(path, method=method, data=body)
    assert response.ok, (path, response.status, response.text())
    return response.json()


def current_deployment_id(page: Page) -> int:
    return int(detail(page).get_attribute("data-id"))


def deploy_from_ui(page: Page, previous: int | None) -> int:
    page.get_by_test_id("deploy").click()
    page.wait_for_function(
        "(prev) => { const el = document.querySelector('[data-testid=deployment-detail]');"
        " return el && el.dataset.id !== String(prev); }",
        arg=previous)
    return current_deployment_id(page)


def env_value(page: Page, key: str):
    keys = page.get_by_test_id("env-key")
    index = [keys.nth(i).input_value() for i in range(keys.count())].index(key)
    return page.get_by_test_id("env-value").nth(index)


def row(page: Page, number: int):
    return page.locator(f"[data-testid=deployment-row][data-number='{number}']")


def test_dashboard_end_to_end(browser, server: MistServer, git_server: GitServer, engine) -> None:
    repo = f"web-{uuid.uuid4().hex[:8]}"
    first_commit = git_server.create_repo(repo, {"Dockerfile": dockerfile(0.3)}, message="first version")
    context, page, errors = open_page(browser, server.url)

    # --- First run: create the owner through the UI --------------------------------------------
    page.goto("/")
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    screenshot(page, "desktop-01-sign-in")
    page.get_by_role("tab", name="First run setup").click()
    setup = page.get_by_test_id("setup-form")
    setup.locator("input[name=username]").fill("ada")
    setup.locator("input[name=email]").fill("ada@example.com")
    setup.locator("input[name=new-password]").fill(PASSWORD)
    setup.locator("input[name=new-password-again]").fill(PASSWORD)
    setup.get_by_role("button", name="Create owner and sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.locator("#user-name")).to_have_text("ada")
    assert api(page, "GET", "/api/auth/me")["data"]["role"] == "owner"

    # --- A project and an application -----------------------------------------------------------
    form = page.get_by_test_id("project-form")
    form.locator("input[name=name]").fill("shop")
    form.locator("input[name=description]").fill("the web shop")
    form.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="shop")).to_be_visible()
    page.get_by_test_id("new-app").click()
    app_form = page.get_by_test_id("app-form")
    app_form.locator("input[name=name]").fill("ticker")
    app_form.locator("select[name=appType]").select_option("service")
    expect(app_form.locator("input[name=port]")).to_be_hidden()
    app_form.locator("input[name=gitRepository]").fill(git_server.url_for(repo))
    app_form.locator("input[name=gitBranch]").fill("main")
    app_form.locator("input[name=healthcheckRetries]").fill("20")
    for key, value, secret in (("GREETING", "hello", False), ("API_KEY", "s3cr3t", True)):
        page.get_by_test_id("env-add").click()
        env_row = page.get_by_test_id("env-row").last
        env_row.get_by_test_id("env-key").fill(key)
        env_row.get_by_test_id("env-value").fill(value)
        if secret:
            env_row.get_by_test_id("env-secret").check()
            assert env_row.get_by_test_id("env-value").get_attribute("type") == "password"
    page.get_by_test_id("save-app").click()
    expect(page.get_by_test_id("deploy")).to_be_visible()
    app_id = int(page.url.rsplit("/", 1)[1])
    app = api(page, "POST", "/api/apps/getById", {"appId": app_id})["data"]
    assert (app["name"], app["appType"], app["healthcheckRetries"]) == ("ticker", "service", 20)
    assert {e["key"]: e["value"] for e in app["envVars"]} == {"GREETING": "hello", "API_KEY": None}

    # --- Deploy and watch it live -----------------------------------------------------------------
    first = deploy_from_ui(page, None)
    expect(detail(page).get_by_text("first version")).to_be_visible()
    # Lines arrive while the build runs, before the deployment ends.
    page.wait_for_function(
        """() => {
            const el = document.querySelector('[data-testid=deployment-detail]');
            return ['pending', 'building'].includes(el.dataset.status)
                && [...el.querySelectorAll('.log-line')].some((l) => l.textContent === 'line-2');
        }""", timeout=DEPLOY_TIMEOUT)
    wait_detail(page, first, "success")
    progress = detail(page).get_by_test_id("progress")
    expect(progress).to_have_attribute("data-value", "100")
    expect(progress).to_have_attribute("aria-valuenow", "100")
    expect(detail(page).get_by_test_id("stage")).to_have_text("Completed · 100%")
    expect(detail(page).get_by_test_id("log-connection")).to_have_text("finished")
    assert viewer_lines(page) == stored_lines(page, first)
    log_box = page.get_by_test_id("log")
    expect(log_box.locator(".ansi-fg-31")).to_have_text("red")
    expect(log_box.locator(".ansi-fg-32.ansi-bold")).to_have_text("bold green")
    assert log_box.locator("b").count() == 0
    expect(log_box.get_by_text("plain bold green <b>not bold</b>")).to_be_visible()
    expect(row(page, 1)).to_have_attribute("data-active", "true")
    expect(row(page, 1).get_by_test_id("active")).to_be_visible()
    expect(page.get_by_test_id("app-summary")).to_contain_text("Running #1")
    assert page.get_by_test_id("log-download").get_attribute("href") == f"/api/deployment/logs/{first}"
    screenshot(page, "desktop-02-deployed")

    # A finished deployment opened later shows its stored log.
    page.reload()
    expect(detail(page).get_by_test_id("log-connection")).to_have_text("stored log")
    assert viewer_lines(page) == stored_lines(page, first)

    # --- Settings: secrets stay masked and kept ------------------------------------------------
    page.get_by_test_id("settings").click()
    expect(page.get_by_test_id("env-key")).to_have_count(2)
    secret_value = env_value(page, "API_KEY")
    assert secret_value.input_value() == ""
    assert secret_value.get_attribute("type") == "password"
    assert "kept" in secret_value.get_attribute("placeholder")
    greeting_value = env_value(page, "GREETING")
    greeting_value.fill("bonjour")
    page.locator("input[name=healthcheckStartPeriod]").fill("1")
    screenshot(page, "desktop-03-settings", full_page=True)
    page.get_by_test_id("save-app").click()
    expect(page.locator(".toast-success")).to_contain_text("Application saved")
    app = api(page, "POST", "/api/apps/getById", {"appId": app_id})["data"]
    assert {e["key"]: (e["value"], e["secret"]) for e in app["envVars"]} == {
        "GREETING": ("bonjour", False), "API_KEY": (None, True)}
    assert app["healthcheckStartPeriod"] == 1

    # Domains, on a web app of the same project.
    site = api(page, "POST", "/api/apps/create", {
        "name": "site", "projectId": app["projectId"], "appType": "web", "port": 8080,
        "gitRepository": git_server.url_for(repo)})["data"]
    page.goto(f"/#/apps/{site['id']}/settings")
    domain_form = page.get_by_test_id("domain-form")
    domain_form.locator("input[name=domain]").fill("shop.example.test")
    domain_form.get_by_role("button", name="Add domain").click()
    expect(page.get_by_test_id("domains")).to_contain_text("shop.example.test")
    domains = api(page, "POST", "/api/apps/domains/get", {"appId": site["id"]})["data"]
    assert [d["domain"] for d in domains] == ["shop.example.test"]
    remove = page.get_by_test_id("domains").get_by_role("button", name="Remove")
    remove.click()
    page.get_by_test_id("domains").get_by_role("button", name="Confirm remove?").click()
    expect(page.get_by_test_id("domains")).not_to_contain_text("shop.example.test")
    assert api(page, "POST", "/api/apps/domains/get", {"appId": site["id"]})["data"] == []

    # --- Second deploy; the log's WebSocket is cut mid-build ---------------------------------------
    second_commit = git_server.commit(repo, {"Dockerfile": dockerfile(0.5)}, message=EVIL_MESSAGE)
    page.goto(f"/#/apps/{app_id}")
    expect(page.get_by_test_id("deploy")).to_be_visible()
    second = deploy_from_ui(page, first)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=log] .log-line')].some((l) => l.textContent === 'line-2')",
        timeout=DEPLOY_TIMEOUT)
    before_drop = len(viewer_lines(page))
    assert detail(page).get_attribute("data-status") == "building"
    expect(detail(page).get_by_test_id("stage")).to_have_text("Building image · 50%")
    expect(row(page, 2).get_by_test_id("progress")).to_have_attribute("data-value", "50")
    screenshot(page, "desktop-04-live-build")
    assert page.evaluate("() => window.__mistDropSocket(1500)") is True
    expect(detail(page).get_by_test_id("log-connection")).to_contain_text("reconnecting")
    wait_detail(page, second, "success")

    stored = stored_lines(page, second)
    shown = viewer_lines(page)
    assert shown == stored, "the viewer lost or repeated lines across the reconnect"
    assert viewer_seqs(page) == list(range(len(stored)))
    assert "line-10" in stored and stored.index("line-10") >= before_drop  # lines came after the drop
    stats = page.evaluate("() => window.__mistLogStats()")
    assert stats["connects"] == 2 and stats["drops"] == 1, stats
    expect(detail(page).get_by_test_id("progress")).to_have_attribute("data-value", "100")

    # The commit message is text, never markup.
    expect(row(page, 2).get_by_test_id("commit-message")).to_have_text(EVIL_MESSAGE)
    expect(detail(page).locator(".commit-message")).to_have_text(EVIL_MESSAGE)
    assert page.locator("#view img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    expect(row(page, 2)).to_have_attribute("data-active", "true")
    expect(row(page, 1)).to_have_attribute("data-active", "false")

    # The saved settings reached the container, the secret included.
    container = engine.containers.list(filters={"label": f"mist.app={app_id}"})[0]
    env = container.attrs["Config"]["Env"]
    assert "API_KEY=s3cr3t" in env and "GREETING=bonjour" in env

    # --- Roll back to the first deployment ----------------------------------------------------------
    rollback = row(page, 1).get_by_test_id("rollback")
    rollback.click()
    row(page, 1).get_by_role("button", name="Confirm roll back?").click()
    page.wait_for_function(
        "(prev) => { const el = document.querySelector('[data-testid=deployment-detail]');"
        " return el && el.dataset.id !== String(prev); }",
        arg=second)
    third = current_deployment_id(page)
    wait_detail(page, third, "success")
    expect(row(page, 3)).to_have_attribute("data-active", "true", timeout=20_000)
    expect(row(page, 2)).to_have_attribute("data-status", "rolled_back", timeout=20_000)
    expect(row(page, 1)).to_have_attribute("data-active", "false")
    expect(row(page, 3).locator(".hash")).to_have_text(first_commit[:7])
    expect(row(page, 3)).to_contain_text("rollback · replaced #2")
    expect(page.get_by_test_id("app-summary")).to_have_text(f"Running #3 · {first_commit[:7]} first version")
    listed = api(page, "POST", "/api/deployment/getByAppId", {"appId": app_id})["data"]
    deployments = {d["deployment_number"]: d for d in listed}
    assert deployments[3]["is_active"] and deployments[3]["commit_hash"] == first_commit
    assert deployments[2]["status"] == "rolled_back" and deployments[2]["commit_hash"] == second_commit
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "desktop-05-rolled-back")
    screenshot(page, "desktop-06-rolled-back-full", full_page=True)

    # --- Stop a deployment mid-build ------------------------------------------------------------------
    git_server.commit(repo, {"Dockerfile": dockerfile(2)}, message="slow version")
    fourth = deploy_from_ui(page, third)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=log] .log-line')].some((l) => l.textContent === 'line-1')",
        timeout=DEPLOY_TIMEOUT)
    detail(page).get_by_test_id("stop").click()
    detail(page).get_by_role("button", name="Confirm stop?").click()
    wait_detail(page, fourth, "stopped", timeout=60_000)
    expect(detail(page).get_by_test_id("log-connection")).to_have_text("finished")
    expect(row(page, 4)).to_have_attribute("data-status", "stopped")
    expect(row(page, 3)).to_have_attribute("data-active", "true")
    assert viewer_lines(page) == stored_lines(page, fourth)
    assert "line-10" not in viewer_lines(page)

    # --- Sign out -----------------------------------------------------------------------------------
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    assert page.request.get("/api/auth/me").status == 401
    assert errors == [], errors
    context.close()

    # --- A phone: sign-up is closed now, sign in, the same pages -------------------------------------
    context, phone, errors = open_page(browser, server.url, viewport=PHONE)
    phone.goto("/")
    screenshot(phone, "phone-01-sign-in")
    phone.get_by_role("tab", name="First run setup").click()
    setup = phone.get_by_test_id("setup-form")
    setup.locator("input[name=username]").fill("mallory")
    setup.locator("input[name=email]").fill("mallory@example.com")
    setup.locator("input[name=new-password]").fill(PASSWORD)
    setup.locator("input[name=new-password-again]").fill(PASSWORD)
    setup.get_by_role("button", name="Create owner and sign in").click()
    expect(phone.get_by_test_id("auth-message")).to_contain_text("sign-up is closed")
    signin = phone.get_by_test_id("signin-form")
    expect(signin).to_be_visible()
    signin.locator("input[name=email]").fill("ada@example.com")
    signin.locator("input[name=password]").fill(PASSWORD)
    signin.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    screenshot(phone, "phone-02-projects", full_page=True)
    phone.goto(f"/#/apps/{app_id}/deployments/{second}")
    wait_detail(phone, second, "rolled_back", timeout=20_000)
    expect(phone.get_by_test_id("log-connection")).to_have_text("stored log")
    assert viewer_lines(phone) == stored_lines(phone, second)
    screenshot(phone, "phone-03-deployment")
    screenshot(phone, "phone-04-deployment-full", full_page=True)
    phone.goto(f"/#/apps/{app_id}/settings")
    expect(phone.get_by_test_id("app-form")).to_be_visible()
    screenshot(phone, "phone-05-settings", full_page=True)
    # Nothing is wider than the screen.
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == [], errors
    context.close()
