"""The live streams.

WS /ws/container/logs?appId=N&tail=100: the runtime logs of the app's container, live, as
`{"type": "log", "data": {"timestamp", "line"}}`; a `status` message when the container stops,
and the stream goes on when it (or the next deployment's container) runs again. Secrets are
redacted. It ends when the watcher leaves.

WS /ws/deployment/logs?deploymentId=N: replay what is logged, then stream until the end.

A watcher first gets every stored line (from `since`, the seq to resume from after a dropped
connection, if given), then the current status; while the deployment runs it gets
each new line and every status change from the event bus, an `error` message on failure, and the
connection closes after the final status. Lines carry `seq` (their index in the log) so nothing is
sent twice between the replay and the live stream.

A handshake whose `Origin` (sent by browsers only) is not Mist's own never reaches them: OriginGuard
refuses it (403), so a page on another site cannot watch with the visitor's cookie. Both close
(1008) within seconds once the caller loses access: signed out, disabled, deleted, token revoked or
removed from the project.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from mist.api import access
from mist.api.errors import error_body, status_of
from mist.api.pacer import Pacer
from mist.api.refs import text_id
from mist.auth.permissions import app_for, deployment_for
from mist.auth.principal import identify
from mist.auth.sessions import COOKIE_NAME
from mist.containers import MAX_TAIL
from mist.db.models import User
from mist.deploy import store
from mist.deploy.events import message
from mist.deploy.stages import FAILED, FINAL
from mist.errors import MistError
from mist.feeds import FellBehind
from mist.services import Services

log = logging.getLogger(__name__)
router = APIRouter()

T = TypeVar("T")

SLOW_WATCHER = 1013  # "try again later": the watcher fell too far behind
REPLAY_BATCH = 500  # stored lines read at a time
HANDSHAKES_AT_ONCE = 2


async def _deny(websocket: WebSocket, status: int, text: str) -> None:
    await websocket.send_denial_response(JSONResponse(error_body(text), status_code=status))


def _handshakes(websocket: WebSocket) -> asyncio.Semaphore:
    """A hundred watchers connecting at once would each run their checks in a thread at the same
    time, and API requests would wait behind them for the interpreter; a few at a time is as fast
    for the watchers and leaves the API its share."""
    return websocket.app.state.handshakes


def _stream_id(websocket: WebSocket, id_param: str) -> int | None:
    return text_id(websocket.query_params.get(id_param))


def _admit(session: Session, cookie: str | None, authorization: str | None, stream_id: int | None,
           check: Callable[[Session, User, int], T] | None) -> tuple[User | None, T | None]:
    """Who calls, and what `check` finds for them (it raises when they may not watch), in one
    transaction: a hundred watchers connecting at once cost one thread call each."""
    found = identify(session, cookie, authorization)
    if found is None or stream_id is None or check is None:
        return (found[0] if found else None), None
    return found[0], check(session, found[0], stream_id)


async def _caller(websocket: WebSocket, svc: Services, id_param: str,
                  check: Callable[[Session, User, int], T] | None = None) -> tuple[User, int, T | None] | None:
    """The signed-in user (any token scope may watch), the id the stream is for and what `check`
    found; None once the connection was refused with the reason."""
    stream_id = _stream_id(websocket, id_param)
    try:
        async with _handshakes(websocket):
            await _pacer(websocket).between_requests()
            user, found = await svc.db.run(
                _admit, websocket.cookies.get(COOKIE_NAME), websocket.headers.get("authorization"), stream_id, check,
            )
    except MistError as exc:
        await _deny(websocket, status_of(exc), exc.message)
        return None
    if user is None:
        await _deny(websocket, 401, "sign in first: no valid session or API token")
        return None
    if stream_id is None:
        await _deny(websocket, 400, f"{id_param}: required, a positive integer")
        return None
    return user, stream_id, found


@router.websocket("/ws/deployment/logs")
@access.guarded
async def deployment_logs(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    # Subscribed before the status is read, so no change between the two is missed; and the status
    # before the lines: a final status read here means every line is already stored.
    with svc.bus.subscribe(_stream_id(websocket, "deploymentId") or 0) as sub:
        caller = await _caller(websocket, svc, "deploymentId", deployment_for)
        if caller is None:
            return
        _user, deployment_id, current = caller
        assert current is not None  # deployment_for found it, or refused the watcher
        since = websocket.query_params.get("since", "0")
        if not since.isdigit() or int(since) >= 2**63:
            return await _deny(websocket, 400, "since: a line number (the seq to resume from)")
        websocket.app.state.access.watch(websocket, deployment_for, deployment_id)

        await websocket.accept()
        try:
            next_seq = await _replay(websocket, svc, deployment_id, int(since))
            last = store.status_data(current)
            if store.is_final(current):
                return await _finish(websocket, current.status, current.error_message, last)
            await websocket.send_json(message("status", last))
            await _stream(websocket, sub, next_seq, last)
        except WebSocketDisconnect:
            return


async def _replay(websocket: WebSocket, svc: Services, deployment_id: int, start: int) -> int:
    """Sends the stored lines from number `start` on, read a batch at a time (a log may hold
    MIST_LOG_MAX_MB); returns the number of the next line."""
    pacer, seq = _pacer(websocket), start
    while True:
        await pacer.between_requests()
        batch = await svc.db.run(svc.logs.page, deployment_id, seq, REPLAY_BATCH)
        for line in batch:
            await pacer.send(lambda: websocket.send_json(message("log", {"line": line}, seq=seq)))  # noqa: B023
            seq += 1
        if len(batch) < REPLAY_BATCH:
            return seq


@router.websocket("/ws/container/logs")
@access.guarded
async def container_logs(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    caller = await _caller(websocket, svc, "appId")
    if caller is None:
        return
    user, app_id, _ = caller
    tail = websocket.query_params.get("tail", "100")
    if not tail.isdigit() or not 0 <= int(tail) <= MAX_TAIL:
        return await _deny(websocket, 400, f"tail: a number of lines from 0 to {MAX_TAIL}")
    try:
        target = await svc.containers.target(user, app_id)
        target.require_container()
    except MistError as exc:
        return await _deny(websocket, status_of(exc), exc.message)
    websocket.app.state.access.watch(websocket, app_for, app_id)

    await websocket.accept()
    gone = asyncio.ensure_future(_until_disconnect(websocket))
    stream = asyncio.ensure_future(_send_all(websocket, svc.containers.follow(target, int(tail))))
    try:
        await asyncio.wait({gone, stream}, return_when=asyncio.FIRST_COMPLETED)
        if stream.done() and not stream.cancelled() and (failure := stream.exception()) is not None:
            if isinstance(failure, FellBehind):
                await websocket.close(SLOW_WATCHER, failure.message)
                return
            log.error("container logs of app %s: %s", target.app_id, failure)
            reason = failure.message if isinstance(failure, MistError) else "internal error"
            await websocket.send_json(message("error", {"message": reason}))
            await websocket.close()
    except WebSocketDisconnect:
        pass
    finally:
        for task in (gone, stream):
            task.cancel()
        await asyncio.wait({gone, stream})


async def _send_all(websocket: WebSocket, texts) -> None:  # noqa: ANN001 - an async iterator of encoded messages
    pacer = _pacer(websocket)
    async for text in texts:
        await pacer.send(lambda: websocket.send_text(text))  # noqa: B023 - awaited at once


def _pacer(websocket: WebSocket) -> Pacer:
    """Every log message goes out through the app's one Pacer, so the streams leave the loop to the
    API for at least half of each few milliseconds, however many watchers there are."""
    return websocket.app.state.pacer


async def _finish(websocket: WebSocket, status: str, error: str, data: dict) -> None:
    if status == FAILED and error:
        await websocket.send_json(message("error", {"message": error}))
    await websocket.send_json(message("status", data))
    await websocket.close()


async def _stream(websocket: WebSocket, sub, next_seq: int, last: dict) -> None:
    """Live events until the final status, or until the watcher leaves."""
    gone = asyncio.ensure_future(_until_disconnect(websocket))
    try:
        while True:
            if gone.done():
                return
            if not sub.queue.empty():  # under load: no task and no wait per message
                published = sub.queue.get_nowait()
            else:
                getter = asyncio.ensure_future(sub.get())
                done, _ = await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone in done:
                    getter.cancel()
                    return
                published = getter.result()
            event = published.event
            if sub.overflowed:
                await websocket.close(SLOW_WATCHER, "too far behind; reconnect to resume")
                return
            if event["type"] == "log":
                if event["seq"] < next_seq:
                    continue
                next_seq = event["seq"] + 1
            elif event["type"] == "status":
                if event["data"] == last:
                    continue
                last = event["data"]
            # Encoded once for every watcher.
            await _pacer(websocket).send(lambda: websocket.send_text(published.text))  # noqa: B023
            if event["type"] == "status" and event["data"]["status"] in FINAL:
                await websocket.close()
                return
    finally:
        gone.cancel()


async def _until_disconnect(websocket: WebSocket) -> None:
    try:
        while True:
            msg = await websocket.receive()
            if msg["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError):
        return
