"""The subcommands against a fake server: output, exit codes, errors without tracebacks."""

from __future__ import annotations

import io
import json
import os
import stat
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
from cli_support import Script, log, status
from rich.console import Console

from mist.cli import main
from mist.client import commands
from mist.client.api import MistAPI
from mist.client.stream import ContainerLogWatch, DeploymentWatch

PROJECTS = [{"id": 1, "name": "shop"}, {"id": 2, "name": "blog"}]
APPS = {
    1: [{"id": 1, "name": "web", "appType": "web", "gitBranch": "main"},
        {"id": 2, "name": "worker", "appType": "service", "gitBranch": "main"}],
    2: [{"id": 3, "name": "web", "appType": "web", "gitBranch": "dev"}],
}
DEPLOYMENT = {"id": 12, "app_id": 2, "deployment_number": 4, "commit_hash": "0123456789abcdef",
              "commit_message": "Fix the [bold] bug\n\nbody", "status": "pending", "stage": "", "progress": 0,
              "duration": 0, "is_active": False}


CONTAINER = {"appId": 2, "deploymentId": 11, "deploymentNumber": 3, "containerId": "c0ffee0123456789abcdef",
             "name": "mist-app-2", "state": "running", "health": "healthy",
             "startedAt": "2024-05-01T10:00:00.123456789Z", "uptime": 7530, "image": "mist-app-2:11",
             "restarts": 1, "exitCode": None, "cpuLimit": 0.5, "memoryLimit": 256, "restartPolicy": "unless-stopped"}
CONTAINER_LOG = [f"2024-05-01T10:00:0{i}.5Z line {i}" for i in range(5)]
NOT_DEPLOYED = "app 3 has no running deployment yet; deploy it first"
SETTINGS = [
    {"key": "MIST_HOST", "value": "0.0.0.0", "source": "command line"},
    {"key": "MIST_DATABASE_URL", "value": "postgresql+psycopg://mist:********@db.internal/mist",
     "source": "environment"},
    {"key": "MIST_RESERVED_DOMAINS", "value": ["admin.example.com", "internal.example.com"], "source": "environment"},
    {"key": "MIST_TEMPLATE_IMAGES", "value": {}, "source": "default"},
    {"key": "MIST_DRAIN_SECONDS", "value": 1.5, "source": "default"},
    {"key": "MIST_PROXY_TLS", "value": False, "source": "default"},
    {"key": "MIST_GIT_CA_FILE", "value": None, "source": "default"},
]
APP_SETTINGS = [
    {"key": "restartPolicy", "value": "always", "source": "global"},
    {"key": "cpuLimit", "value": 0.5, "source": "app"},
    {"key": "memoryLimit", "value": None, "source": "default"},
    {"key": "updateStrategy", "value": "rolling", "source": "default"},
    {"key": "healthcheckPath", "value": "/health", "source": "app"},
    {"key": "healthcheckInterval", "value": 2, "source": "default"},
    {"key": "healthStageTimeout", "value": 300.0, "source": "default"},
    {"key": "somethingNewer", "value": 7, "source": "app"},  # from a newer server: shown as it comes
]


def error(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"success": False, "message": message, "data": None})


