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

Both refuse a handshake whose `Origin` (sent by browsers only) is not Mist's own (403): a page on
another site cannot watch with the visitor's cookie. Both close (1008) within seconds once the
caller loses access: signed out, disabled, deleted, token revoked or removed from the project.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from mist.api import access
from mist.api.errors import error_body, status_of
from mist.api.origin import same_origin
from mist.auth.permissions import app_for, deployment_for
from mist.auth.principal import identify
from mist.auth.sessions import COOKIE_NAME
from mist.containers import MAX_TAIL
from mist.db.models import User
from mist.deploy import store
from mist.deploy.events import message
from mist.deploy.logs import LogStore
from mist.deploy.stages import FAILED, FINAL
from mist.errors import MistError
from mist.services import Services

log = logging.getLogger(__name__)
router = APIRouter()

SLOW_WATCHER = 1013  # "try again later": the watcher fell too far behind
REPLAY_BATCH = 500  # stored lines read from disk at a time


async def _deny(websocket: WebSocket, status: int, text: str) -> None:
    await websocket.send_denial_response(JSONResponse(error_body(text), status_code=status))


async def _caller(websocket: WebSocket, svc: Services, id_param: str) -> tuple[User, int] | None:
    """The signed-in user (any token scope may watch) and the id the stream is for; None once the
    connection was refused with the reason."""
    origin = websocket.headers.get("origin")
    if origin is not None and not same_origin(origin, websocket.headers.get("host", ""), svc.settings.public_url):
        await _deny(websocket, 403, "cross-site WebSocket refused: its Origin is not this Mist (see MIST_PUBLIC_URL)")
        return None
    found = await asyncio.to_thread(
        svc.db.call, identify, websocket.cookies.get(COOKIE_NAME), websocket.headers.get("authorization")
    )
    if found is None:
        await _deny(websocket, 401, "sign in first: no valid session or API token")
        return None
    raw = websocket.query_params.get(id_param, "")
    if not raw.isdigit() or not 1 <= int(raw) < 2**63:
        await _deny(websocket, 400, f"{id_param}: required, a positive integer")
        return None
    return found[0], int(raw)


@router.websocket("/ws/deployment/logs")
@access.guarded
async def deployment_logs(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    caller = await _caller(websocket, svc, "deploymentId")
    if caller is None:
        return
    user, deployment_id = caller
    since = websocket.query_params.get("since", "0")
    if not since.isdigit() or int(since) >= 2**63:
        return await _deny(websocket, 400, "since: a line number (the seq to resume from)")
    try:
        await asyncio.to_thread(svc.deployments.authorised, user, deployment_id)
    except MistError as exc:
        return await _deny(websocket, status_of(exc), exc.message)
    websocket.app.state.access.watch(websocket, lambda session, watcher: deployment_for(session, watcher, deployment_id))

    await websocket.accept()
    with svc.bus.subscribe(deployment_id) as sub:
        # Status before lines: a final status read here means every line is already in the file.
        current = await asyncio.to_thread(svc.deployments.current, deployment_id)
        try:
            next_seq = await _replay(websocket, svc.logs, deployment_id, int(since))
            last = store.status_data(current)
            if store.is_final(current):
                return await _finish(websocket, current.status, current.error_message, last)
            await websocket.send_json(message("status", last))
            await _stream(websocket, sub, next_seq, last)
        except WebSocketDisconnect:
            return


async def _replay(websocket: WebSocket, logs: LogStore, deployment_id: int, start: int) -> int:
    """Sends the stored lines from number `start` on, read from disk a batch at a time (a log
    may hold MIST_LOG_MAX_MB); returns the number of the next line."""
    lines = logs.iter_lines(deployment_id, start)
    seq = start
    try:
        while batch := await asyncio.to_thread(list, itertools.islice(lines, REPLAY_BATCH)):
            for line in batch:
                await websocket.send_json(message("log", {"line": line}, seq=seq))
                await _yield()
                seq += 1
    finally:
        lines.close()
    return seq


@router.websocket("/ws/container/logs")
@access.guarded
async def container_logs(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    caller = await _caller(websocket, svc, "appId")
    if caller is None:
        return
    user, app_id = caller
    tail = websocket.query_params.get("tail", "100")
    if not tail.isdigit() or not 0 <= int(tail) <= MAX_TAIL:
        return await _deny(websocket, 400, f"tail: a number of lines from 0 to {MAX_TAIL}")
    try:
        target = await svc.containers.target(user, app_id)
        target.require_container()
    except MistError as exc:
        return await _deny(websocket, status_of(exc), exc.message)
    websocket.app.state.access.watch(websocket, lambda session, watcher: app_for(session, watcher, app_id))

    await websocket.accept()
    gone = asyncio.ensure_future(_until_disconnect(websocket))
    stream = asyncio.ensure_future(_send_all(websocket, svc.containers.follow(target, int(tail))))
    try:
        await asyncio.wait({gone, stream}, return_when=asyncio.FIRST_COMPLETED)
        if stream.done() and not stream.cancelled() and stream.exception() is not None:
            exc = stream.exception()
            log.error("container logs of app %s: %s", target.app_id, exc)
            reason = exc.message if isinstance(exc, MistError) else "internal error"
            await websocket.send_json(message("error", {"message": reason}))
            await websocket.close()
    except WebSocketDisconnect:
        pass
    finally:
        for task in (gone, stream):
            task.cancel()
        await asyncio.wait({gone, stream})


async def _send_all(websocket: WebSocket, events) -> None:  # noqa: ANN001 - an async iterator of messages
    async for event in events:
        await websocket.send_json(event)
        await _yield()


async def _yield() -> None:
    """A send that finds the socket ready does not suspend: without this, one watcher would send
    its whole backlog before the API or another watcher got a turn (seconds, with 100 watchers)."""
    await asyncio.sleep(0)


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
            await websocket.send_text(published.text)  # encoded once for every watcher
            await _yield()
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
