"""Backups as the API uses them. Members of a project back up and restore its database apps;
deleting and downloading a backup, and managing destinations, are for the owner and admins (a
download is the whole database, credentials and all).

A backup outlives its app: it is reached through the project it was taken in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from mist.auth.permissions import app_for, backup_for, project_for, restore_for
from mist.auth.users import is_admin
from mist.backups import cipher, destinations, schedule, store
from mist.backups.destinations import DestinationInput, Storages
from mist.backups.dumps import DUMPERS
from mist.backups.jobs import BackupJobs
from mist.backups.storage import check_target
from mist.db.engine import Database
from mist.db.models import App, Backup, BackupDestination, Restore, User, utcnow
from mist.errors import Conflict, InvalidInput, PermissionDenied
from mist.secretbox import SecretBox


def _database_app(session: Session, user: User, app_id: int) -> App:
    app = app_for(session, user, app_id)
    if app.template_name not in DUMPERS:
        raise InvalidInput(f"appId: {app.name} is not a database app; only database apps are backed up")
    return app


def _admin(user: User, what: str) -> None:
    if not is_admin(user):
        raise PermissionDenied(f"only the owner and admins can {what}")


@dataclass(frozen=True)
class Status:
    app_id: int
    schedule: str
    retention: int
    destination_id: int | None
    next_run_at: datetime | None
    last_scheduled: Backup | None
    missed: bool

    @property
    def alert(self) -> str:
        if self.last_scheduled is not None and self.last_scheduled.status == store.FAILED:
            return f"The last scheduled backup (#{self.last_scheduled.id}) failed: {self.last_scheduled.error}"
        if self.missed:
            return "A scheduled backup was missed: no successful backup for twice the schedule's interval"
        return ""


def _status(session: Session, user: User, app_id: int) -> Status:
    app = _database_app(session, user, app_id)
    last = store.last_scheduled(session, app.id)
    missed = False
    next_run = None
    if app.backup_schedule:
        now = utcnow()
        next_run = schedule.next_due(app.backup_schedule, now)
        since = app.backup_schedule_since or app.created_at
        _, missed = schedule.overdue(app.backup_schedule, since, store.last_success_at(session, app.id), now)
    return Status(app.id, app.backup_schedule, app.backup_retention, app.backup_destination_id, next_run, last, missed)


def _create(session: Session, user: User, app_id: int) -> Backup:
    return store.enqueue(session, _database_app(session, user, app_id), store.MANUAL)


def _for_app(session: Session, user: User, app_id: int) -> list[Backup]:
    return store.for_app(session, app_for(session, user, app_id).id)


def _for_project(session: Session, user: User, project_id: int) -> list[Backup]:
    return store.for_project(session, project_for(session, user, project_id).id)


def _verify(session: Session, user: User, backup_id: int) -> Backup:
    return store.request_verify(session, backup_for(session, user, backup_id))


def _delete(session: Session, user: User, backup_id: int) -> Backup:
    _admin(user, "delete backups")
    row = backup_for(session, user, backup_id)
    store.remove(session, row)
    return row


def _downloadable(session: Session, user: User, backup_id: int) -> Backup:
    _admin(user, "download backups")
    row = backup_for(session, user, backup_id)
    if row.status != store.SUCCESS:
        raise Conflict(f"backup {backup_id} is {row.status}: only a successful backup can be downloaded")
    return row


def _restore(session: Session, user: User, backup_id: int, target_app_id: int | None) -> Restore:
    """Both ends are checked for reach before anything is said of either's state."""
    backup = backup_for(session, user, backup_id)
    if target_app_id is None and session.get(App, backup.app_id) is None:
        raise InvalidInput(f"targetAppId: the app {backup.app_name} was deleted; name the app to restore into")
    target = _database_app(session, user, target_app_id if target_app_id is not None else backup.app_id)
    if backup.status != store.SUCCESS:
        raise Conflict(f"backup {backup_id} is {backup.status}: only a successful backup can be restored")
    if target.template_name != backup.engine:
        raise InvalidInput(f"targetAppId: {target.name} runs {target.template_name}, the backup is of {backup.engine}")
    return store.enqueue_restore(session, backup, target)


def _restores_for_app(session: Session, user: User, app_id: int) -> list[Restore]:
    return store.restores_for_app(session, app_for(session, user, app_id).id)


def _destinations(session: Session, user: User) -> list[BackupDestination]:
    _admin(user, "manage backup destinations")
    return destinations.list_all(session)


def _remove_destination(session: Session, user: User, destination_id: int) -> BackupDestination:
    _admin(user, "manage backup destinations")
    return destinations.remove(session, destination_id)


class Backups:
    def __init__(self, db: Database, box: SecretBox, storages: Storages, jobs: BackupJobs) -> None:
        self.db = db
        self.box = box
        self.storages = storages
        self.jobs = jobs
        self.key = cipher.backup_key(box)

    async def create(self, user: User, app_id: int) -> Backup:
        row = await self.db.run(_create, user, app_id)
        self.jobs.notify()
        return row

    async def list_for_app(self, user: User, app_id: int) -> list[Backup]:
        return await self.db.run(_for_app, user, app_id)

    async def list_for_project(self, user: User, project_id: int) -> list[Backup]:
        return await self.db.run(_for_project, user, project_id)

    async def get(self, user: User, backup_id: int) -> Backup:
        return await self.db.run(backup_for, user, backup_id)

    async def status(self, user: User, app_id: int) -> Status:
        return await self.db.run(_status, user, app_id)

    async def verify(self, user: User, backup_id: int) -> Backup:
        row = await self.db.run(_verify, user, backup_id)
        self.jobs.notify()
        return row

    async def delete(self, user: User, backup_id: int) -> Backup:
        row = await self.db.run(_delete, user, backup_id)
        await self.jobs.remove_files([row])
        return row

    async def download(self, user: User, backup_id: int) -> tuple[Backup, str, AsyncIterator[bytes]]:
        """The backup, a file name for it, and its dump decrypted as it streams (a corrupted file
        breaks the stream rather than handing over altered data)."""
        row = await self.db.run(_downloadable, user, backup_id)
        storage = await self.storages.of(row.destination_id)
        filename = f"{row.app_name}-backup-{row.id}.{DUMPERS[row.engine].extension}"
        return row, filename, cipher.decrypt(self.key, storage.get(row.name))

    async def restore(self, user: User, backup_id: int, target_app_id: int | None) -> Restore:
        row = await self.db.run(_restore, user, backup_id, target_app_id)
        self.jobs.notify()
        return row

    async def get_restore(self, user: User, restore_id: int) -> Restore:
        return await self.db.run(restore_for, user, restore_id)

    async def restores_for_app(self, user: User, app_id: int) -> list[Restore]:
        return await self.db.run(_restores_for_app, user, app_id)

    async def forget_app(self, app_id: int) -> int:
        """Deletes a deleted app's backups, files and all (its deletion asked for it)."""
        rows = await self.db.run(store.remove_for_app, app_id)
        await self.jobs.remove_files(rows)
        return len(rows)

    # ----------------------------------------------------------------------- destinations

    async def create_destination(self, user: User, fields: DestinationInput) -> BackupDestination:
        _admin(user, "manage backup destinations")
        target = destinations.target_of(fields)
        await check_target(target)
        return await self.db.run(destinations.add, fields, target, self.box)

    async def list_destinations(self, user: User) -> list[BackupDestination]:
        return await self.db.run(_destinations, user)

    async def delete_destination(self, user: User, destination_id: int) -> BackupDestination:
        return await self.db.run(_remove_destination, user, destination_id)
