"""Attacks on the log paths through a real server on the real engine: watchers that pin threads,
lines without an end, builds whose lines the engine cuts, logs without a bound, secrets in an
error message."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer
from support.server import MistServer
from websockets.sync.client import connect

from mist.lines import CONTINUED, MAX_LINE_BYTES

pytestmark = pytest.mark.docker

RESPONSIVE_SECONDS = 30  # "did it answer at all": a starved server never does

CHATTY = """\
FROM mist-test/busybox:1
CMD ["sh", "-c", "i=0; while true; do i=$((i+1)); echo chatty-$i; sleep 0.02; done"]
"""
QUIET = """\
FROM mist-test/busybox:1
CMD ["sleep", "3600"]
"""
# 50 MiB without a newline, then a marker once the line has ended.
ENDLESS_LINE = """\
FROM mist-test/busybox:1
CMD ["sh", "-c", "head -c 52428800 /dev/zero | tr '\\\\0' a; echo; echo after-the-long-line; sleep 3600"]
"""


def deploy(owner: MistClient, git: GitServer, name: str, dockerfile: str, **fields) -> tuple[dict, dict]:  # noqa: ANN003
    repo = f"{name}-{uuid.uuid4().hex[:8]}"
    git.create_repo(repo, {"Dockerfile": dockerfile})
    project = owner.project(f"p-{repo}")
    app = owner.app(project["id"], name, git.url_for(repo), appType="service", **fields)
    deployment = owner.deploy(app["id"])
    return app, deployment


def deployed(owner: MistClient, git: GitServer, name: str, dockerfile: str) -> dict:
    """An app whose first deployment succeeded."""
    app, deployment = deploy(owner, git, name, dockerfile)
    assert owner.wait_final(app["id"], deployment["id"])["status"] == "success", owner.logs(deployment["id"])
    return app


@pytest.fixture
def server_factory(engine_server_factory: Callable[..., MistServer]) -> Callable[..., MistServer]:
    """These attacks need the engine: the `server` and `owner` fixtures run on it here."""
    return engine_server_factory


def cookie(client: MistClient) -> dict[str, str]:
    return {"Cookie": f"mist_session={client.http.cookies['mist_session']}"}


class Watcher(threading.Thread):
    """Reads one log WebSocket until it closes or `stop` is set, keeping every message."""

    def __init__(self, url: str, headers: dict[str, str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.stop = url, headers, stop
        self.messages: list[dict] = []
        self.opened = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connect(self.url, additional_headers=self.headers, open_timeout=60,
                         max_size=None) as ws:
                self.opened.set()
                while not self.stop.is_set():
                    try:
                        raw = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    self.messages.append(json.loads(raw))
        except Exception as exc:  # noqa: BLE001 - a closed socket ends the watch; kept for asserts
            self.error = exc
        finally:
            self.opened.set()

    def lines(self) -> list[str]:
        return [m["data"]["line"] for m in self.messages if m["type"] == "log"]


@contextmanager
def watchers(urls: list[str], headers: dict[str, str]) -> Iterator[list[Watcher]]:
    stop = threading.Event()
    started = [Watcher(url, headers, stop) for url in urls]
    for watcher in started:
        watcher.start()
    try:
        for watcher in started:
            watcher.opened.wait(60)
        yield started
    finally:
        stop.set()
        for watcher in started:
            watcher.join(30)


def answers(server: MistServer, client: MistClient, app_id: int) -> None:
    """The API answers, within a generous limit, for reads that need the database's threads."""
    with httpx.Client(base_url=server.url, timeout=RESPONSIVE_SECONDS, cookies=client.http.cookies) as http:
        assert http.get("/api/auth/me").status_code == 200
        assert http.post("/api/deployment/getByAppId", json={"appId": app_id}).status_code == 200


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_twenty_container_log_watchers_do_not_starve_the_server(
    server: MistServer, owner: MistClient, images: dict[str, str], git_server: GitServer
) -> None:
    chatty = deployed(owner, git_server, "chatty", CHATTY)

    url = f"{server.ws_url}/ws/container/logs?appId={chatty['id']}&tail=5"
    with watchers([url] * 20, cookie(owner)) as open_:
        wait_for(lambda: all(any("chatty-" in line for line in w.lines()) for w in open_),
                 "every watcher to get lines")
        # Each watcher used to pin one of the loop's 6 default-pool threads for good.
        answers(server, owner, chatty["id"])
        other, deployment = deploy(owner, git_server, "other", QUIET)
        assert owner.wait_final(other["id"], deployment["id"], timeout=180)["status"] == "success"
        answers(server, owner, other["id"])
        assert all(w.error is None for w in open_), [w.error for w in open_]


