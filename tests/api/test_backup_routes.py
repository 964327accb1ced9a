"""mist.api.backups in process, without an engine: bad input is refused naming the field and writes
nothing; a backup that cannot reach its database fails, saying why, and tells its subscribers; the
schedule fields; a deleted app's backups are kept (reachable through the project) unless asked."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient
from support.receivers import wait_for


@pytest.fixture
def owner(mist: MistClient) -> MistClient:
    mist.signup()
    return mist


def _database(owner: MistClient, name: str = "pg", template: str = "postgres", project: int | None = None) -> dict:
    project_id = project if project is not None else owner.project()["id"]
    return owner.app(project_id, name, appType="database", templateName=template)


def _final(owner: MistClient, backup_id: int) -> dict:
    return wait_for(lambda: (b := owner.post("/api/backups/getById", {"id": backup_id})["data"])["status"]
                    in ("success", "failed") and b)


def test_only_database_apps_are_backed_up_and_nothing_is_written_otherwise(http: TestClient, owner: MistClient) -> None:
    web = owner.app(owner.project()["id"], "site", "https://git.example.com/site.git", appType="service")
    response = http.post("/api/backups/create", json={"appId": web["id"]})
    assert response.status_code == 400 and "appId" in response.json()["message"]
    assert owner.post("/api/backups/getByAppId", {"appId": web["id"]})["data"] == []
    for body in ({"appId": "1"}, {}, {"appId": 1, "extra": True}):
        assert http.post("/api/backups/create", json=body).status_code == 400


def test_a_backup_without_a_running_database_fails_saying_why_and_is_told(owner: MistClient) -> None:
    owner.post("/api/notifications/create", {"name": "ops", "kind": "webhook", "target": "http://127.0.0.1:9/h",
                                             "events": ["backup.failed"]})
    app = _database(owner)
    queued = owner.post("/api/backups/create", {"appId": app["id"]})
    assert queued["message"] == "Backup queued"
    backup = queued["data"]
    assert set(backup) == {"id", "appId", "projectId", "appName", "engine", "status", "trigger", "sizeBytes",
                           "sha256", "destinationId", "location", "verified", "error", "startedAt", "finishedAt",
                           "createdAt"}
    assert (backup["status"], backup["trigger"], backup["engine"], backup["verified"]) == (
        "pending", "manual", "postgres", False)
    done = _final(owner, backup["id"])
    assert done["status"] == "failed" and done["verified"] is False
    assert "not running" in done["error"] and done["finishedAt"]
    deliveries = wait_for(lambda: owner.get("/api/notifications/deliveries")["data"])
    assert [d["event"] for d in deliveries] == ["backup.failed"]
    # A failed backup is neither restored nor downloaded; it can be deleted.
    assert owner.post("/api/backups/restore", {"backupId": backup["id"]}, expect=409)["message"].startswith(
        f"backup {backup['id']} is failed")
    assert owner.http.get(f"/api/backups/download/{backup['id']}").status_code == 409
    owner.http.request("DELETE", "/api/backups/delete", json={"id": backup["id"]})
    assert owner.post("/api/backups/getByAppId", {"appId": app["id"]})["data"] == []


@pytest.mark.parametrize(("change", "field"), [
    ({"backupSchedule": "every night"}, "backupSchedule"), ({"backupSchedule": "0 3 * * * *"}, "backupSchedule"),
    ({"backupRetention": 0}, "backupRetention"), ({"backupRetention": "7"}, "backupRetention"),
    ({"backupDestinationId": 99}, "backupDestinationId"),
])
def test_bad_backup_settings_are_refused_naming_the_field(http: TestClient, owner: MistClient, change: dict,
                                                          field: str) -> None:
    app = _database(owner)
    response = http.put("/api/apps/update", json={"appId": app["id"], "backupSchedule": "0 3 * * *", **change})
    assert response.status_code == 400 and field in response.json()["message"], response.text
    shown = owner.post("/api/apps/getById", {"appId": app["id"]})["data"]
    assert (shown["backupSchedule"], shown["backupRetention"], shown["backupDestinationId"]) == ("", 7, None)


def test_a_schedule_is_saved_normalised_and_reported_with_its_next_run(http: TestClient, owner: MistClient) -> None:
    app = _database(owner)
    web = owner.app(owner.project("other")["id"], "site", "https://git.example.com/site.git", appType="service")
    refused = http.put("/api/apps/update", json={"appId": web["id"], "backupSchedule": "0 3 * * *"})
    assert refused.status_code == 400 and "only database apps" in refused.json()["message"]
    saved = owner.put("/api/apps/update", {"appId": app["id"], "backupSchedule": " 0 3  * * * ",
                                           "backupRetention": 3})["data"]
    assert (saved["backupSchedule"], saved["backupRetention"]) == ("0 3 * * *", 3)
    status = owner.post("/api/backups/status", {"appId": app["id"]})["data"]
    assert status["schedule"] == "0 3 * * *" and status["nextRunAt"].endswith("T03:00:00Z")
    assert (status["lastScheduled"], status["missed"], status["alert"]) == (None, False, "")


def test_restoring_into_an_app_of_another_engine_is_refused(owner: MistClient) -> None:
    project = owner.project()["id"]
    pg, cache = _database(owner, "pg", project=project), _database(owner, "cache", "redis", project=project)
    backup = owner.post("/api/backups/create", {"appId": pg["id"]})["data"]
    _final(owner, backup["id"])
    # A failed backup is refused first; the engine check is the service's next word on a good one.
    response = owner.http.post("/api/backups/restore", json={"backupId": backup["id"], "targetAppId": cache["id"]})
    assert response.status_code == 409


def test_a_deleted_apps_backups_are_kept_unless_asked_and_stay_reachable_through_the_project(
    owner: MistClient,
) -> None:
    project = owner.project()["id"]
    kept_app, gone_app = _database(owner, "kept", project=project), _database(owner, "gone", project=project)
    kept = _final(owner, owner.post("/api/backups/create", {"appId": kept_app["id"]})["data"]["id"])
    gone = _final(owner, owner.post("/api/backups/create", {"appId": gone_app["id"]})["data"]["id"])
    owner.http.request("DELETE", "/api/apps/delete", json={"appId": kept_app["id"]})
    owner.http.request("DELETE", "/api/apps/delete", json={"appId": gone_app["id"], "deleteBackups": True})
    listed = owner.post("/api/backups/getByProjectId", {"projectId": project})["data"]
    assert [(b["id"], b["appName"]) for b in listed] == [(kept["id"], "kept")]
    missing = owner.post("/api/backups/getById", {"id": gone["id"]}, expect=404)
    assert missing["message"] == f"backup {gone['id']} not found"
