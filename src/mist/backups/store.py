"""Backup and restore rows. Owns writes to `backups` and `restores`.

The rows with status 'pending' are the backup queue: any Mist process claims one with a lease and
renews it while it works. A row whose lease lapsed lost its process: it is failed, saying so, and
its event raised, so nobody believes in a backup that never finished. Each final write and its
notification commit together (mist.notifications.outbox), as deployments do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mist.db.engine import affected
from mist.db.models import App, Backup, Deployment, Restore, utcnow
from mist.deploy.stages import PENDING as DEPLOY_PENDING
from mist.deploy.stages import RUNNING as DEPLOY_RUNNING
from mist.errors import Conflict, NotFound
from mist.notifications import events, outbox

PENDING, RUNNING, SUCCESS, FAILED = "pending", "running", "success", "failed"
ACTIVE = (PENDING, RUNNING)
MANUAL, SCHEDULE, BEFORE_RESTORE = "manual", "schedule", "before_restore"
BACKUP, VERIFY = "backup", "verify"  # what a claimed backup row asks for
LOG_MAX_CHARS = 256 * 1024  # a restore's log; past it, lines are dropped and one line says so
ERROR_CHARS = 2000


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 1] + "…"


# --------------------------------------------------------------------------- backups


def enqueue(session: Session, app: App, trigger: str, scheduled_for: datetime | None = None) -> Backup:
    """A backup of `app`, waiting for a process to claim it."""
    row = Backup(app_id=app.id, project_id=app.project_id, app_name=app.name, engine=app.template_name,
                 trigger=trigger, destination_id=app.backup_destination_id, scheduled_for=scheduled_for)
    session.add(row)
    session.flush()
    return row


def enqueue_scheduled(session: Session, app: App, due: datetime) -> Backup | None:
    """The run of `app`'s schedule due at `due`, unless one exists: the unique (app, due time) makes
    it one row whichever process gets there first."""
    if session.scalar(select(Backup.id).where(Backup.app_id == app.id, Backup.scheduled_for == due)):
        return None
    try:
        with session.begin_nested():
            return enqueue(session, app, SCHEDULE, due)
    except IntegrityError:
        return None


def start_now(session: Session, app: App, trigger: str, worker: str, lease: timedelta) -> Backup:
    """A backup already claimed by the caller, who runs it at once (before a restore)."""
    row = enqueue(session, app, trigger)
    row.status, row.claimed_by, row.started_at = RUNNING, worker, utcnow()
    row.lease_until = row.started_at + lease
    session.flush()
    return row


def _busy_app(model: type[Backup] | type[Restore]) -> Any:
    """Apps with a job running: one job per app at a time (a dump during a restore reads half a database)."""
    return or_(
        exists().where(Backup.app_id == model.app_id, Backup.status == RUNNING),
        exists().where(Restore.app_id == model.app_id, Restore.status == RUNNING),
    )


def claim_backup(session: Session, worker: str, lease: timedelta) -> Backup | None:
    now = utcnow()
    candidates = session.scalars(
        select(Backup.id).where(Backup.status == PENDING, ~_busy_app(Backup)).order_by(Backup.id).limit(5))
    for backup_id in list(candidates):
        claimed = session.execute(
            update(Backup).where(Backup.id == backup_id, Backup.status == PENDING)
            .values(status=RUNNING, claimed_by=worker, lease_until=now + lease, started_at=now, error="")
        )
        if affected(claimed):
            return session.get_one(Backup, backup_id)
    return None


def claim_restore(session: Session, worker: str, lease: timedelta) -> Restore | None:
    """The oldest pending restore whose app neither runs another job nor deploys."""
    now = utcnow()
    deploying = exists().where(Deployment.app_id == Restore.app_id,
                               Deployment.status.in_((DEPLOY_PENDING, *DEPLOY_RUNNING)))
    candidates = session.scalars(
        select(Restore.id).where(Restore.status == PENDING, ~_busy_app(Restore), ~deploying)
        .order_by(Restore.id).limit(5))
    for restore_id in list(candidates):
        claimed = session.execute(
            update(Restore).where(Restore.id == restore_id, Restore.status == PENDING)
            .values(status=RUNNING, claimed_by=worker, lease_until=now + lease, started_at=now)
        )
        if affected(claimed):
            return session.get_one(Restore, restore_id)
    return None


def renew(session: Session, model: type[Backup] | type[Restore], row_id: int, worker: str,
          lease: timedelta) -> bool:
    """Whether `worker` still holds the row (and now for `lease` longer)."""
    return bool(affected(session.execute(
        update(model).where(model.id == row_id, model.status == RUNNING, model.claimed_by == worker)
        .values(lease_until=utcnow() + lease)
    )))


def record_stored(session: Session, backup_id: int, worker: str, name: str, location: str, size: int,
                  sha256: str) -> bool:
    """Where the file went, written as soon as it is there: a failure after this deletes it."""
    return bool(affected(session.execute(
        update(Backup).where(Backup.id == backup_id, Backup.status == RUNNING, Backup.claimed_by == worker)
        .values(name=name, location=location, size_bytes=size, sha256=sha256)
    )))


def succeed(session: Session, backup_id: int, worker: str) -> Backup | None:
    """Verified and done, with its notification; None when the worker lost the row."""
    done = session.execute(
        update(Backup).where(Backup.id == backup_id, Backup.status == RUNNING, Backup.claimed_by == worker)
        .values(status=SUCCESS, verified=True, error="", finished_at=utcnow(), lease_until=None, job=BACKUP)
    )
    if not affected(done):
        return None
    row = session.get_one(Backup, backup_id)
    session.refresh(row)
    outbox.enqueue(session, events.BACKUP_SUCCEEDED, events.backup_payload(session, row, events.BACKUP_SUCCEEDED))
    return row


def fail(session: Session, backup_id: int, worker: str | None, error: str) -> Backup | None:
    """Failed (and not verified), with its notification. `worker` None: whoever held it is gone."""
    held = [Backup.claimed_by == worker] if worker is not None else []
    done = session.execute(
        update(Backup).where(Backup.id == backup_id, Backup.status.in_(ACTIVE), *held)
        .values(status=FAILED, verified=False, error=_cut(error), finished_at=utcnow(), lease_until=None,
                job=BACKUP)
    )
    if not affected(done):
        return None
    row = session.get_one(Backup, backup_id)
    session.refresh(row)
    outbox.enqueue(session, events.BACKUP_FAILED, events.backup_payload(session, row, events.BACKUP_FAILED))
    return row


def request_verify(session: Session, backup: Backup) -> Backup:
    if backup.status != SUCCESS:
        raise Conflict(f"backup {backup.id} is {backup.status}: only a successful backup is verified again")
    backup.status, backup.job, backup.finished_at = PENDING, VERIFY, None
    session.flush()
    return backup


def lapsed_backups(session: Session, now: datetime) -> list[int]:
    return list(session.scalars(select(Backup.id).where(Backup.status == RUNNING, Backup.lease_until < now)))


def retention_victims(session: Session, app_id: int, keep: int) -> list[Backup]:
    """The app's successful backups past the newest `keep`, deleted here; the files are the caller's
    to delete after the commit. The newest verified backup is never one of them."""
    rows = list(session.scalars(
        select(Backup).where(Backup.app_id == app_id, Backup.status == SUCCESS).order_by(Backup.id.desc())))
    newest_verified = next((b.id for b in rows if b.verified), None)
    victims = [b for b in rows[max(keep, 1):] if b.id != newest_verified]
    for row in victims:
        session.delete(row)
    session.flush()
    return victims


def remove(session: Session, backup: Backup) -> None:
    if backup.status in ACTIVE:
        raise Conflict(f"backup {backup.id} is {backup.status}; wait for it to finish")
    if session.scalar(select(Restore.id).where(Restore.backup_id == backup.id, Restore.status.in_(ACTIVE))):
        raise Conflict(f"backup {backup.id} is being restored; wait for the restore to finish")
    session.delete(backup)
    session.flush()


def remove_for_app(session: Session, app_id: int) -> list[Backup]:
    """Every backup of a deleted app (its files are the caller's to delete)."""
    rows = list(session.scalars(select(Backup).where(Backup.app_id == app_id)))
    for row in rows:
        session.delete(row)
    session.flush()
    return rows


def running_job(session: Session, app_ids: list[int]) -> str | None:
    """What keeps the apps from being deleted: a backup or restore of theirs in progress."""
    backup = session.scalar(select(Backup.id).where(Backup.app_id.in_(app_ids), Backup.status == RUNNING))
    if backup:
        return f"backup {backup} is running"
    restore = session.scalar(select(Restore.id).where(Restore.app_id.in_(app_ids), Restore.status.in_(ACTIVE)))
    return f"restore {restore} is in progress" if restore else None


def get(session: Session, backup_id: int) -> Backup:
    row = session.get(Backup, backup_id)
    if row is None:
        raise NotFound(f"backup {backup_id} not found")
    return row


def for_app(session: Session, app_id: int, limit: int = 200) -> list[Backup]:
    return list(session.scalars(
        select(Backup).where(Backup.app_id == app_id).order_by(Backup.id.desc()).limit(limit)))


def for_project(session: Session, project_id: int, limit: int = 500) -> list[Backup]:
    return list(session.scalars(
        select(Backup).where(Backup.project_id == project_id).order_by(Backup.id.desc()).limit(limit)))


def last_scheduled(session: Session, app_id: int) -> Backup | None:
    return session.scalar(select(Backup).where(Backup.app_id == app_id, Backup.trigger == SCHEDULE)
                          .order_by(Backup.id.desc()).limit(1))


def last_success_at(session: Session, app_id: int) -> datetime | None:
    return session.scalar(select(func.max(Backup.finished_at)).where(Backup.app_id == app_id,
                                                                     Backup.status == SUCCESS))


def uses_destination(session: Session, destination_id: int) -> str | None:
    app = session.scalar(select(App.name).where(App.backup_destination_id == destination_id).limit(1))
    if app:
        return f"the app {app} backs up to it"
    backup = session.scalar(select(Backup.id).where(Backup.destination_id == destination_id).limit(1))
    return f"backup {backup} is stored there" if backup else None


# --------------------------------------------------------------------------- restores


def enqueue_restore(session: Session, backup: Backup, target: App) -> Restore:
    row = Restore(backup_id=backup.id, app_id=target.id, project_id=target.project_id)
    session.add(row)
    session.flush()
    return row


def log_restore(session: Session, restore_id: int, lines: list[str]) -> None:
    """Appends to the restore's log, bounded by LOG_MAX_CHARS."""
    row = session.get_one(Restore, restore_id)
    if len(row.log) >= LOG_MAX_CHARS:
        return
    text = "".join(line + "\n" for line in lines)
    if len(row.log) + len(text) > LOG_MAX_CHARS:
        text = text[:LOG_MAX_CHARS - len(row.log) - 60] + "\n[log cut: it reached its size limit]\n"
    row.log += text


def set_before_backup(session: Session, restore_id: int, backup_id: int) -> None:
    session.get_one(Restore, restore_id).before_backup_id = backup_id


def finish_restore(session: Session, restore_id: int, worker: str | None, error: str) -> bool:
    held = [Restore.claimed_by == worker] if worker is not None else []
    return bool(affected(session.execute(
        update(Restore).where(Restore.id == restore_id, Restore.status.in_(ACTIVE), *held)
        .values(status=FAILED if error else SUCCESS, error=_cut(error), finished_at=utcnow(), lease_until=None)
    )))


def lapsed_restores(session: Session, now: datetime) -> list[int]:
    return list(session.scalars(select(Restore.id).where(Restore.status == RUNNING, Restore.lease_until < now)))


def get_restore(session: Session, restore_id: int) -> Restore:
    row = session.get(Restore, restore_id)
    if row is None:
        raise NotFound(f"restore {restore_id} not found")
    return row


def restores_for_app(session: Session, app_id: int, limit: int = 100) -> list[Restore]:
    return list(session.scalars(
        select(Restore).where(Restore.app_id == app_id).order_by(Restore.id.desc()).limit(limit)))