class FakeMist:
    """The routes the client uses, with the env vars of app 2 kept between requests."""

    def __init__(self) -> None:
        self.envs = [
            {"id": 5, "appId": 2, "key": "GREETING", "value": "hello", "secret": False, "buildTime": False,
             "runtime": True},
            {"id": 6, "appId": 2, "key": "API_KEY", "value": "s3cr3t-value", "secret": True, "buildTime": False,
             "runtime": True},
            {"id": 7, "appId": 2, "key": "NODE_ENV", "value": "production", "secret": False, "buildTime": True,
             "runtime": True},
        ]
        self.requests: list[tuple[str, str, dict, dict]] = []  # method, path, query, body
        self.admin = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        self.requests.append((request.method, path, dict(request.url.params), body))
        if request.headers.get("authorization") != "Bearer mist_tok":
            return error(401, "sign in first")
        if path == "/api/projects/getAll":
            data = PROJECTS
        elif path == "/api/apps/getByProjectId":
            data = APPS[body["projectId"]]
        elif path == "/api/deployment/getByAppId":
            data = [{**DEPLOYMENT, "id": 11, "deployment_number": 3, "status": "success", "stage": "completed",
                     "progress": 100, "duration": 75, "is_active": True}] if body["appId"] == 2 else []
        elif path == "/api/deployment/add":
            return httpx.Response(200, json={**DEPLOYMENT, "app_id": body["appId"]})
        elif path == "/api/settings":
            if not self.admin:
                return error(403, "only the owner and admins can read Mist's settings")
            data = {"settings": SETTINGS}
        elif path == "/api/apps/settings":
            data = {"appId": int(request.url.params["appId"]), "settings": APP_SETTINGS}
        elif path.startswith("/api/apps/container/"):
            return self.container(request.method, path.rsplit("/", 1)[1], request.url.params)
        elif path.startswith("/api/apps/envs/"):
            return self.env(request.method, path.rsplit("/", 1)[1], body)
        else:
            return error(404, f"no route {path}")
        return httpx.Response(200, json={"success": True, "message": "OK", "data": data})

    def container(self, method: str, action: str, params: httpx.QueryParams) -> httpx.Response:
        if int(params["appId"]) != 2:
            if action != "status":
                return error(409, NOT_DEPLOYED)
            data = dict.fromkeys(CONTAINER)
            data.update(appId=int(params["appId"]), state="not_deployed", health="none", restarts=0)
            return httpx.Response(200, json={"success": True, "message": "OK", "data": data})
        if action in ("start", "stop", "restart"):
            assert method == "POST"
            data = {**CONTAINER, "uptime": 0}
            if action == "stop":
                data.update(state="exited", health="unhealthy", uptime=None, exitCode=0)
        elif action == "status":
            data = CONTAINER
        else:
            data = {"logs": "\n".join(CONTAINER_LOG[-int(params["tail"]):])}
        return httpx.Response(200, json={"success": True, "message": "OK", "data": data})

    def env(self, method: str, action: str, body: dict) -> httpx.Response:
        def shown(env: dict) -> dict:
            return {**env, "value": None if env["secret"] else env["value"]}

        if action == "get":
            data = [shown(e) for e in self.envs if e["appId"] == body["appId"]]
            return httpx.Response(200, json={"success": True, "message": "OK", "data": data})
        if action == "create":
            assert method == "POST"
            if any(e["key"] == body["key"] for e in self.envs if e["appId"] == body["appId"]):
                return error(409, f"the app already has an env var '{body['key']}'; update it instead")
            if "${{" in body["value"] and "${{db." not in body["value"]:
                return error(400, f"{body['key']}: no app in this project is named in {body['value']}")
            env = {"id": 100 + len(self.envs), "runtime": True, **body}
            self.envs.append(env)
            return httpx.Response(200, json={"success": True, "message": "created",
                                             "data": {**shown(env), "actionRequired": "redeploy"}})
        env = next(e for e in self.envs if e["id"] == body["id"])
        if action == "update":
            assert method == "PUT"
            before = dict(env)
            env.update({k: v for k, v in body.items() if k != "id" and v is not None})
            action_required = "none" if env == before else "redeploy"
            return httpx.Response(200, json={"success": True, "message": "updated",
                                             "data": {**shown(env), "actionRequired": action_required}})
        assert method == "DELETE"
        self.envs.remove(env)
        return httpx.Response(200, json={"success": True, "message": "deleted", "data": {"actionRequired": "redeploy"}})


@pytest.fixture
def fake_mist() -> FakeMist:
    return FakeMist()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_mist: FakeMist):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("MIST_URL", "http://mist.test")
    monkeypatch.setenv("MIST_TOKEN", "mist_tok")
    monkeypatch.setattr(commands, "connect", lambda: MistAPI("http://mist.test", "mist_tok",
                                                             transport=httpx.MockTransport(fake_mist)))

    def with_socket(*connections) -> Script:
        """The next WebSockets (of a deployment or a container) play these scripts."""
        script = Script(*connections)
        monkeypatch.setattr(commands, "DeploymentWatch",
                            partial(DeploymentWatch, connector=script, sleep=lambda s: None))
        monkeypatch.setattr(commands, "ContainerLogWatch",
                            partial(ContainerLogWatch, connector=script, sleep=lambda s: None))
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
    monkeypatch.setattr(
        commands, "MistAPI", lambda url, token=None: real(url, token, transport=httpx.MockTransport(server))
    )
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


# ---------------------------------------------------------------------------- the running container


def container_log(stamp: str, line: str) -> str:
    return json.dumps({"type": "log", "timestamp": "t", "data": {"timestamp": stamp, "line": line}})


def container_state(state: str) -> str:
    return json.dumps({"type": "status", "timestamp": "t", "data": {"state": state}})


