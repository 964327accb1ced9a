"""Removes what deleted apps leave outside the database: containers (and with them their place on
the project's network), images, volumes when asked, the git mirror and pinned host keys; and a
deleted project's network. (Deployment logs are rows: they go with the app's.) Only objects labelled
or named for the deleted app are touched.

Runs after the rows are gone (the database is the source of truth); a failure here is logged
and leaves only garbage behind, never a half-deleted app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from mist.apps import Removed
from mist.db.models import Backup
from mist.deploy.plan import network_name
from mist.errors import MistError
from mist.git import GitRepos
from mist.runtime.engine import Engine
from mist.runtime.services import Services, service_name

log = logging.getLogger(__name__)


class Cleanup:
    def __init__(self, engine: Engine, git: GitRepos,
                 backup_files: Callable[[list[Backup]], Awaitable[None]] | None = None,
                 services: Services | None = None) -> None:
        self.engine = engine
        self.services = services  # Swarm mode: an app runs as a service, which goes first
        self.git = git
        self.backup_files = backup_files  # deletes the files of backups deleted with their app

    async def remove(self, removed: list[Removed]) -> None:
        for item in removed:
            await self._attempt(item.app_id, "containers", self._remove_containers(item.app_id))
            await self._attempt(item.app_id, "images", self.engine.remove_images(item.app_id))
            if item.volumes:
                await self._attempt(item.app_id, "volumes", self._remove_volumes(item.app_id))
            await self.git.forget(item.app_id)
            if item.backups and self.backup_files is not None:
                await self.backup_files(list(item.backups))

    async def _remove_containers(self, app_id: int) -> None:
        if self.services is not None:
            await self.services.remove(service_name(app_id))  # else Swarm would start its tasks again
        for container in await self.engine.app_containers(app_id):
            await self.engine.remove(container.id)

    async def _remove_volumes(self, app_id: int) -> None:
        for name in await self.engine.app_volumes(app_id):
            await self.engine.remove_volume(name)

    @staticmethod
    async def _attempt(app_id: int, what: str, step: Awaitable[None]) -> None:
        """Each kind of leftover on its own: one the engine refuses does not keep the others."""
        try:
            await step
        except MistError as exc:
            log.error("app %s deleted, but its %s remain: %s", app_id, what, exc)

    async def remove_network(self, project_id: int) -> None:
        try:
            await self.engine.remove_network(network_name(project_id))
        except MistError as exc:
            log.error("project %s deleted, but its network remains: %s", project_id, exc)

    async def remove_volume(self, name: str) -> None:
        """Raises Conflict while a container mounts it, so the caller can keep its record."""
        await self.engine.remove_volume(name)
