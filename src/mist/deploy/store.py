"""Deployment rows: the durable queue and every status change. Owns writes to `deployments`.

A final outcome (succeed, finish, stop_pending) enqueues its notifications in its own transaction.

A claim is a lease: the worker renews it while it works, and a row whose lease ran out (its worker
died) is failed by whoever looks next. All writes of a running deployment are conditional on the
claim, so a worker that lost its lease cannot overwrite what recovery wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, select, text, update
from sqlalchemy.orm import Session

from mist.db.engine import affected
from mist.db.models import App, Deployment, utcnow
from mist.deploy.stages import FINAL, PENDING, ROLLED_BACK, RUNNING, STOPPED, SUCCESS, Stage
from mist.notifications import outbox

_START = """
    UPDATE deployments
       SET status = 'building', stage = '', progress = 0, message = 'Deployment started',
           claimed_by = :worker, lease_expires_at = :lease, started_at = :now, updated_at = :now
"""

# The oldest app with waiting deployments and nothing running goes first; of its waiting
# deployments the newest runs, and the older ones are superseded (see claim_next). SQLite runs one
# writing statement at a time, so this single statement is the whole claim there.
_CLAIM = text(
    _START + """
     WHERE status = 'pending' AND id = (
        SELECT MAX(p.id) FROM deployments p
         WHERE p.status = 'pending' AND p.app_id = (
            SELECT d.app_id FROM deployments d
             WHERE d.status = 'pending'
               AND NOT EXISTS (SELECT 1 FROM deployments r
                                WHERE r.app_id = d.app_id AND r.status IN ('building', 'deploying'))
             ORDER BY d.id LIMIT 1))
    RETURNING id, app_id, deployment_number
    """
)

# PostgreSQL runs claims side by side, each statement seeing what was committed when it started,
# so two workers could both see an app idle and start two of its deployments. There a claim first
# locks the app's row (skipping apps another worker is claiming from) and only then looks again:
# whoever held the lock before has committed, so its claim is seen and the app is left alone.
_PG_CANDIDATE = text(
    """
    SELECT a.id FROM apps a
      JOIN (SELECT app_id, MIN(id) AS first FROM deployments WHERE status = 'pending' GROUP BY app_id) q
        ON q.app_id = a.id
     WHERE NOT EXISTS (SELECT 1 FROM deployments r
                        WHERE r.app_id = a.id AND r.status IN ('building', 'deploying'))
       AND a.id NOT IN :tried
     ORDER BY q.first
     LIMIT 1
       FOR UPDATE OF a SKIP LOCKED
    """
).bindparams(bindparam("tried", expanding=True))
_PG_CLAIM = text(
    _START + """
     WHERE status = 'pending'
       AND id = (SELECT MAX(p.id) FROM deployments p WHERE p.app_id = :app AND p.status = 'pending')
       AND NOT EXISTS (SELECT 1 FROM deployments r
                        WHERE r.app_id = :app AND r.status IN ('building', 'deploying'))
    RETURNING id, app_id, deployment_number
    """
)


def _claim_locked(session: Session, params: dict[str, Any]) -> Row[Any] | None:
    """The PostgreSQL claim: app by app, under the app's row lock, until one yields a deployment."""
    tried: list[int] = []
    while (app_id := session.scalar(_PG_CANDIDATE, {"tried": tried})) is not None:
        row = session.execute(_PG_CLAIM, {**params, "app": app_id}).first()
        if row is not None:
            return row
        tried.append(app_id)  # claimed, or its deployment stopped, since the candidate was chosen
    return None


def enqueue(session: Session, app: App, commit_hash: str, commit_message: str) -> Deployment:
    number = session.execute(
        update(App).where(App.id == app.id).values(deployment_seq=App.deployment_seq + 1)
        .returning(App.deployment_seq)
    ).scalar_one()
    now = utcnow()
    deployment = Deployment(
        app_id=app.id, deployment_number=number, commit_hash=commit_hash,
        commit_message=commit_message, status=PENDING, stage="", progress=0,
        created_at=now, updated_at=now,
    )
    session.add(deployment)
    session.flush()
    return deployment


