"""mist.deploy.worker against the FakeEngine: a deployment to its end, stops at each stage (one
arriving between the claim and the pipeline is kept and applied, not lost), a lost lease,
recovery at start-up, superseded deployments and a rollback from a snapshot."""

from __future__ import annotations

import asyncio
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from support.fake_engine import FakeEngine

from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App, Deployment
from mist.deploy import store, worker
from mist.deploy.events import EventBus
from mist.deploy.health import HealthCheck
from mist.deploy.logs import LogStore
from mist.deploy.plan import Runtime
from mist.deploy.stages import FAILED, ROLLED_BACK, STARTING_NEW, STOPPED, SUCCESS
from mist.deploy.worker import StopOutcome, Workers
from mist.runtime.engine import DEPLOYMENT_LABEL
from mist.runtime.services import ROLLED_BACK as ROLLED_BACK_SERVICE
from mist.runtime.services import TaskState, UpdateOutcome
from mist.secretbox import SecretBox


class Engine:
    """Only what a stopped deployment's clean-up asks of the engine."""

    def __init__(self) -> None:
        self.removed_images: list[str] = []

    async def deployment_containers(self, deployment_id: int) -> list:
        return []

    async def remove_image(self, ref: str) -> None:
        self.removed_images.append(ref)


def test_a_stop_between_claim_and_pipeline_is_applied(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False)
    with db.session() as s:
        app = App(id=4, project_id=1, name="web", app_type="service", git_repository="git://git.x/a.git",
                  git_branch="main", dockerfile_path="Dockerfile", root_directory="")
        s.add(app)
        s.flush()
        deployment_id = store.enqueue(s, app, "a" * 40, "first").id

    planning, release = threading.Event(), threading.Event()
    real_load_plan = worker.load_plan

    def slow_load_plan(*args):  # noqa: ANN002 - passed through
        planning.set()
        release.wait(10)
        return real_load_plan(*args)

    monkeypatch.setattr(worker, "load_plan", slow_load_plan)
    engine, logs = Engine(), LogStore(db)

    async def scenario() -> None:
        workers = Workers(settings, db, EventBus(), logs, engine, None, None, SecretBox(tmp_path / "secret.key"))
        await workers.start()
        try:
            await asyncio.to_thread(planning.wait, 10)
            assert db.call(store.get, deployment_id).status == "building"  # claimed, no pipeline yet
            assert await workers.request_stop(deployment_id, "Stopped by o") is StopOutcome.STOPPING
            release.set()
            await workers.wait_done(deployment_id, 10)
        finally:
            release.set()
            await workers.stop()

    asyncio.run(scenario())
    ended = db.call(store.get, deployment_id)
    assert (ended.status, ended.error_message) == (STOPPED, "Stopped by o")
    assert engine.removed_images == [f"mist-app-4:{deployment_id}"]
    assert "Deployment stopped: Stopped by o" in list(logs.iter_lines(deployment_id))


class Git:
    """A checkout that holds a Dockerfile."""

    async def discard(self, checkout: Path) -> None:
        shutil.rmtree(checkout, ignore_errors=True)

    async def checkout(self, app_id, url, commit, checkout: Path, log, auth=None) -> None:  # noqa: ANN001
        checkout.mkdir(parents=True)
        (checkout / "Dockerfile").write_text("FROM scratch\n")


class Router:
    def __init__(self) -> None:
        self.switches: list[tuple[int, str | None]] = []

    async def switch(self, app_id: int, upstream: str | None) -> None:
        self.switches.append((app_id, upstream))


APP = 4


def _app(db: Database) -> None:
    with db.session() as s:
        s.add(App(id=APP, project_id=1, name="worker", app_type="service", git_repository="git://git.x/a.git",
                  git_branch="main", dockerfile_path="Dockerfile", root_directory=""))


def _enqueue(db: Database, commit: str = "a" * 40) -> int:
    with db.session() as s:
        return store.enqueue(s, s.get(App, APP), commit, "a commit").id


