"""WS /ws/deployment/logs on a real server: replay, live lines, status changes, close at the end."""

from __future__ import annotations

import json
import threading
import uuid

import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer
from support.server import MistServer
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

SLOW = """\
FROM mist-test/busybox:1
RUN echo nonce-{nonce} && for i in 1 2 3 4 5 6; do echo tick-$i; sleep 0.5; done
CMD ["sh", "-c", "sleep 3600"]
"""


def watch(server: MistServer, owner: MistClient, deployment_id: int) -> list[dict]:
    """Every message until the server closes the connection."""
    cookie = f"mist_session={owner.http.cookies['mist_session']}"
    messages = []
    with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment_id}",
                 additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
        for raw in ws:  # ends when the server closes
            messages.append(json.loads(raw))
    return messages


def test_watchers_get_replay_then_live_lines_and_every_status_then_close(
    server: MistServer, owner: MistClient, git_server: GitServer
) -> None:
    repo = f"ws-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": SLOW.format(nonce=uuid.uuid4().hex)})
    project = owner.project()
    app = owner.app(project["id"], "ticker", git_server.url_for(repo), appType="service")
    deployment = owner.deploy(app["id"])

    results: dict[int, list[dict]] = {}

    def watcher(n: int) -> None:
        results[n] = watch(server, owner, deployment["id"])

    threads = [threading.Thread(target=watcher, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stored = owner.logs(deployment["id"]).splitlines()

    for messages in results.values():
        lines = [m for m in messages if m["type"] == "log"]
        # Replay and live stream together: every stored line once, in order.
        assert [m["data"]["line"] for m in lines] == stored
        assert [m["seq"] for m in lines] == list(range(len(stored)))
        statuses = [m["data"] for m in messages if m["type"] == "status"]
        stages = [s["stage"] for s in statuses]
        # The zero-downtime order: the new container starts before the old one stops.
        assert stages[-4:] == ["building_image", "starting_new", "stopping_old", "completed"]
        assert statuses[-1]["status"] == "success" and statuses[-1]["progress"] == 100
        assert [s["progress"] for s in statuses] == sorted(s["progress"] for s in statuses)
        assert messages[-1]["type"] == "status"
        assert all(set(m) >= {"type", "timestamp", "data"} and m["timestamp"].endswith("Z") for m in messages)
        assert set(statuses[-1]) == {"deployment_id", "status", "stage", "progress", "message", "error_message"}
    # At least one watcher joined before the build ended and saw lines arrive live.
    assert any("building" in [m["data"]["status"] for m in r if m["type"] == "status"] for r in results.values())
    assert any("tick-6" in line for line in stored)

    # After the end: the stored lines, the final status, and the close.
    late = watch(server, owner, deployment["id"])
    assert [m["data"]["line"] for m in late if m["type"] == "log"] == stored
    assert [m["type"] for m in late[-1:]] == ["status"] and late[-1]["data"]["status"] == "success"


def test_a_failed_deployment_sends_an_error_then_the_final_status(
    server: MistServer, owner: MistClient, git_server: GitServer
) -> None:
    repo = f"ws-fail-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": "FROM mist-test/busybox:1\nRUN exit 7\n"})
    app = owner.app(owner.project()["id"], "broken", git_server.url_for(repo), appType="service")
    deployment = owner.deploy(app["id"])
    owner.wait_final(app["id"], deployment["id"])
    messages = watch(server, owner, deployment["id"])
    assert [m["type"] for m in messages[-2:]] == ["error", "status"]
    assert "non-zero code: 7" in messages[-2]["data"]["message"]
    assert messages[-1]["data"]["status"] == "failed"
    assert messages[-1]["data"]["error_message"] == messages[-2]["data"]["message"]


def test_only_members_may_watch(server: MistServer, owner: MistClient, git_server: GitServer) -> None:
    repo = f"ws-auth-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": "FROM mist-test/busybox:1\n"})
    app = owner.app(owner.project()["id"], "private", git_server.url_for(repo), appType="service")
    deployment = owner.deploy(app["id"])
    url = f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}"
    with pytest.raises(InvalidStatus) as anonymous:
        connect(url, open_timeout=10)
    assert anonymous.value.response.status_code == 401
    owner.create_user("mallory")
    with httpx.Client(base_url=server.url) as http:
        outsider = MistClient(http)
        outsider.login("mallory@example.com")
        cookie = f"mist_session={http.cookies['mist_session']}"
        with pytest.raises(InvalidStatus) as denied:
            connect(url, additional_headers={"Cookie": cookie}, open_timeout=10)
        assert denied.value.response.status_code == 404
        assert outsider.http.get(f"/api/deployment/logs/{deployment['id']}").status_code == 404
