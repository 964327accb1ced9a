"""The dashboard's Notifications page in Chromium, on a real `mist serve` (no engine) and a real webhook
receiver (an http.server).

The owner adds a webhook from the form and gets its secret once (Copy, a "shown once" warning); the
Test button shows the receiver's answer, good and bad, and the request is signed with that secret; a
rotation shows the new one; the Deliveries table lists each attempt and its answer; disabling,
refusals with the server's message, masked Slack targets, names that look like HTML, and Delete.
A member sees no nav item, and opening the page's URL shows the server's 403 message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import PHONE, open_page, screenshot
from support.client import PASSWORD
from support.engine import engineless_servers
from support.receivers import WebhookReceiver, signature
from support.server import MistServer
from test_dashboard import api

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect

XSS = "<img src=x onerror=window.__xss=1>"
SLACK_TOKEN = "xoxbSecretPart123"
REFUSED = "only the owner and admins can manage notifications"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MistServer]:
    """A real server that reaches no engine (as tests/security's): this page deploys nothing."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start()


def sign_in(page, email: str) -> None:
    page.goto("/")
    form = page.get_by_test_id("signin-form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects", exact=True)).to_be_visible()


def row_of(page, name: str):
    return page.locator(f"[data-testid=notification-row][data-name={json.dumps(name)}]")


