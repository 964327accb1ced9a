"""The largest request body Mist reads: anyone can send one, even before signing in, so an
unbounded one (chunked, or lying in Content-Length) would let a stranger fill the server's memory.

`BodyLimit` refuses a declared Content-Length over the limit before reading a byte, and counts the
bytes of every body as the application reads it, stopping at the limit: whatever the route was
doing is dropped and the answer is 413. The webhook endpoint has a limit of its own (push events can
list many commits).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mist.api.errors import error_body

WEBHOOKS = "/api/webhooks/"


class BodyTooLarge(Exception):
    """Raised into the application's read of the body; never leaves the middleware."""


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(error_body(f"the request body is larger than {limit // 1024} KiB"), status_code=413)


class BodyLimit:
    """Pure ASGI middleware, so streaming responses and WebSockets pass through untouched."""

    def __init__(self, app: ASGIApp, limit: int, webhook_limit: int) -> None:
        self.app = app
        self.limit = limit
        self.webhook_limit = webhook_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.webhook_limit if scope["path"].startswith(WEBHOOKS) else self.limit
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await _too_large(limit)(scope, receive, send)

        received = 0
        overflowed = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            if overflowed:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if overflowed:
                return  # the route's own answer to the interrupted read; the 413 below replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not overflowed:
                raise  # the route's own failure; only an interrupted read ends here quietly
        if overflowed and not started:
            await _too_large(limit)(scope, receive, send)
