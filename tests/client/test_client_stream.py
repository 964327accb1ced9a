"""Following a deployment over the WebSocket: each line once across reconnects, then the end."""

from __future__ import annotations

import json

import pytest
from cli_support import Script, log, status
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from mist.client.errors import ApiError, ConnectionFailed
from mist.client.stream import DeploymentWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def watch(script: Script, **kw) -> tuple[DeploymentWatch, list[str]]:
    clock = Clock()
    notices: list[str] = []
    w = DeploymentWatch("ws://mist.test", 7, "mist_tok", connector=script, sleep=clock.sleep, clock=clock,
                        on_reconnect=notices.append, **kw)
    return w, notices


def dropped() -> ConnectionClosedError:
    return ConnectionClosedError(Close(1006, ""), None)


def test_a_dropped_connection_is_resumed_without_repeating_lines() -> None:
    script = Script(
        [log(0, "one"), status("building", "cloning_repo", 25), log(1, "two"), dropped()],
        # The server replays every stored line on connect.
        [log(0, "one"), log(1, "two"), log(2, "three"), status("building", "building_image", 50), dropped()],
        OSError(111, "Connection refused"),  # the server is restarting
        [log(0, "one"), log(1, "two"), log(2, "three"), log(3, "four"), status("success", "completed", 100)],
        ["never read"],
    )
    w, notices = watch(script)
    messages = list(w.messages())
    lines = [m["data"]["line"] for m in messages if m["type"] == "log"]
    assert lines == ["one", "two", "three", "four"]
    assert w.final["status"] == "success"
    assert len(notices) == 2 and "no close frame" in notices[-1]  # once per outage
    assert script.urls[0] == "ws://mist.test/ws/deployment/logs?deploymentId=7"
    assert script.headers[0] == {"Authorization": "Bearer mist_tok"}
    assert len(script.connections) == 1  # stopped reading after the final status


def test_a_clean_close_before_the_final_status_also_reconnects() -> None:
    script = Script([log(0, "a")], [log(0, "a"), "not json", status("failed", "building_image", 50, "boom")])
    w, _ = watch(script)
    assert [m["type"] for m in w.messages()] == ["log", "status"]
    assert w.final["error_message"] == "boom"


def test_the_error_message_is_kept() -> None:
    error = json.dumps({"type": "error", "timestamp": "t", "data": {"message": "exit code 3"}})
    w, _ = watch(Script([log(0, "x"), error, status("failed", "building_image", 50, "exit code 3")]))
    list(w.messages())
    assert w.error == "exit code 3" and w.final["status"] == "failed"


def test_a_refusal_is_an_api_error_with_the_server_message() -> None:
    body = json.dumps({"success": False, "message": "deployment 7 not found", "data": None}).encode()
    refused = InvalidStatus(Response(404, "Not Found", Headers(), body))
    w, _ = watch(Script(refused))
    with pytest.raises(ApiError, match="deployment 7 not found") as err:
        list(w.messages())
    assert err.value.status == 404


def test_giving_up_names_the_url() -> None:
    w, _ = watch(Script(*[OSError(111, "Connection refused")] * 100), first_connect_for=3)
    with pytest.raises(ConnectionFailed, match="could not reach ws://mist.test/ws/deployment/logs"):
        list(w.messages())
    # After a connection worked, it keeps trying longer, then says the connection was lost.
    w, _ = watch(Script([log(0, "a"), dropped()], *[OSError(111, "Connection refused")] * 100),
                 reconnect_for=20)
    with pytest.raises(ConnectionFailed, match="lost the connection"):
        list(w.messages())


def test_server_errors_during_the_handshake_are_retried() -> None:
    unavailable = InvalidStatus(Response(503, "Service Unavailable", Headers(), b""))
    w, _ = watch(Script(unavailable, [status("stopped", "building_image", 50, "superseded by #4")]))
    list(w.messages())
    assert w.final["status"] == "stopped"
