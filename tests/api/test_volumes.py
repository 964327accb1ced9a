"""mist.api.apps volume routes and mist.volumes: named volumes for members, host directories for
owners and admins only, and never one that hands a container the host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def app(mist: MistClient) -> dict:
    mist.signup()
    return mist.app(mist.project()["id"], "web", REPO, port=8000)


def volumes_of(mist: MistClient, app_id: int) -> list[dict]:
    return mist.post("/api/apps/volumes/get", {"appId": app_id})["data"]


def test_named_volumes_are_created_listed_and_deleted(http: TestClient, mist: MistClient, app: dict) -> None:
    created = mist.post("/api/apps/volumes/create", {"appId": app["id"], "name": "uploads",
                                                     "containerPath": "/srv/uploads"})["data"]
    assert (created["name"], created["containerPath"], created["hostPath"]) == ("uploads", "/srv/uploads", None)
    assert created["actionRequired"] == "redeploy"
    assert [v["name"] for v in volumes_of(mist, app["id"])] == ["uploads"]
    for clash in ({"name": "uploads", "containerPath": "/other"}, {"name": "other", "containerPath": "/srv/uploads"}):
        assert http.post("/api/apps/volumes/create", json={"appId": app["id"], **clash}).status_code == 409
    response = http.request("DELETE", "/api/apps/volumes/delete", json={"id": created["id"]})
    assert response.status_code == 200 and response.json()["data"]["actionRequired"] == "redeploy"
    assert volumes_of(mist, app["id"]) == []


@pytest.mark.parametrize("body, field", [
    ({"name": "Bad Name", "containerPath": "/data"}, "name"),
    ({"name": "x", "containerPath": "relative"}, "containerPath"),
    ({"name": "x", "containerPath": "/"}, "containerPath"),
    ({"name": "x", "containerPath": "/a/../etc"}, "containerPath"),
    ({"name": "x", "containerPath": "/a:/b"}, "containerPath"),
    ({"name": "x"}, "containerPath"),
])
def test_bad_volumes_are_400_and_write_nothing(
    http: TestClient, mist: MistClient, app: dict, body: dict, field: str
) -> None:
    response = http.post("/api/apps/volumes/create", json={"appId": app["id"], **body})
    assert response.status_code == 400 and field in response.json()["message"], response.text
    assert volumes_of(mist, app["id"]) == []


def test_a_database_keeps_its_data_path_to_itself(http: TestClient, mist: MistClient, app: dict) -> None:
    db = mist.app(app["projectId"], "db", appType="database", templateName="redis")
    response = http.post("/api/apps/volumes/create", json={"appId": db["id"], "name": "x", "containerPath": "/data"})
    assert response.status_code == 409 and "database's own data" in response.json()["message"]


def test_owners_mount_host_directories_but_never_dangerous_ones(
    http: TestClient, mist: MistClient, app: dict, tmp_path: Path
) -> None:
    data_dir = http.app.state.services.settings.data_dir
    (tmp_path / "to-etc").symlink_to("/etc")
    for host_path in ("/", "/var/run/docker.sock", "/run/docker.sock", "/var", "/run", "/etc/ssl", "/proc",
                      "/var/lib/docker/volumes", str(data_dir), str(data_dir / "git"), str(data_dir.parent),
                      str(tmp_path / "to-etc"), "relative/path"):
        response = http.post("/api/apps/volumes/create", json={
            "appId": app["id"], "name": "host", "containerPath": "/mnt/host", "hostPath": host_path})
        assert response.status_code == 400 and "hostPath" in response.json()["message"], (host_path, response.text)
    shared = tmp_path / "shared"
    shared.mkdir()
    created = mist.post("/api/apps/volumes/create", {"appId": app["id"], "name": "host", "readOnly": True,
                                                     "containerPath": "/mnt/host", "hostPath": str(shared)})["data"]
    assert created["hostPath"] == os.path.realpath(shared) and created["readOnly"] is True


def test_members_may_not_mount_host_directories_and_outsiders_see_nothing(
    http: TestClient, mist: MistClient, app: dict, tmp_path: Path
) -> None:
    bob = mist.create_user("bob")
    mist.create_user("eve")
    mist.put("/api/projects/updateMembers", {"userIds": [bob["id"]]}, id=app["projectId"])
    mist.login("bob@example.com")
    response = http.post("/api/apps/volumes/create", json={
        "appId": app["id"], "name": "host", "containerPath": "/mnt", "hostPath": str(tmp_path)})
    assert response.status_code == 403
    mine = mist.post("/api/apps/volumes/create", {"appId": app["id"], "name": "cache", "containerPath": "/cache"})
    mist.login("eve@example.com")
    assert http.post("/api/apps/volumes/get", json={"appId": app["id"]}).status_code == 404
    assert http.request("DELETE", "/api/apps/volumes/delete", json={"id": mine["data"]["id"]}).status_code == 404
