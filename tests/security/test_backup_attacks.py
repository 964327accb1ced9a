"""Attacks on backups, through the real server: a user outside the project reaches none of its backups
or restores (404, as for an id that does not exist), a member neither downloads nor deletes a backup
(the whole database, credentials and all) nor manages destinations, a backup cannot be restored
across projects in either direction, and a destination's secret key is never answered nor logged."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from support.client import MistClient
from support.receivers import wait_for
from support.server import MistServer

from .conftest import Team

S3_SECRET = "s3-SECRET-key-never-shown-1234"


@pytest.fixture
def server(server_factory: Callable[..., MistServer]) -> MistServer:
    return server_factory()


@pytest.fixture
def eve(server: MistServer, team: Team) -> Iterator[MistClient]:
    """A signed-in user of her own project, outside the team's."""
    team.owner.create_user("eve")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        client = MistClient(http)
        client.login("eve@example.com")
        yield client


def _failed_backup(client: MistClient, app_id: int) -> dict:
    """With no engine the job fails at once: a real backup row to aim at."""
    backup = client.post("/api/backups/create", {"appId": app_id})["data"]
    return wait_for(lambda: (b := client.post("/api/backups/getById", {"id": backup["id"]})["data"])
                    ["status"] == "failed" and b)


def test_outsiders_reach_no_backup_and_members_neither_download_nor_delete(team: Team, eve: MistClient) -> None:
    app = team.owner.app(team.project_id, "db", appType="database", templateName="postgres")
    backup = _failed_backup(team.member, app["id"])  # a member may back up the project's databases
    assert "not running" in backup["error"] or "engine" in backup["error"], backup["error"]
    restore_target = eve.app(eve.project("eve")["id"], "mine", appType="database", templateName="postgres")

    attempts = (
        ("POST", "/api/backups/create", {"appId": app["id"]}),
        ("POST", "/api/backups/getByAppId", {"appId": app["id"]}),
        ("POST", "/api/backups/getByProjectId", {"projectId": team.project_id}),
        ("POST", "/api/backups/getById", {"id": backup["id"]}),
        ("POST", "/api/backups/status", {"appId": app["id"]}),
        ("POST", "/api/backups/verify", {"id": backup["id"]}),
        ("POST", "/api/backups/restore", {"backupId": backup["id"], "targetAppId": restore_target["id"]}),
        ("POST", "/api/backups/restores/getByAppId", {"appId": app["id"]}),
        ("GET", f"/api/backups/download/{backup['id']}", None),
        ("DELETE", "/api/backups/delete", {"id": backup["id"]}),
    )
    for method, path, body in attempts:
        response = eve.http.request(method, path, json=body)
        assert response.status_code in (403, 404), (path, response.status_code, response.text)
        if response.status_code == 404:
            assert "not found" in response.json()["message"]

    for method, path, body in (("GET", f"/api/backups/download/{backup['id']}", None),
                               ("DELETE", "/api/backups/delete", {"id": backup["id"]}),
                               ("GET", "/api/backups/destinations/getAll", None),
                               ("POST", "/api/backups/destinations/create", {
                                   "name": "mine", "endpoint": "http://127.0.0.1:9", "bucket": "loot",
                                   "accessKey": "a", "secretKey": "b"})):
        response = team.member.http.request(method, path, json=body)
        assert response.status_code == 403, (path, response.text)
    # Still there, and still the team's only.
    assert [b["id"] for b in team.owner.post("/api/backups/getByAppId", {"appId": app["id"]})["data"]] == [backup["id"]]
    assert eve.post("/api/backups/getByAppId", {"appId": restore_target["id"]})["data"] == []


def test_a_backup_is_not_restored_across_projects_in_either_direction(team: Team, eve: MistClient) -> None:
    theirs = team.owner.app(team.project_id, "db", appType="database", templateName="postgres")
    mine = eve.app(eve.project("eve")["id"], "mine", appType="database", templateName="postgres")
    their_backup = _failed_backup(team.owner, theirs["id"])
    my_backup = _failed_backup(eve, mine["id"])
    # Into eve's app from theirs: the backup is out of her reach.
    response = eve.http.post("/api/backups/restore", json={"backupId": their_backup["id"], "targetAppId": mine["id"]})
    assert response.status_code == 404 and f"backup {their_backup['id']} not found" in response.json()["message"]
    # From eve's backup into theirs: the target is out of her reach.
    response = eve.http.post("/api/backups/restore", json={"backupId": my_backup["id"], "targetAppId": theirs["id"]})
    assert response.status_code == 404 and f"application {theirs['id']} not found" in response.json()["message"]
    assert team.owner.post("/api/backups/restores/getByAppId", {"appId": theirs["id"]})["data"] == []


def test_a_destination_that_cannot_be_reached_is_refused_without_echoing_its_secret(
    server: MistServer, owner: MistClient
) -> None:
    response = owner.http.post("/api/backups/destinations/create", json={
        "name": "offsite", "endpoint": "http://127.0.0.1:9", "bucket": "mist-backups", "region": "us-east-1",
        "accessKey": "AKIAEXAMPLE", "secretKey": S3_SECRET})
    assert 400 <= response.status_code < 500, response.text
    assert S3_SECRET not in response.text
    assert owner.get("/api/backups/destinations/getAll")["data"] == []
    assert S3_SECRET not in server.output()
