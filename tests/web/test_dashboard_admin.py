"""The dashboard's owner and admin tools in Chromium, on a real `mist serve` and the real Docker engine.

Signed in through the UI, an owner deploys an app, is refused deleting it while it deploys (the
server's message shows), sees the push-to-deploy webhook URL and secret and rotates it, switches the
deployment strategy to manual, reads the audit log (the sign-in and the deploy are there; paging
works), then deletes the app and the project. A plain user sees neither the audit log nor the webhook.
"""

from __future__ import annotations

import uuid

import pytest
from browser_support import open_page, screenshot
from support.client import PASSWORD
from support.gitserver import GitServer
from support.server import MistServer
from test_dashboard import DEPLOY_TIMEOUT, api, deploy_from_ui, dockerfile, wait_detail

pytestmark = pytest.mark.docker
expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect


def sign_in(page, email: str) -> None:
    page.goto("/")
    signin = page.get_by_test_id("signin-form")
    expect(signin).to_be_visible()
    signin.locator("input[name=email]").fill(email)
    signin.locator("input[name=password]").fill(PASSWORD)
    signin.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()


def test_owner_tools_webhook_audit_log_and_deletion(browser, server: MistServer, git_server: GitServer) -> None:
    repo = f"admin-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": dockerfile(0.5)}, message="first version")
    context, page, errors = open_page(browser, server.url)

    # The owner exists already; this session signs in through the form (an audited sign-in).
    api(page, "POST", "/api/auth/signup", {"username": "ada", "email": "ada@example.com", "password": PASSWORD})
    api(page, "POST", "/api/auth/logout")
    sign_in(page, "ada@example.com")
    expect(page.get_by_role("link", name="Audit log")).to_be_visible()

    project = api(page, "POST", "/api/projects/create", {"name": "shop", "description": ""})["data"]
    app = api(page, "POST", "/api/apps/create", {
        "name": "ticker", "projectId": project["id"], "appType": "service",
        "gitRepository": git_server.url_for(repo), "gitBranch": "main"})["data"]
    assert app["deploymentStrategy"] == "auto"

    # --- Deploy; deleting is refused while it runs, with the server's reason --------------------
    page.goto(f"/#/apps/{app['id']}")
    expect(page.get_by_test_id("deploy")).to_be_visible()
    deployment = deploy_from_ui(page, None)
    # A pending deployment does not block deletion; a building one does (the build takes 5 s and more).
    page.wait_for_function(
        "() => document.querySelector('[data-testid=deployment-detail]')?.dataset.status === 'building'",
        timeout=DEPLOY_TIMEOUT)
    delete = page.get_by_test_id("delete-app")
    delete.click()
    expect(delete).to_have_text("Confirm delete?")
    delete.click()
    expect(page.locator(".toast-error").filter(has_text="wait for it to finish")).to_be_visible()
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["name"] == "ticker"
    wait_detail(page, deployment, "success", timeout=DEPLOY_TIMEOUT)

    # --- Push to deploy: URL and secret, rotation, the strategy saved with the form ----------------
    page.get_by_test_id("settings").click()
    push = page.get_by_test_id("push-to-deploy")
    expect(push).to_be_visible()
    strategy = push.locator("select[name=deploymentStrategy]")
    expect(strategy).to_have_value("auto")
    expect(page.get_by_test_id("webhook-url")).to_have_count(0)
    page.get_by_test_id("webhook-show").click()
    url = page.get_by_test_id("webhook-url")
    expect(url).to_have_value(f"{server.url}/api/webhooks/{app['id']}")
    secret = page.get_by_test_id("webhook-secret")
    expect(secret).not_to_have_value("")
    first_secret = secret.input_value()
    assert first_secret == api(page, "POST", "/api/apps/webhook", {"appId": app["id"]})["data"]["secret"]
    rotate = page.get_by_test_id("webhook-rotate")
    rotate.click()
    expect(rotate).to_contain_text("Confirm rotate?")
    rotate.click()
    expect(page.locator(".toast-success").filter(has_text="Webhook secret rotated")).to_be_visible()
    expect(secret).not_to_have_value(first_secret)
    expect(secret).not_to_have_value("")
    assert secret.input_value() == api(page, "POST", "/api/apps/webhook", {"appId": app["id"]})["data"]["secret"]

    strategy.select_option("manual")
    page.get_by_test_id("save-app").click()
    expect(page.locator(".toast-success").filter(has_text="Application saved")).to_be_visible()
    assert api(page, "POST", "/api/apps/getById", {"appId": app["id"]})["data"]["deploymentStrategy"] == "manual"
    expect(page.get_by_test_id("push-to-deploy").locator("select[name=deploymentStrategy]")).to_have_value("manual")

    # --- The audit log: the sign-in, the deploy and the rotation, newest first -------------------
    page.get_by_role("link", name="Audit log").click()
    log = page.get_by_test_id("audit-log")
    expect(log).to_be_visible()
    login_row = log.locator("[data-testid=audit-row][data-action='auth.login']")
    expect(login_row).to_have_count(1)
    expect(login_row).to_contain_text("ada")
    deploy_row = log.locator("[data-testid=audit-row][data-action='deployment.add']")
    expect(deploy_row).to_have_count(1)
    expect(deploy_row).to_contain_text(f"deployment:{deployment}")
    expect(log.locator("[data-testid=audit-row][data-action='webhook.rotate']")).to_contain_text(f"app:{app['id']}")
    actions = log.locator("[data-testid=audit-row]").evaluate_all("(rows) => rows.map((r) => r.dataset.action)")
    assert actions.index("webhook.rotate") < actions.index("deployment.add") < actions.index("auth.login")
    expect(page.get_by_test_id("audit-previous")).to_be_disabled()
    expect(page.get_by_test_id("audit-next")).to_be_disabled()
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "desktop-07-audit-log")

    # Paging: more entries than a page holds (token events are audited too).
    for i in range(50):
        api(page, "POST", "/api/tokens/create", {"name": f"t{i}", "scope": "read"})
    total = api(page, "GET", "/api/audit-logs?limit=1")["data"]["total"]
    assert total > 50
    page.reload()
    expect(page.get_by_test_id("audit-range")).to_have_text(f"1–50 of {total}")
    expect(log.locator("[data-testid=audit-row]")).to_have_count(50)
    expect(log.locator("[data-testid=audit-row][data-action='auth.login']")).to_have_count(0)
    page.get_by_test_id("audit-next").click()
    expect(page.get_by_test_id("audit-range")).to_have_text(f"51–{total} of {total}")
    expect(log.locator("[data-testid=audit-row]")).to_have_count(total - 50)
    expect(log.locator("[data-testid=audit-row][data-action='auth.login']")).to_have_count(1)
    expect(page.get_by_test_id("audit-next")).to_be_disabled()
    page.get_by_test_id("audit-previous").click()
    expect(page.get_by_test_id("audit-range")).to_have_text(f"1–50 of {total}")

    # --- Delete the app, then the project ---------------------------------------------------------
    page.goto(f"/#/apps/{app['id']}")
    delete = page.get_by_test_id("delete-app")
    delete.click()
    delete.click()
    expect(page.get_by_role("heading", name="shop")).to_be_visible()
    expect(page).to_have_url(f"{server.url}/#/projects/{project['id']}")
    expect(page.get_by_text("No applications yet.")).to_be_visible()
    assert api(page, "POST", "/api/apps/getByProjectId", {"projectId": project["id"]})["data"] == []
    assert page.request.post("/api/apps/getById", data={"appId": app["id"]}).status == 404

    delete_project = page.get_by_test_id("delete-project")
    delete_project.click()
    expect(delete_project).to_contain_text("Confirm delete project")
    delete_project.click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()
    expect(page.get_by_text("No projects yet.")).to_be_visible()
    assert api(page, "GET", "/api/projects/getAll")["data"] == []
    assert errors == [], errors

    # --- A plain user: no audit log link, no push-to-deploy section ------------------------------------
    api(page, "POST", "/api/users/create",
        {"username": "bob", "email": "bob@example.com", "password": PASSWORD, "role": "user"})
    context.close()
    context, page, errors = open_page(browser, server.url)
    sign_in(page, "bob@example.com")
    expect(page.locator("#nav-audit")).to_be_hidden()
    mine = api(page, "POST", "/api/projects/create", {"name": "bobs", "description": ""})["data"]
    other = api(page, "POST", "/api/apps/create", {
        "name": "site", "projectId": mine["id"], "appType": "service",
        "gitRepository": git_server.url_for(repo), "gitBranch": "main"})["data"]
    page.goto(f"/#/apps/{other['id']}/settings")
    expect(page.get_by_test_id("app-form")).to_be_visible()
    expect(page.get_by_test_id("push-to-deploy")).to_have_count(0)
    page.goto("/#/audit")
    expect(page.locator(".error-card")).to_be_visible()
    assert errors == [], errors
    context.close()
