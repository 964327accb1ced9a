"""Deployments in Swarm mode through a real `mist serve` (MIST_RUNTIME=swarm) on the single-node swarm, with the
registry from Debian's package and Caddy in its container on the project overlays: replicas serving from
several containers, health-gated start-first updates under load, Swarm's rollback of an unhealthy version,
stop during an update, rollback without a build, a database's volume across updates, project isolation."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import httpx
import pytest
from support.client import MistClient
from support.cluster import wait_for
from support.engine import mist_servers
from support.gitserver import GitServer
from support.images import ensure_proxy_image, ensure_python_image, ensure_redis_image
from support.server import MistServer
from support.swarm import Registry, Swarm, WorkerNode
from websockets.sync.client import connect

pytestmark = [pytest.mark.swarm, pytest.mark.docker]

# Answers GET / with its version and the container's hostname (its short id); finishes the requests it
# has on SIGTERM, as an app behind a rolling update should.
SERVER_PY = """\
import http.server, os, signal, socket, sys, threading
VERSION = open("version.txt").read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} {socket.gethostname()}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)
server = http.server.ThreadingHTTPServer(("0.0.0.0", 8000), H)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"serving {VERSION}", flush=True)
server.serve_forever()
"""
DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
RUN echo {nonce}
CMD ["python3", "server.py"]
"""
DOMAIN = "swarm-shop.test"


def app_files(version: str, server_py: str = SERVER_PY) -> dict[str, str]:
    return {"server.py": server_py, "version.txt": version, "Dockerfile": DOCKERFILE.format(nonce=uuid.uuid4().hex)}


@pytest.fixture(scope="module")
def images(engine: docker.DockerClient) -> dict[str, str]:
    return {"python": ensure_python_image(engine), "redis": ensure_redis_image(engine),
            "proxy": ensure_proxy_image(engine)}


@pytest.fixture
def server(tmp_path: Path, engine: docker.DockerClient, swarm: Swarm, registry: Registry,
           images: dict[str, str]) -> Iterator[MistServer]:
    """A swarm-mode Mist (the `owner` fixture signs up on it)."""
    with mist_servers(engine, tmp_path / "data", template_images={"redis": images["redis"]}) as start:
        yield start(workers=1, runtime="swarm", registry=registry.address, proxy_image=images["proxy"],
                    health_timeout_seconds="120")


def via_proxy(server: MistServer, timeout: float = 30) -> str:
    def answer() -> str | None:
        try:
            response = httpx.get(server.proxy_url, headers={"Host": DOMAIN}, timeout=5)
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 and response.text else None
    return wait_for(answer, timeout=timeout, what="the app to answer through the proxy")


def deployed(owner: MistClient, app_id: int) -> dict:
    deployment = owner.deploy(app_id)
    final = owner.wait_final(app_id, deployment["id"])
    assert final["status"] == "success", owner.logs(deployment["id"])
    return final


@pytest.fixture
def web(owner: MistClient, git_server: GitServer, server: MistServer) -> dict:
    repo = f"sw-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, app_files("v1"), message="v1")
    app = owner.app(owner.project()["id"], "shop", git_server.url_for(repo), port=8000, replicas=2,
                    healthcheckPath="/", healthcheckInterval=1, healthcheckRetries=3)
    owner.post("/api/apps/domains/create", {"appId": app["id"], "domain": DOMAIN})
    first = deployed(owner, app["id"])
    return {**app, "repo": repo, "first": first}


@contextmanager
def under_load(server: MistServer) -> Iterator[list[str]]:
    """Requests to the app through Caddy, one after another, for as long as the block runs: each answer, or
    what went wrong instead."""
    results: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(headers={"Host": DOMAIN}, timeout=10) as client:
            while not stop.is_set():
                try:
                    response = client.get(server.proxy_url)
                    results.append(response.text if response.status_code == 200 else f"HTTP {response.status_code}")
                except httpx.HTTPError as exc:
                    results.append(f"error {type(exc).__name__}")
                time.sleep(0.01)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        yield results
    finally:
        stop.set()
        thread.join()


def hosts_answering(server: MistServer, version: str, want: int = 2, tries: int = 200) -> set[str]:
    seen: set[str] = set()
    for _ in range(tries):
        answer = via_proxy(server)
        assert answer.startswith(f"{version} "), answer
        seen.add(answer.split()[1])
        if len(seen) >= want:
            break
    return seen


def test_two_replicas_serve_through_caddy_and_an_update_under_load_fails_no_request(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict,
) -> None:
    service = engine.services.get(f"mist-app-{web['id']}")
    assert service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    image = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert "@sha256:" in image  # every node runs exactly the pushed image
    log = owner.logs(web["first"]["id"])
    assert "Pushed as " in log and "starting" in log
    assert len(hosts_answering(server, "v1")) == 2  # two containers answer

    with under_load(server) as results:
        git_server.commit(web["repo"], app_files("v2"), message="v2")
        update = deployed(owner, web["id"])
    assert len(results) > 100
    assert [r for r in results if not r.startswith(("v1 ", "v2 "))] == []  # 0 failed requests
    assert {r.split()[0] for r in results} == {"v1", "v2"}
    assert len(hosts_answering(server, "v2")) == 2
    stages = owner.logs(update["id"])
    assert "Updating service mist-app-" in stages and "2 replicas, start-first" in stages


