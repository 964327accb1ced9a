"""Attacks from another site, riding the visitor's session cookie: a page elsewhere (an app's own
domain included) opens Mist's WebSockets, posts to its API, or signs the visitor in as the attacker.
Browsers say where a request comes from; Mist refuses what comes from elsewhere."""

from __future__ import annotations

import uuid

import httpx
import pytest
from support.client import PASSWORD, MistClient
from support.gitserver import GitServer
from support.server import MistServer
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

EVIL = "http://evil.example.test"
PUBLIC = "http://mist.example.test:8080"


def cookie_of(client: MistClient) -> str:
    return f"mist_session={client.http.cookies['mist_session']}"


@pytest.fixture
def finished(owner: MistClient, git_server: GitServer) -> int:
    """A deployment with a log to steal (it fails at once: the repository has no Dockerfile)."""
    repo = f"origin-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"README": "no Dockerfile"})
    app = owner.app(owner.project()["id"], "web", git_server.url_for(repo), port=8000)
    deployment = owner.deploy(app["id"])
    owner.wait_final(app["id"], deployment["id"], timeout=60)
    return deployment["id"]


def test_a_foreign_page_cannot_open_the_log_websockets(server: MistServer, owner: MistClient, finished: int) -> None:
    cookie = cookie_of(owner)
    for path in (f"/ws/deployment/logs?deploymentId={finished}", "/ws/container/logs?appId=1"):
        with pytest.raises(InvalidStatus) as refused:
            with connect(server.ws_url + path, origin=EVIL, additional_headers={"Cookie": cookie}, open_timeout=10):
                pass
        assert refused.value.response.status_code == 403
        assert b"Origin" in refused.value.response.body
    # The dashboard's own page, and a client that sends no Origin, still watch.
    for origin in (f"http://127.0.0.1:{server.port}", None):
        with connect(server.ws_url + f"/ws/deployment/logs?deploymentId={finished}", origin=origin,
                     additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
            assert "log" in ws.recv(timeout=10)


def test_the_public_url_is_an_origin_of_mist(server_factory) -> None:  # noqa: ANN001
    server = server_factory(public_url=PUBLIC)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        assert http.post("/api/projects/create", json={"name": "a", "description": ""},
                         headers={"Origin": PUBLIC}).status_code == 200
        assert http.post("/api/projects/create", json={"name": "b", "description": ""},
                         headers={"Origin": "http://mist.example.test:8081"}).status_code == 403
        with pytest.raises(InvalidStatus) as refused:  # Mist's own origin reaches the (unknown) id
            with connect(server.ws_url + "/ws/deployment/logs?deploymentId=99", origin=PUBLIC,
                         additional_headers={"Cookie": cookie_of(owner)}, open_timeout=10):
                pass
        assert refused.value.response.status_code == 404


def test_cookie_requests_from_another_site_are_refused(server: MistServer, owner: MistClient) -> None:
    http = owner.http
    attacks = [
        ("POST", "/api/projects/create", {"name": "pwned", "description": ""}, {"Origin": EVIL}),
        ("POST", "/api/projects/create", {"name": "pwned", "description": ""}, {"Sec-Fetch-Site": "cross-site"}),
        ("POST", "/api/projects/create", {"name": "pwned", "description": ""}, {"Origin": "null"}),
        # An app's own domain is another origin too, even on Mist's host name with another port.
        ("POST", "/api/projects/create", {"name": "pwned", "description": ""},
         {"Origin": f"http://127.0.0.1:{server.proxy_port}"}),
        ("POST", "/api/tokens/create", {"name": "pwned", "scope": "admin"}, {"Origin": EVIL}),
        ("POST", "/api/auth/logout", None, {"Origin": EVIL}),
    ]
    for method, path, body, headers in attacks:
        response = http.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (path, headers, response.text)
        assert "cross-site" in response.json()["message"]
    assert owner.get("/api/projects/getAll")["data"] == []
    assert owner.get("/api/tokens/getAll")["data"] == []
    assert owner.get("/api/auth/me")["success"]  # the logout did not happen either

    # Tokens and clients that are not browsers are unaffected; so is Mist's own page.
    token = owner.post("/api/tokens/create", {"name": "ci", "scope": "admin"})["data"]["token"]
    with httpx.Client(base_url=server.url, timeout=60) as cli:
        response = cli.post("/api/projects/create", json={"name": "by-token", "description": ""},
                            headers={"Authorization": f"Bearer {token}", "Origin": EVIL})
        assert response.status_code == 200
    same = http.post("/api/projects/create", json={"name": "mine", "description": ""},
                     headers={"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def test_login_and_signup_csrf_are_refused(server: MistServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        body = {"username": "attacker", "email": "attacker@example.com", "password": PASSWORD}
        signup = http.post("/api/auth/signup", json=body, headers={"Origin": EVIL})
        assert signup.status_code == 403 and "mist_session" not in signup.cookies
        MistClient(http).signup("attacker", "attacker@example.com")  # the real first sign-up still works
    with httpx.Client(base_url=server.url, timeout=60) as victim:
        login = victim.post("/api/auth/login", json={"email": "attacker@example.com", "password": PASSWORD},
                            headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
        assert login.status_code == 403 and "mist_session" not in login.cookies


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded", "multipart/form-data; boundary=----x", "text/plain",
])
def test_container_control_takes_no_form_bodies(server: MistServer, owner: MistClient, content_type: str) -> None:
    """What a cross-site <form method=post> can send without a preflight, even with no Origin
    (as older browsers or privacy extensions do)."""
    app = owner.app(owner.project()["id"], "web", "https://git.example.com/acme/shop.git", port=8000)
    for action in ("stop", "start", "restart"):
        response = owner.http.post(f"/api/apps/container/{action}", params={"appId": app["id"]},
                                   content=b"x=1", headers={"Content-Type": content_type})
        assert response.status_code == 415, (action, response.text)
        assert "application/json" in response.json()["message"]
    response = owner.http.post("/api/projects/create", content=b'{"name": "x", "description": ""}',
                               headers={"Content-Type": content_type})
    assert response.status_code == 415


def test_webhooks_stay_open_to_git_hosts(server: MistServer, owner: MistClient) -> None:
    response = owner.http.post("/api/webhooks/1", content=b"{}",
                               headers={"Origin": EVIL, "Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"})
    assert response.status_code not in (403, 415), response.text
