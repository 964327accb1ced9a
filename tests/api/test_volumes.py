"""mist.api.apps volume routes and mist.volumes: named volumes for members, host directories for
owners and admins only, from inside MIST_HOST_MOUNT_ROOTS only, and never one that hands a container
the host or Mist."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

from mist.config import Settings
from mist.server import create_app

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Host mounts allowed under tmp_path only (MIST_HOST_MOUNT_ROOTS)."""
    return Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False, host_mount_roots=str(tmp_path))


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


def test_host_mounts_are_off_unless_roots_are_configured(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False)
    with TestClient(create_app(settings)) as http:
        mist = MistClient(http)
        mist.signup()
        app = mist.app(mist.project()["id"], "web", REPO, port=8000)
        response = http.post("/api/apps/volumes/create", json={
            "appId": app["id"], "name": "host", "containerPath": "/mnt", "hostPath": str(tmp_path)})
        assert response.status_code == 400, response.text
        assert "host mounts are disabled" in response.json()["message"]
        assert "MIST_HOST_MOUNT_ROOTS" in response.json()["message"]
        assert volumes_of(mist, app["id"]) == []


def test_owners_mount_host_directories_only_inside_the_allowed_roots(
    http: TestClient, mist: MistClient, app: dict, tmp_path: Path
) -> None:
    # The root is tmp_path, which also holds Mist's data directory (tmp_path / "data").
    data_dir = http.app.state.services.settings.data_dir
    (tmp_path / "to-etc").symlink_to("/etc")
    (tmp_path / "loop-a").symlink_to(tmp_path / "loop-b")
    (tmp_path / "loop-b").symlink_to(tmp_path / "loop-a")
    refused = {
        "/": "outside the allowed roots", "/root": "outside", "/usr/local/bin": "outside",
        "/var/spool/cron": "outside", "/home": "outside", "/var/run/docker.sock": "outside",
        f"{tmp_path}/../etc": "outside", f"{tmp_path}/..": "outside", str(tmp_path / "to-etc"): "outside",
        str(tmp_path / "to-etc" / "cron.d"): "outside",
        str(data_dir): "Mist's data directory", str(data_dir / "git"): "Mist's data directory",
        str(tmp_path): "Mist's data directory",  # the root itself holds the data directory
        str(tmp_path / "loop-a"): "loop of symbolic links",
        str(tmp_path / "loop-a" / "x"): "loop of symbolic links",
        str(tmp_path / ("n" * 300)): "cannot be resolved",  # a name longer than the system allows
        "relative/path": "absolute path", f"{tmp_path}/a\x00b": "NUL character",
        "/" + "a/" * 600: "hostPath",  # longer than the schema allows
    }
    for host_path, reason in refused.items():
        response = http.post("/api/apps/volumes/create", json={
            "appId": app["id"], "name": "host", "containerPath": "/mnt/host", "hostPath": host_path})
        assert response.status_code == 400, (host_path, response.text)
        assert "hostPath" in response.json()["message"] and reason in response.json()["message"], host_path
    assert volumes_of(mist, app["id"]) == []

    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "to-shared").symlink_to(shared)
    created = mist.post("/api/apps/volumes/create", {"appId": app["id"], "name": "host", "readOnly": True,
                                                     "containerPath": "/mnt/host",
                                                     "hostPath": str(tmp_path / "to-shared")})["data"]
    assert created["hostPath"] == os.path.realpath(shared) and created["readOnly"] is True
    # Not there yet: Docker creates it, inside the root.
    later = mist.post("/api/apps/volumes/create", {"appId": app["id"], "name": "later",
                                                   "containerPath": "/mnt/later",
                                                   "hostPath": str(tmp_path / "later" / "x")})["data"]
    assert later["hostPath"] == os.path.realpath(tmp_path / "later" / "x")


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
