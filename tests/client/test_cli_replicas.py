"""`--replicas` on `mist apps create|update`, the REPLICAS column of `mist apps` and the replica table of
`mist status`, against a fake server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mist.cli import main
from mist.client import commands
from mist.client.api import MistAPI

APP = {"id": 2, "projectId": 1, "name": "web", "appType": "web", "gitBranch": "main", "replicas": 1,
       "gitRepository": "https://git.example.com/acme/shop.git", "port": 8000}
STATUS = {
    "appId": 2, "deploymentId": 11, "deploymentNumber": 3, "containerId": "mist-app-2", "name": "mist-app-2",
    "state": "running", "health": "healthy", "startedAt": "2026-01-01T10:00:00Z", "uptime": 60,
    "image": "127.0.0.1:5000/mist-app-2@sha256:abc", "restarts": 1, "exitCode": None, "cpuLimit": None,
    "memoryLimit": None, "restartPolicy": "unless-stopped",
    "replicas": [
        {"task": "mist-app-2.1", "slot": 1, "node": "manager", "state": "running", "health": "healthy",
         "startedAt": "2026-01-01T10:00:00Z", "restarts": 0, "error": None, "deploymentId": 11},
        {"task": "mist-app-2.2", "slot": 2, "node": "worker-1", "state": "starting", "health": "starting",
         "startedAt": "2026-01-01T10:01:00Z", "restarts": 1, "error": "task: non-zero exit (1)", "deploymentId": 11},
    ],
}


class FakeMist:
    def __init__(self) -> None:
        self.app = dict(APP)
        self.bodies: list[tuple[str, dict]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        self.bodies.append((path, body))
        if path == "/api/projects/getAll":
            data: object = [{"id": 1, "name": "shop"}]
        elif path == "/api/apps/getByProjectId":
            data = [self.app]
        elif path == "/api/apps/create":
            data = {**APP, "id": 3, "name": body["name"], "replicas": body.get("replicas", 1)}
        elif path == "/api/apps/update":
            if body.get("replicas", 1) > 1 and self.app["appType"] == "database":
                return httpx.Response(400, json={"success": False, "message": "replicas: a database app runs "
                                                 "exactly one replica", "data": None})
            action = "redeploy" if body["replicas"] != self.app["replicas"] else "none"
            self.app.update(replicas=body["replicas"])
            data = {**self.app, "actionRequired": action}
        elif path == "/api/deployment/getByAppId":
            data = []
        elif path == "/api/apps/container/status":
            data = STATUS
        elif path == "/api/apps/settings":
            data = {"appId": 2, "settings": []}
        else:
            return httpx.Response(404, json={"success": False, "message": f"no route {path}", "data": None})
        return httpx.Response(200, json={"success": True, "message": "OK", "data": data})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeMist:
    server = FakeMist()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setattr(commands, "connect", lambda: MistAPI("http://mist.test", "mist_tok",
                                                             transport=httpx.MockTransport(server)))
    return server


def test_create_sends_replicas(fake: FakeMist, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apps", "create", "api", "-p", "shop", "--repo", APP["gitRepository"], "--port", "8000",
                 "--replicas", "3"]) == 0
    sent = next(body for path, body in fake.bodies if path == "/api/apps/create")
    assert sent["replicas"] == 3
    assert any(line.split() == ["replicas", "3"] for line in capsys.readouterr().out.splitlines())


def test_update_changes_replicas_and_says_to_redeploy(fake: FakeMist, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apps", "update", "web", "--replicas", "4"]) == 0
    assert ("/api/apps/update", {"appId": 2, "replicas": 4}) in fake.bodies
    out = capsys.readouterr().out
    assert "updated app web (id 2): replicas 4" in out and "mist deploy web" in out


def test_update_without_a_change_is_an_error(fake: FakeMist, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apps", "update", "web"]) != 0
    assert "nothing to change: give --replicas N" in capsys.readouterr().err
    assert not any(path == "/api/apps/update" for path, _ in fake.bodies)


@pytest.mark.parametrize("value", ["0", "21", "two", "-1"])
def test_replicas_out_of_bounds_are_refused_before_any_request(
    fake: FakeMist, capsys: pytest.CaptureFixture[str], value: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["apps", "update", "web", "--replicas", value])
    assert exited.value.code == 2
    assert "1 to 20" in capsys.readouterr().err and fake.bodies == []


def test_the_servers_refusal_is_shown(fake: FakeMist, capsys: pytest.CaptureFixture[str]) -> None:
    fake.app["appType"] = "database"
    assert main(["apps", "update", "web", "--replicas", "2"]) == 1
    assert "a database app runs exactly one replica" in capsys.readouterr().err


def test_apps_lists_replicas(fake: FakeMist, capsys: pytest.CaptureFixture[str]) -> None:
    fake.app["replicas"] = 3
    assert main(["apps"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["ID", "NAME", "PROJECT", "TYPE", "REPLICAS", "BRANCH", "LATEST", "DEPLOYMENT"] in rows
    assert ["2", "web", "shop", "web", "3", "main", "-"] in rows


def test_status_shows_each_replica(fake: FakeMist, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "web"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["REPLICA", "NODE", "STATE", "HEALTH", "STARTED", "RESTARTS", "ERROR"] in rows
    assert ["mist-app-2.1", "manager", "running", "healthy", "2026-01-01T10:00:00Z", "0"] in rows
    assert ["mist-app-2.2", "worker-1", "starting", "starting", "2026-01-01T10:01:00Z", "1", "task:", "non-zero",
            "exit", "(1)"] in rows
