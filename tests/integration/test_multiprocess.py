"""Several `mist serve` processes on one PostgreSQL database and one engine act as one Mist.

One cluster serves the module: A is the web tier (MIST_WORKERS=0, started first, so it is the one
configuring Caddy), B and C run deployments. Whatever A answers about a deployment was therefore
done by another process. Every process shares the database, MIST_SECRET_KEY_FILE, Caddy and a short
lease (MIST_LEASE_SECONDS), each has its own data directory. A test that stops or kills a process
starts what it needs again first (`cluster.require`), so each test also runs on its own.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from support.client import MistClient
from support.cluster import COOKIE, Cluster, wait_for, write_secret_key
from support.gitserver import GitServer
from support.httpgit import TokenGitServer
from support.images import ensure_busybox_image
from support.postgres import PostgresServer
from support.server import MistServer
from websockets.sync.client import connect

pytestmark = [pytest.mark.docker]

LEASE_SECONDS = 6
RUNNING = ("building", "deploying")
FINAL = ("success", "failed", "stopped", "rolled_back")
CADDY_LEADER_LINE = "proxy: this process now configures Caddy"

SERVICE = 'FROM mist-test/busybox:1\nRUN echo {nonce}{step}\nCMD ["sh", "-c", "sleep 3600"]\n'
# busybox's httpd: a web app that builds in a second and answers GET / with its version.
WEB = ('FROM mist-test/busybox:1\nRUN mkdir /www && echo {text} > /www/index.html\n'
       'CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n')
# Starts, but never listens on its port: the health check waits on it until the retries run out.
NEVER_HEALTHY = 'FROM mist-test/busybox:1\nRUN echo {nonce}\nCMD ["sh", "-c", "sleep 3600"]\n'
TICKS = "&& for i in 1 2 3 4 5 6; do echo tick-$i; sleep 0.5; done"
SLOW_STEP = "&& echo long-step-started && sleep 60"


def nonce() -> str:
    return uuid.uuid4().hex


def service_files(step: str = "") -> dict[str, str]:
    # A nonce per commit: the build's RUN step never comes from the engine's cache.
    return {"Dockerfile": SERVICE.format(nonce=nonce(), step=f" {step}" if step else "")}


def service_app(client: MistClient, git_server: GitServer, name: str, step: str = "") -> tuple[dict, str]:
    """A service app in a project of its own, on a new repository whose build runs `step`; (app, repo)."""
    repo = f"mp-{name}-{nonce()[:8]}"
    git_server.create_repo(repo, service_files(step))
    return client.app(client.project(name)["id"], name, git_server.url_for(repo), appType="service"), repo


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, engine: docker.DockerClient,
) -> Iterator[Cluster]:
    ensure_busybox_image(engine)  # every app here builds on it, in a second or two
    with Cluster(tmp_path_factory.mktemp("cluster"), postgres, engine, lease_seconds=str(LEASE_SECONDS)) as made:
        made.start("A", workers=0)  # first: it starts Caddy and configures it
        made.start("B")
        made.start("C")
        yield made


@pytest.fixture(scope="module")
def cookie(cluster: Cluster) -> str:
    """The owner, signed up through A; its session cookie."""
    owner = cluster.client("A")
    owner.signup()
    return owner.http.cookies[COOKIE]


@pytest.fixture
def via(cluster: Cluster, cookie: str):
    """via("B"): the owner's client of process B, wherever B listens now."""
    def client(name: str) -> MistClient:
        cluster.require(name)
        return cluster.client(name, cookie=cookie)
    return client


def deploy_and_wait(client: MistClient, app_id: int, timeout: float = 120) -> dict:
    started = client.deploy(app_id)
    done = client.wait_final(app_id, started["id"], timeout=timeout)
    assert done["status"] == "success", client.logs(started["id"])
    return done


def is_tick(line: str, n: int) -> bool:
    """The build's own output line `tick-n` (not the Dockerfile step that prints it)."""
    return re.fullmatch(rf"\s*tick-{n}\s*", line) is not None


