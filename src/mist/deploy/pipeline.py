"""One deployment, as one function of named steps.

Each step builds its request as a plain value (see plan.py) and awaits the engine port with it.
The pipeline knows nothing of HTTP, of the database or of Docker: it reports through a `Reporter` and moves
traffic through a `Router`. Each stage runs under its time limit; whatever goes wrong before the
point of no return, the app's current container is left serving and the new one is removed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from mist.deploy.health import Unhealthy, wait_healthy
from mist.deploy.plan import (
    DeployPlan,
    build_request,
    build_root,
    container_name,
    container_request,
    image_repository_name,
    release_request,
    service_request,
    volume_label,
)
from mist.deploy.stages import (
    BUILDING_IMAGE,
    CLONING_REPO,
    ROLLING_STARTING_NEW,
    ROLLING_STOPPING_OLD,
    STARTING_NEW,
    STOPPING_OLD,
    Stage,
)
from mist.errors import BuildFailed, MistError, NotFound, ProxyError, RuntimeEngineError
from mist.git import GitRepos, checkout_file, path_problem, read_checkout_file
from mist.runtime.engine import Engine
from mist.runtime.requests import BuildRequest, ContainerState
from mist.runtime.services import (
    FAILED,
    ROLLED_BACK,
    Services,
    TaskState,
    UpdateOutcome,
    service_upstream,
)
from mist.stacks import Recipe, recipe


class Reporter(Protocol):
    async def enter(self, stage: Stage) -> None: ...
    async def log(self, text: str) -> None: ...
    def past_point_of_no_return(self) -> None: ...


class Router(Protocol):
    async def switch(self, app_id: int, upstream: str | None) -> None: ...


class StageTimeout(MistError):
    pass


@dataclass(frozen=True)
class Limits:
    clone: float = 600
    build: float = 3600
    health: float = 300
    drain: float = 1
    stop: int = 10
    context_bytes: int = 512 * 2**20  # the packed build context


class Pipeline:
    def __init__(
        self, engine: Engine, git: GitRepos, builds_dir: Path, reporter: Reporter,
        router: Router, limits: Limits, networks: AbstractAsyncContextManager[None],
        services: Services | None = None,
    ) -> None:
        self.engine = engine
        # Swarm mode: the orchestrator runs the app's replicas, and the engine only builds.
        self.services = services
        # Held while a project's network is looked up and created: the engine's own duplicate check
        # is not atomic, and two networks of one name can no longer be joined. Several processes
        # share it (a database lock).
        self.networks = networks
        self.git = git
        self.builds_dir = builds_dir
        self.report = reporter
        self.router = router
        self.limits = limits

    async def run(self, plan: DeployPlan) -> str:
        """Answers the id of what now runs the app: its container, or in Swarm mode its service."""
        image, release = await self.image(plan)
        await self.prepare(plan)
        if release:
            async with self.limit(BUILDING_IMAGE, self.limits.build):
                await self.release(plan, image, release)
        if self.services is not None:
            return await self.orchestrate(self.services, plan, image)
        if plan.runtime.strategy == "rolling":
            return (await self.rolling(plan, image)).id
        return (await self.recreate(plan, image)).id

    async def image(self, plan: DeployPlan) -> tuple[str, str]:
        """The image to run, and the release command to run in it first ("" for none)."""
        if plan.builds_from_source:
            checkout = self.builds_dir / f"mist-build-{plan.deployment_id}"
            try:
                await self.report.enter(CLONING_REPO)
                async with self.limit(CLONING_REPO, self.limits.clone):
                    await self.clone(plan, checkout)
                await self.report.enter(BUILDING_IMAGE)
                async with self.limit(BUILDING_IMAGE, self.limits.build):
                    request, release = await self.build_request(plan, checkout)
                    return await self.build(request), release
            finally:
                await self.git.discard(checkout)
        # A rollback returns to an image whose release ran when it was deployed; going back does
        # not run it again (a migration's reverse is the app's own business).
        if plan.rollback_image:
            await self.report.log(f"Rolling back to image {plan.rollback_image}: no clone, no build")
        else:
            await self.report.enter(BUILDING_IMAGE)
            await self.report.log(f"Using image {plan.template_image}")
        if not await self.engine.image_id(plan.image_tag):
            raise BuildFailed(f"image {plan.image_tag} is not on this machine")
        return plan.image_tag, ""

    async def prepare(self, plan: DeployPlan) -> None:
        """The project's network and the app's volumes, labelled so deleting the app finds them."""
        # Creating it is what must take turns; finding it there needs no lock.
        if not await self.engine.has_network(plan.network):
            async with self.networks:
                await self.engine.ensure_network(plan.network, plan.network_labels)
        for name in plan.runtime.volumes:
            await self.engine.ensure_volume(name, plan.labels)

    async def rolling(self, plan: DeployPlan, image: str) -> ContainerState:
        """Start beside the current container, wait for health, switch traffic, drain, stop old."""
        await self.report.enter(ROLLING_STARTING_NEW)
        old = await self.engine.app_containers(plan.app_id)
        new = await self.start(plan, image, beside_current=bool(old))
        try:
            async with self.limit(ROLLING_STARTING_NEW, self.limits.health):
                await self.health(plan, new)
            await self.keep(plan, new)
        except BaseException:
            await asyncio.shield(self.discard(new))
            raise
        self.report.past_point_of_no_return()
        await self.report.enter(ROLLING_STOPPING_OLD)
        try:
            await self.router.switch(plan.app_id, new.address(plan.runtime.port))
        except ProxyError:
            await asyncio.shield(self.discard(new))  # traffic never moved: the old one serves on
            raise
        if old:
            await self.report.log(f"Traffic goes to {new.name}; letting the previous container drain")
            await asyncio.sleep(self.limits.drain)
            await self.stop(old)
            await self.engine.rename(new.id, container_name(plan))
        return new

    async def recreate(self, plan: DeployPlan, image: str) -> ContainerState:
        """Stop, then start: for apps that must never run twice at once (a volume, a database).

        The new container is created, not started, while the old one stops (under a name of its
        own until then): the app is down only from the old one's stop to the new one's start."""
        self.report.past_point_of_no_return()
        await self.report.enter(STOPPING_OLD)
        old = await self.engine.app_containers(plan.app_id)
        request = replace(container_request(plan, image, beside_current=bool(old)), restart_policy="no")
        creating = asyncio.ensure_future(self.engine.create(request))
        try:
            await self.stop(old)
            await self.report.enter(STARTING_NEW)
            created = await asyncio.shield(creating)
            if old:
                await self.engine.rename(created.id, container_name(plan))
            await self.engine.start(created.id)
        except BaseException:
            await asyncio.shield(self._discard_when_started(creating))
            raise
        await self.report.log(f"Started container {created.name} ({created.id[:12]})")
        new = await self._still_running(created)
        # The old container is gone whatever the new one does, so waiting for readiness only
        # decides what the deployment reports: done when the app asks for it with a health path.
        if plan.runtime.health.path:
            async with self.limit(STARTING_NEW, self.limits.health):
                await self.health(plan, new)
        # The old container is gone: nothing orders these two, so they go together.
        outcomes = await asyncio.gather(
            self.keep(plan, new), self.router.switch(plan.app_id, new.address(plan.runtime.port)),
            return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return new

    async def orchestrate(self, services: Services, plan: DeployPlan, image: str) -> str:
        """Swarm mode: the image goes to the registry, and the orchestrator replaces the app's replicas
        one at a time (each new one healthy before an old one stops; a volume's app stops first), rolling
        back by itself when a new one fails. A stop or a timeout rolls the update back too."""
        await self.report.log(f"Pushing {image} to the registry, where every node pulls it from")
        async with self.limit(BUILDING_IMAGE, self.limits.build):
            pushed = await services.push(image, image_repository_name(plan))
        await self.report.log(f"Pushed as {pushed}")
        pinned = plan.runtime.volumes or plan.runtime.binds
        request = service_request(plan, pushed, (await services.pin(volume_label(plan)),) if pinned else ())
        try:
            await services.tasks(request.name)  # NotFound: a first deployment creates the service
            existed = True
        except NotFound:
            existed = False
        progress = _Progress(self.report, stop_first=request.order == "stop-first", replicas=request.replicas)
        await progress.enter(progress.first)
        await self.report.log(
            f"{'Updating' if existed else 'Creating'} service {request.name}: {request.replicas} "
            f"replica{'s' if request.replicas > 1 else ''}, {request.order}")
        update = asyncio.ensure_future(services.deploy(request, progress))
        try:
            # Each replica in turn may take the whole health limit.
            async with self.limit(progress.first, self.limits.health * request.replicas):
                outcome = await asyncio.shield(update)
        except BaseException:
            await asyncio.shield(self._undo(services, request.name, update, existed))
            raise
        if not outcome.ok:
            await self._give_up(services, request.name, outcome)
        self.report.past_point_of_no_return()
        port = plan.runtime.port
        await self.router.switch(plan.app_id, service_upstream(plan.app_id, port) if port else None)
        running = [t for t in await services.tasks(request.name) if t.running]
        await self.report.log(f"Service {request.name} runs {len(running)} replica{'s' if len(running) != 1 else ''}"
                              f" of this deployment on {', '.join(sorted({t.node for t in running})) or 'no node'}")
        return request.name

    async def _undo(self, services: Services, name: str, update: asyncio.Future[UpdateOutcome], existed: bool) -> None:
        """A stop or a timeout during an update: the orchestrator goes back to what ran before (a service
        that did not exist before is removed)."""
        update.cancel()  # only our following of it: Swarm's update goes on until told otherwise
        await asyncio.wait({update})
        if not existed:
            await services.remove(name)
            await self.report.log(f"Removed the new service {name}")
            return
        await self.report.log(f"Rolling service {name} back to the previous version...")
        outcome = await services.rollback(name)
        await self.report.log(f"Swarm rolled {name} back" + (f": {outcome.message}" if outcome.message else "")
                              if outcome.status == ROLLED_BACK else
                              f"Swarm's rollback of {name} paused half-way: {outcome.message}")

    async def _give_up(self, services: Services, name: str, outcome: UpdateOutcome) -> None:
        """The new version failed: say why, with the failed replica's last output, and raise."""
        if outcome.output:
            task = outcome.failed_task.name if outcome.failed_task else "the new replica"
            await self.report.log(f"Last output of {task}:")
            for line in outcome.output:
                await self.report.log(f"  {line}")
        if outcome.status == FAILED:  # a first creation: nothing ran before, nothing is left
            await asyncio.shield(services.remove(name))
            raise Unhealthy(f"the new service never became healthy: {outcome.message}", list(outcome.output))
        if outcome.status == ROLLED_BACK:
            raise Unhealthy(f"a new replica failed and Swarm rolled the service back; the previous version keeps "
                            f"serving: {outcome.message}", list(outcome.output))
        raise RuntimeEngineError(f"Swarm paused the update half-way ({outcome.message}): some replicas may run "
                                 "the previous version; deploy again or roll back")

    async def clone(self, plan: DeployPlan, checkout: Path) -> None:
        await self.git.discard(checkout)  # left by a run of this deployment that was interrupted
        await self.git.checkout(
            plan.app_id, plan.git_url, plan.commit_hash, checkout, self.report.log, auth=plan.git_auth
        )
        _check_inside(checkout, plan.root_directory, "rootDirectory", want_dir=True)

    async def build_request(self, plan: DeployPlan, checkout: Path) -> tuple[BuildRequest, str]:
        """The build of the checkout, with its Dockerfile or one written for its stack, once what the
        build reads is safe; and the release command."""
        found = recipe(
            build_root(plan, checkout), plan.builder, plan.dockerfile_path, plan.commands,
            plan.builder_images, tuple(plan.build_args),
        )
        if found.builder == "dockerfile":
            _check_inside(build_root(plan, checkout), plan.dockerfile_path, "dockerfilePath", want_dir=False)
            request = build_request(plan, checkout)
            # The engine reads the Dockerfile: it must be a small regular file inside the checkout,
            # whatever symlink the repository committed in its place.
            checkout_file(request.context_dir, request.dockerfile)
        else:
            await self.show_recipe(found)
            request = build_request(plan, checkout, generated=found.dockerfile)
        # Mist reads .dockerignore: the same goes for it.
        ignore = read_checkout_file(request.context_dir, ".dockerignore") or b""
        request = replace(
            request, dockerignore=ignore.decode(errors="replace"), context_max_bytes=self.limits.context_bytes
        )
        return request, found.release_command

    async def show_recipe(self, found: Recipe) -> None:
        """What detection found and the Dockerfile it wrote, as one block before the build."""
        await self.report.log(f"No Dockerfile used: building as a {found.builder} app")
        for finding in found.findings:
            await self.report.log(f"  {finding}")
        await self.report.log("Generated Dockerfile (`mist apps dockerfile APP` prints it):")
        for line in found.dockerfile.splitlines():
            await self.report.log(f"  | {line}")

    async def release(self, plan: DeployPlan, image: str, command: str) -> None:
        """Runs the release command once in a one-off container of the new image, before anything
        of the running version is touched: a failure leaves it serving."""
        await self.report.log(f"Running the release command: {command}")
        run = asyncio.ensure_future(self.engine.run(release_request(plan, image, command)))
        try:
            state = await asyncio.shield(run)
            async for line in self.engine.follow_logs(state.id, "all"):
                # Each line starts with its timestamp: the deployment log stamps its own.
                await self.report.log(line.partition(" ")[2])
            ended = await self.engine.inspect(state.id)
            while ended is not None and ended.status == "running":  # its output ends just before it does
                await asyncio.sleep(0.1)
                ended = await self.engine.inspect(state.id)
        except asyncio.CancelledError:
            await asyncio.shield(self._discard_when_started(run, lambda state: self.engine.remove(state.id, 0)))
            raise
        await self.engine.remove(state.id, 0)
        if ended is None or ended.status == "running" or ended.exit_code != 0:
            code = ended.exit_code if ended else "unknown"
            raise BuildFailed(f"the release command exited with code {code}; the running version keeps serving")
        await self.report.log("The release command succeeded")

    async def build(self, request: BuildRequest) -> str:
        """A stop or a timeout cancels the engine's build, which cuts it off at once."""
        await self.engine.build(request, self.report.log)
        return request.tag

    async def start(self, plan: DeployPlan, image: str, beside_current: bool = False) -> ContainerState:
        # No restart policy until the container has proved itself: a crash on start must show as
        # an exit with its real code, not hide in a restart loop.
        request = replace(container_request(plan, image, beside_current), restart_policy="no")
        run = asyncio.ensure_future(self.engine.run(request))
        try:
            state = await asyncio.shield(run)
            await self.report.log(f"Started container {state.name} ({state.id[:12]})")
        except asyncio.CancelledError:
            # A stop: the engine call goes on (shielded), so the container it starts is removed
            # once it exists, before the stop is reported done.
            await asyncio.shield(self._discard_when_started(run))
            raise
        return state

    async def _discard_when_started(
        self, run: asyncio.Future[ContainerState],
        discard: Callable[[ContainerState], Awaitable[None]] | None = None,
    ) -> None:
        """Once the engine call that starts a container has ended, removes what it started (with
        `discard`, by default the new app container's, which says so in the log)."""
        await asyncio.wait({run})
        if not run.cancelled() and run.exception() is None:
            await (discard or self.discard)(run.result())

    async def keep(self, plan: DeployPlan, state: ContainerState) -> None:
        """The new container passed: from now on the engine restarts it as the app asks."""
        await self.engine.set_restart_policy(state.id, plan.runtime.restart_policy)

    async def health(self, plan: DeployPlan, state: ContainerState) -> None:
        try:
            if plan.runtime.port is None:
                await self._still_running(state)
                return
            check = plan.runtime.health
            how = f"GET {check.path}" if check.path else f"a connection to port {plan.runtime.port}"
            await self.report.log(f"Waiting for the new container to answer {how}...")
            probes = await wait_healthy(self.engine, state, plan.runtime.port, check)
            await self.report.log(f"The new container is healthy ({probes} check{'s' if probes > 1 else ''})")
        except Unhealthy as exc:
            if exc.output:
                await self.report.log("Last output of the new container:")
                for line in exc.output:
                    await self.report.log(f"  {line}")
            raise

    async def _still_running(self, state: ContainerState) -> ContainerState:
        """The container as it is right after starting; Unhealthy when it already exited."""
        current = await self.engine.inspect(state.id)
        if current is None or current.crashed:
            raise Unhealthy(
                f"the new container exited with exit code {current.exit_code} right after starting"
                if current else "the new container vanished right after starting",
                await self.engine.tail(state.id),
            )
        return current

    async def stop(self, containers: list[ContainerState]) -> None:
        if not containers:
            await self.report.log("No previous container")
        for container in containers:
            await self.report.log(f"Stopping container {container.name} ({container.id[:12]})")
            await self.engine.remove(container.id, self.limits.stop)

    async def discard(self, state: ContainerState) -> None:
        try:
            await self.engine.remove(state.id, 0)
            await self.report.log(f"Removed the new container {state.name}; the previous one keeps serving")
        except RuntimeEngineError as exc:
            await self.report.log(f"Could not remove the new container {state.name}: {exc.message}")

    @asynccontextmanager
    async def limit(self, stage: Stage, seconds: float) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError as exc:
            raise StageTimeout(f"stage '{stage.name}' timed out after {seconds:g} s") from exc



class _Progress:
    """Follows a Swarm update on the deployment: its stage (new replicas starting, then old ones stopping;
    the other way round for stop-first) and a line whenever a replica's state changes."""

    def __init__(self, report: Reporter, stop_first: bool, replicas: int) -> None:
        self.report = report
        self.stages = {STARTING_NEW.name: STARTING_NEW, STOPPING_OLD.name: STOPPING_OLD} if stop_first else {
            STARTING_NEW.name: ROLLING_STARTING_NEW, STOPPING_OLD.name: ROLLING_STOPPING_OLD}
        self.first = STOPPING_OLD if stop_first else ROLLING_STARTING_NEW
        self.entered: list[Stage] = []
        self.replicas = replicas
        self.seen: dict[str, tuple[str, str]] = {}

    async def enter(self, stage: Stage) -> None:
        # Progress only grows: a stage is entered once, and never one before the last entered.
        if stage not in self.entered and (not self.entered or stage.progress > self.entered[-1].progress):
            self.entered.append(stage)
            await self.report.enter(stage)

    async def __call__(self, phase: str, tasks: list[TaskState]) -> None:
        await self.enter(self.stages[phase])
        for task in tasks:
            shown = (task.state, task.health)
            if self.seen.get(task.id) != shown:
                self.seen[task.id] = shown
                health = f" ({task.health})" if task.health else ""
                where = f" on {task.node}" if task.node else ""
                await self.report.log(f"  {task.name}{where}: {task.state}{health}"
                                      + (f" - {task.error}" if task.error else ""))


def _check_inside(root: Path, relative: str, field: str, want_dir: bool) -> None:
    if problem := path_problem(root, relative, want_dir):
        raise BuildFailed(f"{field} '{relative or '.'}' {problem}")
