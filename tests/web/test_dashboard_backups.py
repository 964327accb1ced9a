"""The Backups panel of a database app's page in Chromium, on a real `mist serve` that reaches no engine.

"Back up now" queues a backup that fails (the database is not running) and shows why; the schedule form
refuses a bad cron expression with the server's message and saves a good one; a failed scheduled backup
raises the red banner; a successful backup (support.stored_backups: a real sealed file) shows verified,
downloads (owner and admins only) and restores after a confirmation dialog, into this app or another
database of the same engine, with the restore's log shown live until it fails for want of a container.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_support import PHONE, open_page, screenshot
from support.client import MistClient
from support.engine import engineless_servers
from support.server import MistServer
from support.stored_backups import DUMP, as_scheduled, failed_backup, stored_backup
from test_notifications_page import sign_in

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (the test extra pins it)"
).expect


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MistServer]:
    """A real server that reaches no engine: every real backup fails, which the panel must say."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start()


@pytest.fixture
def owner(server: MistServer) -> Iterator[MistClient]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        client = MistClient(http)
        client.signup()
        yield client


def row_of(page, backup_id: int):
    return page.locator(f"[data-testid=backup-row][data-id={json.dumps(str(backup_id))}]")


def test_back_up_schedule_alert_download_and_restore(browser, server: MistServer, owner: MistClient) -> None:
    project = owner.project("shop")
    pg = owner.app(project["id"], "pg", appType="database", templateName="postgres")
    staging = owner.app(project["id"], "staging", appType="database", templateName="postgres")
    owner.app(project["id"], "cache", appType="database", templateName="redis")
    site = owner.app(project["id"], "site", "https://git.example.com/site.git", appType="service")

    context, page, errors = open_page(browser, server.url)
    sign_in(page, "owner@example.com")

    # --- Not a database: no panel ---------------------------------------------------------------
    page.goto(f"/#/apps/{site['id']}")
    expect(page.get_by_role("heading", name="Deployments")).to_be_visible()
    expect(page.get_by_test_id("backups-panel")).to_have_count(0)

    # --- A database with no backups; Back up now: pending, then failed with the reason ----------
    page.goto(f"/#/apps/{pg['id']}")
    panel = page.get_by_test_id("backups-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("backups-empty")).to_be_visible()
    expect(panel.get_by_test_id("backup-alert")).to_be_hidden()
    expect(panel.get_by_test_id("backup-schedule-summary")).to_contain_text("No schedule")
    panel.get_by_test_id("backup-create").click()
    expect(page.locator(".toast")).to_contain_text("Backup #1 queued")
    expect(row_of(page, 1)).to_have_attribute("data-status", "failed", timeout=30_000)
    error = owner.post("/api/backups/getById", {"id": 1})["data"]["error"]
    expect(row_of(page, 1).get_by_test_id("backup-error")).to_have_text(error)
    expect(row_of(page, 1).get_by_test_id("backup-status")).to_have_text("failed")
    expect(row_of(page, 1).get_by_test_id("backup-verified")).to_have_attribute("data-verified", "false")
    expect(row_of(page, 1).get_by_test_id("backup-restore")).to_have_count(0)  # only a success is restorable

    # --- The schedule: a bad expression is refused with the server's message, a good one saved ---
    form = panel.get_by_test_id("backup-schedule-form")
    form.get_by_test_id("backup-schedule").fill("every night")
    form.get_by_test_id("backup-schedule-save").click()
    expect(form.get_by_test_id("backup-schedule-message")).to_contain_text("backupSchedule")
    assert owner.post("/api/apps/getById", {"appId": pg["id"]})["data"]["backupSchedule"] == ""
    form.get_by_test_id("backup-schedule").fill("0 3 * * *")
    form.get_by_test_id("backup-retention").fill("3")
    form.get_by_test_id("backup-schedule-save").click()
    summary = panel.get_by_test_id("backup-schedule-summary")
    expect(summary).to_contain_text("Scheduled 0 3 * * * (UTC)")
    expect(summary).to_contain_text("keeps the last 3 · in the local backup directory")
    expect(form.get_by_test_id("backup-schedule-message")).to_be_empty()
    shown = owner.post("/api/apps/getById", {"appId": pg["id"]})["data"]
    assert (shown["backupSchedule"], shown["backupRetention"], shown["backupDestinationId"]) == ("0 3 * * *", 3, None)

    # --- The last scheduled backup failed: a red banner with the server's sentence ----------------
    as_scheduled(server, 1)
    alert = owner.post("/api/backups/status", {"appId": pg["id"]})["data"]["alert"]
    assert alert
    page.reload()
    expect(panel.get_by_test_id("backup-alert")).to_have_text(alert)
    banner_colour = panel.get_by_test_id("backup-alert").evaluate("el => getComputedStyle(el).backgroundColor")
    assert banner_colour == "rgb(198, 40, 40)"  # --danger

    # --- A successful backup: verified, downloadable by the owner ----------------------------------
    good = stored_backup(server, owner, pg["id"])
    page.reload()
    row = row_of(page, good["id"])
    expect(row).to_have_attribute("data-status", "success")
    expect(row.get_by_test_id("backup-verified")).to_contain_text("verified")
    expect(row.get_by_test_id("backup-trigger")).to_have_text("manual")
    with page.expect_download() as download:
        row.get_by_test_id("backup-download").click()
    assert download.value.suggested_filename == f"pg-backup-{good['id']}.pgdump"
    assert Path(download.value.path()).read_bytes() == DUMP
    screenshot(page, "backups-panel", full_page=True)

    # --- Restore: the dialog offers this app and the other postgres database, not redis; Cancel does nothing
    row.get_by_test_id("backup-restore").click()
    dialog = page.get_by_test_id("restore-dialog")
    expect(dialog).to_be_visible()
    target = dialog.get_by_test_id("restore-target")
    assert target.locator("option").all_inner_texts() == ["pg (this app)", "staging"]
    expect(dialog.get_by_test_id("restore-question")).to_contain_text(f"Restore backup #{good['id']} of pg")
    expect(dialog.get_by_test_id("restore-question")).to_contain_text("into pg?")
    dialog.get_by_test_id("restore-cancel").click()
    expect(dialog).to_be_hidden()
    assert owner.post("/api/backups/restores/getByAppId", {"appId": pg["id"]})["data"] == []

    # --- Into staging: queued, its log followed until it ends (it fails: no container to restore into)
    row.get_by_test_id("backup-restore").click()
    target.select_option(str(staging["id"]))
    expect(dialog.get_by_test_id("restore-question")).to_contain_text("into staging?")
    dialog.get_by_test_id("restore-confirm").click()
    expect(dialog).to_be_hidden()
    box = page.get_by_test_id("restore-box")
    expect(box).to_be_visible()
    expect(box).to_have_attribute("data-status", "failed", timeout=30_000)
    [restore] = owner.post("/api/backups/restores/getByAppId", {"appId": staging["id"]})["data"]
    done = owner.post("/api/backups/restores/getById", {"id": restore["id"]})["data"]
    assert done["status"] == "failed" and done["log"]
    assert box.get_by_test_id("restore-log").inner_text().splitlines() == done["log"]
    expect(box.get_by_test_id("restore-outcome")).to_have_text(f"The restore failed: {done['error']}")
    expect(box).to_contain_text(f"Restore #{restore['id']} of backup #{good['id']} into staging")
    screenshot(page, "backups-restore")

    # --- A backup that stopped being restorable: the dialog says the server's refusal ------------
    failed = failed_backup(owner, pg["id"])
    page.reload()
    with page.expect_response("**/api/backups/restore") as refused:
        row_of(page, good["id"]).get_by_test_id("backup-restore").click()
        owner.http.request("DELETE", "/api/backups/delete", json={"id": good["id"]})
        dialog.get_by_test_id("restore-confirm").click()
    assert refused.value.status == 404
    expect(dialog.get_by_test_id("restore-message")).to_have_text(refused.value.json()["message"])
    expect(dialog).to_be_visible()
    expect(row_of(page, good["id"])).to_have_count(0)  # the list caught up with the deletion
    dialog.get_by_test_id("restore-cancel").click()
    expect(row_of(page, failed["id"])).to_have_attribute("data-status", "failed")

    # --- On a phone: the rows stack, the panel stays usable --------------------------------------
    page.set_viewport_size(PHONE)
    expect(panel.get_by_test_id("backup-create")).to_be_visible()
    screenshot(page, "backups-panel-phone", full_page=True)
    assert errors == []
    context.close()


def test_a_member_restores_but_does_not_download(browser, server: MistServer, owner: MistClient) -> None:
    project = owner.project("shop")
    pg = owner.app(project["id"], "pg", appType="database", templateName="postgres")
    mallory = owner.create_user("mallory")
    owner.put("/api/projects/updateMembers", {"userIds": [mallory["id"]]}, id=project["id"])
    good = stored_backup(server, owner, pg["id"])

    context, page, errors = open_page(browser, server.url)
    sign_in(page, "mallory@example.com")
    page.goto(f"/#/apps/{pg['id']}")
    row = row_of(page, good["id"])
    expect(row).to_have_attribute("data-status", "success")
    expect(row.get_by_test_id("backup-restore")).to_be_visible()
    expect(row.get_by_test_id("backup-download")).to_have_count(0)
    # Only the local directory is offered: destinations are the owner's and admins' to see.
    options = page.get_by_test_id("backup-destination").locator("option").all_inner_texts()
    assert options == ["Local backup directory"]
    response = page.request.get(f"/api/backups/download/{good['id']}")
    assert response.status == 403
    assert errors == []
    context.close()
