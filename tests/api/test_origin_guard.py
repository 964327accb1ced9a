"""mist.api.origin: which origins are Mist's own, and what OriginGuard lets through."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import Headers
from starlette.testclient import WebSocketDenialResponse
from support.client import MistClient

from mist.api.origin import refusal, same_origin

PUBLIC = "https://mist.example.com"


@pytest.mark.parametrize(("origin", "host", "expected"), [
    ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
    ("https://mist.example.com", "mist.example.com", True),  # TLS proxy in front: only the scheme differs
    ("http://mist.example.com", "mist.example.com", True),
    ("https://MIST.example.com", "mist.example.COM", True),
    ("https://mist.example.com:443", "mist.example.com", True),
    ("http://[::1]:8080", "[::1]:8080", True),
    ("http://mist.example.com:8081", "mist.example.com:8080", False),
    ("http://mist.example.com", "mist.example.com:8080", False),
    ("http://app.example.com", "mist.example.com", False),  # a sibling host is another origin
    ("http://mist.example.com.evil.test", "mist.example.com", False),
    ("null", "mist.example.com", False),
    ("file://", "mist.example.com", False),
    ("http://mist.example.com:99999", "mist.example.com", False),
    ("http://mist.example.com", "", False),
])
def test_same_origin_compares_host_and_port_with_the_host_header(origin: str, host: str, expected: bool) -> None:
    assert same_origin(origin, host) is expected


def test_the_public_url_is_mist_too_scheme_included() -> None:
    assert same_origin("https://mist.example.com", "127.0.0.1:8080", PUBLIC)
    assert same_origin("https://mist.example.com:443", "127.0.0.1:8080", PUBLIC + "/")
    assert not same_origin("http://mist.example.com", "127.0.0.1:8080", PUBLIC)
    assert not same_origin("https://mist.example.com:8443", "127.0.0.1:8080", PUBLIC)
    assert not same_origin("https://evil.example", "127.0.0.1:8080", PUBLIC)


def _refusal(method: str, path: str, public_url: str = "", **headers: str) -> int | None:
    found = refusal(method, path, Headers({"host": "127.0.0.1:8080", **headers}), public_url)
    return found[0] if found else None


def test_unsafe_requests_from_another_site_are_refused() -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert _refusal(method, "/api/projects/create", origin="http://evil.example") == 403
    assert _refusal("POST", "/api/auth/login", **{"sec-fetch-site": "cross-site"}) == 403
    assert _refusal("POST", "/api/auth/login", origin="null") == 403


def test_safe_methods_tokens_plain_clients_and_webhooks_pass() -> None:
    assert _refusal("GET", "/api/auth/me", origin="http://evil.example") is None
    assert _refusal("POST", "/api/projects/create") is None  # the CLI, curl: no Origin at all
    assert _refusal("POST", "/api/projects/create", origin="http://127.0.0.1:8080",
                    **{"sec-fetch-site": "same-origin"}) is None
    assert _refusal("POST", "/api/projects/create", PUBLIC, origin=PUBLIC) is None
    assert _refusal("POST", "/api/projects/create", origin="http://evil.example",
                    authorization="Bearer mist_x") is None
    assert _refusal("POST", "/api/webhooks/1", origin="http://evil.example",
                    **{"content-type": "text/plain", "sec-fetch-site": "cross-site"}) is None


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain;charset=UTF-8", "TEXT/PLAIN",
])
def test_form_bodies_are_415_on_every_unsafe_api_route(content_type: str) -> None:
    assert _refusal("POST", "/api/apps/container/stop", **{"content-type": content_type}) == 415
    assert _refusal("DELETE", "/api/apps/delete", authorization="Bearer mist_x",
                    **{"content-type": content_type}) == 415
    assert _refusal("POST", "/api/auth/login", **{"content-type": "application/json"}) is None


def test_the_guard_answers_json_in_the_app(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    response = http.post("/api/projects/create", json={"name": "x", "description": ""},
                         headers={"origin": "http://evil.example"})
    assert response.status_code == 403 and "cross-site" in response.json()["message"]
    response = http.post("/api/apps/container/restart?appId=1", content=b"a=1",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and "application/json" in response.json()["message"]
    assert mist.get("/api/projects/getAll")["data"] == []
    same = http.post("/api/projects/create", json={"name": "x", "description": ""},
                     headers={"origin": "http://testserver"})
    assert same.status_code == 200


def test_websockets_from_another_origin_are_refused(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    for path in ("/ws/deployment/logs?deploymentId=1", "/ws/container/logs?appId=1"):
        with pytest.raises(WebSocketDenialResponse) as denied, \
                http.websocket_connect(path, headers={"origin": "http://evil.example"}):
            pass
        assert denied.value.status_code == 403 and "Origin" in denied.value.json()["message"]
        # Mist's own origin gets as far as the (missing) deployment or app.
        with pytest.raises(WebSocketDenialResponse) as denied, \
                http.websocket_connect(path, headers={"origin": "http://testserver"}):
            pass
        assert denied.value.status_code == 404
