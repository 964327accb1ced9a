"""mist.deploy.pipeline against the FakeEngine: rolling and recreate, a new container that exits,
never gets healthy or cannot be switched to, stops and time limits at each stage. No Docker: each
test reads as the list of things the pipeline asked the engine and the router to do."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from support.fake_engine import FakeEngine, closed_port, listening_port

from mist.deploy.health import HealthCheck, Unhealthy
from mist.deploy.pipeline import Limits, Pipeline, StageTimeout
from mist.deploy.plan import DeployPlan, Runtime
from mist.deploy.stages import Stage
from mist.errors import BuildFailed, MistError, NotFound, ProxyError
from mist.runtime.engine import APP_LABEL
from mist.runtime.services import (
    COMPLETED,
    FAILED,
    ROLLED_BACK,
    ProgressCallback,
    ServiceRequest,
    TaskState,
    UpdateOutcome,
)
from mist.runtime.services import STARTING_NEW as SERVICE_STARTING
from mist.runtime.services import STOPPING_OLD as SERVICE_STOPPING
from mist.stacks import Overrides

APP, DEPLOYMENT = 3, 7
QUICK = HealthCheck(interval=0.01, timeout=0.5, retries=3)


class Reporter:
    def __init__(self) -> None:
        self.stages: list[str] = []
        self.lines: list[str] = []
        self.committed = False

    async def enter(self, stage: Stage) -> None:
        self.stages.append(stage.name)

    async def log(self, text: str) -> None:
        self.lines.append(text)

    def past_point_of_no_return(self) -> None:
        self.committed = True


class Router:
    def __init__(self, error: MistError | None = None) -> None:
        self.switches: list[tuple[int, str | None]] = []
        self.error = error

    async def switch(self, app_id: int, upstream: str | None) -> None:
        if self.error is not None:
            raise self.error
        self.switches.append((app_id, upstream))


class Git:
    """A checkout that holds a Dockerfile."""

    def __init__(self) -> None:
        self.checkouts: list[str] = []

    async def discard(self, checkout: Path) -> None:
        shutil.rmtree(checkout, ignore_errors=True)

    async def checkout(self, app_id, url, commit, checkout: Path, log, auth=None) -> None:  # noqa: ANN001
        self.checkouts.append(commit)
        checkout.mkdir(parents=True)
        (checkout / "Dockerfile").write_text("FROM scratch\n")


def plan(port: int | None, strategy: str = "rolling", health: HealthCheck = QUICK, runtime_replicas: int = 1,
         **fields) -> DeployPlan:
    runtime = Runtime(env={"PORT": str(port)}, port=port, restart_policy="unless-stopped", strategy=strategy,
                      health=health, replicas=runtime_replicas)
    values = dict(
        deployment_id=DEPLOYMENT, app_id=APP, app_name="web", app_type="web", commit_hash="a" * 40,
        git_url="git://git.test/a.git", root_directory="", dockerfile_path="Dockerfile", build_args={},
        runtime=runtime, project_id=1,
    )
    return DeployPlan(**{**values, **fields})


def template(port: int | None, strategy: str = "recreate", **fields) -> DeployPlan:
    """A plan that builds nothing: the image is already on the engine."""
    return plan(port, strategy, template_image="postgres:16", **fields)


def pipeline(tmp_path: Path, engine: FakeEngine, router: Router | None = None, **limits) -> tuple[Pipeline, Reporter]:
    reporter = Reporter()
    limits = {"drain": 0, "stop": 4, **limits}
    run = Pipeline(engine, Git(), tmp_path / "builds", reporter, router or Router(), Limits(**limits), asyncio.Lock())
    return run, reporter


def names(engine: FakeEngine) -> set[str]:
    return {c.name for c in engine.containers.values()}


def test_rolling_starts_beside_the_old_container_then_switches_and_stops_it(tmp_path: Path) -> None:
    engine, router = FakeEngine(), Router()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    run, report = pipeline(tmp_path, engine, router)
    with listening_port() as port:
        new_id = asyncio.run(run.run(plan(port)))

    assert report.stages == ["cloning_repo", "building_image", "starting_new", "stopping_old"]
    (request,) = [args[0] for op, args in engine.calls if op == "run"]
    assert request.name == f"mist-app-{APP}-next-{DEPLOYMENT}" and request.restart_policy == "no"
    assert router.switches == [(APP, f"127.0.0.1:{port}")]
    # Health before the switch, the switch before the old one goes, the rename last.
    ops = engine.ops()
    assert ops.index("set_restart_policy") < ops.index("remove") < ops.index("rename")
    assert ("remove", (old.id, 4)) in engine.calls
    assert names(engine) == {f"mist-app-{APP}"} and engine.containers[new_id].restart_policy == "unless-stopped"
    assert f"mist-app-{APP}:{DEPLOYMENT}" in engine.images
    assert "Successfully built" in report.lines and report.committed


def test_a_first_rolling_deployment_takes_the_app_name_at_once(tmp_path: Path) -> None:
    engine = FakeEngine()
    run, report = pipeline(tmp_path, engine)
    with listening_port() as port:
        asyncio.run(run.run(plan(port)))
    assert names(engine) == {f"mist-app-{APP}"} and "rename" not in engine.ops()
    assert "No previous container" not in report.lines


def test_recreate_stops_the_old_container_before_starting_the_new(tmp_path: Path) -> None:
    engine, router = FakeEngine(), Router()
    engine.images.add("postgres:16")
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    run, report = pipeline(tmp_path, engine, router)

    async def scenario() -> str:
        stopping = engine.hold("remove")
        deploying = asyncio.create_task(run.run(template(None)))
        await asyncio.wait_for(stopping.reached.wait(), 5)
        await asyncio.sleep(0.01)
        # Created while the old one stops; started only once it is gone.
        assert "create" in engine.ops() and "start" not in engine.ops()
        stopping.release.set()
        return await deploying

    new_id = asyncio.run(scenario())
    assert report.stages == ["building_image", "stopping_old", "starting_new"]
    ops = engine.ops()
    assert ops.index("remove") < ops.index("rename") < ops.index("start") and "run" not in ops
    assert ("remove", (old.id, 4)) in engine.calls
    assert list(engine.containers) == [new_id] and engine.containers[new_id].name == f"mist-app-{APP}"
    assert engine.containers[new_id].status == "running"
    assert router.switches == [(APP, None)]  # no port: nothing to route
    assert report.committed and "build" not in ops


def test_recreate_removes_the_container_it_created_when_the_old_one_cannot_be_stopped(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.add("postgres:16")
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    engine.fail("remove", MistError("cannot remove container: engine busy"))
    run, _ = pipeline(tmp_path, engine)
    with pytest.raises(MistError, match="engine busy"):
        asyncio.run(run.run(template(None)))
    assert list(engine.containers) == [old.id]  # the created one went; the old one is as it was


def test_a_missing_image_fails_before_anything_is_touched(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.add_container(f"mist-app-{APP}", APP, 6)
    run, _ = pipeline(tmp_path, engine)
    with pytest.raises(BuildFailed, match="is not on this machine"):
        asyncio.run(run.run(template(None)))
    assert not {"run", "create", "remove"} & set(engine.ops())


def test_a_new_container_that_exits_is_removed_and_the_old_one_serves_on(tmp_path: Path) -> None:
    engine, router = FakeEngine(), Router()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    engine.exit_code, engine.output = 3, ["boom: missing DATABASE_URL"]
    run, report = pipeline(tmp_path, engine, router)
    with listening_port() as port, pytest.raises(Unhealthy, match="exited with exit code 3"):
        asyncio.run(run.run(plan(port)))
    assert list(engine.containers) == [old.id] and router.switches == []
    assert "  boom: missing DATABASE_URL" in report.lines and not report.committed


def test_a_new_container_that_never_gets_healthy_is_removed(tmp_path: Path) -> None:
    engine, router = FakeEngine(), Router()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    run, report = pipeline(tmp_path, engine, router)
    with pytest.raises(Unhealthy, match="did not become healthy"):
        asyncio.run(run.run(plan(closed_port())))
    assert list(engine.containers) == [old.id] and router.switches == []
    assert any("previous one keeps serving" in line for line in report.lines)


def test_recreate_with_a_container_that_exits_fails_with_its_output(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.add("postgres:16")
    engine.exit_code, engine.output = 1, ["initdb: error"]
    run, _ = pipeline(tmp_path, engine)
    with pytest.raises(Unhealthy, match="exited with exit code 1 right after starting") as failed:
        asyncio.run(run.run(template(None)))
    assert failed.value.output == ["initdb: error"]


def test_a_failed_proxy_switch_leaves_traffic_on_the_old_container(tmp_path: Path) -> None:
    engine = FakeEngine()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    run, report = pipeline(tmp_path, engine, Router(ProxyError("caddy refused the routes")))
    with listening_port() as port, pytest.raises(ProxyError):
        asyncio.run(run.run(plan(port)))
    assert list(engine.containers) == [old.id] and engine.containers[old.id].name == f"mist-app-{APP}"
    assert report.committed  # the failure came after the point of no return, and is reported as such


def test_a_failed_build_starts_nothing(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.fail("build", BuildFailed("Failed to build Docker image: RUN exited 1"))
    run, _ = pipeline(tmp_path, engine)
    with pytest.raises(BuildFailed, match="RUN exited 1"):
        asyncio.run(run.run(plan(8000)))
    assert "run" not in engine.ops()
    assert not (tmp_path / "builds" / f"mist-build-{DEPLOYMENT}").exists()  # the checkout is gone


@pytest.mark.parametrize("op", ["build", "ensure_network", "run", "set_restart_policy"])
def test_a_stop_at_each_step_leaves_no_new_container_and_the_old_one_serving(tmp_path: Path, op: str) -> None:
    engine, router = FakeEngine(), Router()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    run, report = pipeline(tmp_path, engine, router)

    async def scenario(port: int) -> None:
        gate = engine.hold(op)
        task = asyncio.create_task(run.run(plan(port)))
        await asyncio.wait_for(gate.reached.wait(), 5)
        task.cancel()
        if op == "run":
            gate.release.set()  # the engine answers after the stop: what it started must go too
        with pytest.raises(asyncio.CancelledError):
            await task

    with listening_port() as port:
        asyncio.run(scenario(port))
    assert list(engine.containers) == [old.id] and router.switches == [] and not report.committed
    if op != "run":
        assert engine.cancelled == [op]
    assert not (tmp_path / "builds" / f"mist-build-{DEPLOYMENT}").exists()


def test_a_build_past_its_time_limit_is_cut_off(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.hold("build")
    run, _ = pipeline(tmp_path, engine, build=0.05)
    with pytest.raises(StageTimeout, match="'building_image' timed out after 0.05 s"):
        asyncio.run(run.run(plan(8000)))
    assert engine.cancelled == ["build"] and "run" not in engine.ops()


def test_a_rollback_runs_the_recorded_image_without_clone_or_build(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.add(f"mist-app-{APP}:5")
    run, report = pipeline(tmp_path, engine)
    with listening_port() as port:
        asyncio.run(run.run(plan(port, rollback_image=f"mist-app-{APP}:5")))
    (request,) = [args[0] for op, args in engine.calls if op == "run"]
    assert request.image == f"mist-app-{APP}:5" and "build" not in engine.ops()
    assert report.stages[0] == "starting_new" and run.git.checkouts == []


def test_two_deployments_of_one_project_look_up_and_create_its_network_one_at_a_time(tmp_path: Path) -> None:
    # The engine's duplicate check is not atomic: two creators at once could make two networks of one name.
    engine, shared = FakeEngine(), asyncio.Lock()
    inside, most = [0], [0]
    real = engine.ensure_network

    async def ensure_network(name: str, labels: dict[str, str]) -> None:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        await asyncio.sleep(0.02)  # the engine's round trips, during which the other could look too
        await real(name, labels)
        inside[0] -= 1

    engine.ensure_network = ensure_network  # type: ignore[method-assign]

    async def both() -> None:
        first, _ = pipeline(tmp_path, engine)
        second, _ = pipeline(tmp_path, engine)
        first.networks = second.networks = shared  # as Workers gives every pipeline one lock
        await asyncio.gather(first.prepare(plan(None)), second.prepare(plan(None)))

    asyncio.run(both())
    assert most[0] == 1 and engine.ops().count("ensure_network") == 2


def test_an_existing_network_is_used_without_taking_the_lock(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.networks["mist-project-1"] = {}
    run, _ = pipeline(tmp_path, engine)
    run.networks = Refused()
    asyncio.run(run.prepare(plan(None)))
    assert "ensure_network" not in engine.ops()


class Refused:
    """A lock that must not be taken."""

    async def __aenter__(self) -> None:
        raise AssertionError("the network lock was taken")

    async def __aexit__(self, *exc: object) -> None:
        pass


class RepoGit(Git):
    """A checkout of the given files."""

    def __init__(self, files: dict[str, str]) -> None:
        super().__init__()
        self.files = files

    async def checkout(self, app_id, url, commit, checkout: Path, log, auth=None) -> None:  # noqa: ANN001
        self.checkouts.append(commit)
        for name, text in self.files.items():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            (checkout / name).write_text(text)


PYTHON_APP = {"requirements.txt": "flask\n", "app.py": "print('hi')\n", "Procfile": "release: python3 migrate.py\n"}


def test_a_repository_without_a_dockerfile_builds_with_the_one_mist_writes_and_logs_it_first(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.one_off[f"mist-release-{DEPLOYMENT}"] = (0, [])
    run, report = pipeline(tmp_path, engine)
    run.git = RepoGit(PYTHON_APP)
    with listening_port() as port:
        asyncio.run(run.run(plan(port)))
    (request,) = [args[0] for op, args in engine.calls if op == "build"]
    assert request.dockerfile == ".mist.Dockerfile" and request.dockerfile_text.count("FROM python:") == 1
    header = report.lines.index("Generated Dockerfile (`mist apps dockerfile APP` prints it):")
    assert report.lines[header + 1].startswith("  | ") and any("FROM python:" in line for line in report.lines)
    assert header < report.lines.index("Step 1/1 : FROM scratch")  # the Dockerfile comes before the build


def test_the_release_command_runs_in_a_one_off_container_before_the_new_one_starts(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.add_container(f"mist-app-{APP}", APP, 6)
    engine.one_off[f"mist-release-{DEPLOYMENT}"] = (0, ["Applied 3 migrations"])
    run, report = pipeline(tmp_path, engine)
    run.git = RepoGit(PYTHON_APP)
    with listening_port() as port:
        asyncio.run(run.run(plan(port)))
    release, app = [args[0] for op, args in engine.calls if op == "run"]
    assert release.command == ["sh", "-c", "python3 migrate.py"] and release.name == f"mist-release-{DEPLOYMENT}"
    assert release.image == f"mist-app-{APP}:{DEPLOYMENT}" and release.network == "mist-project-1"
    assert release.env == app.env and release.aliases == () and release.restart_policy == "no"
    assert APP_LABEL not in release.labels  # never taken for one of the app's containers
    output = report.lines.index("Applied 3 migrations")
    assert report.lines.index("Running the release command: python3 migrate.py") < output
    assert output < report.lines.index("The release command succeeded")
    assert report.stages.index("building_image") < report.stages.index("starting_new")
    assert {c.name for c in engine.containers.values()} == {f"mist-app-{APP}"}  # the one-off is gone


def test_a_failing_release_command_fails_the_deployment_and_the_old_version_serves_on(tmp_path: Path) -> None:
    engine = FakeEngine()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    engine.one_off[f"mist-release-{DEPLOYMENT}"] = (3, ["relation already exists"])
    run, report = pipeline(tmp_path, engine)
    run.git = RepoGit(PYTHON_APP)
    with pytest.raises(BuildFailed, match="release command exited with code 3"):
        asyncio.run(run.run(plan(8000, strategy="recreate")))
    assert list(engine.containers) == [old.id] and not report.committed
    assert "relation already exists" in report.lines and "stopping_old" not in report.stages


def test_a_stop_during_the_release_command_removes_its_container(tmp_path: Path) -> None:
    engine = FakeEngine()
    old = engine.add_container(f"mist-app-{APP}", APP, 6)
    engine.one_off[f"mist-release-{DEPLOYMENT}"] = (0, [])
    run, _ = pipeline(tmp_path, engine)
    run.git = RepoGit(PYTHON_APP)

    async def scenario() -> None:
        gate = engine.hold("follow_logs")
        task = asyncio.create_task(run.run(plan(8000)))
        await asyncio.wait_for(gate.reached.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert list(engine.containers) == [old.id]


def test_a_rollback_does_not_run_the_release_command_again(tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.images.add(f"mist-app-{APP}:5")
    run, _ = pipeline(tmp_path, engine)
    with listening_port() as port:
        asyncio.run(run.run(plan(port, rollback_image=f"mist-app-{APP}:5",
                                 commands=Overrides(release_command="python3 migrate.py"))))
    assert [args[0].name for op, args in engine.calls if op == "run"] == [f"mist-app-{APP}"]


# --------------------------------------------------------------------------- Swarm mode (the services port)


def task(state: str, deployment: int = DEPLOYMENT, slot: int = 1, node: str = "node-a") -> TaskState:
    return TaskState(id=f"t{slot}{state}{deployment}", name=f"mist-app-{APP}.{slot}", slot=slot, node_id="n1",
                     node=node, state=state, desired_state="running", message="", error="", container_id="c",
                     started_at="", exit_code=None, health="", image="", deployment=str(deployment))


class FakeServices:
    """The orchestrator as the pipeline sees it: records requests; `outcome` is how an update ends, after
    reporting `phases`; `hold` keeps an update running until released (Swarm still busy)."""

    def __init__(self, exists: bool = True, outcome: UpdateOutcome | None = None) -> None:
        self.exists = exists
        self.outcome = outcome or UpdateOutcome(COMPLETED, "")
        self.calls: list[tuple[str, object]] = []
        self.hold: asyncio.Event | None = None
        self.updating = asyncio.Event()

    async def push(self, image: str, repository: str) -> str:
        self.calls.append(("push", (image, repository)))
        return f"registry.test/{repository}@sha256:{'0' * 64}"

    async def pin(self, label: str) -> str:
        self.calls.append(("pin", label))
        return f"node.labels.{label} == true"

    async def tasks(self, name: str) -> list[TaskState]:
        if not self.exists:
            raise NotFound(f"no service {name}")
        return [task("running")]

    async def deploy(self, request: ServiceRequest, on_progress: ProgressCallback) -> UpdateOutcome:
        self.calls.append(("deploy", request))
        await on_progress(SERVICE_STARTING, [task("starting", slot=1), task("running", DEPLOYMENT - 1, 2)])
        self.updating.set()
        if self.hold is not None:
            await self.hold.wait()
        await on_progress(SERVICE_STOPPING, [task("running", slot=1), task("running", DEPLOYMENT - 1, 2)])
        self.exists = True
        return self.outcome

    async def rollback(self, name: str) -> UpdateOutcome:
        self.calls.append(("rollback", name))
        return UpdateOutcome(ROLLED_BACK, "manually requested rollback")

    async def remove(self, name: str) -> None:
        self.calls.append(("remove", name))

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]


def swarm_pipeline(tmp_path: Path, services: FakeServices, router: Router | None = None,
                   **limits) -> tuple[Pipeline, Reporter, FakeEngine]:
    engine, reporter = FakeEngine(), Reporter()
    run = Pipeline(engine, Git(), tmp_path / "builds", reporter, router or Router(),
                   Limits(**{"drain": 0, "stop": 4, **limits}), asyncio.Lock(), services)
    return run, reporter, engine


def test_swarm_pushes_the_build_and_updates_the_service_by_digest_following_its_stages(tmp_path: Path) -> None:
    services, router = FakeServices(), Router()
    run, report, engine = swarm_pipeline(tmp_path, services, router)
    running = asyncio.run(run.run(plan(8000, runtime_replicas=2)))

    assert running == f"mist-app-{APP}"
    assert services.ops() == ["push", "deploy"]  # no volume: nothing pinned
    assert services.calls[0][1] == (f"mist-app-{APP}:{DEPLOYMENT}", f"mist/app-{APP}")
    request = services.calls[1][1]
    assert request.image.startswith(f"registry.test/mist/app-{APP}@sha256:") and request.order == "start-first"
    assert request.replicas == 2 and request.networks[0].network == "mist-project-1"
    assert request.networks[0].aliases == ("web",) and request.health is not None
    assert report.stages == ["cloning_repo", "building_image", "starting_new", "stopping_old"]
    assert router.switches == [(APP, f"tasks.mist-app-{APP}:8000")]
    assert f"  mist-app-{APP}.1 on node-a: starting" in report.lines
    assert "run" not in engine.ops()  # the orchestrator starts the replicas, not the engine


def test_swarm_pins_an_app_with_a_volume_to_its_node_one_replica_stop_first(tmp_path: Path) -> None:
    services = FakeServices()
    run, report, engine = swarm_pipeline(tmp_path, services)
    engine.images.add("postgres:16")
    db = template(5432, runtime_replicas=3)
    db = replace(db, runtime=replace(db.runtime, volumes={"mist-app-3-data": "/var/lib/postgresql/data"}))
    asyncio.run(run.run(db))

    assert services.calls[0] == ("push", ("postgres:16", "postgres"))
    assert services.calls[1] == ("pin", f"mist.volumes.app-{APP}")
    request = services.calls[2][1]
    assert request.order == "stop-first" and request.replicas == 1
    assert request.constraints == (f"node.labels.mist.volumes.app-{APP} == true",)
    assert report.stages == ["building_image", "stopping_old", "starting_new"]


def test_swarm_rolled_back_update_fails_with_swarms_reason_and_the_replicas_output(tmp_path: Path) -> None:
    failed = task("failed", slot=1)
    services = FakeServices(outcome=UpdateOutcome(ROLLED_BACK, "update rolled back due to failure of task x",
                                                  failed, ("Traceback...", "health check: refused")))
    router = Router()
    run, report, _ = swarm_pipeline(tmp_path, services, router)
    with pytest.raises(Unhealthy, match="Swarm rolled the service back; the previous version keeps serving: "
                                        "update rolled back due to failure of task x"):
        asyncio.run(run.run(plan(8000)))
    assert f"Last output of mist-app-{APP}.1:" in report.lines and "  health check: refused" in report.lines
    assert router.switches == [] and not report.committed and "remove" not in services.ops()


def test_swarm_first_creation_that_fails_removes_the_service(tmp_path: Path) -> None:
    services = FakeServices(exists=False, outcome=UpdateOutcome(FAILED, "task mist-app-3.1 failed: exit 1"))
    run, _, _ = swarm_pipeline(tmp_path, services)
    with pytest.raises(Unhealthy, match="never became healthy: task mist-app-3.1 failed"):
        asyncio.run(run.run(plan(8000)))
    assert services.ops()[-1] == "remove"


@pytest.mark.parametrize(("exists", "undo"), [(True, "rollback"), (False, "remove")])
def test_swarm_stop_during_the_update_rolls_it_back_or_removes_a_new_service(
    tmp_path: Path, exists: bool, undo: str,
) -> None:
    services = FakeServices(exists=exists)
    run, report, _ = swarm_pipeline(tmp_path, services)

    async def scenario() -> None:
        services.hold = asyncio.Event()
        deploying = asyncio.create_task(run.run(plan(8000)))
        await asyncio.wait_for(services.updating.wait(), 5)
        deploying.cancel()
        with pytest.raises(asyncio.CancelledError):
            await deploying

    asyncio.run(scenario())
    assert services.ops()[-1] == undo and not report.committed
    if undo == "rollback":
        assert f"Swarm rolled mist-app-{APP} back: manually requested rollback" in report.lines


def test_swarm_update_past_its_time_limit_is_rolled_back(tmp_path: Path) -> None:
    services = FakeServices()
    services.hold = asyncio.Event()
    run, _, _ = swarm_pipeline(tmp_path, services, health=0.05)
    with pytest.raises(StageTimeout, match="stage 'starting_new' timed out"):
        asyncio.run(run.run(plan(8000)))
    assert services.ops()[-1] == "rollback"


def test_swarm_rollback_pushes_the_earlier_image_again_without_a_build(tmp_path: Path) -> None:
    services = FakeServices()
    run, report, engine = swarm_pipeline(tmp_path, services)
    engine.images.add(f"mist-app-{APP}:5")
    asyncio.run(run.run(plan(8000, rollback_image=f"mist-app-{APP}:5")))
    assert "build" not in engine.ops() and "cloning_repo" not in report.stages
    assert services.calls[0] == ("push", (f"mist-app-{APP}:5", f"mist/app-{APP}"))