def test_the_owner_adds_tests_rotates_and_deletes_a_webhook(
    browser, server: MistServer, receiver: WebhookReceiver
) -> None:
    context, page, errors = open_page(browser, server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    api(page, "POST", "/api/auth/signup", {"username": "ada", "email": "ada@example.com", "password": PASSWORD})
    api(page, "POST", "/api/auth/logout")
    sign_in(page, "ada@example.com")

    nav = page.get_by_role("link", name="Notifications")
    expect(nav).to_be_visible()
    nav.click()
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    expect(page.get_by_test_id("notifications-empty")).to_be_visible()
    expect(page.get_by_test_id("deliveries-empty")).to_be_visible()

    # --- Create a webhook: its secret is shown once, with Copy and a warning -------------------------
    form = page.get_by_test_id("notification-form")
    expect(form.get_by_test_id("event-deployment.failed")).to_be_checked()
    form.get_by_test_id("notification-kind").select_option("webhook")
    form.locator("input[name=name]").fill("ops hook")
    form.locator("input[name=target]").fill(receiver.url)
    form.get_by_test_id("event-deployment.succeeded").check()
    form.get_by_test_id("event-backup.failed").check()
    form.get_by_test_id("notification-create").click()
    expect(page.locator(".toast-success").filter(has_text="Notification ops hook added")).to_be_visible()
    box = page.get_by_test_id("notification-secret-box")
    expect(box).to_be_visible()
    expect(box.get_by_test_id("secret-warning")).to_contain_text("Shown only this once")
    secret = box.get_by_test_id("notification-secret").input_value()
    assert len(secret) >= 32
    box.get_by_test_id("notification-secret-copy").click()
    expect(page.locator(".toast-success").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret
    [stored] = api(page, "GET", "/api/notifications/getAll")["data"]
    assert "secret" not in stored
    assert sorted(stored["events"]) == ["backup.failed", "deployment.failed", "deployment.succeeded"]

    row = row_of(page, "ops hook")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("notification-target")).to_have_text(receiver.url)
    expect(row).to_contain_text("deployment.succeeded")
    expect(row.get_by_test_id("notification-enabled")).to_be_checked()
    expect(row.get_by_test_id("notification-last")).to_have_text("never")

    # --- Test: delivered, signed with the secret shown once -------------------------------------
    row.get_by_test_id("notification-test").click()
    result = row.get_by_test_id("test-result")
    expect(result).to_have_text("Delivered (HTTP 200)")
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.headers["X-Mist-Signature-256"] == signature(secret, request.body)
    assert json.loads(request.body)["event"] == "notification.test"
    expect(row.get_by_test_id("last-delivery")).to_have_attribute("data-status", "delivered")
    deliveries = page.get_by_test_id("deliveries")
    delivered = deliveries.locator("[data-testid=delivery-row][data-status=delivered]")
    expect(delivered).to_have_count(1)
    expect(delivered).to_contain_text("notification.test")
    expect(delivered).to_contain_text("ops hook")
    expect(delivered.locator("[data-testid=attempt][data-ok=true]")).to_contain_text("HTTP 200")
    box.get_by_test_id("notification-secret-dismiss").click()
    expect(box).to_be_hidden()
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "desktop-14-notifications")

    # --- The receiver breaks: the answer shows, and the delivery waits for its retry -------------
    receiver.status = 500
    row.get_by_test_id("notification-test").click()
    expect(result).to_have_text("Not delivered (HTTP 500): receiver broke")
    expect(result).to_have_attribute("data-delivered", "false")
    broken = deliveries.locator("[data-testid=delivery-row]").first
    expect(broken).to_have_attribute("data-status", "pending")  # retried with backoff
    expect(broken.locator("[data-testid=attempt][data-ok=false]")).to_contain_text("HTTP 500 · receiver broke")
    expect(broken.locator("td").last).to_have_text(re.compile(r"^(in \d+ (s|min)|just now)$"))  # its next attempt
    expect(row.get_by_test_id("last-delivery")).to_have_attribute("data-status", "pending")

    # --- Rotate: a new secret, shown once, signs what follows -------------------------------------
    receiver.status = 200
    rotate = row.get_by_test_id("notification-rotate")
    rotate.click()
    expect(rotate).to_contain_text("Confirm rotate?")
    rotate.click()
    expect(box).to_be_visible()
    expect(box.get_by_role("heading")).to_have_text("New secret of ops hook")
    expect(box.get_by_test_id("notification-secret")).not_to_have_value(secret)
    rotated = box.get_by_test_id("notification-secret").input_value()
    sent = len(receiver.received)
    row.get_by_test_id("notification-test").click()
    expect(result).to_have_text("Delivered (HTTP 200)")
    request = next(r for r in receiver.received[sent:] if json.loads(r.body)["event"] == "notification.test")
    assert request.headers["X-Mist-Signature-256"] == signature(rotated, request.body)
    box.get_by_test_id("notification-secret-dismiss").click()

    # --- The deliveries of one notification; disabling ---------------------------------------------
    page.get_by_test_id("deliveries-filter").select_option(label="ops hook")
    expect(deliveries.locator("[data-testid=delivery-row]")).to_have_count(3)
    row.get_by_test_id("notification-enabled").uncheck()
    expect(page.locator(".toast-success").filter(has_text="ops hook disabled")).to_be_visible()
    expect(row.get_by_test_id("notification-enabled")).not_to_be_checked()
    assert api(page, "GET", "/api/notifications/getAll")["data"][0]["enabled"] is False

    # --- Refusals carry the server's message and create nothing; Slack's token stays hidden ---------
    form.get_by_test_id("notification-kind").select_option("slack")
    expect(form.locator("input[name=target]")).to_have_attribute("placeholder", "https://hooks.slack.com/services/T…/B…/…")
    form.locator("input[name=name]").fill(XSS)
    form.locator("input[name=target]").fill("https://example.com/not-slack")
    form.get_by_test_id("notification-create").click()
    expect(page.locator(".toast-error").filter(has_text="Slack incoming-webhook URL")).to_be_visible()
    assert len(api(page, "GET", "/api/notifications/getAll")["data"]) == 1
    form.get_by_test_id("event-deployment.failed").uncheck()  # the boxes keep what the last one had
    form.get_by_test_id("event-deployment.succeeded").uncheck()
    form.get_by_test_id("event-backup.failed").uncheck()
    form.locator("input[name=target]").fill(f"https://hooks.slack.com/services/T0001/B0002/{SLACK_TOKEN}")
    form.get_by_test_id("notification-create").click()
    expect(form.get_by_test_id("notification-form-message")).to_have_text("Choose at least one event.")
    form.get_by_test_id("event-deployment.stopped").check()
    form.get_by_test_id("notification-create").click()
    slack = row_of(page, XSS)
    expect(slack).to_have_count(1)
    expect(slack.get_by_test_id("notification-target")).to_have_text(
        "https://hooks.slack.com/services/T0001/B0002/********")
    expect(slack.get_by_test_id("notification-rotate")).to_have_count(0)
    expect(box).to_be_hidden()  # no secret for a Slack notification
    assert SLACK_TOKEN not in page.content()

    # --- On a phone: each notification and delivery a card of labelled lines -------------------------
    phone_context, phone, phone_errors = open_page(browser, server.url, viewport=PHONE)
    sign_in(phone, "ada@example.com")
    phone.get_by_role("link", name="Notifications").click()
    expect(phone.get_by_test_id("notification-row")).to_have_count(2)
    expect(phone.locator("[data-testid=delivery-row]")).to_have_count(3)
    screenshot(phone, "phone-08-notifications", full_page=True)
    assert phone_errors == []
    phone_context.close()

    # --- Delete, with a confirmation --------------------------------------------------------------
    delete = row.get_by_test_id("notification-delete")
    delete.click()
    expect(delete).to_have_text("Confirm delete?")
    assert len(api(page, "GET", "/api/notifications/getAll")["data"]) == 2
    delete.click()
    expect(page.locator(".toast-success").filter(has_text="Notification ops hook deleted")).to_be_visible()
    expect(page.get_by_test_id("notification-row")).to_have_count(1)
    expect(page.get_by_test_id("deliveries-filter")).to_have_value("")
    expect(page.get_by_test_id("deliveries-empty")).to_be_visible()  # its deliveries went with it
    assert [n["name"] for n in api(page, "GET", "/api/notifications/getAll")["data"]] == [XSS]

    assert errors == [] and dialogs == []
    assert not page.evaluate("() => window.__xss")
    context.close()


def test_a_member_sees_no_nav_item_and_gets_the_server_s_refusal(browser, server: MistServer) -> None:
    context, page, errors = open_page(browser, server.url)
    api(page, "POST", "/api/auth/signup", {"username": "ada", "email": "ada@example.com", "password": PASSWORD})
    api(page, "POST", "/api/users/create", {"username": "mallory", "email": "mallory@example.com",
                                            "password": PASSWORD, "role": "user"})
    api(page, "POST", "/api/auth/logout")
    sign_in(page, "mallory@example.com")
    expect(page.get_by_role("link", name="Audit log")).to_be_hidden()
    expect(page.get_by_role("link", name="Notifications")).to_be_hidden()

    page.goto("/#/notifications")
    card = page.locator(".error-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text(REFUSED)
    expect(page.get_by_test_id("notification-form")).to_have_count(0)
    assert errors == []
    context.close()
