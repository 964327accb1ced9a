"""An HTTP server on loopback that records the Authorization header of every request: a place a
credential must never reach. It answers 401 with a Basic challenge, so a git client holding
credentials for it would send them; with ``redirect_to`` it redirects every request there instead,
as a compromised or hostile git server could.
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class _Server(ThreadingHTTPServer):
    owner: CredentialRecorder


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        owner = self.server.owner
        owner.requests.append((self.path, self.headers.get("Authorization")))
        if owner.redirect_to:
            self.send_response(301)
            self.send_header("Location", owner.redirect_to.rstrip("/") + self.path)
        else:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="recorder"')
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class CredentialRecorder:
    def __init__(self, redirect_to: str = "") -> None:
        self.redirect_to = redirect_to
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization header)
        self.port = 0
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._thread = threading.Thread(target=httpd.serve_forever, name="credential-recorder", daemon=True)
        self._thread.start()
        self._httpd, self.port = httpd, httpd.server_address[1]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, name: str) -> str:
        return f"{self.url}/{name}.git"

    def received(self, secret: str) -> bool:
        """Whether any request carried `secret`, raw or inside Basic credentials."""
        for path, authorization in self.requests:
            if secret in path or (authorization and secret in authorization):
                return True
            scheme, _, encoded = (authorization or "").partition(" ")
            if scheme.lower() == "basic":
                try:
                    if secret in base64.b64decode(encoded.strip()).decode(errors="replace"):
                        return True
                except ValueError:
                    continue
        return False
