"""Follow Mist's WebSocket streams, surviving dropped connections.

`DeploymentWatch` follows one deployment over `WS /ws/deployment/logs?deploymentId=N`. The server
replays every stored line on connect, then streams new lines and status changes, and closes after
the final status. When the connection drops before that, it connects again and skips the log lines
whose `seq` it has already yielded, so the caller sees each line once.

`ContainerLogWatch` follows the runtime log of an app's container over
`WS /ws/container/logs?appId=N&tail=T`: lines as they are written, a `status` message when the
container stops, more lines when it (or the next deployment's container) runs again. It never ends
by itself. After a dropped connection it asks for the recent lines again and skips those at or
before the newest timestamp it has yielded.
"""

from __future__ import annotations

import json
import re
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
RESUME_TAIL = 1000  # lines asked for again after a dropped container log stream


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


def _json_message(raw: str | bytes) -> dict[str, Any] | None:
    """A message of the server (`{"type": ..., "data": {...}}`), or None for anything else."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("data"), dict):
        return None
    return msg


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?")


def stamp_key(stamp: str) -> tuple[str, int] | None:
    """An engine's RFC 3339 timestamp (UTC, nanoseconds with the trailing zeros dropped) as a key that
    sorts in time order; None when it is not one."""
    match = _STAMP.match(stamp)
    if match is None:
        return None
    return match.group(1), int((match.group(2) or "0")[:9].ljust(9, "0"))


class _Watch:
    """The reconnecting loop of a stream: `messages()` yields each message `_parse` keeps, connects
    again when the connection ends before `_finished()`, and gives up after `first_connect_for`
    seconds without a first connection or `reconnect_for` seconds without a working one."""

    closed_early = "the server closed the connection"

    def __init__(
        self, url: str, token: str | None, *, connector: Connector = default_connector,
        first_connect_for: float = 10.0, reconnect_for: float = 120.0,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        on_reconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.connector = connector
        self.first_connect_for = first_connect_for
        self.reconnect_for = reconnect_for
        self.sleep = sleep
        self.clock = clock
        self.on_reconnect = on_reconnect
        self.reconnects = 0

    def _next_url(self) -> str:
        """The URL of the next connection (called once before each)."""
        return self.url

    def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        raise NotImplementedError

    def _finished(self) -> bool:
        return False

    def messages(self) -> Iterator[dict[str, Any]]:
        connected_once = False
        last_good = self.clock()
        failures = 0
        while True:
            reason = self.closed_early
            url = self._next_url()
            opened = False
            try:
                with self.connector(url, self.headers) as ws:
                    opened = connected_once = True
                    failures = 0
                    last_good = self.clock()
                    for raw in ws:
                        last_good = self.clock()
                        msg = self._parse(raw)
                        if msg is None:
                            continue
                        yield msg
                        if self._finished():
                            return
            except InvalidStatus as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status not in (408, 429):
                    raise ApiError(_denial_message(exc), status) from None
                reason = f"the server answered {status}"
            except InvalidURI as exc:
                raise ConnectionFailed(f"cannot watch {url}: {exc}") from None
            except ssl.SSLCertVerificationError as exc:
                raise ConnectionFailed(f"could not reach {url}: {exc.verify_message or exc}") from None
            except (OSError, TimeoutError, socket.gaierror, InvalidHandshake, WebSocketException, EOFError) as exc:
                reason = _describe(exc)
            if opened:
                last_good = self.clock()  # it worked until now, however quiet it was
            # The connection ended (or never opened) before the stream's end: try again.
            limit = self.reconnect_for if connected_once else self.first_connect_for
            if self.clock() - last_good > limit:
                what = "lost the connection to" if connected_once else "could not reach"
                raise ConnectionFailed(f"{what} {url}: {reason}")
            if self.on_reconnect is not None and connected_once and failures == 0:
                self.on_reconnect(reason)  # once per outage, not once per attempt
            self.sleep(min(0.25 * 2**failures, 5.0))
            failures += 1
            self.reconnects += 1


class DeploymentWatch(_Watch):
    """Iterate `messages()`: every message of one deployment, log lines exactly once, ending after
    the final status. Raises `ApiError` when the server refuses the watch (401, 404, ...) and
    `ConnectionFailed` when it cannot be reached again in time."""

    closed_early = "the server closed the connection before the deployment ended"

    def __init__(self, ws_base: str, deployment_id: int, token: str | None = None, **options: Any) -> None:
        super().__init__(f"{ws_base}/ws/deployment/logs?deploymentId={deployment_id}", token, **options)
        self.deployment_id = deployment_id
        self.seen: set[int] = set()
        self.final: dict[str, Any] | None = None  # the data of the final status, once received
        self.error: str = ""  # the message of an `error` message, if one came

    def _finished(self) -> bool:
        return self.final is not None

    def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        msg = _json_message(raw)
        if msg is None:
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


class ContainerLogWatch(_Watch):
    """Iterate `messages()`: the `log` and `status` messages of an app's container, each line once
    across reconnects, for as long as the caller reads (the stream has no end of its own). Raises
    `ApiError` when the server refuses the watch (409 when the app has no container yet) or sends
    an `error` message, and `ConnectionFailed` when it cannot be reached again in time."""

    def __init__(self, ws_base: str, app_id: int, token: str | None = None, *, tail: int = 100,
                 **options: Any) -> None:
        super().__init__(f"{ws_base}/ws/container/logs?appId={app_id}", token, **options)
        self.app_id = app_id
        self.tail = tail
        self.newest: tuple[str, int] | None = None  # the timestamp of the newest line yielded
        self.at_newest = 0  # how many lines were yielded with that very timestamp
        self.skip_to: tuple[str, int] | None = None  # replayed after a reconnect: skip up to here
        self.skip_same = 0
        self.state: str | None = None  # the last state told, until a line comes

    def _next_url(self) -> str:
        if self.newest is None:
            return f"{self.url}&tail={self.tail}"
        # Resuming: the recent lines again, of which those already yielded are skipped.
        self.skip_to, self.skip_same = self.newest, self.at_newest
        return f"{self.url}&tail={max(self.tail, RESUME_TAIL)}"

    def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        msg = _json_message(raw)
        if msg is None:
            return None
        kind = msg.get("type")
        if kind == "log":
            key = stamp_key(str(msg["data"].get("timestamp") or ""))
            if key is not None and self._already_yielded(key):
                return None
            if key is not None and key == self.newest:
                self.at_newest += 1
            elif key is not None and (self.newest is None or key > self.newest):
                self.newest, self.at_newest = key, 1
            self.state = None
        elif kind == "status":
            state = str(msg["data"].get("state") or "")
            if state == self.state:
                return None  # told again after a reconnect, with no line since
            self.state = state
        elif kind == "error":
            raise ApiError(str(msg["data"].get("message") or "the server ended the log stream"))
        return msg

    def _already_yielded(self, key: tuple[str, int]) -> bool:
        if self.skip_to is None:
            return False
        if key < self.skip_to:
            return True
        if key == self.skip_to and self.skip_same > 0:
            self.skip_same -= 1
            return True
        self.skip_to = None  # past the replay: everything from here on is new
        return False
