"""A Python web app through the whole pipeline on the real engine: deploy, redeploy, broken build."""

from __future__ import annotations

import uuid

import docker
from conftest import container_of, http_get
from support.client import MistClient
from support.gitserver import GitServer
from support.sample_app import SERVER_PY

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
ARG API_KEY
RUN echo "build sees key=$API_KEY"
COPY . .
RUN test ! -e local-secrets.txt && echo "dockerignore honoured"
CMD ["python3", "server.py"]
"""


def files(version: str) -> dict[str, str]:
    return {
        "server.py": SERVER_PY,
        "version.txt": version,
        "Dockerfile": DOCKERFILE,
        ".dockerignore": "local-secrets.txt\n",
        "local-secrets.txt": "do not ship\n",
    }


def test_deploy_redeploy_and_a_broken_build_that_keeps_the_old_version_serving(
    owner: MistClient, git_server: GitServer, engine: docker.DockerClient
) -> None:
    repo = f"web-{uuid.uuid4().hex[:8]}"
    # Unique per run: it is a build arg, so the steps after it never come from the cache.
    api_key = f"key-{uuid.uuid4().hex}"
    first_sha = git_server.create_repo(repo, files("v1"), message="First version")
    project = owner.project()
    app = owner.app(project["id"], "web", git_server.url_for(repo), port=8000, envVars=[
        {"key": "GREETING", "value": "hello"},
        {"key": "API_KEY", "value": api_key, "secret": True, "buildTime": True},
    ])

    first = owner.deploy(app["id"])
    assert (first["commit_hash"], first["commit_message"]) == (first_sha, "First version")
    done = owner.wait_final(app["id"], first["id"])
    assert done["status"] == "success", owner.logs(first["id"])
    assert (done["stage"], done["progress"], done["is_active"]) == ("completed", 100, True)
    assert http_get(engine, app["id"], 8000) == "v1 hello 8000"

    container = container_of(engine, app["id"])
    assert container.name == f"mist-app-{app['id']}"
    assert container.labels["mist.deployment"] == str(first["id"])
    assert container.image.tags == [f"mist-app-{app['id']}:{first['id']}"]
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"

    log = owner.logs(first["id"])
    for expected in ("Cloning repository...", "Building Docker image...", "Step 1/7 : FROM mist-test/python:bookworm",
                     "dockerignore honoured", "Successfully built", "Starting new container beside the current one...",
                     "The new container is healthy", "Switching traffic to the new container",
                     "Deployment completed successfully"):
        assert expected in log, expected
    assert "build sees key=********" in log
    assert api_key not in log

    second_sha = git_server.commit(repo, files("v2"), message="Second version")
    second = owner.deploy(app["id"])
    assert second["commit_hash"] == second_sha
    assert owner.wait_final(app["id"], second["id"])["status"] == "success"
    assert http_get(engine, app["id"], 8000) == "v2 hello 8000"
    serving = container_of(engine, app["id"]).id
    active = {d["id"]: d["is_active"] for d in owner.deployments(app["id"])}
    assert active == {first["id"]: False, second["id"]: True}

    broken = files("v3")
    broken["Dockerfile"] = DOCKERFILE.replace("COPY . .", "COPY . .\nRUN echo compiling && exit 3")
    git_server.commit(repo, broken, message="Break the build")
    third = owner.deploy(app["id"])
    failed = owner.wait_final(app["id"], third["id"])
    assert failed["status"] == "failed"
    assert failed["stage"] == "building_image"
    assert failed["error_message"].startswith("Failed to build Docker image:")
    assert "non-zero code: 3" in failed["error_message"]
    # The running version was never touched.
    assert container_of(engine, app["id"]).id == serving
    assert http_get(engine, app["id"], 8000) == "v2 hello 8000"
    history = owner.deployments(app["id"])
    assert [(d["deployment_number"], d["status"], d["is_active"]) for d in history] == [
        (3, "failed", False), (2, "success", True), (1, "success", False),
    ]
    assert all(d["duration"] >= 0 and d["updated_at"].endswith("Z") for d in history)


def test_root_directory_and_dockerfile_path_of_a_monorepo(
    owner: MistClient, git_server: GitServer, engine: docker.DockerClient
) -> None:
    repo = f"mono-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {
        "README.md": "monorepo",
        "services/api/docker/Web.dockerfile": (
            "FROM mist-test/busybox:1\nCOPY marker.txt /marker.txt\n"
            'CMD ["sh", "-c", "cat /marker.txt; sleep 3600"]\n'
        ),
        "services/api/marker.txt": "from services/api\n",
    })
    project = owner.project()
    app = owner.app(project["id"], "api", git_server.url_for(repo), appType="service",
                    rootDirectory="services/api", dockerfilePath="docker/Web.dockerfile")
    deployment = owner.deploy(app["id"])
    assert owner.wait_final(app["id"], deployment["id"])["status"] == "success", owner.logs(deployment["id"])
    container = container_of(engine, app["id"])
    assert container.status == "running"
    assert b"from services/api" in container.logs()

    owner.put("/api/apps/update", {"appId": app["id"], "dockerfilePath": "docker/Missing.dockerfile"})
    missing = owner.deploy(app["id"])
    failed = owner.wait_final(app["id"], missing["id"])
    assert failed["status"] == "failed" and "docker/Missing.dockerfile" in failed["error_message"]
    assert container_of(engine, app["id"]).id == container.id
