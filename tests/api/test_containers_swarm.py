"""mist.containers in Swarm mode, through the API, with a fake orchestrator (the services port): per-replica
status, stop/start/restart as scaling and forced updates, merged logs (REST and WebSocket), redaction.
The real swarm is exercised by the swarm integration suite."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient

from mist.containers import Containers
from mist.db.models import Deployment, utcnow
from mist.deploy.stages import DEPLOYING, SUCCESS
from mist.errors import NotFound
from mist.runtime.services import COMPLETED, ROLLED_BACK, TaskState, UpdateOutcome

REPO = "https://git.example.com/acme/shop.git"
SECRET = "s3cr3t-value-123"


def task(slot: int, state: str = "running", desired: str = "running", at: str = "2026-01-01T10:00:00Z",
         node: str = "manager", health: str = "healthy", error: str = "", exit_code: int | None = None) -> TaskState:
    return TaskState(
        id=f"task{slot}{state}{at}", name=f"mist-app-1.{slot}", slot=slot, node_id=f"id-{node}", node=node,
        state=state, desired_state=desired, message="", error=error, container_id="c", started_at=at,
        exit_code=exit_code, health=health, image="127.0.0.1:5000/mist-app-1@sha256:abc", deployment="1",
    )


class FakeServices:
    """The services port as far as the runtime surfaces use it; records what it was asked."""

    def __init__(self) -> None:
        self.task_list: list[TaskState] | None = [
            task(1, node="manager"), task(2, node="worker-1"),
            task(2, state="failed", desired="shutdown", at="2026-01-01T09:00:00Z", health="", exit_code=1,
                 error=f"task: non-zero exit (1) {SECRET}"),
        ]
        self.calls: list[tuple] = []
        self.outcome = UpdateOutcome(COMPLETED, "")
        self.lines = [f"2026-01-01T10:00:01.000000000Z mist-app-1.1 hello {SECRET}",
                      "2026-01-01T10:00:02.000000000Z mist-app-1.2 world"]

    def _service(self, name: str) -> None:
        if self.task_list is None:
            raise NotFound(f"no service {name} in the swarm")

    async def tasks(self, name: str) -> list[TaskState]:
        self._service(name)
        assert self.task_list is not None
        return self.task_list

    async def scale(self, name: str, replicas: int) -> None:
        self._service(name)
        self.calls.append(("scale", name, replicas))

    async def force_update(self, name: str, on_progress: object = None) -> UpdateOutcome:
        self._service(name)
        self.calls.append(("force_update", name))
        return self.outcome

    async def logs(self, name: str, tail: int | str, follow: bool = False) -> AsyncIterator[str]:
        self.calls.append(("logs", name, tail, follow))
        for line in self.lines:
            yield line
        if follow:
            await asyncio.Event().wait()  # until the watcher leaves


@pytest.fixture
def fake(http: TestClient) -> FakeServices:
    """This Mist as if in Swarm mode: the apps service allows replicas, the containers service has a
    (fake) orchestrator."""
    svc = http.app.state.services  # type: ignore[attr-defined]
    services = FakeServices()
    svc.apps.runtime = "swarm"
    svc.containers = Containers(svc.db, svc.engine, svc.router, svc.settings, services)  # type: ignore[arg-type]
    return services


@pytest.fixture
def app(http: TestClient, mist: MistClient, fake: FakeServices) -> dict:
    mist.signup()
    app = mist.app(mist.project()["id"], "web", REPO, port=8000, replicas=2,
                   envVars=[{"key": "TOKEN", "value": SECRET, "secret": True}])
    assert app["id"] == 1
    return app


def add_deployment(http: TestClient, app_id: int, status: str = SUCCESS, active: bool = True) -> None:
    db = http.app.state.services.db  # type: ignore[attr-defined]
    with db.session() as session:
        number = 1 + len(session.query(Deployment).filter_by(app_id=app_id).all())
        # Claimed by another process with a live lease: no worker here touches it.
        session.add(Deployment(app_id=app_id, deployment_number=number, status=status, is_active=active,
                               container_id="mist-app-1" if active else "", claimed_by="elsewhere",
                               lease_expires_at=utcnow() + timedelta(hours=1)))


@pytest.fixture
def deployed(http: TestClient, app: dict) -> dict:
    add_deployment(http, app["id"])
    return app


def status_of(mist: MistClient, app_id: int) -> dict:
    return mist.get("/api/apps/container/status", appId=app_id)["data"]


def test_status_answers_per_replica(mist: MistClient, deployed: dict) -> None:
    status = status_of(mist, deployed["id"])
    assert (status["state"], status["health"], status["containerId"], status["name"]) == (
        "running", "healthy", "mist-app-1", "mist-app-1")
    assert status["image"] == "127.0.0.1:5000/mist-app-1@sha256:abc"
    assert (status["startedAt"], status["restarts"], status["exitCode"]) == ("2026-01-01T10:00:00Z", 1, None)
    assert status["uptime"] > 0 and status["deploymentNumber"] == 1
    assert status["replicas"] == [
        {"task": "mist-app-1.1", "slot": 1, "node": "manager", "state": "running", "health": "healthy",
         "startedAt": "2026-01-01T10:00:00Z", "restarts": 0, "error": None, "deploymentId": 1},
        {"task": "mist-app-1.2", "slot": 2, "node": "worker-1", "state": "running", "health": "healthy",
         "startedAt": "2026-01-01T10:00:00Z", "restarts": 1, "error": None, "deploymentId": 1},
    ]


def test_a_replica_error_is_redacted(mist: MistClient, deployed: dict, fake: FakeServices) -> None:
    fake.task_list = [task(1), task(2, state="starting", health="starting", error=f"pulling failed {SECRET}")]
    status = status_of(mist, deployed["id"])
    assert (status["state"], status["health"]) == ("running", "starting")
    assert status["replicas"][1]["error"] == "pulling failed ********"
    assert SECRET not in json.dumps(status)


def test_stop_scales_to_zero_and_start_back_to_the_apps_replicas(mist: MistClient, deployed: dict,
                                                                 fake: FakeServices) -> None:
    mist.post(f"/api/apps/container/stop?appId={deployed['id']}", None)
    fake.task_list = [task(s, state="shutdown", desired="shutdown", exit_code=0) for s in (1, 2)]
    stopped = status_of(mist, deployed["id"])
    assert (stopped["state"], stopped["replicas"], stopped["exitCode"]) == ("exited", [], 0)
    mist.put("/api/apps/update", {"appId": deployed["id"], "replicas": 3})
    mist.post(f"/api/apps/container/start?appId={deployed['id']}", None)
    assert fake.calls == [("scale", "mist-app-1", 0), ("scale", "mist-app-1", 3)]


def test_restart_is_a_forced_update_and_starts_a_stopped_app(mist: MistClient, deployed: dict,
                                                             fake: FakeServices) -> None:
    restarted = mist.post(f"/api/apps/container/restart?appId={deployed['id']}", None)["data"]
    assert restarted["state"] == "running" and fake.calls == [("force_update", "mist-app-1")]
    fake.task_list = []  # scaled to 0: a restart starts it, as a stopped container's restart does
    mist.post(f"/api/apps/container/restart?appId={deployed['id']}", None)
    assert fake.calls[-1] == ("scale", "mist-app-1", 2)


def test_a_rolled_back_restart_is_an_error_naming_swarms_reason(http: TestClient, deployed: dict,
                                                                 fake: FakeServices) -> None:
    failed = task(1, state="failed", desired="shutdown", error=f"task: non-zero exit (3) {SECRET}")
    fake.outcome = UpdateOutcome(ROLLED_BACK, "update rolled back due to failure or early termination of task x",
                                 failed, (f"boom {SECRET}",))
    response = http.post("/api/apps/container/restart", params={"appId": deployed["id"]})
    assert response.status_code == 503
    message = response.json()["message"]
    assert "Swarm rolled back" in message and "early termination of task x" in message
    assert "non-zero exit (3) ********" in message and SECRET not in response.text


def test_control_is_refused_while_a_deployment_switches(http: TestClient, deployed: dict,
                                                        fake: FakeServices) -> None:
    add_deployment(http, deployed["id"], status=DEPLOYING, active=False)
    for action in ("stop", "start", "restart"):
        response = http.post(f"/api/apps/container/{action}", params={"appId": deployed["id"]})
        assert response.status_code == 409 and "switching" in response.json()["message"]
    assert fake.calls == []


def test_an_app_never_deployed_or_whose_service_is_gone(http: TestClient, mist: MistClient, app: dict,
                                                        fake: FakeServices) -> None:
    status = status_of(mist, app["id"])
    assert (status["state"], status["replicas"]) == ("not_deployed", [])
    assert http.post("/api/apps/container/stop", params={"appId": app["id"]}).status_code == 409
    add_deployment(http, app["id"])
    fake.task_list = None
    assert status_of(mist, app["id"])["state"] == "removed"
    response = http.post("/api/apps/container/start", params={"appId": app["id"]})
    assert response.status_code == 409 and "not in the swarm" in response.json()["message"]


def test_logs_merge_the_replicas_redacted(http: TestClient, mist: MistClient, deployed: dict,
                                          fake: FakeServices) -> None:
    logs = mist.get("/api/apps/container/logs", appId=deployed["id"], tail=50)["data"]["logs"]
    assert logs.splitlines() == ["2026-01-01T10:00:01.000000000Z mist-app-1.1 hello ********",
                                 "2026-01-01T10:00:02.000000000Z mist-app-1.2 world"]
    assert fake.calls == [("logs", "mist-app-1", 50, False)]
    assert http.get("/api/apps/container/logs", params={"appId": deployed["id"], "tail": 10_001}).status_code == 400


def test_the_live_log_follows_the_service(http: TestClient, deployed: dict, fake: FakeServices) -> None:
    with http.websocket_connect(f"/ws/container/logs?appId={deployed['id']}&tail=20") as ws:
        first, second = ws.receive_json(), ws.receive_json()
    assert first["type"] == "log" and first["data"] == {"timestamp": "2026-01-01T10:00:01.000000000Z",
                                                        "line": "mist-app-1.1 hello ********"}
    assert second["data"]["line"] == "mist-app-1.2 world"
    assert ("logs", "mist-app-1", 20, True) in fake.calls