class Mist:
    """Workers wired to fakes; `run` starts them around a scenario and stops them after."""

    def __init__(self, tmp_path: Path, db: Database, services: object = None) -> None:
        self.db, self.engine, self.router = db, FakeEngine(), Router()
        self.logs = LogStore(db)
        settings = Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False, drain_seconds=0)
        self.workers = Workers(settings, db, EventBus(), self.logs, self.engine, Git(), self.router,
                               SecretBox(tmp_path / "secret.key"), services=services)  # type: ignore[arg-type]

    def run(self, scenario=None) -> None:  # noqa: ANN001 - an async function of no argument
        async def main() -> None:
            await self.workers.start()
            try:
                if scenario is not None:
                    await scenario()
            finally:
                await self.workers.stop()

        asyncio.run(main())

    async def final(self, deployment_id: int) -> Deployment:
        for _ in range(500):
            row = await asyncio.to_thread(self.db.call, store.get, deployment_id)
            if store.is_final(row):
                return row
            await asyncio.sleep(0.01)
        raise AssertionError(f"deployment {deployment_id} never ended")

    def row(self, deployment_id: int) -> Deployment:
        return self.db.call(store.get, deployment_id)

    def lines(self, deployment_id: int) -> list[str]:
        return list(self.logs.iter_lines(deployment_id))


def test_a_deployment_runs_to_success_and_becomes_active(tmp_path: Path, db: Database) -> None:
    _app(db)
    mist = Mist(tmp_path, db)
    deployment_id = _enqueue(db)

    async def scenario() -> None:
        await mist.final(deployment_id)

    mist.run(scenario)
    row = mist.row(deployment_id)
    assert (row.status, row.is_active, row.image) == (SUCCESS, True, f"mist-app-{APP}:{deployment_id}")
    assert row.container_id in mist.engine.containers
    assert mist.lines(deployment_id)[-1] == "Deployment completed successfully"


@pytest.mark.parametrize("op", ["build", "run", "set_restart_policy"])
def test_a_stop_at_each_stage_ends_stopped_and_removes_what_it_made(
    tmp_path: Path, db: Database, op: str
) -> None:
    _app(db)
    mist = Mist(tmp_path, db)
    deployment_id = _enqueue(db)
    gate = mist.engine.hold(op)

    async def scenario() -> None:
        await asyncio.wait_for(gate.reached.wait(), 10)
        assert await mist.workers.request_stop(deployment_id, "Stopped by o") is StopOutcome.STOPPING
        gate.release.set()
        await mist.workers.wait_done(deployment_id, 10)

    mist.run(scenario)
    row = mist.row(deployment_id)
    assert (row.status, row.error_message, row.is_active) == (STOPPED, "Stopped by o", False)
    assert mist.engine.containers == {} and mist.engine.images == set()
    assert ("remove_image", (f"mist-app-{APP}:{deployment_id}",)) in mist.engine.calls
    assert mist.lines(deployment_id)[-1] == "Deployment stopped: Stopped by o"


def test_a_stop_past_the_point_of_no_return_is_refused_and_the_deployment_finishes(
    tmp_path: Path, db: Database
) -> None:
    _app(db)
    mist = Mist(tmp_path, db)
    mist.engine.add_container(f"mist-app-{APP}", APP, 1)
    deployment_id = _enqueue(db)
    gate = mist.engine.hold("remove")  # the old container's, after the switch

    async def scenario() -> None:
        await asyncio.wait_for(gate.reached.wait(), 10)
        assert await mist.workers.request_stop(deployment_id, "Stopped by o") is StopOutcome.TOO_LATE
        gate.release.set()
        await mist.final(deployment_id)

    mist.run(scenario)
    assert mist.row(deployment_id).status == SUCCESS
    assert [c.name for c in mist.engine.containers.values()] == [f"mist-app-{APP}"]


def test_a_worker_that_lost_its_lease_leaves_the_row_to_recovery_and_its_container_goes(
    tmp_path: Path, db: Database
) -> None:
    _app(db)
    mist = Mist(tmp_path, db)
    deployment_id = _enqueue(db)
    gate = mist.engine.hold("run")

    async def scenario() -> None:
        await asyncio.wait_for(gate.reached.wait(), 10)
        # Recovery in another process found the lease lapsed and failed the deployment.
        assert await asyncio.to_thread(db.call, store.finish, deployment_id, None, FAILED, "Interrupted elsewhere")
        gate.release.set()
        await mist.workers.wait_done(deployment_id, 10)

    mist.run(scenario)
    row = mist.row(deployment_id)
    assert (row.status, row.error_message, row.is_active) == (FAILED, "Interrupted elsewhere", False)
    assert mist.engine.containers == {} and mist.router.switches == []


