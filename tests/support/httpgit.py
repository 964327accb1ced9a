"""Git's smart HTTP protocol on loopback, behind a bearer-style token in HTTP Basic auth.

Each request runs ``git http-backend`` as a CGI over the repos in ``repos_root``
(read in place, so later commits are visible at once). Every request is
recorded so tests can check where credentials travelled. With ``tls_dir`` it
serves HTTPS with a self-signed certificate for 127.0.0.1 written there
(``ca_file``), which a client must be told to trust, as with a private CA.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import os
import secrets
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self, TypedDict
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


def _self_signed(tls_dir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA: trusting it is trusting the server."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mist-test git server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    tls_dir.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = tls_dir / "git-server.pem", tls_dir / "git-server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class TokenGitServer:
    def __init__(self, repos_root: str | os.PathLike[str], token: str, tls_dir: Path | None = None) -> None:
        self.repos_root = Path(repos_root)
        self.token = token
        self.tls_dir = tls_dir
        self.ca_file: Path | None = None
        self.requests: list[GitRequest] = []
        self.port: int | None = None
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        # Binding port 0 here, not probing first, leaves no window for a port race.
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        if self.tls_dir is not None:
            self.ca_file, key_file = _self_signed(self.tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, key_file)
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
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
        scheme = "https" if self.tls_dir is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{name}.git"

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
