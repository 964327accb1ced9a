"""What the API asks of deployments: trigger one, list them, read a log. No HTTP here."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mist.auth.permissions import app_for, deployment_for
from mist.db.engine import Database
from mist.db.models import Deployment, User
from mist.deploy import store
from mist.deploy.logs import LogStore
from mist.deploy.worker import Workers
from mist.git import Commit, GitRepos
from mist.templates import template_image


@dataclass(frozen=True)
class _Target:
    app_id: int
    app_type: str
    git_url: str
    branch: str
    template: str


def _target(session, user: User, app_id: int) -> _Target:
    app = app_for(session, user, app_id)
    return _Target(app.id, app.app_type, app.git_repository, app.git_branch, app.template_name)


def _enqueue(session, user: User, app_id: int, commit: Commit) -> Deployment:
    # Authorised again in the writing transaction: access may have changed while git fetched.
    app = app_for(session, user, app_id)
    return store.enqueue(session, app, commit.hash, commit.message)


class Deployments:
    def __init__(self, db: Database, git: GitRepos, logs: LogStore, workers: Workers, template_images: dict[str, str]) -> None:
        self.db = db
        self.git = git
        self.logs = logs
        self.workers = workers
        self.template_images = template_images

    async def trigger(self, user: User, app_id: int) -> dict:
        """Resolves the branch to its exact commit now, then queues the deployment."""
        target = await asyncio.to_thread(self.db.call, _target, user, app_id)
        if target.app_type == "database":
            image = template_image(target.template, self.template_images)
            commit = Commit("", f"Deploy {target.template} template ({image})")
        else:
            commit = await self.git.resolve(target.app_id, target.git_url, target.branch)
        deployment = await asyncio.to_thread(self.db.call, _enqueue, user, app_id, commit)
        self.workers.notify()
        return store.to_json(deployment)

    def list_for_app(self, user: User, app_id: int) -> list[dict]:
        with self.db.session() as session:
            app = app_for(session, user, app_id)
            return [store.to_json(d) for d in store.list_for_app(session, app.id)]

    def log_text(self, user: User, deployment_id: int) -> str:
        with self.db.session() as session:
            deployment_for(session, user, deployment_id)
        return self.logs.read_text(deployment_id)

    def authorised(self, user: User, deployment_id: int) -> Deployment:
        with self.db.session() as session:
            return deployment_for(session, user, deployment_id)

    def current(self, deployment_id: int) -> Deployment | None:
        return self.db.call(store.get, deployment_id)
