"""Attack: exhaust the server's memory with one request body, before signing in, chunked or with a
lying Content-Length. Every route stops reading at its limit and answers 413."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
from support.client import MistClient
from support.server import MistServer

MB = 1024 * 1024
ATTACK_MB = 300


def rss_mb(server: MistServer) -> float:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def endless(total_mb: int) -> Iterator[bytes]:
    """A chunked body (no Content-Length), made as it is sent."""
    chunk = b"x" * MB
    for _ in range(total_mb):
        yield chunk


def test_a_300_mb_chunked_body_is_refused_while_read_before_sign_in(server: MistServer) -> None:
    before = rss_mb(server)
    with httpx.Client(base_url=server.url, timeout=120) as http:
        for path in ("/api/auth/login", "/api/webhooks/1"):
            response = http.post(path, content=endless(ATTACK_MB), headers={"Content-Type": "application/json"})
            assert response.status_code == 413, (path, response.text[:200])
            assert "larger than" in response.json()["message"]
    assert rss_mb(server) - before < 100
    assert httpx.get(f"{server.url}/api/auth/me").status_code == 401  # still serving


def test_a_huge_content_length_is_refused_before_any_byte_of_the_body(server: MistServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n")
        answer = sock.recv(65536)  # no body sent: an answer now means nothing was waited for
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_signed_in_routes_and_mist_max_body_kb(server_factory) -> None:  # noqa: ANN001
    server = server_factory(max_body_kb="64", webhook_max_body_kb="128")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        fits = http.post("/api/projects/create", json={"name": "p", "description": "d" * 60 * 1024})
        assert fits.status_code != 413
        too_big = http.post("/api/projects/create", json={"name": "p", "description": "d" * 70 * 1024})
        assert too_big.status_code == 413 and "64 KiB" in too_big.json()["message"]
        hook = http.post("/api/webhooks/1", content=b"x" * 100 * 1024)
        assert hook.status_code != 413  # the webhook's own, larger limit
        assert http.post("/api/webhooks/1", content=endless(1)).status_code == 413