def containers_of(engine: docker.DockerClient, deployment_id: int) -> list:
    return engine.containers.list(all=True, filters={"label": f"mist.deployment={deployment_id}"})


# ---------------------------------------------------------------------------- 1. any process, any route


def test_any_process_answers_any_route_with_the_same_session_and_token(
    cluster: Cluster, cookie: str, git_server: GitServer,
) -> None:
    cluster.require("A", "B", "C")
    # A fresh sign-in through A: its session lives in the shared database.
    at_a = cluster.client("A")
    at_a.login("owner@example.com")
    session = at_a.http.cookies[COOKIE]
    repo = f"mp-any-{nonce()[:8]}"
    git_server.create_repo(repo, service_files())
    project = at_a.project("anywhere")
    app = at_a.app(project["id"], "anywhere", git_server.url_for(repo), appType="service")
    token = at_a.post("/api/tokens/create", {"name": "mp", "scope": "read"})["data"]["token"]

    at_b = cluster.client("B", cookie=session)
    assert at_b.get("/api/auth/me")["data"]["username"] == "owner"
    assert at_b.post("/api/apps/getById", {"appId": app["id"]})["data"]["name"] == "anywhere"
    assert [a["id"] for a in at_b.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"]] == [app["id"]]
    assert project["id"] in [p["id"] for p in at_b.get("/api/projects/getAll")["data"]]
    # Written through B, read through A.
    at_b_admin = cluster.client("B", cookie=cookie)
    at_b_admin.put("/api/apps/update", {"appId": app["id"], "dockerfilePath": "Dockerfile"})
    at_b_admin.post("/api/apps/envs/create", {"appId": app["id"], "key": "WRITTEN_BY", "value": "B"})
    envs = at_a.post("/api/apps/envs/get", {"appId": app["id"]})["data"]
    assert {e["key"]: e["value"] for e in envs}["WRITTEN_BY"] == "B"

    by_token = cluster.client("C", token=token)
    assert by_token.post("/api/apps/getById", {"appId": app["id"]})["data"]["name"] == "anywhere"
    by_token.put("/api/apps/update", {"appId": app["id"], "dockerfilePath": "x"}, expect=403)  # read scope

    # Signing out through B ends the session on every process.
    at_b.post("/api/auth/logout", {})
    at_a.get("/api/auth/me", expect=401)
    cluster.client("C", cookie=session).get("/api/auth/me", expect=401)


# ---------------------------------------------------------------------------- 2. the web tier runs nothing


def test_a_deployment_queued_through_the_web_tier_waits_for_a_process_with_workers(
    cluster: Cluster, via, git_server: GitServer, engine: docker.DockerClient,
) -> None:
    web = via("A")
    app, repo = service_app(web, git_server, "tier")
    cluster.stop("B")
    cluster.stop("C")
    try:
        queued = web.deploy(app["id"])
        # Only the web tier is up: nothing claims the deployment, however long it waits.
        time.sleep(5)
        waiting = web.deployment(app["id"], queued["id"])
        assert (waiting["status"], waiting["stage"], waiting["progress"]) == ("pending", "", 0), waiting
        assert not engine.containers.list(all=True, filters={"label": f"mist.app={app['id']}"})
    finally:
        cluster.require("B")
    done = via("A").wait_final(app["id"], queued["id"], timeout=120)
    assert done["status"] == "success", web.logs(queued["id"])
    assert [c.status for c in containers_of(engine, queued["id"])] == ["running"]
    cluster.require("C")


# ---------------------------------------------------------------------------- 3. one commit at a time


def test_one_app_deploys_one_commit_at_a_time_across_processes(
    cluster: Cluster, via, git_server: GitServer,
) -> None:
    at_a, at_b = via("A"), via("B")
    cluster.require("C")
    app, repo = service_app(at_a, git_server, "serial", "&& sleep 2")

    samples: list[list[tuple[int, str]]] = []
    done = threading.Event()

    def sample() -> None:
        # Its own client: httpx clients are not shared between threads.
        watcher = cluster.client("A", cookie=at_a.http.cookies[COOKIE])
        while not done.is_set():
            samples.append([(d["id"], d["status"]) for d in watcher.deployments(app["id"])])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        triggered = []
        for n in range(6):
            if n % 2:  # a new commit now and then, as pushes would bring
                git_server.commit(repo, service_files("&& sleep 2"), message=f"change {n}")
            triggered.append((at_a if n % 2 == 0 else at_b).deploy(app["id"]))
        last = triggered[-1]
        final = at_a.wait_final(app["id"], last["id"], timeout=180)
        wait_for(lambda: all(d["status"] in FINAL for d in at_a.deployments(app["id"])), what="every deployment to end")
    finally:
        done.set()
        sampler.join(30)

    print("statuses:", [(d["id"], d["status"], d["error_message"]) for d in at_a.deployments(app["id"])])
    print("samples with one running:", sum(any(d[1] in RUNNING for d in s) for s in samples), "of", len(samples))
    assert final["status"] == "success", at_a.logs(last["id"])
    assert len(samples) > 20, "the sampler barely ran"
    for sample_ in samples:
        running = [d for d in sample_ if d[1] in RUNNING]
        assert len(running) <= 1, f"two deployments of one app ran at once: {sample_}"
    history = {d["id"]: d for d in at_a.deployments(app["id"])}
    older = [history[t["id"]] for t in triggered[:-1]]
    superseded = [d for d in older if d["status"] == "stopped"]
    assert superseded, [(d["id"], d["status"]) for d in older]
    assert all(d["error_message"].startswith("superseded by #") for d in superseded), superseded
    # Whatever ran besides the last one ran to the end: nothing was cut short or failed.
    assert {d["status"] for d in older} <= {"success", "stopped"}


# ---------------------------------------------------------------------------- 4. logs from anywhere


def test_a_deployment_run_elsewhere_streams_live_over_the_web_tier_and_its_log_is_readable_there(
    cluster: Cluster, via, cookie: str, git_server: GitServer,
) -> None:
    web = via("A")
    cluster.require("B", "C")
    app, _ = service_app(web, git_server, "logs", TICKS)
    deployment = web.deploy(app["id"])

    messages: list[dict] = []
    status_at_first_tick: list[str] = []
    watcher = cluster.client("A", cookie=cookie)
    url = f"{cluster['A'].ws_url}/ws/deployment/logs?deploymentId={deployment['id']}"
    with connect(url, additional_headers={"Cookie": f"{COOKIE}={cookie}"}, open_timeout=10) as ws:
        for raw in ws:  # until A closes the socket after the final status
            message = json.loads(raw)
            messages.append(message)
            if message["type"] == "log" and is_tick(message["data"]["line"], 1) and not status_at_first_tick:
                # Asked while the ticks are still being printed: the line came live, not replayed at the end.
                status_at_first_tick.append(watcher.deployment(app["id"], deployment["id"])["status"])

    assert status_at_first_tick == ["building"], status_at_first_tick
    stored = web.logs(deployment["id"]).splitlines()
    lines = [m for m in messages if m["type"] == "log"]
    assert [m["data"]["line"] for m in lines] == stored
    assert [m["seq"] for m in lines] == list(range(len(stored)))
    assert [line.strip() for line in stored if re.fullmatch(r"\s*tick-\d\s*", line)] == [
        f"tick-{n}" for n in range(1, 7)]
    statuses = [m["data"]["status"] for m in messages if m["type"] == "status"]
    assert messages[-1]["type"] == "status" and statuses[-1] == "success"
    first_tick = next(i for i, m in enumerate(messages) if m["type"] == "log" and is_tick(m["data"]["line"], 1))
    assert first_tick < len(messages) - 1
    assert "Deployment completed successfully" in stored[-1]
    # The same log through every other process.
    assert via("B").logs(deployment["id"]).splitlines() == stored


# ---------------------------------------------------------------------------- 5. stop from anywhere


def test_stop_sent_to_the_web_tier_stops_a_build_running_on_another_process_within_5_seconds(
    cluster: Cluster, via, git_server: GitServer, engine: docker.DockerClient,
) -> None:
    web = via("A")
    cluster.require("B", "C")
    app, repo = service_app(web, git_server, "stop", SLOW_STEP)
    building = web.deploy(app["id"])
    wait_for(lambda: "long-step-started" in web.logs(building["id"]), timeout=120, what="the long build step")

    started = time.monotonic()
    answer = web.post("/api/deployment/stop", {"deploymentId": building["id"]})["data"]
    while (current := web.deployment(app["id"], building["id"]))["status"] not in FINAL:
        if time.monotonic() - started > 5:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    assert current["status"] == "stopped", (elapsed, current)
    print(f"stopped {elapsed:.1f} s after the request")
    assert elapsed <= 5, f"the deployment took {elapsed:.1f} s to stop"
    assert answer["status"] == "stopped", answer
    assert "Stopped by owner" in (current["error_message"] or ""), current
    assert not containers_of(engine, building["id"])
    # The app is free again: its next deployment runs.
    git_server.commit(repo, service_files(), message="quick")
    deploy_and_wait(web, app["id"])


# ---------------------------------------------------------------------------- 6. kill -9


def test_kill_9_of_the_process_running_a_deployment_fails_it_cleans_up_and_runs_the_next(
    cluster: Cluster, via, git_server: GitServer, engine: docker.DockerClient,
) -> None:
    web = via("A")
    cluster.require("B")
    repo = f"mp-kill-{nonce()[:8]}"
    git_server.create_repo(repo, {"Dockerfile": NEVER_HEALTHY.format(nonce=nonce())})
    app = web.app(web.project("kill")["id"], "victim", git_server.url_for(repo), port=8000,
                  healthcheckInterval=1, healthcheckRetries=600)
    # Only B has workers while the deployment is claimed, so B is the one running it.
    cluster.stop("C")
    try:
        doomed = web.deploy(app["id"])
        wait_for(lambda: "Waiting for the new container" in web.logs(doomed["id"]), timeout=120,
                 what="the health check of the new container")
        assert containers_of(engine, doomed["id"]), "the new container should exist during its health check"
        git_server.commit(repo, {"Dockerfile": WEB.format(text=f"healthy-{nonce()}")}, message="healthy")
        queued = web.deploy(app["id"])
        assert web.deployment(app["id"], queued["id"])["status"] == "pending"
    finally:
        cluster.require("C")

    cluster.kill("B")
    killed = time.monotonic()
    interrupted = wait_for(
        lambda: (d := web.deployment(app["id"], doomed["id"]))["status"] in FINAL and d,
        timeout=LEASE_SECONDS + 10, what="another process to fail the deployment whose process died",
    )
    assert interrupted["status"] == "failed", interrupted
    assert "interrupted" in interrupted["error_message"].lower(), interrupted
    print(f"failed {time.monotonic() - killed:.1f} s after the kill")
    assert "nterrupted" in web.logs(doomed["id"])
    wait_for(lambda: not containers_of(engine, doomed["id"]), timeout=15,
             what=f"the containers of deployment {doomed['id']} to be removed")

    done = web.wait_final(app["id"], queued["id"], timeout=120)
    assert done["status"] == "success", web.logs(queued["id"])
    assert [c.status for c in containers_of(engine, queued["id"])] == ["running"]
    cluster.require("B")


# ---------------------------------------------------------------------------- 7. one secret key


def test_a_git_token_stored_through_one_process_is_used_by_the_others(
    cluster: Cluster, via, git_server: GitServer, token_git_server: TokenGitServer,
) -> None:
    web = via("A")
    cluster.require("B", "C")
    repo = f"mp-private-{nonce()[:8]}"
    git_server.create_repo(repo, service_files())
    app = web.app(web.project("private")["id"], "private", token_git_server.url_for(repo), appType="service",
                  gitToken=token_git_server.token)
    assert web.post("/api/apps/getById", {"appId": app["id"]})["data"]["hasGitToken"] is True
    # Encrypted by A; B decrypts it to resolve the branch, B or C to clone (A runs no deployments).
    deploy_and_wait(via("B"), app["id"])
    git_server.commit(repo, service_files(), message="second")
    deploy_and_wait(via("C"), app["id"])
    assert any(r["status"] == 200 and r["authorization"] for r in token_git_server.requests)


def test_a_process_with_another_secret_key_refuses_to_start(cluster: Cluster, tmp_path: Path) -> None:
    cluster.require("A")
    other_key = write_secret_key(tmp_path / "other.key")
    stranger = cluster.server("D", secret_key_file=str(other_key))
    try:
        with pytest.raises(RuntimeError, match="exited with"):
            stranger.start(timeout=60)
    finally:
        stranger.stop()  # had it started, it must not stay in the cluster
    assert stranger.proc is not None and stranger.proc.returncode != 0
    assert "MIST_SECRET_KEY_FILE" in stranger.output(), stranger.output()


# ---------------------------------------------------------------------------- 8. the Caddy leader


def test_when_the_process_configuring_caddy_dies_another_restores_the_routes(
    cluster: Cluster, via, git_server: GitServer,
) -> None:
    web = via("A")
    cluster.require("B", "C")
    repo = f"mp-caddy-{nonce()[:8]}"
    text = f"routed-{nonce()[:8]}"
    git_server.create_repo(repo, {"Dockerfile": WEB.format(text=text)})
    app = web.app(web.project("routed")["id"], "routed", git_server.url_for(repo), port=8000)
    web.post("/api/apps/domains/create", {"appId": app["id"], "domain": "mp-caddy.test"})
    deploy_and_wait(web, app["id"])
    wait_for(lambda: _answers(cluster, "mp-caddy.test", text), timeout=15, what="the route through Caddy")

    names = ("A", "B", "C")
    # The one process that says it configures Caddy (A, started first, as no earlier test killed it).
    said = {name: cluster.log(name).count(CADDY_LEADER_LINE) for name in names}
    leaders = [name for name in names if said[name]]
    assert len(leaders) == 1, {name: cluster.log(name)[-2000:] for name in names}
    leader = leaders[0]
    print("Caddy is configured by", leader)
    cluster.kill(leader)
    killed = time.monotonic()
    # Caddy loses every route (its admin endpoint stays where Mist's processes reach it).
    empty = {"admin": {"listen": cluster.proxy_admin, "config": {"persist": False}}}
    loaded = httpx.post(f"http://{cluster.proxy_admin}/load", json=empty, timeout=10)
    assert loaded.status_code == 200, loaded.text

    wait_for(lambda: _answers(cluster, "mp-caddy.test", text), timeout=15,
             what=f"a process to put the route back once {leader} was killed")
    print(f"route back {time.monotonic() - killed:.1f} s after the kill")
    took_over = [name for name in names if name != leader and cluster.log(name).count(CADDY_LEADER_LINE) > said[name]]
    assert len(took_over) == 1, {name: cluster.log(name)[-2000:] for name in names if name != leader}
    cluster.require(leader)


def _answers(cluster: Cluster, host: str, text: str) -> bool:
    try:
        response = cluster.proxy_get(host)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text.strip() == text


# ---------------------------------------------------------------------------- 9. SQLite: one process


def test_a_second_process_on_the_same_sqlite_database_refuses_to_start(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'shared' / 'mist.db'}"
    for name in ("shared", "one", "two"):  # each process logs beside its data directory
        (tmp_path / name).mkdir()
    first = MistServer(tmp_path / "one" / "data", database_url=database, proxy_enabled="false")
    second = MistServer(tmp_path / "two" / "data", database_url=database, proxy_enabled="false")
    first.start(timeout=60)
    try:
        with pytest.raises(RuntimeError, match="exited with"):
            second.start(timeout=60)
        assert second.proc is not None and second.proc.returncode != 0
        output = second.output()
        # The refusal names the database and why: SQLite serves one process.
        assert str(tmp_path / "shared" / "mist.db") in output and "SQLite" in output, output
        # The first one serves on, untouched.
        with httpx.Client(base_url=first.url, timeout=10) as http:
            MistClient(http).signup()
    finally:
        second.stop()
        first.stop()
