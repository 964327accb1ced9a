"""The recommended layout: the dashboard on its own host name (MIST_PUBLIC_URL) through Mist's Caddy,
where no app can ever be served, so the session cookie set there never reaches an app."""

from __future__ import annotations

import httpx
from support.client import PASSWORD
from support.server import MistServer


def test_the_dashboard_is_served_on_its_own_host_name_through_caddy(server_factory) -> None:  # noqa: ANN001
    server: MistServer = server_factory(public_url="http://mist.example.test")
    with httpx.Client(base_url=server.proxy_url, headers={"Host": "mist.example.test"}, timeout=30) as http:
        signup = http.post("/api/auth/signup", json={"username": "owner", "email": "owner@example.com",
                                                     "password": PASSWORD})
        assert signup.status_code == 200, signup.text
        assert http.get("/api/auth/me").json()["data"]["username"] == "owner"
        project = http.post("/api/projects/create", json={"name": "shop", "description": ""},
                            headers={"Origin": "http://mist.example.test"})
        assert project.status_code == 200, project.text
        app = http.post("/api/apps/create", json={"name": "web", "projectId": project.json()["data"]["id"],
                                                  "gitRepository": "https://git.example.com/a/b.git",
                                                  "port": 8000})
        # The owner cannot hand the dashboard's host to an app either.
        claim = http.post("/api/apps/domains/create", json={"appId": app.json()["data"]["id"],
                                                            "domain": "mist.example.test"})
        assert claim.status_code == 400 and "dashboard's own host name" in claim.json()["message"], claim.text
    # Any other host name reaches no app and not the dashboard.
    other = httpx.get(f"{server.proxy_url}/api/auth/me", headers={"Host": "shop.example.test"}, timeout=10)
    assert other.status_code != 401 and b"sign in first" not in other.content
