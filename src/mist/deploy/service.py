"""What the API asks of deployments: trigger one, list them, read a log. No HTTP here, and no JSON:
the API shapes the deployments these return."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from mist.auth.permissions import app_for, deployment_for
from mist.db.engine import Database
from mist.db.models import App, Deployment, User
from mist.deploy import store
from mist.deploy.logs import LogStore
from mist.deploy.plan import git_auth
from mist.deploy.stages import PENDING, SUCCEEDED
from mist.deploy.worker import StopOutcome, Workers, append_line, publish_final
from mist.errors import Conflict, NotFound
from mist.git import Commit, GitAuth, GitRepos
from mist.runtime.engine import Engine
from mist.secretbox import SecretBox
from mist.templates import template_image

STOP_WAIT_SECONDS = 60
STOP_POLL_SECONDS = 0.2  # how often a stop sent to another process looks whether it ended


@dataclass(frozen=True)
class _Target:
    app_id: int
    app_type: str
    git_url: str
    branch: str
    template: str
    auth: GitAuth = field(repr=False)


def _target(session: Session, user: User, app_id: int, box: SecretBox) -> _Target:
    app = app_for(session, user, app_id)
    return _Target(app.id, app.app_type, app.git_repository, app.git_branch, app.template_name, git_auth(app, box))


def _enqueue(session: Session, user: User, app_id: int, commit: Commit) -> Deployment:
    # Authorised again in the writing transaction: access may have changed while git fetched.
    app = app_for(session, user, app_id)
    return store.enqueue(session, app, commit.hash, commit.message)


def _stop_if_pending(session: Session, user: User, deployment_id: int) -> bool:
    """True when the deployment was still waiting and is now stopped."""
    deployment = deployment_for(session, user, deployment_id)
    if store.is_final(deployment):
        raise Conflict(
            f"deployment {deployment_id} already ended ({deployment.status}); "
            "only pending or running deployments can be stopped"
        )
    return deployment.status == PENDING and store.stop_pending(
        session, deployment.id, f"Stopped by {user.username} before it started"
    )


def _rollback(session: Session, user: User, deployment_id: int, retention: int) -> Deployment:
    source = deployment_for(session, user, deployment_id)
    number = f"#{source.deployment_number}"
    if source.status not in SUCCEEDED or not source.snapshot:
        raise Conflict(f"deployment {number} did not succeed; only a successful deployment can be rolled back to")
    if source.is_active:
        raise Conflict(f"deployment {number} is already the active one")
    if source.image_removed:
        raise Conflict(
            f"the image of deployment {number} was pruned: Mist keeps the images of the last {retention} "
            "successful deployments of each app"
        )
    return store.enqueue_rollback(session, session.get_one(App, source.app_id), source)


def _too_late(deployment_id: int) -> Conflict:
    return Conflict(
        f"deployment {deployment_id} is already switching to its new container; "
        "it can no longer be stopped (roll back once it has finished)"
    )


def _list_for_app(session: Session, user: User, app_id: int) -> list[Deployment]:
    return store.list_for_app(session, app_for(session, user, app_id).id)


class Deployments:
    def __init__(
        self, db: Database, git: GitRepos, logs: LogStore, workers: Workers, engine: Engine,
        template_images: dict[str, str], image_retention: int, box: SecretBox,
    ) -> None:
        self.db = db
        self.git = git
        self.logs = logs
        self.workers = workers
        self.engine = engine
        self.template_images = template_images
        self.image_retention = image_retention
        self.box = box

    async def trigger(self, user: User, app_id: int) -> Deployment:
        """Resolves the branch to its exact commit now, then queues the deployment."""
        target = await self.db.run(_target, user, app_id, self.box)
        if target.app_type == "database":
            image = template_image(target.template, self.template_images)
            commit = Commit("", f"Deploy {target.template} template ({image})")
        else:
            commit = await self.git.resolve(target.app_id, target.git_url, target.branch, target.auth)
        deployment = await self.db.run(_enqueue, user, app_id, commit)
        self.workers.notify()
        return deployment

    async def stop(self, user: User, deployment_id: int) -> Deployment:
        """A pending deployment stops at once; a running one is interrupted (its clone, build or
        health check) and cleaned up. Answers with the deployment once it has ended."""
        if await self.db.run(_stop_if_pending, user, deployment_id):
            current = await self._current(deployment_id)
            await append_line(self.db, self.logs, deployment_id, f"Deployment stopped: {current.error_message}")
            publish_final(self.workers.bus, current)
            return current
        reason = f"Stopped by {user.username}"
        outcome = await self.workers.request_stop(deployment_id, reason)
        if outcome is StopOutcome.TOO_LATE:
            raise _too_late(deployment_id)
        if outcome is StopOutcome.STOPPING:
            await self.workers.wait_done(deployment_id, STOP_WAIT_SECONDS)
        elif await self.db.run(store.request_stop, deployment_id, reason):
            # Another process runs it: it sees the request within a second, and we wait for the end.
            current = await self._ended(deployment_id, STOP_WAIT_SECONDS)
            if current.status in SUCCEEDED:
                raise _too_late(deployment_id)
            return current
        current = await self._current(deployment_id)
        if outcome is StopOutcome.NOT_RUNNING and store.is_final(current):
            # It ended between our read of it and the request: nothing was stopped.
            raise Conflict(f"deployment {deployment_id} already ended ({current.status}); nothing to stop")
        return current

    async def _ended(self, deployment_id: int, timeout: float) -> Deployment:
        """The deployment once final, or as it is after `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not store.is_final(current := await self._current(deployment_id)):
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(STOP_POLL_SECONDS)
        return current

    async def rollback(self, user: User, deployment_id: int) -> Deployment:
        """Queues a deployment that runs an earlier successful one's image and configuration again."""
        source = await self.db.run(deployment_for, user, deployment_id)
        if source.image and not source.image_removed and not await self.engine.image_id(source.image):
            raise Conflict(
                f"the image {source.image} of deployment #{source.deployment_number} is gone from this machine")
        deployment = await self.db.run(_rollback, user, deployment_id, self.image_retention)
        self.workers.notify()
        return deployment

    async def list_for_app(self, user: User, app_id: int) -> list[Deployment]:
        return await self.db.run(_list_for_app, user, app_id)

    async def _current(self, deployment_id: int) -> Deployment:
        deployment = await self.db.run(store.get, deployment_id)
        if deployment is None:  # its app was deleted once the deployment had ended
            raise NotFound(f"deployment {deployment_id} not found")
        return deployment

    def log_blocks(self, user: User, deployment_id: int) -> Iterator[bytes]:
        """The stored log, read a page of lines at a time as it is sent (never whole in memory);
        access is checked now, before anything is sent."""
        with self.db.session() as session:
            deployment_for(session, user, deployment_id)
        return self.logs.iter_blocks(deployment_id)