def claim_next(session: Session, worker: str, lease: timedelta) -> tuple[int | None, list[int]]:
    """Takes the next deployment to run; None when idle. Also returns the ids of the older waiting
    deployments of the same app that it supersedes (now stopped): a burst of triggers costs one build."""
    now = utcnow()
    params = {"worker": worker, "lease": now + lease, "now": now}
    if session.get_bind().dialect.name == "postgresql":
        row = _claim_locked(session, params)
    else:
        row = session.execute(_CLAIM, params).first()
    if row is None:
        return None, []
    superseded = list(session.scalars(
        update(Deployment)
        .where(Deployment.app_id == row.app_id, Deployment.status == PENDING, Deployment.id < row.id)
        .values(status=STOPPED, error_message=f"superseded by #{row.deployment_number}",
                message=f"superseded by #{row.deployment_number}", finished_at=now, updated_at=now)
        .returning(Deployment.id)
    ))
    return row.id, superseded


def _held(deployment_id: int, worker: str) -> ColumnElement[bool]:
    return and_(
        Deployment.id == deployment_id,
        Deployment.claimed_by == worker,
        Deployment.status.in_(RUNNING),
    )


def renew_lease(session: Session, deployment_id: int, worker: str, lease: timedelta) -> bool:
    result = session.execute(
        update(Deployment).where(_held(deployment_id, worker))
        .values(lease_expires_at=utcnow() + lease)
    )
    return affected(result) == 1


def set_stage(session: Session, deployment_id: int, worker: str, stage: Stage) -> bool:
    result = session.execute(
        update(Deployment).where(_held(deployment_id, worker)).values(
            status=stage.status, stage=stage.name, progress=stage.progress,
            message=stage.message, updated_at=utcnow(),
        )
    )
    return affected(result) == 1


def succeed(
    session: Session, deployment_id: int, worker: str, stage: Stage, image: str, container_id: str,
    snapshot: str,
) -> Deployment | None:
    """Marks success and makes this the app's only active deployment, in one transaction. A
    rollback also marks the deployment it replaced as rolled back. Answers the row as written
    (for its final event), None when the worker no longer held the deployment."""
    deployment = session.get_one(Deployment, deployment_id)
    now = utcnow()
    result = session.execute(
        update(Deployment).where(_held(deployment_id, worker)).values(
            status=SUCCESS, stage=stage.name, progress=stage.progress, message=stage.message,
            error_message="", is_active=True, finished_at=now, updated_at=now,
            lease_expires_at=None, image=image, container_id=container_id, snapshot=snapshot,
        )
    )
    if affected(result) != 1:
        return None
    session.execute(
        update(Deployment)
        .where(Deployment.app_id == deployment.app_id, Deployment.id != deployment_id,
               Deployment.is_active.is_(True))
        .values(is_active=False, updated_at=now)
    )
    if deployment.rollback_of is not None and deployment.rolled_back_from is not None:
        session.execute(
            update(Deployment)
            .where(Deployment.id == deployment.rolled_back_from, Deployment.status == SUCCESS)
            .values(status=ROLLED_BACK, updated_at=now)
        )
    session.refresh(deployment)
    outbox.enqueue_deployment(session, deployment_id)  # committed with the outcome, or not at all
    return deployment


def finish(session: Session, deployment_id: int, worker: str | None, status: str, error: str) -> bool:
    """Ends a running deployment as failed or stopped; with worker=None, whoever holds it."""
    now = utcnow()
    condition = (
        _held(deployment_id, worker) if worker
        else and_(Deployment.id == deployment_id, Deployment.status.in_(RUNNING))
    )
    result = session.execute(
        update(Deployment).where(condition).values(
            status=status, error_message=error, message=error, finished_at=now, updated_at=now,
            lease_expires_at=None,
        )
    )
    if affected(result) != 1:
        return False
    outbox.enqueue_deployment(session, deployment_id)  # committed with the outcome, or not at all
    return True


