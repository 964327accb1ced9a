"""Projects and their members. Owns writes to `projects` and `project_members`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.apps import Removed, prepare_removal
from mist.auth.permissions import project_for, project_ids_of
from mist.auth.users import is_admin
from mist.db.models import App, Project, ProjectMember, User, iso
from mist.errors import InvalidInput, PermissionDenied


def create(session: Session, user: User, name: str, description: str) -> Project:
    project = Project(name=name.strip(), description=description, owner_id=user.id)
    project.members.append(ProjectMember(user_id=user.id))
    session.add(project)
    session.flush()
    return project


def list_for(session: Session, user: User) -> list[Project]:
    query = select(Project).order_by(Project.id)
    ids = project_ids_of(session, user)
    if ids is not None:
        query = query.where(Project.id.in_(ids))
    return list(session.scalars(query))


def _require_manager(user: User, project: Project) -> None:
    if not (is_admin(user) or project.owner_id == user.id):
        raise PermissionDenied("only the project's owner, the owner of Mist and admins can do this")


def update_members(session: Session, user: User, project_id: int, user_ids: list[int]) -> Project:
    project = project_for(session, user, project_id)
    _require_manager(user, project)
    wanted = set(user_ids)
    known = set(session.scalars(select(User.id).where(User.id.in_(wanted))))
    if missing := sorted(wanted - known):
        raise InvalidInput(f"userIds: no user with id {', '.join(map(str, missing))}")
    if project.owner_id is not None:
        wanted.add(project.owner_id)  # the project's owner cannot lock themselves out
    project.members = [ProjectMember(user_id=uid) for uid in sorted(wanted)]
    session.flush()
    return project


def delete(session: Session, user: User, project_id: int) -> list[Removed]:
    """Deletes the project with its apps; returns what the apps leave outside the database."""
    project = project_for(session, user, project_id)
    _require_manager(user, project)
    app_ids = list(session.scalars(select(App.id).where(App.project_id == project.id)))
    removed = prepare_removal(session, app_ids)
    session.delete(project)
    session.flush()
    return removed


def to_json(project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "ownerId": project.owner_id,
        "memberIds": sorted(m.user_id for m in project.members),
        "createdAt": iso(project.created_at),
        "updatedAt": iso(project.updated_at),
    }
