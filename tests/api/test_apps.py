"""mist.api.apps: validated input, nothing written on error, secrets write-only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

from mist.api.schemas import AppCreateIn, AppUpdateIn, EnvCreateIn, EnvUpdateIn, VolumeCreateIn
from mist.db.models import App

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def project(mist: MistClient) -> dict:
    mist.signup()
    return mist.project()


@pytest.mark.parametrize("patch, field", [
    ({"gitRepository": "file:///etc/passwd"}, "gitRepository"),
    ({"gitRepository": "ext::sh -c id"}, "gitRepository"),
    ({"gitRepository": "-oProxyCommand=id"}, "gitRepository"),
    ({"gitRepository": "/srv/repo.git"}, "gitRepository"),
    ({"gitRepository": "https://host/a\x01b"}, "gitRepository"),
    ({"gitBranch": "--upload-pack=x"}, "gitBranch"),
    ({"dockerfilePath": "../../etc/Dockerfile"}, "dockerfilePath"),
    ({"rootDirectory": "/etc"}, "rootDirectory"),
    ({"port": 70000}, "port"),
    ({"port": "8000"}, "port"),
    ({"name": "Bad Name!"}, "name"),
    ({"appType": "lambda"}, "appType"),
    ({"projectId": "1"}, "projectId"),
    ({"envVars": {"1BAD": "x"}}, "envVars"),
    ({"envVars": [{"key": "A", "value": 5}]}, "envVars"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    http: TestClient, mist: MistClient, project: dict, patch: dict, field: str
) -> None:
    body = {"name": "shop", "projectId": project["id"], "gitRepository": REPO, "port": 8000, **patch}
    response = http.post("/api/apps/create", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert mist.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"] == []


def test_missing_and_malformed_bodies_are_400(http: TestClient, project: dict) -> None:
    assert "name: required" in http.post("/api/apps/create", json={"projectId": project["id"]}).json()["message"]
    raw = http.post("/api/apps/create", content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and "JSON" in raw.json()["message"]
    assert http.post("/api/apps/getById", json={"appId": True}).status_code == 400
    assert http.post("/api/apps/getById", json={"appId": 2**64}).status_code == 400
    assert http.post("/api/apps/getById", json={"appId": 0}).status_code == 400
    assert http.post("/api/apps/getById", json={"appId": 12345}).status_code == 404
    assert http.post("/api/apps/create", json={"name": "x", "projectId": 999, "gitRepository": REPO,
                                               "port": 1}).status_code == 404


def test_secret_values_are_never_returned_and_survive_updates(mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "shop", REPO, port=8000, envVars=[
        {"key": "API_TOKEN", "value": "tok-123456789", "secret": True},
        {"key": "MODE", "value": "prod"},
        {"key": "NPM_FLAGS", "value": "--silent", "buildTime": True, "runtime": False},
    ])
    env = {e["key"]: e for e in app["envVars"]}
    assert env["API_TOKEN"]["value"] is None and env["API_TOKEN"]["secret"] is True
    assert env["MODE"]["value"] == "prod"
    assert env["NPM_FLAGS"]["buildTime"] is True and env["NPM_FLAGS"]["runtime"] is False

    # Resending the secret without its value keeps it; leaving MODE out removes it.
    env_vars = [{"key": "API_TOKEN", "secret": True}, {"key": "NEW", "value": "1"}]
    updated = mist.put("/api/apps/update", {"appId": app["id"], "gitBranch": "release", "envVars": env_vars})
    assert updated["data"]["gitBranch"] == "release"
    assert [(e["key"], e["value"]) for e in updated["data"]["envVars"]] == [("API_TOKEN", None), ("NEW", "1")]
    fetched = mist.post("/api/apps/getById", {"appId": app["id"]})
    assert "tok-123456789" not in str(fetched)


def test_database_app_gets_a_generated_password_that_is_never_shown(mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "db", appType="database", templateName="postgres")
    env = {e["key"]: e for e in app["envVars"]}
    assert env["POSTGRES_PASSWORD"]["secret"] is True and env["POSTGRES_PASSWORD"]["value"] is None
    assert env["POSTGRES_DB"]["value"] == "db"
    assert app["port"] == 5432 and app["gitRepository"] == ""
    other = mist.app(project["id"], "db2", appType="database", templateName="redis")
    assert other["port"] == 6379


def test_update_and_delete_rules(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "shop", REPO, port=8000)
    assert http.put("/api/apps/update", json={"appId": app["id"], "gitRepository": "file:///x"}).status_code == 400
    assert http.put("/api/apps/update", json={"appId": app["id"], "appType": "database"}).status_code == 400
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["gitRepository"] == REPO
    assert http.post("/api/apps/create", json={"name": "shop", "projectId": project["id"],
                                               "gitRepository": REPO, "port": 1}).status_code == 409
    assert http.post("/api/apps/create", json={"name": "db", "projectId": project["id"],
                                               "appType": "database", "templateName": "oracle"}).status_code == 400
    assert http.request("DELETE", "/api/apps/delete", json={"appId": app["id"]}).status_code == 200
    assert http.post("/api/apps/getById", json={"appId": app["id"]}).status_code == 404


def test_credentials_in_a_repository_url_are_never_shown(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    url = "https://deploy-bot:tok-987654321@git.example.com/acme/shop.git"
    app = mist.app(project["id"], "shop", url, port=8000)
    shown = "https://deploy-bot:********@git.example.com/acme/shop.git"
    assert app["gitRepository"] == shown
    # Sending back what was shown keeps the stored credentials.
    mist.put("/api/apps/update", {"appId": app["id"], "gitRepository": shown, "port": 9000})
    fetched = mist.post("/api/apps/getById", {"appId": app["id"]})["data"]
    assert fetched["gitRepository"] == shown and fetched["port"] == 9000
    stored = http.app.state.services.db.call(lambda s: s.get(App, app["id"]).git_repository)
    assert stored == url
    assert "tok-987654321" not in str(mist.post("/api/apps/getByProjectId", {"projectId": project["id"]}))


# null means "remove" for these; for every other field it is a 400 naming the field, never a 500.
NULLABLE = {"cpuLimit", "memoryLimit", "restartPolicy", "port"}


@pytest.mark.parametrize("field", sorted(set(AppUpdateIn.model_fields) - {"appId"}))
def test_null_for_any_update_field_is_a_400_or_a_removal(http: TestClient, mist: MistClient, project: dict,
                                                         field: str) -> None:
    app = mist.app(project["id"], "worker", REPO, appType="service", port=8000, cpuLimit=0.5, memoryLimit=64,
                   restartPolicy="always")
    response = http.put("/api/apps/update", json={"appId": app["id"], field: None})
    if field in NULLABLE:
        assert response.status_code == 200, response.text
        assert response.json()["data"][field] is None
    else:
        assert response.status_code == 400, response.text
        assert response.json()["message"].startswith(field), response.text
        assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["updatedAt"] == app["updatedAt"]


def test_null_port_of_a_web_app_is_refused_and_a_database_goes_back_to_its_template_port(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    web = mist.app(project["id"], "web", REPO, port=8000)
    response = http.put("/api/apps/update", json={"appId": web["id"], "port": None})
    assert response.status_code == 400 and "port" in response.json()["message"]
    db = mist.app(project["id"], "db", appType="database", templateName="redis", port=7000)
    assert mist.put("/api/apps/update", {"appId": db["id"], "port": None})["data"]["port"] == 6379


@pytest.mark.parametrize("field", sorted(set(AppCreateIn.model_fields) - NULLABLE))
def test_null_for_any_create_field_is_a_400_naming_it(http: TestClient, mist: MistClient, project: dict,
                                                     field: str) -> None:
    body = {"name": "web", "projectId": project["id"], "gitRepository": REPO, "port": 8000, field: None}
    response = http.post("/api/apps/create", json=body)
    assert response.status_code == 400 and response.json()["message"].startswith(field), response.text
    assert mist.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"] == []


def test_nulls_on_the_env_and_volume_routes_are_never_a_500(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000, envVars={"MODE": "prod"})
    env_id = app["envVars"][0]["id"]
    for field in EnvCreateIn.model_fields:
        body = {"appId": app["id"], "key": "K", "value": "v", field: None}
        response = http.post("/api/apps/envs/create", json=body)
        assert response.status_code == 400 and field in response.json()["message"], (field, response.text)
    # On the one-by-one update, null is the same as leaving a field out.
    for field in set(EnvUpdateIn.model_fields) - {"id"}:
        assert http.put("/api/apps/envs/update", json={"id": env_id, field: None}).status_code == 200, field
    assert http.put("/api/apps/envs/update", json={"id": None}).status_code == 400
    for field in VolumeCreateIn.model_fields:
        body = {"appId": app["id"], "name": "data", "containerPath": "/data", field: None}
        response = http.post("/api/apps/volumes/create", json=body)
        assert response.status_code == 400 and field in response.json()["message"], (field, response.text)
    # An id that exists: an unknown one is a 404 before the rest of the body is looked at.
    volume = mist.post("/api/apps/volumes/create", {"appId": app["id"], "name": "data", "containerPath": "/data"})
    for route, body in (("/api/apps/envs/delete", {"id": None}), ("/api/apps/volumes/delete", {"id": None}),
                        ("/api/apps/volumes/delete", {"id": volume["data"]["id"], "removeData": None})):
        assert http.request("DELETE", route, json=body).status_code == 400, (route, body)
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["envVars"][0]["value"] == "prod"