def test_recovery_at_start_up_fails_interrupted_deployments_and_removes_their_containers(
    tmp_path: Path, db: Database
) -> None:
    _app(db)
    deployment_id = _enqueue(db)
    with db.session() as s:
        # On PostgreSQL other processes may be running deployments: only a lapsed lease marks an orphan.
        store.claim_next(s, "dead-process/w0", timedelta(seconds=30 if db.is_sqlite else -1))
        store.set_stage(s, deployment_id, "dead-process/w0", STARTING_NEW)
    mist = Mist(tmp_path, db)
    half_started = mist.engine.add_container(f"mist-app-{APP}-next-{deployment_id}", APP, deployment_id)
    other = mist.engine.add_container(f"mist-app-{APP}", APP, deployment_id - 1 if deployment_id > 1 else 99)

    mist.run()
    row = mist.row(deployment_id)
    assert row.status == FAILED and "stopped at stage 'starting_new'" in row.error_message
    assert list(mist.engine.containers) == [other.id]
    assert ("remove", (half_started.id, 0)) in mist.engine.calls
    assert f"Removed its half-started container {half_started.name}" in mist.lines(deployment_id)


def test_on_postgresql_a_deployment_another_live_process_holds_is_left_to_it(tmp_path: Path, db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite serves one process: every running row is an orphan at start-up")
    _app(db)
    deployment_id = _enqueue(db)
    with db.session() as s:
        store.claim_next(s, "other-process/w0", timedelta(seconds=30))
    mist = Mist(tmp_path, db)
    running = mist.engine.add_container(f"mist-app-{APP}-next-{deployment_id}", APP, deployment_id)

    mist.run()
    assert mist.row(deployment_id).status == "building"
    assert list(mist.engine.containers) == [running.id]


def test_a_stop_sent_to_another_process_reaches_the_one_running_the_deployment(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _app(db)
    mist = Mist(tmp_path, db)
    monkeypatch.setattr(worker, "STOP_POLL_SECONDS", 0.05)
    building = mist.engine.hold("build")
    deployment_id = _enqueue(db)

    async def scenario() -> None:
        await asyncio.wait_for(building.reached.wait(), 10)
        # What the API of a process that does not run it does: ask through the row.
        assert await asyncio.to_thread(db.call, store.request_stop, deployment_id, "Stopped by o")
        assert not await asyncio.to_thread(db.call, store.request_stop, deployment_id, "Stopped by another")
        await mist.final(deployment_id)

    mist.run(scenario)
    row = mist.row(deployment_id)
    assert (row.status, row.error_message) == (STOPPED, "Stopped by o")
    assert not db.call(store.request_stop, deployment_id, "too late")


def test_a_burst_of_deployments_runs_the_newest_and_supersedes_the_others(tmp_path: Path, db: Database) -> None:
    _app(db)
    first, second, third = (_enqueue(db, c * 40) for c in "abc")
    mist = Mist(tmp_path, db)

    async def scenario() -> None:
        await mist.final(third)

    mist.run(scenario)
    assert mist.row(third).status == SUCCESS
    for older in (first, second):
        row = mist.row(older)
        assert (row.status, row.error_message) == (STOPPED, "superseded by #3")
        assert mist.lines(older) == ["Deployment stopped: superseded by #3"]
    assert [op for op in mist.engine.ops() if op == "build"] == ["build"]


def test_a_rollback_runs_the_snapshot_and_image_of_then_whatever_the_app_says_now(
    tmp_path: Path, db: Database
) -> None:
    _app(db)
    then = Runtime(env={"GREETING": "then"}, port=None, restart_policy="always", strategy="rolling",
                   health=HealthCheck())
    with db.session() as s:
        made = [Deployment(app_id=APP, deployment_number=n, status=SUCCESS, is_active=n == 2,
                           image=f"mist-app-{APP}:{n}", snapshot=then.to_json(), container_id=f"c{n}") for n in (1, 2)]
        s.add_all(made)
        s.get(App, APP).deployment_seq = 2
        s.flush()
        replaced = made[1].id
        rollback = store.enqueue_rollback(s, s.get(App, APP), made[0]).id
    mist = Mist(tmp_path, db)
    mist.engine.images.add(f"mist-app-{APP}:1")

    async def scenario() -> None:
        await mist.final(rollback)

    mist.run(scenario)
    (request,) = [args[0] for op, args in mist.engine.calls if op == "run"]
    assert (request.image, request.env) == (f"mist-app-{APP}:1", {"GREETING": "then"})
    assert request.labels[DEPLOYMENT_LABEL] == str(rollback)
    assert "build" not in mist.engine.ops()
    assert mist.engine.containers[mist.row(rollback).container_id].restart_policy == "always"
    assert (mist.row(rollback).status, mist.row(replaced).status) == (SUCCESS, ROLLED_BACK)


def test_a_failed_deployment_removes_the_image_it_built(tmp_path: Path, db: Database) -> None:
    _app(db)
    mist = Mist(tmp_path, db)
    mist.engine.exit_code = 3  # the new container exits at once
    deployment_id = _enqueue(db)

    async def scenario() -> None:
        await mist.final(deployment_id)

    mist.run(scenario)
    row = mist.row(deployment_id)
    assert row.status == FAILED and "exit" in row.error_message
    image = f"mist-app-{APP}:{deployment_id}"
    assert ("remove_image", (image,)) in mist.engine.calls and image not in mist.engine.images
    assert not mist.engine.containers


class Orchestrator:
    """Swarm as recovery sees it: the service runs the spec of deployment `running`."""

    def __init__(self, running: int) -> None:
        self.running = running
        self.calls: list[tuple[str, str]] = []

    async def tasks(self, name: str) -> list[TaskState]:
        return [TaskState(id="t1", name=f"{name}.1", slot=1, node_id="n", node="n", state="running",
                          desired_state="running", message="", error="", container_id="c", started_at="",
                          exit_code=None, health="", image="", deployment=str(self.running))]

    async def rollback(self, name: str) -> UpdateOutcome:
        self.calls.append(("rollback", name))
        return UpdateOutcome(ROLLED_BACK_SERVICE, "")

    async def remove(self, name: str) -> None:
        self.calls.append(("remove", name))


@pytest.mark.parametrize("had_active", [True, False])
def test_recovery_in_swarm_mode_takes_the_service_back_from_an_interrupted_update(
    tmp_path: Path, db: Database, had_active: bool,
) -> None:
    _app(db)
    earlier = _enqueue(db)
    deployment_id = _enqueue(db, "b" * 40)
    with db.session() as s:
        s.get(Deployment, earlier).status = SUCCESS if had_active else FAILED
        s.get(Deployment, earlier).is_active = had_active
        store.claim_next(s, "dead-process/w0", timedelta(seconds=30 if db.is_sqlite else -1))
        store.set_stage(s, deployment_id, "dead-process/w0", STARTING_NEW)
    swarm = Orchestrator(running=deployment_id)
    mist = Mist(tmp_path, db, swarm)
    mist.run()
    assert mist.row(deployment_id).status == FAILED
    if had_active:  # back to what the active deployment runs
        assert swarm.calls == [("rollback", f"mist-app-{APP}")]
        assert f"Rolled the service mist-app-{APP} back to the version before it (rolled_back)" in mist.lines(
            deployment_id)
    else:  # the service was this deployment's own
        assert swarm.calls == [("remove", f"mist-app-{APP}")]


def test_recovery_in_swarm_mode_leaves_a_service_running_another_deployment(tmp_path: Path, db: Database) -> None:
    _app(db)
    deployment_id = _enqueue(db)
    with db.session() as s:
        store.claim_next(s, "dead-process/w0", timedelta(seconds=30 if db.is_sqlite else -1))
    swarm = Orchestrator(running=deployment_id + 100)
    Mist(tmp_path, db, swarm).run()
    assert swarm.calls == []
