"""Issue 3 on the real engine and a real Caddy: health-gated switches, stop, rollback, timeouts."""

from __future__ import annotations

import json
import threading
import time
import uuid

import docker
import httpx
import pytest
from conftest import container_of
from support.client import MistClient
from support.gitserver import GitServer
from support.sample_app import SERVER_PY
from support.server import MistServer
from websockets.sync.client import connect

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
RUN echo {nonce}
CMD ["python3", "server.py"]
"""
DOMAIN = "shop.test"


def app_files(version: str, dockerfile: str = DOCKERFILE) -> dict[str, str]:
    return {"server.py": SERVER_PY, "version.txt": version, "Dockerfile": dockerfile.format(nonce=uuid.uuid4().hex)}


def via_proxy(server: MistServer, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(server.proxy_url, headers={"Host": DOMAIN}, timeout=5)
            if response.status_code == 200 and response.text:
                return response.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the app did not answer through the proxy")
        time.sleep(0.1)


@pytest.fixture
def web(owner: MistClient, git_server: GitServer, server: MistServer) -> dict:
    repo = f"zd-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, app_files("v1"), message="v1")
    app = owner.app(owner.project()["id"], "shop", git_server.url_for(repo), port=8000,
                    envVars={"GREETING": "hi"})
    owner.post("/api/apps/domains/create", {"appId": app["id"], "domain": DOMAIN})
    first = owner.deploy(app["id"])
    assert owner.wait_final(app["id"], first["id"])["status"] == "success", owner.logs(first["id"])
    assert via_proxy(server) == "v1 hi 8000"
    return {**app, "repo": repo, "first": first}


def test_redeploys_under_load_drop_no_request(
    owner: MistClient, git_server: GitServer, server: MistServer, web: dict
) -> None:
    results: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(headers={"Host": DOMAIN}, timeout=5) as client:
            while not stop.is_set():
                try:
                    response = client.get(server.proxy_url)
                    results.append(response.text if response.status_code == 200 else f"HTTP {response.status_code}")
                except httpx.HTTPError:
                    # A keep-alive connection Caddy closed at a config load: retried once, fresh.
                    try:
                        results.append(httpx.get(server.proxy_url, headers={"Host": DOMAIN}, timeout=5).text)
                    except httpx.HTTPError as exc:
                        results.append(f"error {type(exc).__name__}")
                time.sleep(0.01)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        for version in ("v2", "v3"):
            git_server.commit(web["repo"], app_files(version), message=version)
            deployment = owner.deploy(web["id"])
            assert owner.wait_final(web["id"], deployment["id"])["status"] == "success"
            assert via_proxy(server) == f"{version} hi 8000"
    finally:
        stop.set()
        thread.join()
    assert len(results) > 50
    bad = [r for r in results if not r.endswith(" hi 8000")]
    assert bad == []
    assert {"v1 hi 8000", "v3 hi 8000"} <= set(results)


def test_an_unhealthy_version_never_replaces_a_healthy_one(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict
) -> None:
    owner.put("/api/apps/update", {"appId": web["id"], "healthcheckPath": "/",
                                   "healthcheckInterval": 1, "healthcheckRetries": 3})
    serving = container_of(engine, web["id"]).id
    crashing = app_files("v2")
    crashing["server.py"] = "import sys\nprint('cannot connect to the database', flush=True)\nsys.exit(4)\n"
    git_server.commit(web["repo"], crashing, message="crash on start")
    deployment = owner.deploy(web["id"])
    failed = owner.wait_final(web["id"], deployment["id"])
    assert failed["status"] == "failed"
    assert "exit code 4" in failed["error_message"]
    log = owner.logs(deployment["id"]).splitlines()
    assert "  cannot connect to the database" in log
    assert log[-1].startswith("Deployment failed: the new container exited")
    assert container_of(engine, web["id"]).id == serving
    assert via_proxy(server) == "v1 hi 8000"

    silent = app_files("v3")
    silent["server.py"] = "import time\nprint('listening nowhere', flush=True)\ntime.sleep(600)\n"
    git_server.commit(web["repo"], silent, message="never listens")
    deployment = owner.deploy(web["id"])
    failed = owner.wait_final(web["id"], deployment["id"])
    assert "did not become healthy" in failed["error_message"]
    assert "listening nowhere" in owner.logs(deployment["id"])
    assert container_of(engine, web["id"]).id == serving
    assert via_proxy(server) == "v1 hi 8000"


def test_stop_interrupts_a_long_build_and_stops_a_finished_one_never(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict
) -> None:
    slow = DOCKERFILE.replace("RUN echo {nonce}", "RUN echo {nonce} && echo long-step && sleep 300")
    git_server.commit(web["repo"], app_files("v2", slow), message="slow build")
    deployment = owner.deploy(web["id"])
    cookie = f"mist_session={owner.http.cookies['mist_session']}"
    seen: list[dict] = []

    def watch() -> None:
        with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}",
                     additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
            seen.extend(json.loads(m) for m in ws)

    watcher = threading.Thread(target=watch)
    watcher.start()
    deadline = time.monotonic() + 60
    while "long-step" not in owner.logs(deployment["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # One waiting behind it stops at once, without running.
    waiting = owner.deploy(web["id"])
    assert owner.post("/api/deployment/stop", {"deploymentId": waiting["id"]})["data"]["status"] == "stopped"
    assert "Stopped by owner before it started" in owner.deployment(web["id"], waiting["id"])["error_message"]
    started = time.monotonic()
    stopped = owner.post("/api/deployment/stop", {"deploymentId": deployment["id"]})["data"]
    assert stopped["status"] == "stopped"
    assert time.monotonic() - started < 30  # not the 300 s the step would take
    watcher.join(30)
    assert seen[-1]["type"] == "status" and seen[-1]["data"]["status"] == "stopped"
    assert via_proxy(server) == "v1 hi 8000"
    assert [c.name for c in engine.containers.list(all=True, filters={"label": f"mist.app={web['id']}"})] == [
        f"mist-app-{web['id']}"
    ]
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(f"mist-app-{web['id']}:{deployment['id']}")
    assert "Deployment stopped: Stopped by owner" in owner.logs(deployment["id"])

    again = owner.http.post("/api/deployment/stop", json={"deploymentId": deployment["id"]})
    assert again.status_code == 409 and "already ended (stopped)" in again.json()["message"]


def test_rollback_runs_the_earlier_image_and_configuration_again(
    owner: MistClient, git_server: GitServer, server: MistServer, engine: docker.DockerClient, web: dict
) -> None:
    owner.put("/api/apps/update", {"appId": web["id"], "envVars": {"GREETING": "hello"}})
    git_server.commit(web["repo"], app_files("v2"), message="v2")
    second = owner.deploy(web["id"])
    assert owner.wait_final(web["id"], second["id"])["status"] == "success"
    assert via_proxy(server) == "v2 hello 8000"

    rollback = owner.post("/api/deployment/rollback", {"deploymentId": web["first"]["id"]})["data"]
    assert rollback["deployment_number"] == 3
    assert rollback["rolled_back_from"] == second["id"]
    assert rollback["commit_hash"] == web["first"]["commit_hash"]
    done = owner.wait_final(web["id"], rollback["id"])
    assert done["status"] == "success", owner.logs(rollback["id"])
    # The first deployment's image and env, though the app's env has changed since.
    assert via_proxy(server) == "v1 hi 8000"
    log = owner.logs(rollback["id"])
    assert "Cloning repository" not in log and "Step 1/" not in log
    history = {d["id"]: (d["status"], d["is_active"]) for d in owner.deployments(web["id"])}
    assert history[second["id"]] == ("rolled_back", False)
    assert history[rollback["id"]] == ("success", True)
    assert container_of(engine, web["id"]).labels["mist.deployment"] == str(rollback["id"])

    again = owner.http.post("/api/deployment/rollback", json={"deploymentId": rollback["id"]})
    assert again.status_code == 409 and "already the active one" in again.json()["message"]


def test_a_burst_of_triggers_costs_one_build(
    owner: MistClient, git_server: GitServer, server: MistServer, web: dict
) -> None:
    slow = DOCKERFILE.replace("RUN echo {nonce}", "RUN echo {nonce} && sleep 3")
    git_server.commit(web["repo"], app_files("v2", slow), message="v2")
    running = owner.deploy(web["id"])
    burst = [owner.deploy(web["id"]) for _ in range(3)]
    assert owner.wait_final(web["id"], burst[-1]["id"])["status"] == "success"
    newest = burst[-1]["deployment_number"]
    for d in burst[:2]:
        row = owner.deployment(web["id"], d["id"])
        assert (row["status"], row["error_message"]) == ("stopped", f"superseded by #{newest}")
    assert owner.deployment(web["id"], running["id"])["status"] == "success"


def test_a_stage_over_its_time_limit_fails_naming_the_stage(
    server_factory, git_server: GitServer
) -> None:
    server = server_factory(build_timeout_seconds="3")
    repo = f"timeout-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": f"FROM mist-test/busybox:1\nRUN echo {uuid.uuid4().hex} && sleep 60\n"})
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        app = owner.app(owner.project()["id"], "slow", git_server.url_for(repo), appType="service")
        deployment = owner.deploy(app["id"])
        failed = owner.wait_final(app["id"], deployment["id"], timeout=60)
    assert failed["status"] == "failed"
    assert failed["error_message"] == "stage 'building_image' timed out after 3 s"


def test_caddy_restarted_empty_gets_the_routes_back(
    owner: MistClient, server: MistServer, web: dict
) -> None:
    httpx.post(f"http://127.0.0.1:{server.proxy_admin_port}/load",
               json={"admin": {"listen": f"127.0.0.1:{server.proxy_admin_port}"}}, timeout=10)
    assert via_proxy(server, timeout=30) == "v1 hi 8000"
