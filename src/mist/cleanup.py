"""Removes what deleted apps leave outside the database: containers, images, mirror, log files.

Runs after the rows are gone (the database is the source of truth); a failure here is logged
and leaves only garbage behind, never a half-deleted app.
"""

from __future__ import annotations

import logging

from mist.apps import Removed
from mist.deploy.logs import LogStore
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
            try:
                for container in self.runtime.app_containers(item.app_id):
                    self.runtime.remove(container.id)
                self.runtime.remove_images(item.app_id)
            except MistError as exc:
                log.error("app %s deleted, but its containers or images remain: %s", item.app_id, exc)
            self.git.forget(item.app_id)
            self.logs.remove(item.deployment_ids)
