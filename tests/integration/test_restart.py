"""A Mist process killed with SIGKILL in the middle of a build: nothing lost, nothing stuck."""

from __future__ import annotations

import json
import signal
import time
import uuid

import docker
import httpx
from conftest import container_of
from support.client import MistClient
from support.gitserver import GitServer
from support.sample_app import SERVER_PY
from websockets.sync.client import connect

QUICK = 'FROM mist-test/busybox:1\nRUN echo {nonce}\nCMD ["sh", "-c", "sleep 3600"]\n'
SLOW = ('FROM mist-test/busybox:1\nRUN echo {nonce} && echo long-step-started && sleep 60\n'
        'CMD ["sh", "-c", "sleep 3600"]\n')


def wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_during_build_fails_it_clearly_keeps_the_old_container_and_runs_the_queue(
    server_factory, git_server: GitServer, engine: docker.DockerClient
) -> None:
    server = server_factory(workers=1)
    slow_repo, other_repo = f"slow-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(slow_repo, {"Dockerfile": QUICK.format(nonce=uuid.uuid4().hex)})
    git_server.create_repo(other_repo, {"Dockerfile": QUICK.format(nonce=uuid.uuid4().hex)})

    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        project = owner.project()
        slow = owner.app(project["id"], "slow", git_server.url_for(slow_repo), appType="service")
        other = owner.app(project["id"], "other", git_server.url_for(other_repo), appType="service")
        good = owner.deploy(slow["id"])
        assert owner.wait_final(slow["id"], good["id"])["status"] == "success"
        serving = container_of(engine, slow["id"]).id

        git_server.commit(slow_repo, {"Dockerfile": SLOW.format(nonce=uuid.uuid4().hex)}, message="slow build")
        building = owner.deploy(slow["id"])
        wait_for(lambda: "long-step-started" in owner.logs(building["id"]), what="the long build step")
        # One worker: this one waits in the queue behind the build.
        queued = owner.deploy(other["id"])
        assert owner.deployment(other["id"], queued["id"])["status"] == "pending"
        assert owner.deployment(slow["id"], building["id"])["stage"] == "building_image"
        cookie = http.cookies["mist_session"]

    server.kill()
    restarted = server_factory(workers=1)
    with httpx.Client(base_url=restarted.url, timeout=60, cookies={"mist_session": cookie}) as http:
        owner = MistClient(http)  # sessions live in the database: still signed in
        interrupted = owner.deployment(slow["id"], building["id"])
        assert interrupted["status"] == "failed"
        assert "Interrupted" in interrupted["error_message"]
        assert "building_image" in interrupted["error_message"]
        assert "Deployment failed: Interrupted" in owner.logs(building["id"])

        assert owner.wait_final(other["id"], queued["id"])["status"] == "success"
        assert container_of(engine, other["id"]).status == "running"

        # The version that was serving before the crash still is, and is still the active one.
        assert container_of(engine, slow["id"]).id == serving
        history = {d["id"]: (d["status"], d["is_active"]) for d in owner.deployments(slow["id"])}
        assert history == {good["id"]: ("success", True), building["id"]: ("failed", False)}
        assert not [d for d in owner.deployments(slow["id"]) if d["status"] in ("pending", "building", "deploying")]

        # A watcher of the interrupted deployment gets its end, not a hang.
        url = f"{restarted.ws_url}/ws/deployment/logs?deploymentId={building['id']}"
        with connect(url, additional_headers={"Cookie": f"mist_session={cookie}"}, open_timeout=10) as ws:
            messages = [json.loads(raw) for raw in ws]
        assert [m["type"] for m in messages[-2:]] == ["error", "status"]
        assert messages[-1]["data"]["status"] == "failed"

        # And the app deploys again normally.
        git_server.commit(slow_repo, {"Dockerfile": QUICK.format(nonce=uuid.uuid4().hex)}, message="quick again")
        again = owner.deploy(slow["id"])
        assert owner.wait_final(slow["id"], again["id"])["status"] == "success"
        assert container_of(engine, slow["id"]).id != serving


