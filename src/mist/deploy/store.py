"""Deployment rows: the durable queue and every status change. Owns writes to `deployments`.

A claim is a lease: the worker renews it while it works, and a row whose lease ran out (its worker
died) is failed by whoever looks next. All writes of a running deployment are conditional on the
claim, so a worker that lost its lease cannot overwrite what recovery wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select, text, update
from sqlalchemy.orm import Session

from mist.db.models import App, Deployment, iso, utcnow
from mist.deploy.stages import FAILED, FINAL, PENDING, RUNNING, SUCCESS, Stage

_CLAIM = text(
    """
    UPDATE deployments
       SET status = 'building', stage = '', progress = 0, message = 'Deployment started',
           claimed_by = :worker, lease_expires_at = :lease, started_at = :now, updated_at = :now
     WHERE status = 'pending' AND id = (
        SELECT d.id FROM deployments d
         WHERE d.status = 'pending'
           AND d.id = (SELECT MIN(p.id) FROM deployments p
                        WHERE p.app_id = d.app_id AND p.status = 'pending')
           AND NOT EXISTS (SELECT 1 FROM deployments r
                            WHERE r.app_id = d.app_id AND r.status IN ('building', 'deploying'))
         ORDER BY d.id LIMIT 1)
    RETURNING id
    """
)


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


def claim_next(session: Session, worker: str, lease: timedelta) -> int | None:
    """Takes the oldest pending deployment of an app with nothing running; None when idle."""
    now = utcnow()
    return session.execute(_CLAIM, {"worker": worker, "lease": now + lease, "now": now}).scalar()


def _held(deployment_id: int, worker: str):
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
    return result.rowcount == 1


def set_stage(session: Session, deployment_id: int, worker: str, stage: Stage) -> bool:
    result = session.execute(
        update(Deployment).where(_held(deployment_id, worker)).values(
            status=stage.status, stage=stage.name, progress=stage.progress,
            message=stage.message, updated_at=utcnow(),
        )
    )
    return result.rowcount == 1


def succeed(
    session: Session, deployment_id: int, worker: str, stage: Stage, image: str = "", container_id: str = ""
) -> bool:
    """Marks success and makes this the app's only active deployment, in one transaction."""
    deployment = session.get(Deployment, deployment_id)
    now = utcnow()
    result = session.execute(
        update(Deployment).where(_held(deployment_id, worker)).values(
            status=SUCCESS, stage=stage.name, progress=stage.progress, message=stage.message,
            error_message="", is_active=True, finished_at=now, updated_at=now,
            lease_expires_at=None, image=image, container_id=container_id,
        )
    )
    if result.rowcount != 1:
        return False
    session.execute(
        update(Deployment)
        .where(Deployment.app_id == deployment.app_id, Deployment.id != deployment_id,
               Deployment.is_active.is_(True))
        .values(is_active=False, updated_at=now)
    )
    return True


def fail(session: Session, deployment_id: int, worker: str | None, error: str) -> bool:
    """Fails a running deployment; with worker=None, whoever holds it (recovery)."""
    now = utcnow()
    condition = (
        _held(deployment_id, worker) if worker
        else and_(Deployment.id == deployment_id, Deployment.status.in_(RUNNING))
    )
    result = session.execute(
        update(Deployment).where(condition).values(
            status=FAILED, error_message=error, message=error, finished_at=now, updated_at=now,
            lease_expires_at=None,
        )
    )
    return result.rowcount == 1


def interrupted(session: Session, *, expired_before: datetime | None = None) -> list[Deployment]:
    """Running rows whose worker is gone: all of them at start-up, else those with a lapsed lease."""
    query = select(Deployment).where(Deployment.status.in_(RUNNING))
    if expired_before is not None:
        query = query.where(Deployment.lease_expires_at < expired_before)
    return list(session.scalars(query.order_by(Deployment.id)))


def get(session: Session, deployment_id: int) -> Deployment | None:
    return session.get(Deployment, deployment_id)


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


def to_json(d: Deployment) -> dict:
    """A deployment exactly as the contract spells it (snake_case)."""
    return {
        "id": d.id,
        "app_id": d.app_id,
        "deployment_number": d.deployment_number,
        "commit_hash": d.commit_hash,
        "commit_message": d.commit_message,
        "status": d.status,
        "stage": d.stage,
        "progress": d.progress,
        "duration": duration_seconds(d),
        "is_active": d.is_active,
        "rolled_back_from": d.rolled_back_from,
        "error_message": d.error_message,
        "created_at": iso(d.created_at),
        "updated_at": iso(d.updated_at),
    }


def status_data(d: Deployment) -> dict:
    """The `data` of a WebSocket status message."""
    return {
        "deployment_id": d.id,
        "status": d.status,
        "stage": d.stage,
        "progress": d.progress,
        "message": d.message,
        "error_message": d.error_message,
    }