def test_a_line_without_end_is_streamed_in_capped_pieces_and_the_server_stays_responsive(
    server: MistServer, owner: MistClient, images: dict[str, str], git_server: GitServer
) -> None:
    app = deployed(owner, git_server, "endless", ENDLESS_LINE)

    url = f"{server.ws_url}/ws/container/logs?appId={app['id']}&tail=10000"
    with watchers([url], cookie(owner)) as (watcher,):
        while not any("after-the-long-line" in line for line in watcher.lines()):
            answers(server, owner, app["id"])  # while the 50 MiB go through
            assert watcher.is_alive(), watcher.error
            time.sleep(0.5)
    lines = watcher.lines()
    assert all(len(line.removeprefix(CONTINUED).encode()) <= MAX_LINE_BYTES for line in lines)
    assert sum(line.count("a") for line in lines if "after-the-long-line" not in line) == 50 * 1024 * 1024
    assert sum(line.startswith(CONTINUED) for line in lines) >= 50 * 1024 * 1024 // MAX_LINE_BYTES - 1


def test_build_lines_arrive_whole_and_in_order_whatever_the_engine_cuts(
    server: MistServer, owner: MistClient, images: dict[str, str], git_server: GitServer
) -> None:
    padding = "padding-" * 12
    dockerfile = (
        "FROM mist-test/busybox:1\n"
        # The nonce keeps the step out of the build cache, which would print nothing.
        f"RUN echo nonce-{uuid.uuid4().hex}; i=1; while [ $i -le 3000 ];"
        f' do echo "mist-line-$i {padding}"; i=$((i+1)); done\n'
        'CMD ["sleep", "3600"]\n'
    )
    expected = [f"mist-line-{n} {padding}" for n in range(1, 3001)]
    app, deployment = deploy(owner, git_server, "printer", dockerfile)
    url = f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}"
    with watchers([url], cookie(owner)) as (watcher,):
        assert owner.wait_final(app["id"], deployment["id"])["status"] == "success", owner.logs(deployment["id"])
        wait_for(lambda: not watcher.is_alive(), "the socket to close after the final status")
    stored = owner.logs(deployment["id"]).splitlines()
    assert [line for line in stored if line.startswith("mist-line-")] == expected
    assert [line for line in watcher.lines() if line.startswith("mist-line-")] == expected


def test_a_build_log_is_capped_in_line_and_in_size_and_says_what_was_cut(
    server_factory: Callable[..., MistServer], images: dict[str, str], git_server: GitServer
) -> None:
    dockerfile = (
        "FROM mist-test/busybox:1\n"
        f"RUN echo nonce-{uuid.uuid4().hex}; head -c 5242880 /dev/zero | tr '\\0' b; echo; echo end-of-build-output\n"
        'CMD ["sleep", "3600"]\n'
    )
    server = server_factory(log_max_mb="1")
    with httpx.Client(base_url=server.url, timeout=120) as http:
        owner = MistClient(http)
        owner.signup()
        app = deployed(owner, git_server, "flood", dockerfile)
        answers(server, owner, app["id"])
        response = http.get(f"/api/deployment/logs/{owner.deployments(app['id'])[0]['id']}")
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        stored = response.text.splitlines()
    assert len(response.content) < 1024 * 1024 + 1024
    assert all(len(line.removeprefix(CONTINUED).encode()) <= MAX_LINE_BYTES for line in stored)
    assert any(line.startswith(CONTINUED + "bbbb") for line in stored)
    assert "end-of-build-output" not in stored  # past the cap
    assert stored[-2].startswith("[mist] log truncated: reached MIST_LOG_MAX_MB=1; ")
    assert stored[-1] == "Deployment completed successfully"


def test_a_secret_in_a_build_error_is_redacted_from_error_message(
    server: MistServer, owner: MistClient, images: dict[str, str], git_server: GitServer
) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    # The builder expands the build arg into its own error: "stat tok-...: file does not exist".
    dockerfile = "FROM mist-test/busybox:1\nARG TOKEN\nCOPY $TOKEN /x\n"
    app, deployment = deploy(owner, git_server, "leaky", dockerfile, envVars=[
        {"key": "TOKEN", "value": token, "secret": True, "buildTime": True},
    ])
    final = owner.wait_final(app["id"], deployment["id"])
    assert final["status"] == "failed"
    assert "********" in final["error_message"] and token not in json.dumps(final)
    url = f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}"
    with watchers([url], cookie(owner)) as (watcher,):
        wait_for(lambda: not watcher.is_alive(), "the socket to close")
    assert token not in json.dumps(watcher.messages)
    assert token not in owner.logs(deployment["id"])