def test_a_graceful_stop_during_a_long_build_does_not_wait_for_it(
    server_factory, git_server: GitServer, engine: docker.DockerClient
) -> None:
    server = server_factory(workers=1)
    repo = f"endless-{uuid.uuid4().hex[:8]}"
    endless = 'FROM mist-test/busybox:1\nRUN echo {nonce} && echo long-step-started && sleep 900\n'
    git_server.create_repo(repo, {"Dockerfile": endless.format(nonce=uuid.uuid4().hex)})
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        app = owner.app(owner.project()["id"], "endless", git_server.url_for(repo), appType="service")
        building = owner.deploy(app["id"])
        wait_for(lambda: "long-step-started" in owner.logs(building["id"]), what="the long build step")
        cookie = http.cookies["mist_session"]

    server.stop()  # SIGTERM, then SIGKILL if Mist has not exited 20 s later
    # uvicorn re-raises the signal once shut down; -SIGKILL would mean the build held it up.
    assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM), server.output()

    restarted = server_factory(workers=1)
    with httpx.Client(base_url=restarted.url, timeout=60, cookies={"mist_session": cookie}) as http:
        ended = MistClient(http).deployment(app["id"], building["id"])
        assert ended["status"] == "failed"
        assert "shut down" in ended["error_message"]


def test_kill_during_the_health_check_removes_the_half_started_container_and_keeps_serving(
    server_factory, git_server: GitServer, engine: docker.DockerClient
) -> None:
    server = server_factory(workers=1)
    repo = f"health-kill-{uuid.uuid4().hex[:8]}"
    dockerfile = ('FROM mist-test/python:bookworm\nWORKDIR /app\nCOPY . .\nRUN echo {nonce}\n'
                  'CMD ["python3", "server.py"]\n')
    files = {"server.py": SERVER_PY, "version.txt": "v1", "Dockerfile": dockerfile.format(nonce=uuid.uuid4().hex)}
    git_server.create_repo(repo, files)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        app = owner.app(owner.project()["id"], "shop", git_server.url_for(repo), port=8000)
        owner.post("/api/apps/domains/create", {"appId": app["id"], "domain": "kill.test"})
        first = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], first["id"])["status"] == "success"
        # The next version takes its time to become healthy: the kill lands in that wait.
        owner.put("/api/apps/update", {"appId": app["id"], "healthcheckStartPeriod": 60})
        v2 = {**files, "version.txt": "v2", "Dockerfile": dockerfile.format(nonce=uuid.uuid4().hex)}
        git_server.commit(repo, v2, message="v2")
        second = owner.deploy(app["id"])
        wait_for(lambda: "Waiting for the new container" in owner.logs(second["id"]), what="the health check")
        assert len(engine.containers.list(filters={"label": f"mist.app={app['id']}"})) == 2
        cookie = http.cookies["mist_session"]

    server.kill()
    proxied = httpx.get(server.proxy_url, headers={"Host": "kill.test"}, timeout=5)
    assert proxied.text.startswith("v1")  # Caddy serves on while Mist is down

    restarted = server_factory(workers=1)
    with httpx.Client(base_url=restarted.url, timeout=60, cookies={"mist_session": cookie}) as http:
        owner = MistClient(http)
        ended = owner.deployment(app["id"], second["id"])
        assert ended["status"] == "failed" and "starting_new" in ended["error_message"]
        remaining = engine.containers.list(all=True, filters={"label": f"mist.app={app['id']}"})
        assert [c.name for c in remaining] == [f"mist-app-{app['id']}"]
        assert remaining[0].labels["mist.deployment"] == str(first["id"])
        assert httpx.get(restarted.proxy_url, headers={"Host": "kill.test"}, timeout=5).text.startswith("v1")