def stop_pending(session: Session, deployment_id: int, reason: str) -> bool:
    now = utcnow()
    result = session.execute(
        update(Deployment).where(Deployment.id == deployment_id, Deployment.status == PENDING)
        .values(status=STOPPED, error_message=reason, message=reason, finished_at=now, updated_at=now)
    )
    if affected(result) != 1:
        return False
    outbox.enqueue_deployment(session, deployment_id)
    return True


def request_stop(session: Session, deployment_id: int, reason: str) -> bool:
    """Asks whichever process runs the deployment to stop it; False when it is not running. The
    first reason given is kept."""
    result = session.execute(
        update(Deployment).where(Deployment.id == deployment_id, Deployment.status.in_(RUNNING),
                                 Deployment.stop_requested == "")
        .values(stop_requested=reason[:200])
    )
    return affected(result) == 1


def stop_requests(session: Session, deployment_ids: list[int]) -> list[tuple[int, str]]:
    """Of these running deployments, those someone asked to stop, with the reason."""
    return [(row.id, row.stop_requested) for row in session.execute(
        select(Deployment.id, Deployment.stop_requested)
        .where(Deployment.id.in_(deployment_ids), Deployment.stop_requested != "",
               Deployment.status.in_(RUNNING))
    )]


def active(session: Session, app_id: int) -> Deployment | None:
    """The app's active deployment: the one whose container serves it (at most one is)."""
    return session.scalar(select(Deployment).where(Deployment.app_id == app_id, Deployment.is_active.is_(True)))


def enqueue_rollback(session: Session, app: App, source: Deployment) -> Deployment:
    """A new deployment that runs `source`'s image and snapshot again."""
    current = active(session, app.id)
    deployment = enqueue(session, app, source.commit_hash, source.commit_message)
    deployment.rollback_of = source.id
    deployment.rolled_back_from = current.id if current else None
    session.flush()
    return deployment


def prune_images(session: Session, app_id: int, keep: int) -> list[str]:
    """Marks the images of all but the `keep` newest successful deployments (and the active one)
    as removed; returns them for the engine to delete. Images are shared by rollbacks, so an image
    still used by a kept deployment stays."""
    rows = list(session.scalars(
        select(Deployment).where(Deployment.app_id == app_id, Deployment.image != "",
                                 Deployment.image_removed.is_(False))
        .order_by(Deployment.id.desc())
    ))
    successful = [d for d in rows if d.status in (SUCCESS, ROLLED_BACK)]
    kept = {d.image for d in successful[:keep]} | {d.image for d in rows if d.is_active}
    doomed = [d for d in rows if d.image not in kept]
    for d in doomed:
        d.image_removed = True
    return sorted({d.image for d in doomed})


def interrupted(session: Session, *, expired_before: datetime | None = None) -> list[Deployment]:
    """Running rows whose worker is gone: all of them at start-up, else those with a lapsed lease."""
    query = select(Deployment).where(Deployment.status.in_(RUNNING))
    if expired_before is not None:
        query = query.where(Deployment.lease_expires_at < expired_before)
    return list(session.scalars(query.order_by(Deployment.id)))


def get(session: Session, deployment_id: int) -> Deployment | None:
    return session.get(Deployment, deployment_id)


def get_one(session: Session, deployment_id: int) -> Deployment:
    """A deployment that must exist (one this process holds or just changed)."""
    return session.get_one(Deployment, deployment_id)


def list_for_app(session: Session, app_id: int) -> list[Deployment]:
    return list(
        session.scalars(
            select(Deployment).where(Deployment.app_id == app_id).order_by(Deployment.id.desc())
        )
    )


def duration_seconds(deployment: Deployment) -> int:
    if deployment.started_at is None:
        return 0
    end = deployment.finished_at or utcnow()
    return max(0, int((end - deployment.started_at).total_seconds()))


def is_final(deployment: Deployment) -> bool:
    return deployment.status in FINAL


def status_data(d: Deployment) -> dict[str, Any]:
    """The `data` of a WebSocket status message."""
    return {
        "deployment_id": d.id,
        "status": d.status,
        "stage": d.stage,
        "progress": d.progress,
        "message": d.message,
        "error_message": d.error_message,
    }
