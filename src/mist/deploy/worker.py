"""Workers: claim deployments from the queue, run the pipeline, write the outcome.

Timeouts, stops, cancellation and failure end here, in one place: whatever a deployment raises,
its row ends final, its log says why, and watchers get the final status. Final writes are
shielded from cancellation so shutting down cannot leave a row half-written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum

from sqlalchemy.orm import Session

from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import Deployment, utcnow
from mist.deploy import store
from mist.deploy.events import EventBus, message
from mist.deploy.logs import LogStore, LogWriter, Redactor
from mist.deploy.pipeline import Limits, Pipeline, Router
from mist.deploy.plan import DeployPlan, load_plan
from mist.deploy.stages import COMPLETED, FAILED, STOPPED, Stage
from mist.errors import MistError, NotFound
from mist.git import GitRepos
from mist.runtime.engine import Engine
from mist.runtime.services import Services, service_name
from mist.secretbox import SecretBox

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0
# How often a process looks for stop requests sent to another process for the deployments it runs.
STOP_POLL_SECONDS = 1.0


class LeaseLost(MistError):
    """Another process (recovery) took this deployment over; stop touching it."""


class StopOutcome(Enum):
    STOPPING = "stopping"
    TOO_LATE = "too_late"  # past the point of no return: it finishes on its own
    NOT_RUNNING = "not_running"


def publish_final(bus: EventBus, deployment: Deployment) -> None:
    if deployment.error_message and deployment.status == FAILED:
        bus.publish(deployment.id, message("error", {"message": deployment.error_message}))
    bus.publish(deployment.id, message("status", store.status_data(deployment)))


async def append_line(db: Database, logs: LogStore, deployment_id: int, line: str) -> None:
    await db.run(logs.append_final, deployment_id, line)


class DeploymentReporter:
    """Writes a running deployment's progress to its row, its log and the event bus."""

    def __init__(self, db: Database, bus: EventBus, writer: LogWriter, deployment_id: int, worker: str) -> None:
        self.db = db
        self.bus = bus
        self.writer = writer
        self.deployment_id = deployment_id
        self.worker = worker
        self.committed = False  # past the point of no return: a stop request no longer applies
        self.succeeded = False  # recorded: a shutdown during the clean-up after it changes nothing
        # What `log` was given and is not stored yet, and the one task storing it: lines are stored,
        # then published, in the order they were logged (a watcher skips a line numbered below one
        # it has seen), many calls to a transaction, while the deployment goes on without waiting.
        self._queued: list[tuple[str, bool]] = []
        self._storing: asyncio.Task[None] | None = None

    async def log(self, text: str, final: bool = False) -> None:
        """Queues the text to be stored and published. `final`: the outcome, stored even when the
        log reached MIST_LOG_MAX_MB."""
        self._queued.append((text, final))
        if self._storing is None or self._storing.done():
            self._storing = asyncio.create_task(self._store())

    async def flush(self) -> None:
        """Returns once every line logged so far is stored and published."""
        while self._storing is not None and not self._storing.done():
            await asyncio.shield(self._storing)

    async def close(self) -> None:
        await self.flush()
        self._publish(await self.db.run(self.writer.close))

    async def _store(self) -> None:
        while self._queued:
            texts, self._queued = self._queued, []
            try:
                self._publish(await self.db.run(self.writer.append_many, texts))
            except Exception:
                # The deployment goes on (its status writes fail too if the database is gone).
                log.exception("deployment %s: could not store %d log entries", self.deployment_id, len(texts))

    def _publish(self, lines: list[tuple[int, str]]) -> None:
        for seq, line in lines:
            self.bus.publish(self.deployment_id, message("log", {"line": line}, seq=seq))

    def past_point_of_no_return(self) -> None:
        self.committed = True

    async def enter(self, stage: Stage) -> None:
        await self.flush()  # a stage's status comes after the lines logged before it
        lines = await self.db.run(self._enter, stage)
        if lines is None:
            raise LeaseLost("this deployment was taken over by recovery")
        self.bus.publish(self.deployment_id, message("status", {
            "deployment_id": self.deployment_id, "status": stage.status, "stage": stage.name,
            "progress": stage.progress, "message": stage.message, "error_message": "",
        }))
        self._publish(lines)

    def _enter(self, session: Session, stage: Stage) -> list[tuple[int, str]] | None:
        """The stage and its message as the log's next line, in one transaction (a deployment
        goes through several: each costs a round trip to the database)."""
        if not store.set_stage(session, self.deployment_id, self.worker, stage):
            return None
        return self.writer.append_many(session, [(stage.message, False)])

    # The final line is written before the final status: a watcher that reads a final status from
    # the database and then the stored log is sure to find every line there.

    async def succeed(self, image: str, container_id: str, snapshot: str) -> bool:
        await self.log(COMPLETED.message, final=True)
        await self.flush()
        row = await self.db.run(
            store.succeed, self.deployment_id, self.worker, COMPLETED, image, container_id, snapshot
        )
        if row is None:
            await self.log("Deployment failed: this worker lost its claim before it could record success", final=True)
            await self.flush()
            return False
        self.succeeded = True
        publish_final(self.bus, row)
        return True

    async def finish(self, status: str, error: str) -> None:
        if self.succeeded:
            return
        # The error often quotes the build's or the engine's output: it is shown like a log line.
        error = self.writer.redact(error)
        await self.log(f"Deployment {'failed' if status == FAILED else 'stopped'}: {error}", final=True)
        await self.flush()
        if await self.db.run(store.finish, self.deployment_id, self.worker, status, error):
            await self._publish_final()

    async def _publish_final(self) -> None:
        publish_final(self.bus, await self.db.run(store.get_one, self.deployment_id))