def test_an_unhealthy_version_is_rolled_back_by_swarm_and_the_old_one_serves(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict,
) -> None:
    never_listens = "import time\nprint('waiting for a database that never comes', flush=True)\ntime.sleep(600)\n"
    git_server.commit(web["repo"], app_files("v2", never_listens), message="never healthy")
    deployment = owner.deploy(web["id"])
    failed = owner.wait_final(web["id"], deployment["id"])
    assert failed["status"] == "failed"
    assert "Swarm rolled the service back; the previous version keeps serving" in failed["error_message"]
    assert "waiting for a database that never comes" in owner.logs(deployment["id"])
    assert len(hosts_answering(server, "v1")) == 2
    spec = engine.services.get(f"mist-app-{web['id']}").attrs["Spec"]
    assert spec["Labels"]["mist.deployment"] == str(web["first"]["id"])


def test_stop_during_an_update_rolls_it_back_and_rollback_runs_an_earlier_image_without_a_build(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict,
) -> None:
    git_server.commit(web["repo"], app_files("v2"), message="v2")
    second = deployed(owner, web["id"])
    assert via_proxy(server).startswith("v2 ")

    slow_start = "import time\ntime.sleep(30)\n" + SERVER_PY
    git_server.commit(web["repo"], app_files("v3", slow_start), message="slow to start")
    third = owner.deploy(web["id"])
    wait_for(lambda: owner.deployment(web["id"], third["id"])["stage"] == "starting_new", timeout=120,
             what="the update to start new replicas")
    owner.post("/api/deployment/stop", {"deploymentId": third["id"]})
    stopped = owner.wait_final(web["id"], third["id"])
    assert stopped["status"] == "stopped", owner.logs(third["id"])
    assert "Rolling service mist-app-" in owner.logs(third["id"])
    assert len(hosts_answering(server, "v2")) == 2
    spec = engine.services.get(f"mist-app-{web['id']}").attrs["Spec"]
    assert spec["Labels"]["mist.deployment"] == str(second["id"])

    back = owner.post("/api/deployment/rollback", {"deploymentId": web["first"]["id"]})["data"]
    final = owner.wait_final(web["id"], back["id"])
    assert final["status"] == "success", owner.logs(back["id"])
    log = owner.logs(back["id"])
    assert "no clone, no build" in log and "Step 1/" not in log
    assert len(hosts_answering(server, "v1")) == 2


