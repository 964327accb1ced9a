"""mist.api.apps env routes and mist.references: one-by-one env vars, `${{app.KEY}}` references, and a
database app's connection details."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

from mist.db.models import Deployment
from mist.deploy.plan import load_plan
from mist.errors import InvalidInput

REPO = "https://git.example.com/acme/shop.git"


@pytest.fixture
def project(mist: MistClient) -> dict:
    mist.signup()
    return mist.project()


def test_env_vars_one_by_one(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000, envVars={"MODE": "prod"})
    created = mist.post("/api/apps/envs/create", {"appId": app["id"], "key": "API_KEY", "value": "k-12345678",
                                                  "secret": True})["data"]
    assert created["value"] is None and created["secret"] is True and created["actionRequired"] == "redeploy"
    listed = mist.post("/api/apps/envs/get", {"appId": app["id"]})["data"]
    assert [(e["key"], e["value"]) for e in listed] == [("API_KEY", None), ("MODE", "prod")]
    assert "k-12345678" not in str(listed)

    mode = next(e for e in listed if e["key"] == "MODE")
    changed = mist.put("/api/apps/envs/update", {"id": mode["id"], "value": "staging"})["data"]
    assert changed["value"] == "staging" and changed["actionRequired"] == "redeploy"
    # Renaming keeps the value; a secret stays unread.
    mist.put("/api/apps/envs/update", {"id": created["id"], "key": "API_TOKEN"})
    assert http.post("/api/apps/envs/create", json={"appId": app["id"], "key": "MODE", "value": "x"}).status_code == 409
    deleted = http.request("DELETE", "/api/apps/envs/delete", json={"id": mode["id"]})
    assert deleted.status_code == 200 and deleted.json()["data"]["actionRequired"] == "redeploy"
    final = mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["envVars"]
    assert [(e["key"], e["value"], e["secret"]) for e in final] == [("API_TOKEN", None, True)]


def test_env_routes_refuse_bad_input_and_outsiders(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000)
    for body in ({"appId": app["id"], "key": "1BAD", "value": "x"}, {"appId": app["id"], "key": "A"},
                 {"appId": app["id"], "key": "A", "value": 3}):
        assert http.post("/api/apps/envs/create", json=body).status_code == 400, body
    assert http.put("/api/apps/envs/update", json={"id": 999, "value": "x"}).status_code == 404
    db = mist.app(project["id"], "db", appType="database", templateName="postgres")
    password = next(e for e in db["envVars"] if e["key"] == "POSTGRES_PASSWORD")
    refused = http.request("DELETE", "/api/apps/envs/delete", json={"id": password["id"]})
    assert refused.status_code == 400 and "credentials" in refused.json()["message"]

    mist.create_user("eve")
    mist.login("eve@example.com")
    assert http.post("/api/apps/envs/get", json={"appId": app["id"]}).status_code == 404
    assert http.put("/api/apps/envs/update", json={"id": password["id"], "value": "x"}).status_code == 404


@pytest.mark.parametrize("value, reason", [
    ("${{nosuch.HOST}}", "'nosuch', which is no app of this project"),
    ("${{web.PASSWORD}}", "app 'web' offers HOST, PORT"),
    ("${{db.SECRET}}", "app 'db' offers HOST, PORT, USER, PASSWORD, DATABASE, URL"),
    ("${{elsewhere.HOST}}", "no app of this project"),
])
def test_references_to_unknown_apps_or_keys_are_refused_when_saved(
    http: TestClient, mist: MistClient, project: dict, value: str, reason: str
) -> None:
    web = mist.app(project["id"], "web", REPO, port=8000)
    mist.app(project["id"], "db", appType="database", templateName="postgres")
    mist.app(mist.project("other")["id"], "elsewhere", REPO, port=8000)
    for response in (
        http.post("/api/apps/envs/create", json={"appId": web["id"], "key": "REF", "value": value}),
        http.put("/api/apps/update", json={"appId": web["id"], "envVars": {"REF": value}}),
        http.post("/api/apps/create", json={"name": "new", "projectId": project["id"], "gitRepository": REPO,
                                            "port": 1, "envVars": {"REF": value}}),
    ):
        assert response.status_code == 400, response.text
        assert reason in response.json()["message"]
    assert [e["key"] for e in mist.post("/api/apps/envs/get", {"appId": web["id"]})["data"]] == []


def test_references_resolve_at_deploy_time_and_their_secrets_are_redacted(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    db = mist.app(project["id"], "db", appType="database", templateName="postgres")
    api = mist.app(project["id"], "api", REPO, port=9000)
    web = mist.app(project["id"], "web", REPO, port=8000, envVars={
        "DATABASE_URL": "${{db.URL}}",
        "PGHOST": "${{ db.HOST }}:${{db.PORT}}",
        "API": "http://${{api.HOST}}:${{api.PORT}}/v1",
    })
    svc = http.app.state.services
    with svc.db.session() as s:
        s.add(Deployment(id=77, app_id=web["id"], deployment_number=1, commit_hash="a" * 40))
    plan = svc.db.call(load_plan, 77, svc.settings, svc.box)
    connection = mist.post("/api/apps/getById", {"appId": db["id"]})["data"]["connection"]
    assert plan.runtime.env["DATABASE_URL"] == connection["url"]
    assert connection["url"] == f"postgres://mist:{connection['password']}@db:5432/db"
    assert plan.runtime.env["PGHOST"] == "db:5432"
    assert plan.runtime.env["API"] == "http://api:9000/v1"
    assert connection["password"] in plan.secrets and connection["url"] in plan.secrets
    assert api["id"]  # referenced by name only
    # The network alias each app is reached by is its name, on its project's network.
    assert plan.network == f"mist-project-{project['id']}"


def test_connection_details_show_the_password_to_owners_and_admins_only(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    db = mist.app(project["id"], "cache", appType="database", templateName="redis")
    shown = mist.post("/api/apps/getById", {"appId": db["id"]})["data"]["connection"]
    assert shown["host"] == "cache" and shown["port"] == 6379 and shown["user"] == "default"
    assert len(shown["password"]) >= 24
    assert shown["url"] == f"redis://default:{shown['password']}@cache:6379/0"

    bob = mist.create_user("bob")
    mist.put("/api/projects/updateMembers", {"userIds": [bob["id"]]}, id=project["id"])
    mist.login("bob@example.com")
    member_view = mist.post("/api/apps/getById", {"appId": db["id"]})["data"]["connection"]
    assert member_view["password"] is None
    assert member_view["url"] == "redis://default:********@cache:6379/0"
    assert shown["password"] not in str(mist.post("/api/apps/getByProjectId", {"projectId": project["id"]}))
    web = mist.post("/api/apps/create", {"name": "web", "projectId": project["id"], "gitRepository": REPO,
                                         "port": 8000})["data"]
    assert web["connection"] is None


def test_a_reference_to_a_deleted_app_fails_the_next_deployment_with_the_reason(
    http: TestClient, mist: MistClient, project: dict
) -> None:
    db = mist.app(project["id"], "db", appType="database", templateName="redis")
    web = mist.app(project["id"], "web", REPO, port=8000, envVars={"REDIS_URL": "${{db.URL}}"})
    assert http.request("DELETE", "/api/apps/delete", json={"appId": db["id"]}).status_code == 200
    svc = http.app.state.services
    with svc.db.session() as s:
        s.add(Deployment(id=78, app_id=web["id"], deployment_number=1, commit_hash="a" * 40))
    with pytest.raises(InvalidInput, match="'REDIS_URL' refers to db.URL, which no longer exists"):
        svc.db.call(load_plan, 78, svc.settings, svc.box)


def test_a_secret_is_never_read_back(http: TestClient, mist: MistClient, project: dict) -> None:
    app = mist.app(project["id"], "web", REPO, port=8000,
                   envVars=[{"key": "API_KEY", "value": "s3cr3t-value-1", "secret": True}])
    secret = app["envVars"][0]
    assert secret["value"] is None
    # Unflagging without a new value would show the stored one: refused, on both routes.
    refused = http.put("/api/apps/envs/update", json={"id": secret["id"], "secret": False})
    assert refused.status_code == 400 and "API_KEY" in refused.json()["message"]
    assert "value" in refused.json()["message"] and "s3cr3t-value-1" not in refused.text
    refused = http.put("/api/apps/update", json={"appId": app["id"], "envVars": [{"key": "API_KEY", "secret": False}]})
    assert refused.status_code == 400 and "API_KEY" in refused.json()["message"]
    everything = [
        mist.post("/api/apps/getById", {"appId": app["id"]}),
        mist.post("/api/apps/envs/get", {"appId": app["id"]}),
        mist.put("/api/apps/envs/update", {"id": secret["id"], "buildTime": True}),
        mist.put("/api/apps/update", {"appId": app["id"], "envVars": [{"key": "API_KEY", "secret": True}]}),
        mist.post("/api/apps/getByProjectId", {"projectId": project["id"]}),
    ]
    assert "s3cr3t-value-1" not in str(everything)
    # With a new value it becomes a plain variable, and only that value is shown.
    plain = mist.put("/api/apps/envs/update", {"id": secret["id"], "secret": False, "value": "public"})["data"]
    assert (plain["value"], plain["secret"]) == ("public", False)