@dataclass
class _Running:
    """A deployment this process claimed. Registered the moment it is claimed, before its plan or
    pipeline exist, so that a stop arriving in between is kept and applied as soon as they do."""

    done: asyncio.Event = field(default_factory=asyncio.Event)
    reporter: DeploymentReporter | None = None
    task: asyncio.Task[str] | None = None
    stop_reason: str = ""


class Workers:
    def __init__(
        self, settings: Settings, db: Database, bus: EventBus, logs: LogStore,
        engine: Engine, git: GitRepos, router: Router, box: SecretBox,
        networks: AbstractAsyncContextManager[None] | None = None, services: Services | None = None,
    ) -> None:
        self.settings = settings
        self.services = services  # Swarm mode's orchestrator (see Pipeline)
        self.box = box
        self.db = db
        self.bus = bus
        self.logs = logs
        self.engine = engine
        self.git = git
        self.router = router
        self.networks = networks if networks is not None else asyncio.Lock()  # see Pipeline
        self.limits = Limits(
            clone=settings.clone_timeout_seconds, build=settings.build_timeout_seconds,
            health=settings.health_timeout_seconds, drain=settings.drain_seconds,
            stop=settings.stop_timeout_seconds, context_bytes=settings.build_context_max_mb * 2**20,
        )
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[int, _Running] = {}
        # Held from before a claim until the claimed deployment is in _running: a stop that read
        # the row as claimed takes it too, so it never finds the deployment in neither place.
        self._claiming = asyncio.Lock()
        self._stopping = False
        # Tells the other processes sharing the database that a deployment was queued.
        self.announce: Callable[[], None] | None = None
        self._recovered_at = float("-inf")  # the loop's clock when lapsed leases were last looked for

    async def start(self) -> None:
        """Recovers what an earlier run left, then starts the workers (none with MIST_WORKERS=0: a
        process that only serves the API)."""
        if self.db.is_sqlite:
            await self.recover()
        elif self.settings.workers:
            # Other processes may be running deployments on this database right now: only those
            # whose lease ran out are orphans.
            await self.recover(expired_only=True)
        self._tasks = [
            asyncio.create_task(self._loop(f"{self.instance}/w{n}"), name=f"mist-worker-{n}")
            for n in range(self.settings.workers)
        ]
        if self.settings.workers:
            self._tasks.append(asyncio.create_task(self._watch_stops(), name="mist-stop-requests"))

    def notify(self) -> None:
        """A deployment was queued: wake the idle workers, here and in the other processes, now
        instead of at their next poll."""
        self._wake.set()
        if self.announce is not None:
            self.announce()

    def wake_up(self) -> None:
        """Another process queued a deployment."""
        self._wake.set()

    async def stop(self) -> None:
        """Cancels the workers and waits for them; the flag ends a loop even if a cancellation
        was swallowed (asyncio can lose one that races with a completing await)."""
        self._stopping = True
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=5)
        self._tasks = []

    async def request_stop(self, deployment_id: int, reason: str) -> StopOutcome:
        """Call after reading the row as running: a claim in flight is then registered once the
        lock is free. The pipeline is cancelled once only; a second cancellation would cut short
        the clean-up the first one started."""
        async with self._claiming:
            running = self._running.get(deployment_id)
        if running is None:
            return StopOutcome.NOT_RUNNING
        if running.reporter is not None and running.reporter.committed:
            return StopOutcome.TOO_LATE
        if not running.stop_reason:
            running.stop_reason = reason
            if running.task is not None:
                running.task.cancel()
        return StopOutcome.STOPPING

    async def wait_done(self, deployment_id: int, timeout: float) -> None:
        running = self._running.get(deployment_id)
        if running is not None:
            await asyncio.wait({asyncio.ensure_future(running.done.wait())}, timeout=timeout)

    async def recover(self, expired_only: bool = False) -> int:
        """Fails deployments whose worker is gone, and removes the containers they started. At
        start-up on SQLite every running row is such a one: the database's lock guarantees no other
        Mist process works on it."""
        cutoff = utcnow() if expired_only else None
        rows = await self.db.run(store.interrupted, expired_before=cutoff)
        for row in rows:
            where = f"at stage '{row.stage}'" if row.stage else "as it started"
            error = (
                f"Interrupted: the Mist process running this deployment stopped {where}. "
                "Deploy again to retry."
            )
            await append_line(self.db, self.logs, row.id, f"Deployment failed: {error}")
            if await self.db.run(store.finish, row.id, None, FAILED, error):
                log.warning("deployment %s failed by recovery (%s)", row.id, where)
                await self._remove_leftovers(row.id, row.app_id)
                publish_final(self.bus, await self.db.run(store.get_one, row.id))
        return len(rows)

    async def _remove_leftovers(
        self, deployment_id: int, app_id: int, reporter: DeploymentReporter | None = None,
    ) -> None:
        """Containers started for a deployment that never became active: its worker died, or it
        was stopped at a moment when the pipeline could not know what the engine had started. In
        Swarm mode, first the app's service, if it still runs that deployment's spec."""

        async def say(line: str) -> None:
            if reporter is None:
                await append_line(self.db, self.logs, deployment_id, line)
            else:
                await reporter.log(line)

        try:
            if self.services is not None:
                await self._undo_service(deployment_id, app_id, say)
            for container in await self.engine.deployment_containers(deployment_id):
                await self.engine.remove(container.id, 0)
                await say(f"Removed its half-started container {container.name}")
        except MistError as exc:
            log.error("deployment %s: could not remove its containers: %s", deployment_id, exc.message)

    async def _undo_service(self, deployment_id: int, app_id: int, say: Callable[[str], Awaitable[None]]) -> None:
        """The service goes back to the spec that ran before this deployment's update (which Swarm may have
        finished, or be still running, when its worker died): the active deployment stays what runs. A
        service this deployment created has nothing to go back to, and is removed."""
        assert self.services is not None
        name = service_name(app_id)
        try:
            tasks = await self.services.tasks(name)
        except NotFound:
            return
        if not any(t.deployment == str(deployment_id) and t.desired_state == "running" for t in tasks):
            return
        if await self.db.run(store.active, app_id) is None:
            await self.services.remove(name)
            await say(f"Removed the service {name} it had created")
            return
        outcome = await self.services.rollback(name)
        await say(f"Rolled the service {name} back to the version before it ({outcome.status})")

    async def _recover_lapsed(self) -> None:
        """Recovery of lapsed leases, at most once per idle poll for all of this process's workers: a
        claim right after a deployment was queued does not wait for it."""
        now = asyncio.get_running_loop().time()
        if now - self._recovered_at >= IDLE_POLL_SECONDS:
            self._recovered_at = now
            await self.recover(expired_only=True)

    async def _watch_stops(self) -> None:
        """Stop requests that reached another process (the API asks through the deployment's row)."""
        while not self._stopping:
            await asyncio.sleep(STOP_POLL_SECONDS)
            waiting = [i for i, running in self._running.items() if not running.stop_reason]
            if not waiting:
                continue
            try:
                for deployment_id, reason in await self.db.run(store.stop_requests, waiting):
                    await self.request_stop(deployment_id, reason)
            except Exception:
                log.exception("could not read the stop requests")

    async def _loop(self, worker: str) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._recover_lapsed()
                deployment_id, superseded = await self._claim(worker)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s could not read the queue", worker)
                deployment_id, superseded = None, []
            try:
                await self._announce_superseded(superseded)
            except Exception:  # the claimed deployment runs anyway: it is registered, and only we run it
                log.exception("worker %s could not announce superseded deployments", worker)
            if deployment_id is None:
                await self._idle()
                continue
            await self.run_one(deployment_id, worker)
            self._wake.set()  # finishing may unblock the next deployment of the same app

    async def _claim(self, worker: str) -> tuple[int | None, list[int]]:
        async with self._claiming:
            deployment_id, superseded = await self.db.run(store.claim_next, worker, self.lease)
            if deployment_id is not None:
                self._running[deployment_id] = _Running()
        return deployment_id, superseded

    async def _announce_superseded(self, ids: list[int]) -> None:
        for deployment_id in ids:
            row = await self.db.run(store.get_one, deployment_id)
            await append_line(self.db, self.logs, deployment_id, f"Deployment stopped: {row.error_message}")
            publish_final(self.bus, row)

    async def _idle(self) -> None:
        """Until notified or the next poll. asyncio.wait, unlike wait_for, never loses a cancel."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=IDLE_POLL_SECONDS)
        finally:
            waiter.cancel()

    async def run_one(self, deployment_id: int, worker: str) -> None:
        """Runs a claimed deployment to its end. Whoever waits on it (a stop) is released only
        once its row is final."""
        running = self._running.setdefault(deployment_id, _Running())
        try:
            await self._run(deployment_id, worker, running)
        finally:
            running.done.set()
            self._running.pop(deployment_id, None)

    async def _run(self, deployment_id: int, worker: str, running: _Running) -> None:
        try:
            plan: DeployPlan = await self.db.run(load_plan, deployment_id, self.settings, self.box)
        except MistError as exc:
            await asyncio.shield(self._unplannable(deployment_id, worker, exc.message))
            return
        writer = self.logs.writer(deployment_id, Redactor(plan.secrets))
        reporter = DeploymentReporter(self.db, self.bus, writer, deployment_id, worker)
        heartbeat = asyncio.create_task(self._heartbeat(deployment_id, worker))
        pipeline = Pipeline(self.engine, self.git, self.settings.builds_dir, reporter, self.router, self.limits,
                            self.networks, self.services)
        running.reporter = reporter
        running.task = asyncio.create_task(pipeline.run(plan))
        if running.stop_reason:  # stopped while its plan loaded: the pipeline ends before its first step
            running.task.cancel()
        try:
            running_id = await running.task
            if await asyncio.shield(reporter.succeed(plan.image_tag, running_id, plan.runtime.to_json())):
                await self._prune(plan.app_id)
        except LeaseLost:
            # Recovery failed the row and removed what existed then; a container this worker
            # started since would run on with no deployment to own it.
            log.warning("deployment %s: lease lost; leaving it to recovery", deployment_id)
            await asyncio.shield(self._remove_leftovers(deployment_id, plan.app_id, reporter))
        except MistError as exc:
            await asyncio.shield(self._failed(plan, reporter, exc.message))
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if (current is not None and current.cancelling()) or not running.stop_reason:
                await asyncio.shield(reporter.finish(FAILED, "Interrupted: Mist was shut down during this deployment."))
                raise
            await asyncio.shield(self._stopped(plan, reporter, running.stop_reason))
        except Exception as exc:
            log.exception("deployment %s (app %s) failed with an internal error", deployment_id, plan.app_id)
            await asyncio.shield(reporter.finish(FAILED, f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            heartbeat.cancel()
            await asyncio.shield(reporter.close())

    async def _unplannable(self, deployment_id: int, worker: str, reason: str) -> None:
        """Fails a deployment before anything ran, e.g. an env var refers to an app deleted since."""
        writer = self.logs.writer(deployment_id, Redactor(()))
        await DeploymentReporter(self.db, self.bus, writer, deployment_id, worker).finish(FAILED, reason)

    async def _stopped(self, plan: DeployPlan, reporter: DeploymentReporter, reason: str) -> None:
        """The pipeline has ended (its engine calls too): what it made for this deployment goes."""
        await self._remove_leftovers(plan.deployment_id, plan.app_id, reporter)
        await self._remove_image(plan, reporter)
        await reporter.finish(STOPPED, reason)

    async def _failed(self, plan: DeployPlan, reporter: DeploymentReporter, error: str) -> None:
        """The pipeline removed the container it started; the image it built goes too: no deployment
        will ever run it, and every image on the engine costs later builds (the classic builder
        reads the children of a cached layer)."""
        await self._remove_image(plan, reporter)
        await reporter.finish(FAILED, error)

    async def _remove_image(self, plan: DeployPlan, reporter: DeploymentReporter) -> None:
        if plan.builds_from_source:
            try:
                await self.engine.remove_image(plan.image_tag)
            except MistError as exc:
                await reporter.log(f"Could not remove the image {plan.image_tag}: {exc.message}")

    async def _prune(self, app_id: int) -> None:
        images = await self.db.run(store.prune_images, app_id, self.settings.image_retention)
        for image in images:
            try:
                await self.engine.remove_image(image)
            except MistError as exc:
                log.warning("app %s: could not prune image %s: %s", app_id, image, exc.message)

    async def _heartbeat(self, deployment_id: int, worker: str) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await self.db.run(store.renew_lease, deployment_id, worker, self.lease)
            except Exception:
                log.exception("deployment %s: could not renew the lease", deployment_id)
