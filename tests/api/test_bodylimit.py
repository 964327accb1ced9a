"""mist.api.bodylimit: bodies are counted while read, and reading stops at the limit."""

from __future__ import annotations

import asyncio
import json

from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from mist.api.bodylimit import BodyLimit

CHUNK = 1024


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """A route that reads the whole body, as FastAPI does for a JSON parameter."""
    try:
        body = await Request(scope, receive).body()
    except Exception:  # noqa: BLE001 - as a real app would: answer its own error
        return await JSONResponse({"error": True}, status_code=400)(scope, receive, send)
    await JSONResponse({"length": len(body)})(scope, receive, send)


def run(app, path: str, chunks: int, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict, int]:  # noqa: ANN001
    """Streams `chunks` chunks of CHUNK bytes; answers (status, body, chunks the app pulled)."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        if pulled >= chunks:
            await asyncio.sleep(3600)  # like a client that keeps the connection open
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": list(headers), "query_string": b""}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def limited() -> BodyLimit:
    return BodyLimit(echo_length, limit=8 * CHUNK, webhook_limit=32 * CHUNK)


def test_a_body_within_the_limit_reaches_the_route() -> None:
    assert run(limited(), "/api/auth/login", 8) == (200, {"length": 8 * CHUNK}, 8)


def test_reading_stops_at_the_limit_and_the_answer_is_413() -> None:
    status, body, pulled = run(limited(), "/api/auth/login", 100_000)
    assert status == 413 and "larger than 8 KiB" in body["message"]
    assert pulled == 9  # the chunk that crossed the limit, and not one more


def test_webhooks_have_their_own_limit() -> None:
    assert run(limited(), "/api/webhooks/1", 32)[0] == 200
    status, body, pulled = run(limited(), "/api/webhooks/1", 100_000)
    assert (status, pulled) == (413, 33) and "32 KiB" in body["message"]


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    status, body, pulled = run(limited(), "/api/auth/login", 100_000, [(b"content-length", b"1000000000")])
    assert (status, pulled) == (413, 0)


def test_websockets_and_lifespan_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    asyncio.run(BodyLimit(app, 1, 1)({"type": "websocket", "path": "/ws"}, None, None))
    assert seen == ["websocket"]


def test_the_server_applies_max_body_kb(http: TestClient) -> None:
    big = json.dumps({"email": "a@example.com", "password": "x" * 1100 * 1024})
    response = http.post("/api/auth/login", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "1024 KiB" in response.json()["message"]

    def chunked():  # noqa: ANN202 - no Content-Length: counted while read
        for _ in range(2048):
            yield b"x" * 1024

    response = http.post("/api/auth/login", content=chunked(), headers={"content-type": "application/json"})
    assert response.status_code == 413
