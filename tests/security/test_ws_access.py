"""Attack: keep watching after losing access. A member opens a deployment's live log, then is removed
from the project, disabled, deleted, signed out, or has their token revoked; the socket, authorised
once at its handshake, went on streaming. It is closed (1008, policy violation) within seconds.

The deployment stays open (running, in its clone stage) without any engine: it deploys a commit
pushed through the webhook, which the worker must fetch from a remote that never answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
from support.client import MistClient
from support.server import MistServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

if TYPE_CHECKING:
    from security.conftest import Team

POLICY_VIOLATION = 1008
COMMIT = "c0ffee" * 6 + "c0ff"


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """A git:// remote that takes connections (into the listen backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"git://127.0.0.1:{sock.getsockname()[1]}/stuck.git"


@pytest.fixture
def running(team: Team, server: MistServer, silent_remote: str) -> int:
    """A deployment of the team's project that stays in its clone stage."""
    app = team.owner.app(team.project_id, "web", silent_remote, port=8000)
    secret = team.owner.post("/api/apps/webhook", {"appId": app["id"]})["data"]["secret"]
    body = json.dumps({"ref": "refs/heads/main", "after": COMMIT,
                       "head_commit": {"id": COMMIT, "message": "stuck"}}).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = team.owner.http.post(f"/api/webhooks/{app['id']}", content=body, headers={
        "X-GitHub-Event": "push", "X-GitHub-Delivery": "1", "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["data"], response.text
    deployment = response.json()["data"]["id"]
    deadline = time.monotonic() + 60
    while team.owner.deployment(app["id"], deployment)["status"] != "building":
        assert time.monotonic() < deadline, "the deployment never started"
        time.sleep(0.2)
    return deployment


@contextmanager
def watch(server: MistServer, deployment: int, headers: dict[str, str]) -> Iterator[ClientConnection]:
    with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment}",
                 additional_headers=headers, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] in ("log", "status")
        yield ws


def close_code(ws: ClientConnection, timeout: float = 20) -> int | None:
    """Reads until the server closes the socket; None if it was still open after `timeout`."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


def cookie_of(client: MistClient) -> dict[str, str]:
    return {"Cookie": f"mist_session={client.http.cookies['mist_session']}"}


def removed_from_project(team: Team, server: MistServer) -> None:
    team.owner.put("/api/projects/updateMembers", {"userIds": []}, id=team.project_id)


def signed_out_elsewhere(team: Team, server: MistServer) -> None:
    with httpx.Client(base_url=server.url, cookies=team.member.http.cookies, timeout=60) as other:
        assert other.post("/api/auth/logout").status_code == 200


def disabled(team: Team, server: MistServer) -> None:
    team.owner.put("/api/users/update", {"id": team.member_id, "disabled": True})


def deleted(team: Team, server: MistServer) -> None:
    response = team.owner.http.request("DELETE", "/api/users/delete", json={"id": team.member_id})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("lose_access", [removed_from_project, signed_out_elsewhere, disabled, deleted])
def test_a_member_who_loses_access_stops_watching(
    team: Team, server: MistServer, running: int, lose_access: Callable[[Team, MistServer], None]
) -> None:
    with watch(server, running, cookie_of(team.member)) as member, \
            watch(server, running, cookie_of(team.owner)) as owner:
        lose_access(team, server)
        assert close_code(member) == POLICY_VIOLATION
        assert close_code(owner, timeout=5) is None  # everyone else keeps watching


def test_a_revoked_token_stops_watching(team: Team, server: MistServer, running: int) -> None:
    token = team.member.post("/api/tokens/create", {"name": "cli", "scope": "read"})["data"]
    with watch(server, running, {"Authorization": f"Bearer {token['token']}"}) as ws:
        assert close_code(ws, timeout=5) is None
        response = team.member.http.request("DELETE", "/api/tokens/delete", json={"id": token["id"]})
        assert response.status_code == 200, response.text
        assert close_code(ws) == POLICY_VIOLATION
