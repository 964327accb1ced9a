"""Removes what deleted apps leave outside the database: containers (and with them their place on
the project's network), images, volumes when asked, the git mirror and pinned host keys, log files;
and a deleted project's network. Only objects labelled or named for the deleted app are touched.

Runs after the rows are gone (the database is the source of truth); a failure here is logged
and leaves only garbage behind, never a half-deleted app.
"""

from __future__ import annotations

import logging

from mist.apps import Removed
from mist.deploy.logs import LogStore
from mist.deploy.plan import network_name
from mist.errors import MistError
from mist.git import GitRepos
from mist.runtime.docker import DockerRuntime

log = logging.getLogger(__name__)


class Cleanup:
    def __init__(self, runtime: DockerRuntime, git: GitRepos, logs: LogStore) -> None:
        self.runtime = runtime
        self.git = git
        self.logs = logs

    def remove(self, removed: list[Removed]) -> None:
        for item in removed:
            self._attempt(item.app_id, "containers", self._remove_containers, item.app_id)
            self._attempt(item.app_id, "images", self.runtime.remove_images, item.app_id)
            if item.volumes:
                self._attempt(item.app_id, "volumes", self._remove_volumes, item.app_id)
            self.git.forget(item.app_id)
            self.logs.remove(item.deployment_ids)

    def _remove_containers(self, app_id: int) -> None:
        for container in self.runtime.app_containers(app_id):
            self.runtime.remove(container.id)

    def _remove_volumes(self, app_id: int) -> None:
        for name in self.runtime.app_volumes(app_id):
            self.runtime.remove_volume(name)

    @staticmethod
    def _attempt(app_id: int, what: str, step, *args) -> None:  # noqa: ANN001 - a cleanup step
        """Each kind of leftover on its own: one the engine refuses does not keep the others."""
        try:
            step(*args)
        except MistError as exc:
            log.error("app %s deleted, but its %s remain: %s", app_id, what, exc)

    def remove_network(self, project_id: int) -> None:
        try:
            self.runtime.remove_network(network_name(project_id))
        except MistError as exc:
            log.error("project %s deleted, but its network remains: %s", project_id, exc)

    def remove_volume(self, name: str) -> None:
        """Raises Conflict while a container mounts it, so the caller can keep its record."""
        self.runtime.remove_volume(name)
