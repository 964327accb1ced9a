"""Open WebSockets lose access when their caller does.

A socket is authorised once, at its handshake, but may stay open for hours: a user disabled or
deleted, a session signed out, a token revoked or a member removed from the project would keep
watching. `AccessWatch` re-checks every open socket every two seconds and ends those whose caller no
longer passes (close code 1008, policy violation).

One pass checks all sockets in one thread and one read-only transaction, identifying each distinct
credential once and checking each distinct (credential, stream) pair once, so a hundred watchers of
one deployment cost the same few queries every two seconds as one watcher.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import WebSocket
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect, WebSocketState

from mist.auth.principal import identify
from mist.auth.sessions import COOKIE_NAME
from mist.db.engine import Database
from mist.db.models import User
from mist.errors import MistError

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 2.0
POLICY_VIOLATION = 1008

# Raises a MistError (NotFound) when the user may no longer see what the socket streams.
Check = Callable[[Session, User, int], object]
Endpoint = Callable[[WebSocket], Awaitable[None]]


@dataclass(eq=False)
class _Watched:
    cookie: str | None
    authorization: str | None
    check: Check  # with the id of what the socket streams
    target: int
    task: asyncio.Task = field(repr=False)
    revoked: bool = False


def _allowed(session: Session, user: User, check: Check, target: int) -> bool:
    try:
        check(session, user, target)
    except MistError:
        return False
    return True


def _lost(session: Session, watched: list[_Watched]) -> list[_Watched]:
    callers: dict[tuple[str | None, str | None], User | None] = {}
    verdicts: dict[tuple, bool] = {}
    lost = []
    for entry in watched:
        key = (entry.cookie, entry.authorization)
        if key not in callers:
            found = identify(session, *key)
            callers[key] = found[0] if found else None
        user = callers[key]
        if user is None:
            lost.append(entry)
            continue
        pair = (key, entry.check, entry.target)
        if pair not in verdicts:
            verdicts[pair] = _allowed(session, user, entry.check, entry.target)
        if not verdicts[pair]:
            lost.append(entry)
    # Read-only: identify stamps a token's last use, which a pass every two seconds must not write.
    session.rollback()
    return lost


class AccessWatch:
    """The open sockets of one server and the task re-checking them (running only while any is open)."""

    def __init__(self, db: Database, interval: float = INTERVAL_SECONDS) -> None:
        self.db = db
        self.interval = interval
        self._watched: set[_Watched] = set()
        self._task: asyncio.Task | None = None

    def watch(self, websocket: WebSocket, check: Check, target: int) -> None:
        """From now on, the endpoint running this socket ends once its caller fails
        `check(session, user, target)` (the endpoint must be wrapped by `guarded`)."""
        task = asyncio.current_task()
        assert task is not None  # called from the endpoint's coroutine
        entry = _Watched(websocket.cookies.get(COOKIE_NAME), websocket.headers.get("authorization"), check,
                         target, task)
        websocket.state.access = entry
        self._watched.add(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="mist-access-watch")

    def forget(self, websocket: WebSocket) -> _Watched | None:
        entry = getattr(websocket.state, "access", None)
        self._watched.discard(entry)
        return entry

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._watched:
            await asyncio.sleep(self.interval)
            try:
                lost = await self.db.run(_lost, list(self._watched))
            except Exception:  # noqa: BLE001 - a database hiccup must not end the watch for good
                log.exception("checking the access of open WebSockets failed; trying again")
                continue
            for entry in lost:
                # A socket that ended meanwhile is no longer watched: its task must not be cancelled;
                # nor one cancelled already, which is still unwinding.
                if entry in self._watched and not entry.revoked:
                    entry.revoked = True
                    entry.task.cancel()


def guarded(endpoint: Endpoint) -> Endpoint:
    """Wraps a WebSocket endpoint: when its watched caller loses access, the endpoint is cancelled
    wherever it waits (its own cleanup runs) and the socket closes with 1008."""

    @functools.wraps(endpoint)
    async def run(websocket: WebSocket) -> None:
        watch: AccessWatch = websocket.app.state.access
        try:
            await endpoint(websocket)
        except asyncio.CancelledError:
            entry = watch.forget(websocket)
            task = asyncio.current_task()
            # Only our own cancellation is absorbed; a server shutting down cancels too.
            if entry is None or not entry.revoked or task is None or task.uncancel() > 0:
                raise
            await _close(websocket)
        finally:
            watch.forget(websocket)

    return run


async def _close(websocket: WebSocket) -> None:
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    try:
        await websocket.close(POLICY_VIOLATION, "access revoked: sign in again or ask for access")
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the watcher left already
