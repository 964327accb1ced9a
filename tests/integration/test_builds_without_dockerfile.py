"""Repositories without a Dockerfile, from a push to a page served through Caddy, on the real engine:
one of each kind Mist detects, built from images made of Debian's packages (MIST_BUILDER_IMAGES) and,
for Python dependencies, a local package index. And the release command, passing and failing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import docker
import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer
from support.images import ensure_builder_images
from support.pyindex import PackageIndex, make_wheel
from support.server import MistServer

SERVE_PY = """\
import http.server, os
from greeting import text

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (text() + " " + open("version.txt").read().strip()).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""

INFERRED_PY = SERVE_PY.replace("from greeting import text\n", "text = lambda: 'inferred python'\n")

NODE_SERVER = """\
const http = require("http");
const fs = require("fs");
http.createServer((req, res) => res.end("node " + fs.readFileSync("version.txt", "utf8").trim()))
  .listen(Number(process.env.PORT));
"""

GO_MAIN = """\
package main

import (
\t"net/http"
\t"os"
)

func main() {
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("go v1")) })
\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
"""

SITE_BUILD_JS = """\
const fs = require("fs");
fs.mkdirSync("dist", { recursive: true });
fs.writeFileSync("dist/index.html", "<h1>built site v1</h1>");
"""


def package(name: str, scripts: dict[str, str]) -> dict[str, str]:
    """package.json and the lockfile npm writes for a package without dependencies."""
    manifest = {"name": name, "version": "1.0.0", "private": True, "scripts": scripts}
    lock = {"name": name, "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": name, "version": "1.0.0"}}}
    return {"package.json": json.dumps(manifest, indent=2), "package-lock.json": json.dumps(lock, indent=2)}


KINDS: dict[str, tuple[dict[str, str], str]] = {
    # kind: (repository, what its page says)
    "python-procfile": ({"requirements.txt": "greeting==1.0\n", "server.py": SERVE_PY, "version.txt": "v1",
                         "Procfile": "web: python3 server.py\n"}, "hello from a wheel v1"),
    "python-inferred": ({"requirements.txt": "", "app.py": INFERRED_PY, "version.txt": "v1"}, "inferred python v1"),
    "node": ({**package("shop", {"start": "node server.js"}), "server.js": NODE_SERVER, "version.txt": "v1"},
             "node v1"),
    "go": ({"go.mod": "module example.com/hello\n\ngo 1.19\n", "main.go": GO_MAIN}, "go v1"),
    "static": ({"index.html": "<h1>static v1</h1>"}, "<h1>static v1</h1>"),
    "node-static": ({**package("site", {"build": "node build.js"}), "build.js": SITE_BUILD_JS},
                    "<h1>built site v1</h1>"),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, engine: docker.DockerClient) -> Iterator[PackageIndex]:
    wheels = tmp_path_factory.mktemp("wheels")
    make_wheel(wheels, "greeting", "1.0", {"greeting.py": "def text():\n    return 'hello from a wheel'\n"})
    served = PackageIndex(wheels, engine).start()
    yield served
    served.stop()


@pytest.fixture
def builder_server(server_factory: Callable[..., MistServer], engine: docker.DockerClient) -> MistServer:
    return server_factory(builder_images=json.dumps(ensure_builder_images(engine)))


@pytest.fixture
def owner_of(builder_server: MistServer) -> Iterator[MistClient]:
    with httpx.Client(base_url=builder_server.url, timeout=60) as http:
        client = MistClient(http)
        client.signup()
        yield client


def through_caddy(server: MistServer, domain: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(server.proxy_url, headers={"Host": domain}, timeout=5)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response.text
        time.sleep(0.2)


def new_app(owner: MistClient, git_server: GitServer, project_id: int, name: str, files: dict[str, str],
            index: PackageIndex, **fields: object) -> dict:
    repo = f"{name}-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, files)
    env = [{"key": key, "value": value, "buildTime": True, "runtime": False} for key, value in index.build_env.items()]
    app = owner.app(project_id, name, git_server.url_for(repo), port=8000, envVars=env, **fields)
    owner.post("/api/apps/domains/create", {"appId": app["id"], "domain": f"{name}.test"})
    return {**app, "repo": repo}


def test_one_repository_of_each_kind_without_a_dockerfile_serves_its_page_through_caddy(
    builder_server: MistServer, owner_of: MistClient, git_server: GitServer, index: PackageIndex
) -> None:
    project = owner_of.project()
    apps = {kind: new_app(owner_of, git_server, project["id"], kind, files, index)
            for kind, (files, _) in KINDS.items()}
    deployments = {kind: owner_of.deploy(app["id"]) for kind, app in apps.items()}
    for kind, app in apps.items():
        final = owner_of.wait_final(app["id"], deployments[kind]["id"], timeout=600)
        log = owner_of.logs(deployments[kind]["id"])
        assert final["status"] == "success", (kind, log)
        assert "Generated Dockerfile" in log and log.index("Generated Dockerfile") < log.index("Step 1/")
        assert through_caddy(builder_server, f"{kind}.test") == KINDS[kind][1], (kind, log)
    node_static = owner_of.logs(deployments["node-static"]["id"])
    assert "No Dockerfile used: building as a node app" in node_static and "caddy" in node_static


def test_the_release_command_runs_before_the_new_version_and_a_failing_one_keeps_the_old_serving(
    builder_server: MistServer, owner_of: MistClient, git_server: GitServer, index: PackageIndex,
    engine: docker.DockerClient,
) -> None:
    procfile = "web: python3 server.py\nrelease: echo migrating to $RELEASE_TO\n"
    files = {**KINDS["python-procfile"][0], "Procfile": procfile}
    app = new_app(owner_of, git_server, owner_of.project()["id"], "released", files, index,
                  updateStrategy="recreate")
    owner_of.post("/api/apps/envs/create", {"appId": app["id"], "key": "RELEASE_TO", "value": "v1"})
    first = owner_of.deploy(app["id"])
    assert owner_of.wait_final(app["id"], first["id"], timeout=600)["status"] == "success", owner_of.logs(first["id"])
    log = owner_of.logs(first["id"])
    # The app's env reaches it, its output is in the log, all before the app's container is touched.
    assert log.index("Running the release command") < log.index("migrating to v1") < log.index("Stopping previous")
    assert through_caddy(builder_server, "released.test") == "hello from a wheel v1"

    git_server.commit(app["repo"], {"version.txt": "v2", "Procfile": "web: python3 server.py\nrelease: exit 3\n"},
                      message="A release that fails")
    second = owner_of.deploy(app["id"])
    final = owner_of.wait_final(app["id"], second["id"], timeout=600)
    assert final["status"] == "failed" and "release command exited with code 3" in final["error_message"]
    assert through_caddy(builder_server, "released.test") == "hello from a wheel v1"  # the old one serves on
    leftovers = engine.containers.list(all=True, filters={"label": f"mist.deployment={second['id']}"})
    assert leftovers == []  # the one-off container is gone
