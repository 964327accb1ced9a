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
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from mist.api.errors import error_body, status_of
from mist.auth.principal import identify
from mist.auth.sessions import COOKIE_NAME
from mist.containers import MAX_TAIL
from mist.db.models import User
from mist.deploy import store
from mist.deploy.events import message
from mist.deploy.stages import FAILED, FINAL
from mist.errors import MistError
from mist.services import Services

log = logging.getLogger(__name__)
router = APIRouter()

SLOW_WATCHER = 1013  # "try again later": the watcher fell too far behind


async def _deny(websocket: WebSocket, status: int, text: str) -> None:
    await websocket.send_denial_response(JSONResponse(error_body(text), status_code=status))


async def _caller(websocket: WebSocket, svc: Services, id_param: str) -> tuple[User, int] | None:
    """The signed-in user (any token scope may watch) and the id the stream is for; None once the
    connection was refused with the reason."""
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

    await websocket.accept()
    with svc.bus.subscribe(deployment_id) as sub:
        # Status before lines: a final status read here means every line is already in the file.
        current = await asyncio.to_thread(svc.deployments.current, deployment_id)
        lines = await asyncio.to_thread(svc.logs.read_lines, deployment_id)
        try:
            for seq, line in enumerate(lines[int(since):], start=int(since)):
                await websocket.send_json(message("log", {"line": line}, seq=seq))
            last = store.status_data(current)
            if store.is_final(current):
                return await _finish(websocket, current.status, current.error_message, last)
            await websocket.send_json(message("status", last))
            await _stream(websocket, sub, len(lines), last)
        except WebSocketDisconnect:
            return


@router.websocket("/ws/container/logs")
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
            getter = asyncio.ensure_future(sub.get())
            done, _ = await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone in done:
                getter.cancel()
                return
            event = getter.result()
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
            await websocket.send_json(event)
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
