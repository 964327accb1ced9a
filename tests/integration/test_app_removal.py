"""Volumes that outlive deployments, and deleting apps and projects on the real engine: what belongs
to the deleted app goes (containers, images, volumes when asked, mirror, logs), nothing else does."""

from __future__ import annotations

import sqlite3
import uuid

import docker
from conftest import container_of
from support.client import MistClient
from support.gitserver import GitServer
from support.sample_app import SERVER_PY
from support.server import MistServer

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
CMD ["python3", "server.py"]
"""


def deployed(owner: MistClient, app: dict) -> None:
    deployment = owner.deploy(app["id"])
    assert owner.wait_final(app["id"], deployment["id"])["status"] == "success", owner.logs(deployment["id"])


def names(engine: docker.DockerClient, kind: str, app_id: int) -> list[str]:
    if kind == "volumes":
        return sorted(v.name for v in engine.volumes.list(filters={"label": f"mist.app={app_id}"}))
    if kind == "images":
        images = engine.images.list(name=f"mist-app-{app_id}")
        return sorted(t for i in images for t in i.tags if t.startswith(f"mist-app-{app_id}:"))
    return sorted(c.name for c in engine.containers.list(all=True, filters={"label": f"mist.app={app_id}"}))


def test_named_volumes_survive_redeploys_and_go_with_the_app_only_when_asked(
    owner: MistClient, server: MistServer, git_server: GitServer, engine: docker.DockerClient
) -> None:
    repo = f"removal-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"server.py": SERVER_PY, "version.txt": "v1", "Dockerfile": DOCKERFILE})
    project = owner.project()
    keep = owner.app(project["id"], "keep", git_server.url_for(repo), port=8000)
    gone = owner.app(project["id"], "gone", git_server.url_for(repo), port=8000)
    for app in (keep, gone):
        owner.post("/api/apps/volumes/create", {"appId": app["id"], "name": "files", "containerPath": "/files"})
        deployed(owner, app)
        container_of(engine, app["id"]).exec_run(["sh", "-c", "echo kept > /files/note"])

    deployed(owner, gone)  # a redeploy: a new container on the same volume
    assert container_of(engine, gone["id"]).exec_run(["cat", "/files/note"]).output == b"kept\n"
    assert names(engine, "volumes", gone["id"]) == [f"mist-app-{gone['id']}-vol-files"]
    before = {kind: names(engine, kind, keep["id"]) for kind in ("containers", "images", "volumes")}
    gone_deployments = [d["id"] for d in owner.deployments(gone["id"])]
    assert all("Deployment completed successfully" in owner.logs(i) for i in gone_deployments)

    response = owner.http.request("DELETE", "/api/apps/delete", json={"appId": gone["id"], "deleteVolumes": True})
    assert response.status_code == 200, response.text
    assert {kind: names(engine, kind, gone["id"]) for kind in ("containers", "images", "volumes")} == {
        "containers": [], "images": [], "volumes": []}
    assert not (server.data_dir / "git" / f"app-{gone['id']}.git").exists()
    # Its deployments' logs went with its rows.
    assert all(owner.http.get(f"/api/deployment/logs/{i}").status_code == 404 for i in gone_deployments)
    with sqlite3.connect(server.data_dir / "mist.db") as db:
        marks = ",".join("?" * len(gone_deployments))
        stored = db.execute(f"SELECT COUNT(*) FROM deployment_logs WHERE deployment_id IN ({marks})", gone_deployments)
        assert stored.fetchone() == (0,)
    # The other app of the project is untouched, and still on the project's network.
    assert {kind: names(engine, kind, keep["id"]) for kind in ("containers", "images", "volumes")} == before
    assert container_of(engine, keep["id"]).exec_run(["cat", "/files/note"]).output == b"kept\n"
    assert (server.data_dir / "git" / f"app-{keep['id']}.git").exists()

    # Without deleteVolumes the data stays; deleting the project takes its network away.
    response = owner.http.request("DELETE", "/api/apps/delete", json={"appId": keep["id"]})
    assert response.status_code == 200
    assert names(engine, "containers", keep["id"]) == []
    assert names(engine, "volumes", keep["id"]) == [f"mist-app-{keep['id']}-vol-files"]
    assert engine.networks.list(names=[f"mist-project-{project['id']}"])
    assert owner.http.request("DELETE", "/api/projects/delete", params={"id": project["id"]}).status_code == 200
    assert engine.networks.list(names=[f"mist-project-{project['id']}"]) == []


def test_a_volume_in_use_keeps_its_data_until_the_container_lets_go(
    owner: MistClient, git_server: GitServer, engine: docker.DockerClient
) -> None:
    repo = f"volume-busy-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"server.py": SERVER_PY, "version.txt": "v1", "Dockerfile": DOCKERFILE})
    app = owner.app(owner.project()["id"], "web", git_server.url_for(repo), port=8000)
    volume = owner.post("/api/apps/volumes/create", {"appId": app["id"], "name": "data",
                                                     "containerPath": "/data"})["data"]
    deployed(owner, app)
    busy = owner.http.request("DELETE", "/api/apps/volumes/delete", json={"id": volume["id"], "removeData": True})
    assert busy.status_code == 409 and "in use" in busy.json()["message"]
    assert [v["id"] for v in owner.post("/api/apps/volumes/get", {"appId": app["id"]})["data"]] == [volume["id"]]
    # Detached first, redeployed without it, then its data can go.
    owner.http.request("DELETE", "/api/apps/volumes/delete", json={"id": volume["id"]})
    deployed(owner, app)
    assert container_of(engine, app["id"]).attrs["Mounts"] == []
    assert names(engine, "volumes", app["id"]) == [f"mist-app-{app['id']}-vol-data"]
