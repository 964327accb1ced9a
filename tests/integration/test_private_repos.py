"""Private repositories on the real engine: a deploy key against a real sshd, a token against real
smart HTTP, and no credential in any log, response or image layer."""

from __future__ import annotations

import io
import sqlite3
import tarfile
import uuid

import docker
import httpx
from conftest import container_of, http_get
from support.client import MistClient
from support.gitserver import GitServer
from support.httpgit import TokenGitServer
from support.sample_app import SERVER_PY
from support.server import MistServer
from support.sshgit import SshGitServer

from mist.secretbox import SecretBox

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
CMD ["python3", "server.py"]
"""


def files(version: str) -> dict[str, str]:
    return {"server.py": SERVER_PY, "version.txt": version, "Dockerfile": DOCKERFILE}


def image_bytes(engine: docker.DockerClient, ref: str) -> bytes:
    """Every layer of the image, unpacked: whatever a `docker save` would ship."""
    raw = b"".join(engine.images.get(ref).save(named=True))
    out = [raw]
    with tarfile.open(fileobj=io.BytesIO(raw)) as outer:
        for member in outer.getmembers():
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=outer.extractfile(member)) as layer:
                    for entry in layer.getmembers():
                        if entry.isfile():
                            out.append(entry.name.encode() + layer.extractfile(entry).read())
    return b"\n".join(out)


def private_key(server: MistServer, app_id: int) -> str:
    with sqlite3.connect(server.data_dir / "mist.db") as db:
        (sealed,) = db.execute("SELECT deploy_key_private FROM apps WHERE id = ?", (app_id,)).fetchone()
    return SecretBox(server.data_dir / "secret.key").decrypt(sealed)


def test_private_repository_over_ssh_with_the_apps_deploy_key(
    owner: MistClient, server: MistServer, git_server: GitServer, ssh_git_server: SshGitServer,
    engine: docker.DockerClient,
) -> None:
    repo = f"private-ssh-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, files("ssh-v1"))
    project = owner.project()
    app = owner.app(project["id"], "web", ssh_git_server.url_for(repo), port=8000)

    # Not authorised yet: the deployment is refused with a reason a user can act on.
    public = owner.post("/api/apps/deployKey", {"appId": app["id"]})["data"]["publicKey"]
    refused = owner.post("/api/deployment/add", {"appId": app["id"]}, expect=422)
    assert "refused the app's deploy key" in refused["message"]

    ssh_git_server.authorize(public)
    try:
        first = owner.deploy(app["id"])
        done = owner.wait_final(app["id"], first["id"])
        assert done["status"] == "success", owner.logs(first["id"])
        assert http_get(engine, app["id"], 8000) == "ssh-v1 - 8000"

        # A fresh commit is fetched by the worker over ssh as well.
        git_server.commit(repo, {"version.txt": "ssh-v2"}, "v2")
        second = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], second["id"])["status"] == "success", owner.logs(second["id"])
        assert http_get(engine, app["id"], 8000) == "ssh-v2 - 8000"
        # The key itself, read the way Mist reads it, is in no layer and no log.
        key_body = private_key(server, app["id"]).splitlines()[2]
        assert len(key_body) > 40
        assert key_body.encode() not in image_bytes(engine, container_of(engine, app["id"]).image.id)
        assert key_body not in owner.logs(first["id"]) + owner.logs(second["id"]) + server.output()
    finally:
        ssh_git_server.revoke_all()


def test_a_changed_host_key_fails_the_deployment_clearly(
    owner: MistClient, git_server: GitServer, engine: docker.DockerClient
) -> None:
    repo = f"private-hostkey-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, files("hk-v1"))
    with SshGitServer(git_server.root) as ssh:  # its own: rotating the shared one breaks others' pins
        project = owner.project()
        app = owner.app(project["id"], "web", ssh.url_for(repo), port=8000)
        ssh.authorize(owner.post("/api/apps/deployKey", {"appId": app["id"]})["data"]["publicKey"])
        first = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], first["id"])["status"] == "success", owner.logs(first["id"])

        ssh.rotate_host_key()
        git_server.commit(repo, {"version.txt": "hk-v2"}, "v2")
        refused = owner.post("/api/deployment/add", {"appId": app["id"]}, expect=422)
        assert "host key has changed" in refused["message"]
        assert http_get(engine, app["id"], 8000) == "hk-v1 - 8000"  # still serving

        # The user confirms the new key: Mist learns it again and deploys.
        owner.post("/api/apps/deployKey", {"appId": app["id"], "forgetHostKeys": True})
        second = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], second["id"])["status"] == "success", owner.logs(second["id"])


def test_https_remote_with_a_token_that_appears_nowhere(
    server_factory, git_server: GitServer, https_git_server: TokenGitServer, engine: docker.DockerClient,
) -> None:
    # The git server's certificate comes from a private CA, as a company's Gitea's would.
    server = server_factory(git_ca_file=str(https_git_server.ca_file))
    remote = https_git_server
    token = remote.token
    repo = f"private-https-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, files("https-v1"))
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        project = owner.project()
        url = remote.url_for(repo)
        assert url.startswith("https://")
        app = owner.app(project["id"], "web", url, port=8000)
        missing = owner.post("/api/deployment/add", {"appId": app["id"]}, expect=422)
        assert "needs credentials" in missing["message"]

        owner.put("/api/apps/update", {"appId": app["id"], "gitToken": token})
        deployment = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], deployment["id"])["status"] == "success", owner.logs(deployment["id"])
        assert http_get(engine, app["id"], 8000) == "https-v1 - 8000"

        seen = [
            owner.logs(deployment["id"]),
            str(owner.post("/api/apps/getById", {"appId": app["id"]})),
            str(owner.post("/api/apps/getByProjectId", {"projectId": project["id"]})),
            str(owner.deployments(app["id"])),
            str(owner.get("/api/apps/container/status", appId=app["id"])),
            str(owner.get("/api/apps/container/logs", appId=app["id"])),
            server.output(),
        ]
    assert all(token not in text for text in seen)
    assert token.encode() not in image_bytes(engine, container_of(engine, app["id"]).image.id)
    for path in server.data_dir.rglob("*"):  # the database holds it encrypted only
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
    assert all(token not in r["path"] for r in remote.requests)
    assert any(r["authorization"] and r["status"] == 200 for r in remote.requests)
