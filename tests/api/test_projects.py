"""mist.api.projects: membership decides who reaches a project and everything in it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from support.client import MistClient
from support.gitserver import GitServer


def test_members_reach_their_projects_and_outsiders_get_404(
    http: TestClient, mist: MistClient, git_server: GitServer
) -> None:
    git_server.create_repo("members", {"Dockerfile": "FROM scratch\n"})
    mist.signup()
    bob = mist.create_user("bob")
    project = mist.project("private")
    app = mist.app(project["id"], "api", git_server.url_for("members"), port=8000)
    deployment = mist.deploy(app["id"])

    mist.login("bob@example.com")
    assert mist.get("/api/projects/getAll")["data"] == []
    hidden = [
        http.get("/api/projects/getFromId", params={"id": project["id"]}),
        http.post("/api/apps/getById", json={"appId": app["id"]}),
        http.post("/api/apps/getByProjectId", json={"projectId": project["id"]}),
        http.put("/api/apps/update", json={"appId": app["id"], "port": 9000}),
        http.post("/api/deployment/add", json={"appId": app["id"]}),
        http.post("/api/deployment/getByAppId", json={"appId": app["id"]}),
        http.get(f"/api/deployment/logs/{deployment['id']}"),
        http.request("DELETE", "/api/apps/delete", json={"appId": app["id"]}),
        http.request("DELETE", "/api/projects/delete", params={"id": project["id"]}),
    ]
    # Exactly what an id that does not exist gets, so ids do not leak.
    missing = http.post("/api/apps/getById", json={"appId": 999})
    assert missing.status_code == 404
    for response in hidden:
        assert response.status_code == 404, response.request.url
    mist.project("bobs")
    assert [p["name"] for p in mist.get("/api/projects/getAll")["data"]] == ["bobs"]

    mist.login("owner@example.com")
    updated = mist.put("/api/projects/updateMembers", {"userIds": [bob["id"]]}, id=project["id"])["data"]
    assert updated["memberIds"] == sorted([1, bob["id"]])
    assert {p["name"] for p in mist.get("/api/projects/getAll")["data"]} == {"private", "bobs"}

    mist.login("bob@example.com")
    assert mist.post("/api/apps/getById", {"appId": app["id"]})["data"]["name"] == "api"
    assert len(mist.deployments(app["id"])) == 1
    # A member who does not own the project cannot change its members or delete it.
    response = http.put("/api/projects/updateMembers", params={"id": project["id"]}, json={"userIds": []})
    assert response.status_code == 403
    assert http.request("DELETE", "/api/projects/delete", params={"id": project["id"]}).status_code == 403


def test_members_must_exist_and_project_ids_must_be_valid(http: TestClient, mist: MistClient) -> None:
    mist.signup()
    project = mist.project()
    response = http.put("/api/projects/updateMembers", params={"id": project["id"]}, json={"userIds": [42]})
    assert response.status_code == 400 and "42" in response.json()["message"]
    assert http.get("/api/projects/getFromId", params={"id": "abc"}).status_code == 400
    assert http.get("/api/projects/getFromId", params={"id": 2**70}).status_code == 400
    assert http.get("/api/projects/getFromId").status_code == 400
    assert http.post("/api/projects/create", json={"name": ""}).status_code == 400
    assert http.request("DELETE", "/api/projects/delete", params={"id": project["id"]}).status_code == 200
    assert http.get("/api/projects/getFromId", params={"id": project["id"]}).status_code == 404
