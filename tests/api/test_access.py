"""mist.api.access in the app: an open container-log socket ends (1008) once its caller loses access.
The container is a stand-in, so no engine is needed; the real server's attacks are in tests/security."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketState
from support.client import MistClient

from mist.api.access import POLICY_VIOLATION, AccessWatch, guarded
from mist.deploy.events import message


@pytest.fixture
def watched(http: TestClient, mist: MistClient) -> SimpleNamespace:
    """An app of the owner's project with a running stand-in container, and mallory, a member,
    signed in on `http`; the owner acts through an admin token."""
    mist.signup()
    owner_token = mist.post("/api/tokens/create", {"name": "owner", "scope": "admin"})["data"]["token"]
    member = mist.create_user("mallory")
    project = mist.project()
    mist.put("/api/projects/updateMembers", {"userIds": [member["id"]]}, id=project["id"])
    app = mist.app(project["id"], "web", "https://git.example.com/acme/shop.git", port=8000)

    containers = http.app.state.services.containers
    real_target = containers.target

    async def target(user, app_id):  # noqa: ANN001, ANN202 - the real access check, a pretend container
        await real_target(user, app_id)
        return SimpleNamespace(app_id=app_id, require_container=lambda: "c0ffee")

    async def follow(_target, _tail) -> AsyncIterator[str]:  # noqa: ANN001
        while True:
            yield json.dumps(message("log", {"timestamp": "", "line": "tick"}))
            await asyncio.sleep(0.1)

    containers.target, containers.follow = target, follow
    mist.login("mallory@example.com")
    return SimpleNamespace(app=app, project=project, owner={"Authorization": f"Bearer {owner_token}"})


def closed_with(ws, timeout: float = 15) -> int | None:  # noqa: ANN001 - a TestClient WebSocket session
    """Reads until the server closes; the close code, or None if it kept streaming past `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = ws.receive()
        if msg["type"] == "websocket.close":
            return msg["code"]
        assert json.loads(msg["text"])["type"] == "log"
    return None


def test_removal_from_the_project_closes_an_open_container_log_socket(
    http: TestClient, watched: SimpleNamespace
) -> None:
    with http.websocket_connect(f"/ws/container/logs?appId={watched.app['id']}") as ws:
        assert ws.receive_json()["data"]["line"] == "tick"
        response = http.put("/api/projects/updateMembers", params={"id": watched.project["id"]},
                            json={"userIds": []}, headers=watched.owner)
        assert response.status_code == 200
        assert closed_with(ws) == POLICY_VIOLATION


def test_signing_out_closes_it_and_a_caller_who_keeps_access_keeps_it(
    http: TestClient, watched: SimpleNamespace
) -> None:
    with http.websocket_connect(f"/ws/container/logs?appId={watched.app['id']}") as ws:
        assert closed_with(ws, timeout=5) is None  # two passes of the watch: still allowed
        assert http.post("/api/auth/logout").status_code == 200
        assert closed_with(ws) == POLICY_VIOLATION


class FakeSocket:
    """Just what `guarded` and `AccessWatch.watch` touch of a WebSocket."""

    def __init__(self, watch: AccessWatch) -> None:
        self.app = SimpleNamespace(state=SimpleNamespace(access=watch))
        self.state = SimpleNamespace()
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}
        self.application_state = WebSocketState.CONNECTED
        self.closed: list[int] = []

    async def close(self, code: int, reason: str = "") -> None:
        self.closed.append(code)
        self.application_state = WebSocketState.DISCONNECTED


def run_endpoint(revoke: bool) -> FakeSocket:
    """Runs a guarded endpoint that waits forever, then cancels it as the watch or a shutdown would."""
    watch = AccessWatch(db=None, interval=3600)  # no pass runs: the test plays the watch's part
    socket = FakeSocket(watch)

    @guarded
    async def endpoint(websocket: FakeSocket) -> None:
        watch.watch(websocket, lambda _session, _user, _target: None, 1)
        await asyncio.sleep(3600)

    async def main() -> None:
        task = asyncio.create_task(endpoint(socket))
        await asyncio.sleep(0)
        entry = socket.state.access
        entry.revoked = revoke
        entry.task.cancel()
        try:
            await task
        finally:
            await watch.stop()

    asyncio.run(main())
    return socket


def test_a_revoked_endpoint_ends_quietly_with_1008() -> None:
    assert run_endpoint(revoke=True).closed == [POLICY_VIOLATION]


def test_any_other_cancellation_goes_on_as_usual() -> None:
    with pytest.raises(asyncio.CancelledError):
        run_endpoint(revoke=False)


def test_one_pass_checks_each_caller_and_stream_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hundred watchers of one deployment cost one identification and one check per pass."""
    from mist.api import access as access_module

    identified: list[tuple] = []
    checked: list[int] = []
    monkeypatch.setattr(access_module, "identify", lambda _s, *key: identified.append(key) or (object(), "admin"))

    def check(_session, _user, target: int) -> None:  # noqa: ANN001
        checked.append(target)
        if target == 2:
            raise access_module.MistError("gone")

    entries = [access_module._Watched("cookie", None, check, target, task=None) for target in [1] * 100 + [2] * 3]
    lost = access_module._lost(SimpleNamespace(rollback=lambda: None), entries)
    assert identified == [("cookie", None)] and sorted(checked) == [1, 2]
    assert [e.target for e in lost] == [2, 2, 2]
