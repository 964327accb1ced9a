"""Requests from other sites: a browser carries the session cookie along on a foreign page's forms and
fetches, so Mist itself must refuse what such a page could make it do.

A browser says where a request comes from in `Origin` (always sent on POST, PUT, PATCH, DELETE and on
WebSocket handshakes) and in `Sec-Fetch-Site`. An origin is Mist's own when it names the host the
request was sent to (its `Host`, whatever the scheme: a TLS proxy in front changes only that) or
`MIST_PUBLIC_URL`'s origin. Clients that are not browsers (the CLI, scripts with a token) send
neither header and are unaffected.

`OriginGuard` refuses unsafe requests from another site (403) unless a bearer token authenticates them
(a page cannot set `Authorization` on another site without a CORS preflight, which Mist never grants),
and refuses the bodies an HTML form can post without a preflight on the API (415): every API route
takes JSON or nothing. It refuses WebSocket handshakes from another site too (403), before any
endpoint runs. The webhook endpoint is left alone: git hosts post there, signed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from mist.api.bodylimit import WEBHOOKS
from mist.api.errors import error_body

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What a cross-site <form> (or a fetch without preflight) can send.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None when not an http(s) origin
    (for example the `null` a sandboxed frame sends)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def same_origin(origin: str, host: str, public_url: str = "") -> bool:
    """Whether a browser's `Origin` is Mist's own: the request's `Host` (host and port; the scheme is
    not compared) or the origin of `public_url`."""
    mine = _origin_of(origin)
    if mine is None:
        return False
    scheme, hostname, port = mine
    if host:
        try:
            target = urlsplit(f"//{host.strip()}")
            if target.hostname == hostname and (target.port or DEFAULT_PORTS[scheme]) == port:
                return True
        except ValueError:
            pass
    return bool(public_url) and _origin_of(public_url) == mine


def refusal(method: str, path: str, headers: Headers, public_url: str) -> tuple[int, str] | None:
    """The status and reason to refuse a request with, or None to let it through."""
    if method in SAFE_METHODS or path.startswith(WEBHOOKS):
        return None
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if path.startswith("/api/") and media_type in FORM_TYPES:
        return 415, f"Content-Type {media_type} is not accepted: send JSON (application/json) or no body"
    if "authorization" in headers:
        return None  # the token decides alone, the cookie plays no part
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, headers.get("host", ""), public_url):
        return 403, "cross-site request refused: its Origin is not this Mist (see MIST_PUBLIC_URL)"
    if headers.get("sec-fetch-site", "").lower() == "cross-site":
        return 403, "cross-site request refused: the browser says it comes from another site"
    return None


def websocket_refusal(headers: Headers, public_url: str) -> str | None:
    """Why to refuse a WebSocket handshake, or None. Browsers send `Origin` on every handshake;
    clients that send none (the CLI, tokens) are not browsers and pass."""
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, headers.get("host", ""), public_url):
        return "cross-site WebSocket refused: its Origin is not this Mist (see MIST_PUBLIC_URL)"
    return None


class OriginGuard:
    """Pure ASGI middleware (streaming responses and accepted WebSockets pass through untouched)."""

    def __init__(self, app: ASGIApp, public_url: str = "") -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = refusal(scope["method"], scope["path"], Headers(scope=scope), self.public_url)
            if refused is not None:
                status, reason = refused
                return await JSONResponse(error_body(reason), status_code=status)(scope, receive, send)
        elif scope["type"] == "websocket":
            denied = websocket_refusal(Headers(scope=scope), self.public_url)
            if denied is not None:
                denial = JSONResponse(error_body(denied), status_code=403)
                return await WebSocket(scope, receive, send).send_denial_response(denial)
        await self.app(scope, receive, send)
