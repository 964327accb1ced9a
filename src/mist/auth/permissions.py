"""Per-project access: owners and admins reach everything, other users their projects only.

An id the user may not reach is reported as missing (NotFound), so ids do not leak.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.auth.users import is_admin
from mist.db.models import App, Backup, Deployment, Project, ProjectMember, Restore, User
from mist.errors import NotFound


class _OfApp(Protocol):
    app_id: int


T = TypeVar("T", bound=_OfApp)


def can_reach_project(session: Session, user: User, project_id: int) -> bool:
    if is_admin(user):
        return True
    member = session.get(ProjectMember, {"project_id": project_id, "user_id": user.id})
    return member is not None


def project_ids_of(session: Session, user: User) -> list[int] | None:
    """The projects a user reaches; None means all of them."""
    if is_admin(user):
        return None
    return list(
        session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user.id))
    )


def project_for(session: Session, user: User, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or not can_reach_project(session, user, project_id):
        raise NotFound(f"project {project_id} not found")
    return project


def app_for(session: Session, user: User, app_id: int) -> App:
    app = session.get(App, app_id)
    if app is None or not can_reach_project(session, user, app.project_id):
        raise NotFound(f"application {app_id} not found")
    return app


def part_of_app_for(session: Session, user: User, model: type[T], row_id: int, what: str) -> tuple[App, T]:
    """A row that belongs to an app (a deployment, domain, env var, volume), with its app."""
    row = session.get(model, row_id)
    app = session.get(App, row.app_id) if row is not None else None
    if row is None or app is None or not can_reach_project(session, user, app.project_id):
        raise NotFound(f"{what} {row_id} not found")
    return app, row


def deployment_for(session: Session, user: User, deployment_id: int) -> Deployment:
    return part_of_app_for(session, user, Deployment, deployment_id, "deployment")[1]


def backup_for(session: Session, user: User, backup_id: int) -> Backup:
    """A backup outlives its app: it is reached through the project it was taken in."""
    row = session.get(Backup, backup_id)
    if row is None or not can_reach_project(session, user, row.project_id):
        raise NotFound(f"backup {backup_id} not found")
    return row


def restore_for(session: Session, user: User, restore_id: int) -> Restore:
    row = session.get(Restore, restore_id)
    if row is None or not can_reach_project(session, user, row.project_id):
        raise NotFound(f"restore {restore_id} not found")
    return row
