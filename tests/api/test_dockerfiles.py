"""GET /api/apps/dockerfile: what the next build of the branch's tip would use ("eject"), and the
app fields that steer it. A real git server; no engine (nothing is built)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from support.client import MistClient
from support.gitserver import GitServer

PYTHON = {"requirements.txt": "flask==3.0.0\n", "app.py": "from flask import Flask\napp = Flask(__name__)\n"}


def repo(git_server: GitServer, files: dict[str, str]) -> str:
    name = f"eject-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(name, files)
    return git_server.url_for(name)


def test_the_generated_dockerfile_of_the_branch_tip_is_shown_with_what_was_detected(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    mist.signup()
    url = repo(git_server, {**PYTHON, "Procfile": "release: flask db upgrade\n"})
    app = mist.app(mist.project()["id"], "api", url, port=8000,
                   envVars=[{"key": "PIP_INDEX_URL", "value": "http://pypi.local/simple/", "buildTime": True}])
    body = mist.get("/api/apps/dockerfile", appId=app["id"])["data"]
    assert body["builder"] == "python" and body["releaseCommand"] == "flask db upgrade"
    assert len(body["commitHash"]) == 40 and body["findings"]
    text = body["dockerfile"]
    assert text.index("COPY requirements.txt") < text.index("COPY . .")  # dependencies cached apart
    assert "ARG PIP_INDEX_URL" in text and "pypi.local" not in text  # a variable's name, never its value


def test_overrides_show_in_the_generated_dockerfile_and_ask_for_a_redeploy(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    mist.signup()
    app = mist.app(mist.project()["id"], "api", repo(git_server, PYTHON), port=8000, builder="python")
    assert app["builder"] == "python" and app["startCommand"] == ""
    response = http.put("/api/apps/update", json={"appId": app["id"], "startCommand": "gunicorn app:app -w 3"})
    assert response.status_code == 200 and response.json()["data"]["actionRequired"] == "redeploy"
    assert "gunicorn app:app -w 3" in mist.get("/api/apps/dockerfile", appId=app["id"])["data"]["dockerfile"]


def test_a_repository_with_a_dockerfile_shows_its_own(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    mist.signup()
    own = "FROM scratch\nCOPY . /\n"
    app = mist.app(mist.project()["id"], "api", repo(git_server, {**PYTHON, "Dockerfile": own}), port=8000)
    body = mist.get("/api/apps/dockerfile", appId=app["id"])["data"]
    assert body["builder"] == "dockerfile" and body["dockerfile"] == own


def test_nothing_to_build_is_a_422_saying_what_was_looked_for(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    mist.signup()
    app = mist.app(mist.project()["id"], "api", repo(git_server, {"README": "hi"}), port=8000)
    response = http.get("/api/apps/dockerfile", params={"appId": app["id"]})
    assert response.status_code == 422 and response.json()["success"] is False
    assert "package.json" in response.json()["message"]


def test_bad_builder_fields_are_refused_and_nothing_is_written(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    mist.signup()
    project = mist.project()
    url = repo(git_server, PYTHON)
    refused = http.post("/api/apps/create", json={
        "projectId": project["id"], "name": "api", "gitRepository": url, "port": 8000, "builder": "rust"})
    assert refused.status_code == 400 and "builder: must be one of auto, dockerfile" in refused.json()["message"]
    assert http.post("/api/apps/getByProjectId", json={"projectId": project["id"]}).json()["data"] == []
    app = mist.app(project["id"], "api", url, port=8000)
    for field, value in (("releaseCommand", "migrate\nrm -rf /"), ("buildCommand", "x" * 5000)):
        response = http.put("/api/apps/update", json={"appId": app["id"], field: value})
        assert response.status_code == 400 and field in response.json()["message"]
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["releaseCommand"] == ""
    database = http.post("/api/apps/create", json={
        "projectId": project["id"], "name": "db", "appType": "database", "templateName": "postgres",
        "startCommand": "postgres"})
    assert database.status_code == 400 and "a database app builds nothing" in database.json()["message"]


def test_someone_outside_the_project_gets_the_404_of_an_unknown_app(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    mist.signup()
    app = mist.app(mist.project()["id"], "api", repo(git_server, PYTHON), port=8000)
    mist.create_user("outsider")
    mist.login("outsider@example.com")
    foreign = http.get("/api/apps/dockerfile", params={"appId": app["id"]})
    missing = http.get("/api/apps/dockerfile", params={"appId": app["id"] + 1000})
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["message"].replace(str(app["id"]), "N") == missing.json()["message"].replace(
        str(app["id"] + 1000), "N")
