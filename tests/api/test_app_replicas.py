"""mist.api.apps: the `replicas` field, its bounds, who may have more than one, and what a change needs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

from mist.apps import MAX_REPLICAS

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def project(mist: MistClient) -> dict:
    mist.signup()
    return mist.project()


@pytest.fixture
def swarm(http: TestClient) -> None:
    """This Mist as if started with MIST_RUNTIME=swarm (only the apps service reads it here)."""
    http.app.state.services.apps.runtime = "swarm"  # type: ignore[attr-defined]


def test_an_app_has_one_replica_by_default(mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000)
    assert app["replicas"] == 1
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["replicas"] == 1


def test_more_than_one_replica_needs_swarm(http: TestClient, mist: MistClient, project: dict) -> None:
    response = http.post("/api/apps/create", json={"name": "web", "projectId": project["id"],
                                                   "gitRepository": REPO, "port": 8000, "replicas": 2})
    assert response.status_code == 400 and "MIST_RUNTIME=swarm" in response.json()["message"]
    assert mist.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"] == []  # nothing written
    app = mist.app(project["id"], "web", REPO, port=8000, replicas=1)  # one is what runs anyway
    refused = http.put("/api/apps/update", json={"appId": app["id"], "replicas": 3})
    assert refused.status_code == 400 and "MIST_RUNTIME=swarm" in refused.json()["message"]
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["replicas"] == 1


@pytest.mark.usefixtures("swarm")
def test_swarm_apps_take_replicas_and_a_change_needs_a_redeploy(mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000, replicas=3)
    assert app["replicas"] == 3
    updated = mist.put("/api/apps/update", {"appId": app["id"], "replicas": MAX_REPLICAS})["data"]
    assert (updated["replicas"], updated["actionRequired"]) == (MAX_REPLICAS, "redeploy")
    same = mist.put("/api/apps/update", {"appId": app["id"], "replicas": MAX_REPLICAS})["data"]
    assert same["actionRequired"] == "none"


@pytest.mark.usefixtures("swarm")
def test_in_swarm_mode_new_limits_need_a_redeploy(mist: MistClient, project: dict) -> None:
    """A Swarm restart replays the service's spec: only a deployment gives it new limits."""
    app = mist.app(project["id"], "web", REPO, port=8000)
    for patch in ({"cpuLimit": 0.5}, {"memoryLimit": 256}, {"restartPolicy": "always"}):
        assert mist.put("/api/apps/update", {"appId": app["id"], **patch})["data"]["actionRequired"] == "redeploy"


@pytest.mark.usefixtures("swarm")
@pytest.mark.parametrize("value, reason", [
    (0, f"from 1 to {MAX_REPLICAS}"), (-1, f"from 1 to {MAX_REPLICAS}"),
    (MAX_REPLICAS + 1, f"from 1 to {MAX_REPLICAS}"), (10**30, f"from 1 to {MAX_REPLICAS}"),
    ("2", "replicas"), (2.0, "replicas"), (None, "replicas"), (True, "replicas"),
])
def test_bad_replicas_are_400(http: TestClient, mist: MistClient, project: dict, value: object, reason: str) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000)
    response = http.put("/api/apps/update", json={"appId": app["id"], "replicas": value})
    assert response.status_code == 400, response.text
    assert reason in response.json()["message"]
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["replicas"] == 1


@pytest.mark.usefixtures("swarm")
def test_a_database_runs_one_replica(http: TestClient, mist: MistClient, project: dict) -> None:
    body = {"name": "db", "projectId": project["id"], "appType": "database", "templateName": "postgres"}
    refused = http.post("/api/apps/create", json={**body, "replicas": 2})
    assert refused.status_code == 400 and "owns its data volume" in refused.json()["message"]
    db = mist.post("/api/apps/create", body)["data"]
    assert db["replicas"] == 1
    response = http.put("/api/apps/update", json={"appId": db["id"], "replicas": 2})
    assert response.status_code == 400 and "owns its data volume" in response.json()["message"]
    assert mist.put("/api/apps/update", {"appId": db["id"], "replicas": 1})["data"]["actionRequired"] == "none"
