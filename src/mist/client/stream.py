"""Follow one deployment over `WS /ws/deployment/logs?deploymentId=N`, surviving dropped connections.

The server replays every stored line on connect, then streams new lines and status changes, and
closes after the final status. When the connection drops before that, `DeploymentWatch` connects
again and skips the log lines whose `seq` it has already yielded, so the caller sees each line once.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import connect as ws_connect

from mist.client.errors import ApiError, ConnectionFailed

FINAL_STATUSES = ("success", "failed", "stopped", "rolled_back")
MAX_MESSAGE_BYTES = 16 * 2**20


class Connection(Protocol):
    def __iter__(self) -> Iterator[str | bytes]: ...


Connector = Callable[[str, dict[str, str]], AbstractContextManager[Connection]]


def default_connector(url: str, headers: dict[str, str]) -> AbstractContextManager[Connection]:
    return ws_connect(
        url, additional_headers=headers, open_timeout=10, max_size=MAX_MESSAGE_BYTES,
        user_agent_header="mist-cli",
    )


def _denial_message(exc: InvalidStatus) -> str:
    response = exc.response
    try:
        body = json.loads(response.body or b"")
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return body["message"]
    except ValueError:
        pass
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


class DeploymentWatch:
    """Iterate `messages()`: every message of one deployment, log lines exactly once, ending after
    the final status. Raises `ApiError` when the server refuses the watch (401, 404, ...) and
    `ConnectionFailed` when it cannot be reached again in time."""

    def __init__(
        self, ws_base: str, deployment_id: int, token: str | None = None, *,
        connector: Connector = default_connector, first_connect_for: float = 10.0,
        reconnect_for: float = 120.0, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_reconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.url = f"{ws_base}/ws/deployment/logs?deploymentId={deployment_id}"
        self.deployment_id = deployment_id
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.connector = connector
        self.first_connect_for = first_connect_for
        self.reconnect_for = reconnect_for
        self.sleep = sleep
        self.clock = clock
        self.on_reconnect = on_reconnect
        self.seen: set[int] = set()
        self.final: dict[str, Any] | None = None  # the data of the final status, once received
        self.error: str = ""  # the message of an `error` message, if one came
        self.reconnects = 0

    def messages(self) -> Iterator[dict[str, Any]]:
        connected_once = False
        last_good = self.clock()
        failures = 0
        while True:
            reason = "the server closed the connection before the deployment ended"
            try:
                with self.connector(self.url, self.headers) as ws:
                    connected_once = True
                    failures = 0
                    last_good = self.clock()
                    for raw in ws:
                        last_good = self.clock()
                        msg = self._parse(raw)
                        if msg is None:
                            continue
                        yield msg
                        if self.final is not None:
                            return
            except InvalidStatus as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status not in (408, 429):
                    raise ApiError(_denial_message(exc), status) from None
                reason = f"the server answered {status}"
            except InvalidURI as exc:
                raise ConnectionFailed(f"cannot watch {self.url}: {exc}") from None
            except ssl.SSLCertVerificationError as exc:
                raise ConnectionFailed(f"could not reach {self.url}: {exc.verify_message or exc}") from None
            except (OSError, TimeoutError, socket.gaierror, InvalidHandshake, WebSocketException, EOFError) as exc:
                reason = _describe(exc)
            # The connection ended (or never opened) before the final status: try again.
            limit = self.reconnect_for if connected_once else self.first_connect_for
            if self.clock() - last_good > limit:
                what = "lost the connection to" if connected_once else "could not reach"
                raise ConnectionFailed(f"{what} {self.url}: {reason}")
            if self.on_reconnect is not None and connected_once and failures == 0:
                self.on_reconnect(reason)  # once per outage, not once per attempt
            self.sleep(min(0.25 * 2**failures, 5.0))
            failures += 1
            self.reconnects += 1

    def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
            return None
        kind = msg.get("type")
        if kind == "log":
            seq = msg.get("seq")
            if isinstance(seq, int):
                if seq in self.seen:
                    return None  # replayed after a reconnect: already shown
                self.seen.add(seq)
        elif kind == "error":
            self.error = str(msg["data"].get("message") or "")
        elif kind == "status" and msg["data"].get("status") in FINAL_STATUSES:
            self.final = msg["data"]
        return msg
