"""The HTTP client: bearer token, envelopes, and errors as one readable message."""

from __future__ import annotations

import json

import httpx
import pytest
from support.server import free_port

from mist.client.api import MistAPI
from mist.client.errors import ApiError, ConnectionFailed


def api_with(handler, token: str | None = "mist_tok") -> MistAPI:
    return MistAPI("http://mist.test:8080/", token, transport=httpx.MockTransport(handler))


def test_requests_carry_the_bearer_token_and_envelopes_are_unwrapped() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/deployment/add":
            # The Deployments API answers this one without the envelope.
            return httpx.Response(200, json={"id": 3, "deployment_number": 1, "status": "pending"})
        return httpx.Response(200, json={"success": True, "message": "OK", "data": [{"id": 1, "name": "p"}]})

    with api_with(handler) as api:
        assert api.projects() == [{"id": 1, "name": "p"}]
        assert api.deploy(4) == {"id": 3, "deployment_number": 1, "status": "pending"}
        assert api.ws_url == "ws://mist.test:8080"
    assert all(r.headers["authorization"] == "Bearer mist_tok" for r in seen)
    assert json.loads(seen[1].content) == {"appId": 4}
    assert MistAPI("https://mist.example").ws_url == "wss://mist.example"


def test_an_error_answer_becomes_its_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"success": False, "message": "deployment 3 already ended", "data": None})

    with api_with(handler) as api, pytest.raises(ApiError) as err:
        api.stop(3)
    assert err.value.message == "deployment 3 already ended" and err.value.status == 409


def test_a_refused_token_says_how_to_fix_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"success": False, "message": "sign in first", "data": None})

    with api_with(handler) as api, pytest.raises(ApiError, match="sign in first.*mist login"):
        api.projects()


def test_a_non_json_error_is_still_readable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with api_with(handler) as api, pytest.raises(ApiError, match="HTTP 502 Bad Gateway from http://mist.test"):
        api.projects()


def test_success_false_is_an_error_even_with_200() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"success": False, "message": "nope", "data": None})

    with api_with(handler) as api, pytest.raises(ApiError, match="nope"):
        api.projects()


def test_an_unreachable_server_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with MistAPI(url, "t") as api, pytest.raises(ConnectionFailed, match=f"could not reach {url}: .*refused"):
        api.projects()


def test_logs_are_plain_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/deployment/logs/9"
        return httpx.Response(200, text="\x1b[32mStep 1/2\x1b[0m\ndone\n")

    with api_with(handler) as api:
        assert api.logs(9) == "\x1b[32mStep 1/2\x1b[0m\ndone\n"
