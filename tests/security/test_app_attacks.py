"""Attacks on apps and their settings by a member of the project (and on host mounts by a careless
owner), each through the real server: the dashboard's host name claimed as an app domain, the git
token sent to the member's own server, a secret read back, host mounts outside the allowed roots,
and a null field answered with a 500."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer
from support.httpgit import TokenGitServer
from support.recorder import CredentialRecorder
from support.server import MistServer

PUBLIC_URL = "http://mist.example.test:8080"


@pytest.fixture
def server(request: pytest.FixtureRequest, server_factory: Callable[..., MistServer]) -> MistServer:
    """The real server, with the MIST_* settings a test passes as its (indirect) parameter."""
    return server_factory(**getattr(request, "param", {}))


def refused(client: MistClient, method: str, path: str, body: dict) -> dict:
    response = client.http.request(method, path, json=body)
    assert response.status_code == 400, (path, body, response.status_code, response.text)
    return response.json()


@pytest.mark.parametrize(
    "server", [{"public_url": PUBLIC_URL, "reserved_domains": "admin.example.test"}], indirect=True
)
def test_a_member_cannot_claim_the_dashboards_host_name(server: MistServer, team) -> None:  # noqa: ANN001
    app = team.member.app(team.project_id, "web", "https://git.example.com/a/b.git", port=8000)
    for name in ("mist.example.test", "MIST.example.test.", "admin.example.test"):
        message = refused(team.member, "POST", "/api/apps/domains/create", {"appId": app["id"], "domain": name})
        assert "dashboard's own host name" in message["message"] or "reserved" in message["message"], message
    assert team.member.post("/api/apps/domains/get", {"appId": app["id"]})["data"] == []

    # Through Caddy the dashboard's host name reaches the dashboard and nothing else: the one route
    # naming it is Mist's own, and no route names the reserved host.
    live = httpx.get(f"http://127.0.0.1:{server.proxy_admin_port}/config/", timeout=10).json()
    routes = live["apps"]["http"]["servers"]["mist"]["routes"]
    assert [r["@id"] for r in routes if "mist.example.test" in r["match"][0]["host"]] == ["mist-dashboard"]
    assert not any("admin.example.test" in r["match"][0]["host"] for r in routes)
    me = httpx.get(f"{server.proxy_url}/api/auth/me", headers={"Host": "mist.example.test"}, timeout=10)
    assert me.status_code == 401 and "sign in first" in me.json()["message"]

    # An allowed domain goes through, and the owner sees it in the audit log.
    team.member.post("/api/apps/domains/create", {"appId": app["id"], "domain": "shop.example.test"})
    logs = team.owner.get("/api/audit-logs", limit=50)["data"]["logs"]
    assert any(e["action"] == "domain.create" and e["target"] == "domain:shop.example.test"
               and e["username"] == "mallory" for e in logs), logs


def test_a_member_cannot_send_the_git_token_to_their_own_server(
    team, git_server: GitServer, token_git_server: TokenGitServer,  # noqa: ANN001
) -> None:
    git_server.create_repo("token-exfil", {"Dockerfile": "FROM scratch\n"})
    app = team.owner.app(team.project_id, "web", token_git_server.url_for("token-exfil"), port=8000,
                         gitToken=token_git_server.token)
    assert app["hasGitToken"] is True
    # The token works where it was saved for: the branch resolves over authenticated HTTP.
    team.owner.deploy(app["id"])

    with CredentialRecorder() as recorder:
        moved = team.member.put("/api/apps/update", {"appId": app["id"], "gitRepository": recorder.url_for("loot")})
        assert moved["data"]["hasGitToken"] is False
        assert "token was dropped because the repository moved to another host" in moved["message"]
        response = team.member.http.post("/api/deployment/add", json={"appId": app["id"]})
        assert response.status_code == 422, response.text
        assert recorder.requests, "git never contacted the member's server"
        assert not recorder.received(token_git_server.token)
    assert team.owner.post("/api/apps/getById", {"appId": app["id"]})["data"]["hasGitToken"] is False
    assert token_git_server.token not in response.text


def test_a_member_cannot_read_a_secret_back(team) -> None:  # noqa: ANN001
    value = "s3cr3t-db-password-42"
    app = team.owner.app(team.project_id, "web", "https://git.example.com/a/b.git", port=8000,
                         envVars=[{"key": "DB_PASSWORD", "value": value, "secret": True}])
    env_id = app["envVars"][0]["id"]
    answers = [
        refused(team.member, "PUT", "/api/apps/envs/update", {"id": env_id, "secret": False}),
        refused(team.member, "PUT", "/api/apps/update",
                {"appId": app["id"], "envVars": [{"key": "DB_PASSWORD", "secret": False}]}),
    ]
    assert all("value" in a["message"] and "DB_PASSWORD" in a["message"] for a in answers), answers
    answers += [
        team.member.post("/api/apps/getById", {"appId": app["id"]}),
        team.member.post("/api/apps/envs/get", {"appId": app["id"]}),
        team.member.post("/api/apps/getByProjectId", {"projectId": team.project_id}),
        team.member.put("/api/apps/envs/update", {"id": env_id, "runtime": True}),
        team.member.put("/api/apps/update", {"appId": app["id"], "envVars": [{"key": "DB_PASSWORD", "secret": True}]}),
        team.owner.post("/api/apps/getById", {"appId": app["id"]}),
    ]
    assert value not in str(answers)


def test_host_mounts_are_off_by_default(owner: MistClient, tmp_path: Path) -> None:
    app = owner.app(owner.project()["id"], "web", "https://git.example.com/a/b.git", port=8000)
    message = refused(owner, "POST", "/api/apps/volumes/create",
                      {"appId": app["id"], "name": "x", "containerPath": "/mnt", "hostPath": "/tmp/x"})["message"]
    assert "host mounts are disabled" in message and "MIST_HOST_MOUNT_ROOTS" in message
    assert owner.post("/api/apps/volumes/get", {"appId": app["id"]})["data"] == []


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    root = tmp_path / "allowed"
    root.mkdir()
    (root / "to-etc").symlink_to("/etc")
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    (root / "shared").mkdir()
    return root


@pytest.fixture
def mount_server(server_factory: Callable[..., MistServer], allowed: Path) -> MistServer:
    return server_factory(host_mount_roots=str(allowed))


def test_host_mounts_only_come_from_the_allowed_roots(mount_server: MistServer, allowed: Path) -> None:
    with httpx.Client(base_url=mount_server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        app = owner.app(owner.project()["id"], "web", "https://git.example.com/a/b.git", port=8000)
        for host_path in ("/root", "/usr/local/bin", "/var/spool/cron", "/home", f"{allowed}/../etc",
                          str(allowed / "to-etc"), str(allowed / "to-etc" / "cron.d"),
                          str(allowed / "loop-a"), str(allowed / "loop-a" / "x")):
            message = refused(owner, "POST", "/api/apps/volumes/create", {
                "appId": app["id"], "name": "x", "containerPath": "/mnt", "hostPath": host_path})["message"]
            assert "hostPath" in message, (host_path, message)
        assert owner.post("/api/apps/volumes/get", {"appId": app["id"]})["data"] == []
        mounted = owner.post("/api/apps/volumes/create", {
            "appId": app["id"], "name": "x", "containerPath": "/mnt", "hostPath": str(allowed / "shared")})["data"]
        assert mounted["hostPath"] == os.path.realpath(allowed / "shared")


def test_a_null_field_is_a_400_not_a_500(team) -> None:  # noqa: ANN001
    app = team.member.app(team.project_id, "web", "https://git.example.com/a/b.git", port=8000)
    for field in ("name", "gitBranch", "gitRepository", "dockerfilePath", "rootDirectory", "appType",
                  "templateName", "envVars", "healthcheckPath", "updateStrategy", "gitToken"):
        message = refused(team.member, "PUT", "/api/apps/update", {"appId": app["id"], field: None})["message"]
        assert message.startswith(field), (field, message)
    cleared = team.member.put("/api/apps/update", {"appId": app["id"], "cpuLimit": None, "memoryLimit": None})
    assert (cleared["data"]["cpuLimit"], cleared["data"]["memoryLimit"]) == (None, None)