@pytest.mark.parametrize("argv", [["container", "status", "worker"], ["status", "2"]])
def test_container_status_is_a_small_table(fake, fake_mist, capsys, argv) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    for row in ("app", "state", "health", "uptime", "deployment", "image", "restarts", "limits"):
        assert row in out
    for value in ("worker (id 2)", "running", "healthy", "2h 05m", "#3 (id 11)", "mist-app-2 (c0ffee012345)",
                  "mist-app-2:11", "0.5 CPU, 256 MiB", "unless-stopped"):
        assert value in out
    assert ("GET", "/api/apps/container/status", {"appId": "2"}, {}) in fake_mist.requests
    assert ("GET", "/api/apps/settings", {"appId": "2"}, {}) in fake_mist.requests


def test_status_shows_the_apps_settings_with_their_source(fake, capsys) -> None:
    assert main(["status", "worker"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["SETTING", "VALUE", "SOURCE"] in rows
    for row in (["restart", "policy", "always", "global"], ["cpu", "limit", "0.5", "CPU", "app"],
                ["memory", "limit", "none", "default"], ["update", "strategy", "rolling", "default"],
                ["health", "check", "GET", "/health", "app"], ["health", "interval", "2", "s", "default"],
                ["health", "stage", "limit", "300", "s", "default"], ["somethingNewer", "7", "app"]):
        assert row in rows


def test_settings_prints_key_value_source(fake, fake_mist, capsys) -> None:
    assert main(["settings"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["KEY", "VALUE", "SOURCE"] in rows
    for row in (["MIST_HOST", "0.0.0.0", "command", "line"],
                ["MIST_DATABASE_URL", "postgresql+psycopg://mist:********@db.internal/mist", "environment"],
                ["MIST_RESERVED_DOMAINS", "admin.example.com,", "internal.example.com", "environment"],
                ["MIST_TEMPLATE_IMAGES", "-", "default"], ["MIST_DRAIN_SECONDS", "1.5", "default"],
                ["MIST_PROXY_TLS", "false", "default"], ["MIST_GIT_CA_FILE", "-", "default"]):
        assert row in rows
    assert fake_mist.requests[-1][:2] == ("GET", "/api/settings")


def test_settings_for_a_plain_user_is_the_servers_refusal(fake, fake_mist, capsys) -> None:
    fake_mist.admin = False
    assert main(["settings"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: only the owner and admins can read Mist's settings\n"
    assert captured.out == ""


@pytest.mark.parametrize(
    ("action", "expect"),
    [("start", "container of worker started: running, healthy, deployment #3"),
     ("stop", "container of worker stopped: exited (exit code 0), deployment #3"),
     ("restart", "container of worker restarted: running, healthy, deployment #3")],
)
def test_container_control(fake, fake_mist, capsys, action, expect) -> None:
    assert main(["container", action, "worker"]) == 0
    assert expect in capsys.readouterr().out
    # The query names the app; there is no body.
    assert fake_mist.requests[-1] == ("POST", f"/api/apps/container/{action}", {"appId": "2"}, {})


@pytest.mark.parametrize(
    "argv", [["container", "restart", "3"], ["container", "stop", "3"], ["container", "logs", "3"]],
)
def test_a_container_refusal_is_the_server_message_without_traceback(fake, capsys, argv) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: {NOT_DEPLOYED}\n"
    assert captured.out == ""


def test_the_status_of_an_app_never_deployed(fake, capsys) -> None:
    assert main(["container", "status", "3"]) == 0
    out = capsys.readouterr().out
    assert "not deployed" in out and "no container yet: mist deploy 3" in out
    assert "uptime" not in out


def test_container_logs_prints_the_last_lines_unchanged(fake, fake_mist, capsys) -> None:
    assert main(["container", "logs", "worker", "--tail", "2"]) == 0
    assert capsys.readouterr().out == "2024-05-01T10:00:03.5Z line 3\n2024-05-01T10:00:04.5Z line 4\n"
    assert fake_mist.requests[-1][1:3] == ("/api/apps/container/logs", {"appId": "2", "tail": "2"})


def test_container_logs_follow_prints_lines_and_states_until_ctrl_c(fake, capsys) -> None:
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    script = fake(
        [container_log("2024-05-01T10:00:00.5Z", "a"), container_log("2024-05-01T10:00:01Z", "b"),
         container_log("2024-05-01T10:00:01Z", "b2"),  # same timestamp, still a line of its own
         container_state("exited"), ConnectionClosedError(Close(1006, ""), None)],
        # Resumed: the server sends the recent lines again, and the state of the stopped container.
        [container_log("2024-05-01T10:00:00.5Z", "a"), container_log("2024-05-01T10:00:01Z", "b"),
         container_log("2024-05-01T10:00:01Z", "b2"), container_state("exited"),
         container_log("2024-05-01T10:00:01Z", "c"),  # a third line in the same nanosecond is new
         container_log("2024-05-01T10:00:01.000000001Z", "d\x1b[0m [not markup]"), container_state("exited"),
         KeyboardInterrupt()],
    )
    assert main(["container", "logs", "worker", "-f"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (
        "2024-05-01T10:00:00.5Z a\n2024-05-01T10:00:01Z b\n2024-05-01T10:00:01Z b2\n==> container exited\n"
        "2024-05-01T10:00:01Z c\n2024-05-01T10:00:01.000000001Z d\x1b[0m [not markup]\n==> container exited\n"
    )
    assert "reconnecting" in captured.err and "Traceback" not in captured.err
    assert script.urls == ["ws://mist.test/ws/container/logs?appId=2&tail=100",
                           "ws://mist.test/ws/container/logs?appId=2&tail=1000"]
    assert script.headers[0] == {"Authorization": "Bearer mist_tok"}


def test_a_quiet_container_stream_that_drops_is_resumed() -> None:
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    now = [0.0]
    urls: list[str] = []

    @contextmanager
    def connector(url: str, headers: dict):
        urls.append(url)

        def frames():
            if len(urls) == 1:
                yield container_log("2024-05-01T10:00:00Z", "a")
                now[0] += 3600  # an hour without a line, then the server restarts
                raise ConnectionClosedError(Close(1012, "restart"), None)
            yield container_log("2024-05-01T10:00:00Z", "a")
            yield container_log("2024-05-01T11:00:00Z", "b")
            raise KeyboardInterrupt

        yield frames()

    watch = ContainerLogWatch("ws://mist.test", 2, "mist_tok", connector=connector, clock=lambda: now[0],
                              sleep=lambda s: now.__setitem__(0, now[0] + s))
    lines = []
    with pytest.raises(KeyboardInterrupt):
        for msg in watch.messages():
            lines.append(msg["data"]["line"])
    assert lines == ["a", "b"] and len(urls) == 2


def test_container_logs_follow_ends_on_an_error(fake, capsys) -> None:
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    failure = json.dumps({"type": "error", "timestamp": "t", "data": {"message": "cannot follow the logs"}})
    fake([container_log("2024-05-01T10:00:00Z", "a"), failure])
    assert main(["container", "logs", "worker", "--follow", "--tail", "0"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "2024-05-01T10:00:00Z a\n"
    assert captured.err == "error: cannot follow the logs\n"

    body = json.dumps({"success": False, "message": NOT_DEPLOYED, "data": None}).encode()
    script = fake(InvalidStatus(Response(409, "Conflict", Headers(), body)))
    assert main(["container", "logs", "2", "--follow", "--tail", "0"]) == 1
    assert capsys.readouterr().err == f"error: {NOT_DEPLOYED}\n"
    assert script.urls == ["ws://mist.test/ws/container/logs?appId=2&tail=0"]


def test_container_logs_follow_on_a_terminal(fake) -> None:
    fake([container_log("2024-05-01T10:00:00Z", "\x1b[31mred\x1b[0m [bold]literal"), container_state("exited"),
          KeyboardInterrupt()])
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system="standard")
    assert commands.follow_container(commands.connect(), {"id": 2, "name": "worker"}, 10, console) == 0
    out = buf.getvalue()
    assert "\x1b[2m2024-05-01T10:00:00Z" in out  # the timestamp dimmed
    assert "\x1b[31mred" in out and "[bold]literal" in out
    assert "container exited" in out


@pytest.mark.parametrize("tail", ["-1", "x", "10001"])
def test_the_tail_is_a_number_of_lines(capsys, tail) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["container", "logs", "worker", "--tail", tail])
    assert exit_.value.code == 2
    assert "is not a number of lines from 0 to 10000" in capsys.readouterr().err


# ---------------------------------------------------------------------------- env vars


def test_env_list_masks_secrets(fake, capsys) -> None:
    assert main(["env", "list", "worker"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "hello" in lines["GREETING"] and "runtime" in lines["GREETING"]
    assert "********" in lines["API_KEY"] and "s3cr3t" not in out
    assert "production" in lines["NODE_ENV"] and "build, runtime" in lines["NODE_ENV"]


def test_env_list_of_an_app_without_vars(fake, capsys) -> None:
    assert main(["env", "list", "1"]) == 0
    assert "web has no env vars: mist env set 1 KEY=VALUE" in capsys.readouterr().out


def test_env_set_creates_new_keys_and_updates_existing_ones(fake, fake_mist, capsys) -> None:
    assert main(["env", "set", "worker", "GREETING=hi there", "DATABASE_URL=${{db.URL}}", "EMPTY="]) == 0
    out = capsys.readouterr().out
    assert "updated GREETING\ncreated DATABASE_URL\ncreated EMPTY\nredeploy to apply: mist deploy worker\n" in out
    writes = [r for r in fake_mist.requests if r[1] != "/api/apps/envs/get" and r[1].startswith("/api/apps/envs/")]
    assert writes == [
        ("PUT", "/api/apps/envs/update", {}, {"id": 5, "value": "hi there"}),  # the flags are kept
        ("POST", "/api/apps/envs/create", {}, {"appId": 2, "key": "DATABASE_URL", "value": "${{db.URL}}",
                                               "secret": False, "buildTime": False}),
        ("POST", "/api/apps/envs/create", {}, {"appId": 2, "key": "EMPTY", "value": "", "secret": False,
                                               "buildTime": False}),
    ]


def test_env_set_secret_and_build_time(fake, fake_mist, capsys) -> None:
    assert main(["env", "set", "2", "GREETING=hello", "TOKEN=abc", "--secret", "--build-time"]) == 0
    out = capsys.readouterr().out
    assert "updated GREETING (secret)\ncreated TOKEN (secret)\n" in out
    assert fake_mist.requests[-2][3] == {"id": 5, "value": "hello", "secret": True, "buildTime": True}
    assert fake_mist.requests[-1][3] == {"appId": 2, "key": "TOKEN", "value": "abc", "secret": True,
                                         "buildTime": True}


def test_env_set_of_the_same_value_needs_nothing(fake, capsys) -> None:
    assert main(["env", "set", "worker", "GREETING=hello"]) == 0
    assert "nothing to apply" in capsys.readouterr().out


def test_env_set_stopped_by_an_error_says_what_was_saved(fake, fake_mist, capsys) -> None:
    assert main(["env", "set", "worker", "FIRST=1", "BAD=${{nope.URL}}", "LAST=3"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "created FIRST\nredeploy to apply: mist deploy worker\n"
    assert captured.err == "error: BAD: no app in this project is named in ${{nope.URL}}\n"
    assert "LAST" not in {e["key"] for e in fake_mist.envs}


@pytest.mark.parametrize(
    ("pair", "message"),
    [("NOVALUE", "'NOVALUE' is not KEY=VALUE"), ("1X=a", "'1X' is not a variable name"),
     ("=a", "'' is not a variable name")],
)
def test_env_set_checks_the_pairs_first(capsys, pair, message) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["env", "set", "worker", "A=1", pair])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_env_set_refuses_a_key_given_twice(fake, fake_mist, capsys) -> None:
    assert main(["env", "set", "worker", "A=1", "A=2"]) == 1
    assert capsys.readouterr().err == "error: A given more than once\n"
    assert fake_mist.requests == []


def test_env_set_help_shows_a_quoted_reference(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["env", "set", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "mist env set web 'DATABASE_URL=${{db.URL}}'" in out
    assert "single" in out and "quotes" in out


def test_env_unset(fake, fake_mist, capsys) -> None:
    assert main(["env", "unset", "worker", "GREETING", "API_KEY"]) == 0
    assert capsys.readouterr().out == "deleted GREETING\ndeleted API_KEY\nredeploy to apply: mist deploy worker\n"
    assert [e["key"] for e in fake_mist.envs] == ["NODE_ENV"]
    assert [r[3] for r in fake_mist.requests if r[0] == "DELETE"] == [{"id": 5}, {"id": 6}]


def test_env_unset_of_an_unknown_key_deletes_nothing(fake, fake_mist, capsys) -> None:
    assert main(["env", "unset", "worker", "GREETING", "NOPE"]) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: worker has no env var NOPE (see `mist env list worker`); nothing was deleted\n"
    assert "Traceback" not in captured.err and len(fake_mist.envs) == 3


def test_the_action_hint_names_the_command_to_run(capsys) -> None:
    console = commands.stdout_console()
    commands.print_action(console, commands._strongest(["none", "restart"]), "shop-web")
    commands.print_action(console, commands._strongest(["restart", "redeploy", "none"]), "3")
    assert capsys.readouterr().out == (
        "restart to apply: mist container restart shop-web\nredeploy to apply: mist deploy 3\n"
    )
