"""The subcommands against a fake server: output, exit codes, errors without tracebacks."""

from __future__ import annotations

import io
import json
import os
import stat
from functools import partial
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from mist.cli import main
from mist.client import commands
from mist.client.api import MistAPI
from mist.client.stream import DeploymentWatch
from cli_support import Script, log, status

PROJECTS = [{"id": 1, "name": "shop"}, {"id": 2, "name": "blog"}]
APPS = {
    1: [{"id": 1, "name": "web", "appType": "web", "gitBranch": "main"},
        {"id": 2, "name": "worker", "appType": "service", "gitBranch": "main"}],
    2: [{"id": 3, "name": "web", "appType": "web", "gitBranch": "dev"}],
}
DEPLOYMENT = {"id": 12, "app_id": 2, "deployment_number": 4, "commit_hash": "0123456789abcdef",
              "commit_message": "Fix the [bold] bug\n\nbody", "status": "pending", "stage": "", "progress": 0,
              "duration": 0, "is_active": False}


def fake_server(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    body = json.loads(request.content) if request.content else {}
    if request.headers.get("authorization") != "Bearer mist_tok":
        return httpx.Response(401, json={"success": False, "message": "sign in first", "data": None})
    if path == "/api/projects/getAll":
        data = PROJECTS
    elif path == "/api/apps/getByProjectId":
        data = APPS[body["projectId"]]
    elif path == "/api/deployment/getByAppId":
        data = [{**DEPLOYMENT, "id": 11, "deployment_number": 3, "status": "success", "stage": "completed",
                 "progress": 100, "duration": 75, "is_active": True}] if body["appId"] == 2 else []
    elif path == "/api/deployment/add":
        return httpx.Response(200, json={**DEPLOYMENT, "app_id": body["appId"]})
    else:
        return httpx.Response(404, json={"success": False, "message": f"no route {path}", "data": None})
    return httpx.Response(200, json={"success": True, "message": "OK", "data": data})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("MIST_URL", "http://mist.test")
    monkeypatch.setenv("MIST_TOKEN", "mist_tok")
    monkeypatch.setattr(commands, "connect", lambda: MistAPI("http://mist.test", "mist_tok",
                                                             transport=httpx.MockTransport(fake_server)))

    def with_socket(*connections) -> Script:
        script = Script(*connections)
        monkeypatch.setattr(commands, "DeploymentWatch",
                            partial(DeploymentWatch, connector=script, sleep=lambda s: None))
        return script

    return with_socket


def test_apps_lists_every_project_with_the_latest_status(fake, capsys) -> None:
    assert main(["apps"]) == 0
    out = capsys.readouterr().out
    for word in ("shop", "blog", "worker", "service", "dev", "success #3"):
        assert word in out


def test_deployments_table(fake, capsys) -> None:
    assert main(["deployments", "worker"]) == 0
    out = capsys.readouterr().out
    for word in ("0123456", "Fix the [bold] bug", "1m15s", "completed", "100%", "yes", "success"):
        assert word in out
    assert "body" not in out  # only the subject line of the commit message


def test_deploy_without_follow_prints_the_new_deployment(fake, capsys) -> None:
    assert main(["deploy", "2"]) == 0
    out = capsys.readouterr().out
    assert "deployment #4 (id 12) of worker queued: 0123456 Fix the [bold] bug, status pending" in out


def test_an_ambiguous_name_is_an_error_without_traceback(fake, capsys) -> None:
    assert main(["deploy", "web"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the app name 'web' is ambiguous")
    assert "web (id 1, project shop)" in err and "web (id 3, project blog)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("final", "code", "expect_err"),
    [
        (status("success", "completed", 100), 0, ""),
        (status("failed", "building_image", 50, "The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
         1, "error: The command '/bin/sh -c exit 3' returned a non-zero code: 3"),
        (status("stopped", "building_image", 50, "superseded by #5"), 2, ""),
    ],
)
def test_follow_streams_lines_unchanged_and_exits_by_the_final_status(fake, capsys, final, code, expect_err) -> None:
    fake([log(0, "\x1b[32mStep 1/3\x1b[0m : FROM busybox"), status("building", "cloning_repo", 25),
          log(1, "[not markup]"), json.dumps({"type": "error", "timestamp": "t", "data": {"message": "x"}}), final])
    assert main(["deploy", "worker", "--follow"]) == code
    captured = capsys.readouterr()
    # Not a terminal: the log's bytes (ANSI colours included) pass through as they are.
    assert "\x1b[32mStep 1/3\x1b[0m : FROM busybox\n" in captured.out
    assert "[not markup]\n" in captured.out
    assert "==> deployment #4 (id 12): building cloning_repo (25%)" in captured.out
    final_status = json.loads(final)["data"]["status"]
    assert f"deployment #4 (id 12): {final_status}" in captured.out
    assert expect_err in captured.err


def test_logs_follow_reconnects_without_repeating(fake, capsys) -> None:
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    script = fake([log(0, "a"), log(1, "b"), ConnectionClosedError(Close(1006, ""), None)],
                  [log(0, "a"), log(1, "b"), log(2, "c"), status("success", "completed", 100)])
    assert main(["logs", "12", "--follow"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("a\n") == 1 and captured.out.count("b\n") == 1 and "c\n" in captured.out
    assert "reconnecting" in captured.err
    assert script.urls[0].endswith("/ws/deployment/logs?deploymentId=12")


def test_follow_on_a_terminal_draws_a_progress_bar_and_colours(fake) -> None:
    fake([log(0, "\x1b[31mred line\x1b[0m"), log(1, "[bold]literal"), status("building", "building_image", 50),
          status("success", "completed", 100)])
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system="standard")
    api = commands.connect()
    assert commands.follow(api, DEPLOYMENT, console) == 0
    out = buf.getvalue()
    assert "\x1b[31mred line" in out  # the colour is rendered
    assert "[bold]literal" in out  # and a log line is never read as markup
    assert "100%" in out and "completed" in out and "success" in out


def test_a_deployment_id_must_be_a_positive_integer(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["logs", "abc"])
    assert exit_.value.code == 2
    assert "not a deployment id" in capsys.readouterr().err


def test_login_stores_a_private_token(monkeypatch, tmp_path: Path, capsys) -> None:
    calls: list[tuple[str, dict, str]] = []

    def server(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        calls.append((request.url.path, body, request.headers.get("authorization", "")))
        if request.url.path == "/api/auth/login":
            return httpx.Response(200, json={"success": True, "message": "Signed in", "data": {"id": 1}},
                                  headers={"set-cookie": "mist_session=s3ss; Path=/; HttpOnly"})
        if request.url.path == "/api/tokens/create":
            assert request.headers["cookie"] == "mist_session=s3ss"
            return httpx.Response(200, json={"success": True, "message": "Token created", "data": {
                "id": 1, "name": body["name"], "scope": body["scope"], "token": "mist_new"}})
        if request.url.path == "/api/auth/me":
            return httpx.Response(200, json={"success": True, "message": "OK", "data": {"username": "ada"}})
        return httpx.Response(200, json={"success": True, "message": "OK", "data": None})

    real = MistAPI
    monkeypatch.setattr(commands, "MistAPI", lambda url, token=None: real(url, token, transport=httpx.MockTransport(server)))
    monkeypatch.setattr(commands.socket, "gethostname", lambda: "box")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("MIST_PASSWORD", "a long passphrase")
    monkeypatch.delenv("MIST_URL", raising=False)
    monkeypatch.delenv("MIST_TOKEN", raising=False)
    assert main(["login", "http://mist.test/", "--email", "ada@example.com"]) == 0
    assert calls[0] == ("/api/auth/login", {"email": "ada@example.com", "password": "a long passphrase"}, "")
    assert calls[1][:2] == ("/api/tokens/create", {"name": "mist-cli on box", "scope": "admin"})
    assert ("/api/auth/me", {}, "Bearer mist_new") in calls
    path = tmp_path / "mist" / "credentials.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://mist.test", "token": "mist_new"}
    assert "as ada" in capsys.readouterr().out


def test_login_without_a_password_anywhere_is_an_error(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("MIST_PASSWORD", raising=False)
    monkeypatch.setattr(commands.getpass, "getpass", lambda prompt: (_ for _ in ()).throw(EOFError()))
    assert main(["login", "http://mist.test", "--email", "a@b.c"]) == 1
    assert "error: no password given" in capsys.readouterr().err
    assert not (tmp_path / "mist" / "credentials.json").exists()