def test_status_answers_per_replica_logs_merge_the_replicas_and_stop_start_restart_scale_the_service(
    owner: MistClient, server: MistServer, engine: docker.DockerClient, web: dict,
) -> None:
    hosts = hosts_answering(server, "v1")
    status = owner.get("/api/apps/container/status", appId=web["id"])["data"]
    assert (status["state"], status["health"]) == ("running", "healthy")
    replicas = status["replicas"]
    assert [r["task"] for r in replicas] == [f"mist-app-{web['id']}.1", f"mist-app-{web['id']}.2"]
    manager = engine.info()["Name"]
    assert {(r["node"], r["state"], r["health"]) for r in replicas} == {(manager, "running", "healthy")}
    assert all(r["startedAt"] and r["restarts"] == 0 for r in replicas)

    # Each replica logged its start and the requests it served; the merged log names the task on each line.
    logs = owner.get("/api/apps/container/logs", appId=web["id"], tail=200)["data"]["logs"].splitlines()
    for slot in (1, 2):
        assert any(f" mist-app-{web['id']}.{slot} serving v1" in line for line in logs), logs
    assert len(hosts) == 2

    cookie = f"mist_session={owner.http.cookies['mist_session']}"
    with connect(f"{server.ws_url}/ws/container/logs?appId={web['id']}&tail=0",
                 additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
        seen: set[str] = set()
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            via_proxy(server)
            try:
                message = json.loads(ws.recv(timeout=1))
            except TimeoutError:
                continue
            if message["type"] == "log" and " request /" in message["data"]["line"]:
                seen.add(message["data"]["line"].split()[0])
        assert seen == {f"mist-app-{web['id']}.1", f"mist-app-{web['id']}.2"}  # live, from both replicas

    stopped = owner.post(f"/api/apps/container/stop?appId={web['id']}", None)["data"]
    assert stopped["state"] == "exited" and stopped["replicas"] == []
    assert engine.services.get(f"mist-app-{web['id']}").attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
    assert httpx.get(server.proxy_url, headers={"Host": DOMAIN}, timeout=10).status_code >= 500
    started = owner.post(f"/api/apps/container/start?appId={web['id']}", None)["data"]
    assert started["state"] == "running" and len(started["replicas"]) == 2
    assert len(hosts_answering(server, "v1")) == 2
    restarted = owner.post(f"/api/apps/container/restart?appId={web['id']}", None)["data"]
    assert len(restarted["replicas"]) == 2
    assert not hosts_answering(server, "v1") & hosts  # every replica is a fresh container


def test_a_database_keeps_its_volume_across_updates_pinned_to_its_node(
    owner: MistClient, server: MistServer, engine: docker.DockerClient, swarm: Swarm,
) -> None:
    project = owner.project("data")
    db = owner.app(project["id"], "cache", appType="database", templateName="redis")
    deployed(owner, db["id"])
    service = engine.services.get(f"mist-app-{db['id']}")
    spec = service.attrs["Spec"]
    assert spec["UpdateConfig"]["Order"] == "stop-first" and spec["Mode"]["Replicated"]["Replicas"] == 1
    label = f"mist.volumes.app-{db['id']}"
    swarm.node_labels.append((swarm.manager_id, label))  # taken off the node after the test
    assert spec["TaskTemplate"]["Placement"]["Constraints"] == [f"node.labels.{label} == true"]
    assert engine.nodes.get(swarm.manager_id).attrs["Spec"]["Labels"][label] == "true"

    def redis(*args: str) -> str:
        [task] = engine.containers.list(filters={"label": f"com.docker.swarm.service.name=mist-app-{db['id']}"})
        env = dict(e.split("=", 1) for e in task.attrs["Config"]["Env"])
        return task.exec_run(["redis-cli", *args],
                             environment={"REDISCLI_AUTH": env["REDIS_PASSWORD"]}).output.decode().strip()

    wait_for(lambda: redis("PING") == "PONG", timeout=60, what="redis to answer")
    assert redis("SET", "kept", "across-updates") == "OK"
    deployed(owner, db["id"])
    wait_for(lambda: redis("PING") == "PONG", timeout=60, what="redis to answer again")
    assert redis("GET", "kept") == "across-updates"

    # Its backups run where it runs, and are proven restorable.
    backup = owner.post("/api/backups/create", {"appId": db["id"]})["data"]
    done = wait_for(lambda: (b := owner.post("/api/backups/getById", {"id": backup["id"]})["data"])["status"]
                    in ("success", "failed") and b, timeout=180, what="the backup")
    assert (done["status"], done["verified"]) == ("success", True), done


def test_projects_are_isolated_on_their_overlays_and_reach_their_apps_by_name(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict,
) -> None:
    network = engine.networks.get(f"mist-project-{web['projectId']}")
    assert network.attrs["Driver"] == "overlay" and network.attrs["Attachable"] is True

    def fetch(project_id: int, name: str) -> int:
        probe = ("import sys, urllib.request\ntry: print(urllib.request.urlopen(f'http://{sys.argv[1]}:8000/', "
                 "timeout=3).read().decode())\nexcept Exception as e: print('refused', e); sys.exit(3)")
        container = engine.containers.run(
            "mist-test/python:bookworm", ["python3", "-c", probe, name], network=f"mist-project-{project_id}",
            detach=True)
        try:
            return int(container.wait(timeout=60)["StatusCode"])
        finally:
            container.remove(force=True)

    assert fetch(web["projectId"], "shop") == 0  # the app's name is its alias on its project's overlay
    other = owner.project("other")
    repo = f"sw-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, app_files("o1"), message="o1")
    app = owner.app(other["id"], "outsider", git_server.url_for(repo), port=8000)
    deployed(owner, app["id"])
    assert fetch(other["id"], "outsider") == 0
    assert fetch(other["id"], "shop") != 0  # another project's overlay does not reach it
    assert fetch(other["id"], f"tasks.mist-app-{web['id']}") != 0


def test_on_two_nodes_replicas_spread_caddy_reaches_both_and_a_drain_moves_them_failing_no_request(
    worker: WorkerNode, owner: MistClient, server: MistServer, engine: docker.DockerClient, swarm: Swarm,
    web: dict,
) -> None:
    service = engine.services.get(f"mist-app-{web['id']}")

    def nodes() -> list[str]:
        return sorted(t["NodeID"] for t in service.tasks({"desired-state": "running"})
                      if t["Status"]["State"] == "running")

    assert nodes() == sorted([swarm.manager_id, worker.id])  # one replica on each node
    assert len(hosts_answering(server, "v1")) == 2  # Caddy, on the manager, reaches the worker's replica too

    with under_load(server) as results:
        drained = owner.put("/api/nodes/update", {"id": worker.id, "availability": "drain"})["data"]
        assert drained["availability"] == "drain"
        wait_for(lambda: nodes() == [swarm.manager_id] * 2, timeout=180, what="the worker's replica to move")
        time.sleep(2)  # and a moment of serving from the manager only
    assert len(results) > 50
    assert [r for r in results if not r.startswith("v1 ")] == []  # 0 failed requests
    assert len(hosts_answering(server, "v1")) == 2
