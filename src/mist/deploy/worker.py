"""Workers: claim deployments from the queue, run the pipeline, write the outcome.

Timeouts, cancellation and failure are handled here, in one place: whatever a deployment raises,
its row ends final, its log says why, and watchers get the final status. Final writes are
shielded from cancellation so shutting down cannot leave a row half-written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from datetime import timedelta

from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import utcnow
from mist.deploy import store
from mist.deploy.events import EventBus, message
from mist.deploy.logs import LogStore, LogWriter, Redactor
from mist.deploy.pipeline import Pipeline
from mist.deploy.plan import DeployPlan, load_plan
from mist.deploy.stages import COMPLETED, Stage
from mist.errors import MistError
from mist.git import GitRepos
from mist.runtime.docker import DockerRuntime

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 1.0


class LeaseLost(MistError):
    """Another process (recovery) took this deployment over; stop touching it."""


class DeploymentReporter:
    """Writes a running deployment's progress to its row, its log file and the event bus."""

    def __init__(self, db: Database, bus: EventBus, writer: LogWriter, deployment_id: int, worker: str) -> None:
        self.db = db
        self.bus = bus
        self.writer = writer
        self.deployment_id = deployment_id
        self.worker = worker

    async def log(self, text: str) -> None:
        for seq, line in self.writer.append(text):
            self.bus.publish(self.deployment_id, message("log", {"line": line}, seq=seq))

    async def enter(self, stage: Stage) -> None:
        held = await asyncio.to_thread(self.db.call, store.set_stage, self.deployment_id, self.worker, stage)
        if not held:
            raise LeaseLost("this deployment was taken over by recovery")
        self.bus.publish(self.deployment_id, message("status", {
            "deployment_id": self.deployment_id, "status": stage.status, "stage": stage.name,
            "progress": stage.progress, "message": stage.message, "error_message": "",
        }))
        await self.log(stage.message)

    # The final line is written before the final status: a watcher that reads a final status from
    # the database and then the log file is sure to find every line there.

    async def succeed(self, image: str, container_id: str) -> None:
        await self.log(COMPLETED.message)
        held = await asyncio.to_thread(
            self.db.call, store.succeed, self.deployment_id, self.worker, COMPLETED, image, container_id
        )
        if not held:
            await self.log("Deployment failed: this worker lost its claim before it could record success")
            return
        await self._publish_final()

    async def fail(self, error: str) -> None:
        await self.log(f"Deployment failed: {error}")
        if await asyncio.to_thread(self.db.call, store.fail, self.deployment_id, self.worker, error):
            await self._publish_final()

    async def _publish_final(self) -> None:
        current = await asyncio.to_thread(self.db.call, store.get, self.deployment_id)
        publish_final(self.bus, current)


def publish_final(bus: EventBus, deployment) -> None:
    if deployment.error_message:
        bus.publish(deployment.id, message("error", {"message": deployment.error_message}))
    bus.publish(deployment.id, message("status", store.status_data(deployment)))


class Workers:
    def __init__(
        self, settings: Settings, db: Database, bus: EventBus, logs: LogStore,
        runtime: DockerRuntime, git: GitRepos,
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.logs = logs
        self.runtime = runtime
        self.git = git
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=settings.lease_seconds)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._stopping = False

    async def start(self) -> None:
        await self.recover()
        self._tasks = [
            asyncio.create_task(self._loop(f"{self.instance}/w{n}"), name=f"mist-worker-{n}")
            for n in range(self.settings.workers)
        ]

    def notify(self) -> None:
        """A deployment was queued: wake the idle workers now instead of at their next poll."""
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

    async def recover(self, expired_only: bool = False) -> int:
        """Fails deployments whose worker is gone. At start-up every running row is such a one:
        the data directory's lock guarantees no other Mist process works on this database."""
        cutoff = utcnow() if expired_only else None
        rows = await asyncio.to_thread(self.db.call, store.interrupted, expired_before=cutoff)
        for row in rows:
            where = f"at stage '{row.stage}'" if row.stage else "as it started"
            error = (
                f"Interrupted: the Mist process running this deployment stopped {where}. "
                "Deploy again to retry."
            )
            writer = self.logs.writer(row.id, Redactor(()))
            try:
                writer.append(f"Deployment failed: {error}")
            finally:
                writer.close()
            if await asyncio.to_thread(self.db.call, store.fail, row.id, None, error):
                log.warning("deployment %s failed by recovery (%s)", row.id, where)
                publish_final(self.bus, await asyncio.to_thread(self.db.call, store.get, row.id))
        return len(rows)

    async def _loop(self, worker: str) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.recover(expired_only=True)
                deployment_id = await asyncio.to_thread(self.db.call, store.claim_next, worker, self.lease)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker %s could not read the queue", worker)
                deployment_id = None
            if deployment_id is None:
                await self._idle()
                continue
            await self.run_one(deployment_id, worker)
            self._wake.set()  # finishing may unblock the next deployment of the same app

    async def _idle(self) -> None:
        """Until notified or the next poll. asyncio.wait, unlike wait_for, never loses a cancel."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=IDLE_POLL_SECONDS)
        finally:
            waiter.cancel()

    async def run_one(self, deployment_id: int, worker: str) -> None:
        plan: DeployPlan = await asyncio.to_thread(self.db.call, load_plan, deployment_id, self.settings)
        writer = self.logs.writer(deployment_id, Redactor(plan.secrets))
        reporter = DeploymentReporter(self.db, self.bus, writer, deployment_id, worker)
        heartbeat = asyncio.create_task(self._heartbeat(deployment_id, worker))
        pipeline = Pipeline(self.runtime, self.git, self.settings.builds_dir, reporter)
        try:
            state = await pipeline.run(plan)
            await asyncio.shield(reporter.succeed(plan.template_image or plan.image_tag, state.id))
        except LeaseLost:
            log.warning("deployment %s: lease lost; leaving it to recovery", deployment_id)
        except MistError as exc:
            await asyncio.shield(reporter.fail(exc.message))
        except asyncio.CancelledError:
            await asyncio.shield(reporter.fail("Interrupted: Mist was shut down during this deployment."))
            raise
        except Exception as exc:
            log.exception("deployment %s (app %s) failed with an internal error", deployment_id, plan.app_id)
            await asyncio.shield(reporter.fail(f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            heartbeat.cancel()
            writer.close()

    async def _heartbeat(self, deployment_id: int, worker: str) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.db.call, store.renew_lease, deployment_id, worker, self.lease)
            except Exception:
                log.exception("deployment %s: could not renew the lease", deployment_id)
