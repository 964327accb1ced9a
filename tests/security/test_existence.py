"""A malformed request must not confirm that another project's row exists: FastAPI validated the body
before the route looked the id up, so a user with no projects got 400 for a malformed body naming a
foreign app (and the 404 of an unknown id only once the body was right). Now every id a request names
is checked first: a caller who cannot reach it gets exactly the 404 of an id that does not exist."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from support.client import MistClient
from support.server import MistServer

MISSING = 987654321


def _requests(app_id: int, project_id: int, env_id: int, domain_id: int) -> list[tuple[str, str, dict, dict]]:
    """(method, path, query, body): each well aimed at a row of the team's project, each malformed."""
    return [
        ("PUT", "/api/apps/update", {}, {"appId": app_id, "port": "eighty"}),
        ("POST", "/api/apps/getById", {}, {"appId": app_id, "unknown": True}),
        ("POST", "/api/apps/envs/create", {}, {"appId": app_id, "key": 7, "value": "x"}),
        ("POST", "/api/apps/domains/create", {}, {"appId": app_id}),
        ("POST", "/api/apps/volumes/create", {}, {"appId": app_id, "name": "", "containerPath": "/d"}),
        ("DELETE", "/api/apps/delete", {}, {"appId": app_id, "deleteVolumes": "yes"}),
        ("POST", "/api/deployment/getByAppId", {}, {"appId": app_id, "page": 2}),
        ("POST", "/api/apps/getByProjectId", {}, {"projectId": project_id, "all": 1}),
        ("PUT", "/api/projects/updateMembers", {"id": project_id}, {"userIds": "everyone"}),
        ("PUT", "/api/apps/envs/update", {}, {"id": env_id, "secret": "no"}),
        ("DELETE", "/api/apps/envs/delete", {}, {"id": env_id, "force": True}),
        ("DELETE", "/api/apps/domains/delete", {}, {"id": domain_id, "force": True}),
        ("GET", "/api/apps/container/logs", {"appId": app_id, "tail": "all"}, {}),
    ]


def _send(http: httpx.Client, method: str, path: str, query: dict, body: dict) -> httpx.Response:
    return http.request(method, path, params=query, json=body or None)


def _without_ids(message: str) -> str:
    return re.sub(r"\d+", "N", message)


@pytest.fixture
def outsider(server: MistServer, team) -> Iterator[MistClient]:  # noqa: ANN001 - security/conftest.Team
    """A signed-in user of no project."""
    team.owner.create_user("outsider")
    http = httpx.Client(base_url=server.url, timeout=60)
    client = MistClient(http)
    client.login("outsider@example.com")
    yield client
    http.close()


def _rows(team) -> tuple[int, int, int, int]:  # noqa: ANN001
    app = team.owner.app(team.project_id, "web", repo="https://git.example.com/shop.git", appType="web", port=8000,
                         envVars=[{"key": "GREETING", "value": "hello"}])
    env_id = team.owner.post("/api/apps/envs/get", {"appId": app["id"]})["data"][0]["id"]
    domain = team.owner.post("/api/apps/domains/create", {"appId": app["id"], "domain": "shop.example.test"})["data"]
    return app["id"], team.project_id, env_id, domain["id"]


def test_a_non_member_gets_the_404_of_an_unknown_id_whatever_the_body(team, outsider: MistClient) -> None:  # noqa: ANN001
    rows = _rows(team)
    aimed = _requests(*rows)
    unknown = _requests(MISSING, MISSING, MISSING, MISSING)
    for (method, path, query, body), (_, _, unknown_query, unknown_body) in zip(aimed, unknown, strict=True):
        foreign = _send(outsider.http, method, path, query, body)
        missing = _send(outsider.http, method, path, unknown_query, unknown_body)
        assert foreign.status_code == 404, (path, foreign.status_code, foreign.text)
        assert missing.status_code == 404, (path, missing.status_code, missing.text)
        assert _without_ids(foreign.json()["message"]) == _without_ids(missing.json()["message"]), path
        assert foreign.json()["message"].endswith("not found"), foreign.text


def test_a_member_is_told_what_is_wrong_with_the_body(team) -> None:  # noqa: ANN001
    for method, path, query, body in _requests(*_rows(team)):
        response = _send(team.member.http, method, path, query, body)
        assert response.status_code == 400, (path, response.status_code, response.text)
        assert response.json()["message"]
