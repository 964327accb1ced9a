"""Git's smart HTTP protocol on loopback, behind a bearer-style token in HTTP Basic auth.

Each request runs ``git http-backend`` as a CGI over the repos in ``repos_root``
(read in place, so later commits are visible at once). Every request is
recorded so tests can check where credentials travelled.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self, TypedDict
from urllib.parse import unquote

from support.gitserver import GIT_ENV

REALM = "mist-test"


class GitRequest(TypedDict):
    method: str
    path: str  # as requested, query string included
    authorization: str | None  # the raw header value
    status: int


class _Server(ThreadingHTTPServer):
    owner: TokenGitServer


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so curl gets its "100 Continue" instead of waiting a second per large POST.
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner = self.server.owner
        authorization = self.headers.get("Authorization")
        if owner.accepts(authorization):
            status, headers, payload = self._run_backend(self._read_body())
        else:
            # The body is left unread, so this connection cannot carry another request.
            self.close_connection = True
            status, payload = 401, b""
            headers = [("WWW-Authenticate", f'Basic realm="{REALM}"'), ("Connection", "close")]
        owner.requests.append(GitRequest(method=self.command, path=self.path,
                                         authorization=authorization, status=status))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks: list[bytes] = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF closing each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _run_backend(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            **GIT_ENV,
            "GIT_PROJECT_ROOT": str(self.server.owner.repos_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),  # chunked bodies arrive here already decoded
            # git gzips request bodies over 1 KiB; http-backend inflates them itself.
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            # Without it http-backend speaks protocol v0, where a stateless fetch
            # can only want advertised tips, not an exact older commit.
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        proc = subprocess.run(["git", "http-backend"], input=body, env=env,
                              capture_output=True, timeout=60, check=False)
        if proc.stderr:
            print(proc.stderr.decode(errors="replace").rstrip(), file=sys.stderr)
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        if proc.returncode != 0 or not sep:
            return 500, [], b""
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((key, value.strip()))
        return status, headers, payload


class TokenGitServer:
    def __init__(self, repos_root: str | os.PathLike[str], token: str) -> None:
        self.repos_root = Path(repos_root)
        self.token = token
        self.requests: list[GitRequest] = []
        self.port: int | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        # Binding port 0 here, not probing first, leaves no window for a port race.
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._thread = threading.Thread(target=httpd.serve_forever, name="token-git-server",
                                        daemon=True)
        self._thread.start()
        self._httpd, self.port = httpd, httpd.server_address[1]
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def url_for(self, name: str) -> str:
        if self.port is None:
            raise RuntimeError("TokenGitServer not started")
        return f"http://127.0.0.1:{self.port}/{name}.git"

    def accepts(self, authorization: str | None) -> bool:
        """True for HTTP Basic credentials whose password is the token, whatever the user name."""
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return secrets.compare_digest(password.encode(), self.token.encode())
