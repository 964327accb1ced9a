"""Projects and their members. Owns writes to `projects` and `project_members`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.apps import Removed, prepare_removal
from mist.auth.permissions import project_for, project_ids_of
from mist.auth.users import is_admin
from mist.db.engine import Database
from mist.db.models import App, Project, ProjectMember, User
from mist.errors import InvalidInput, PermissionDenied

if TYPE_CHECKING:  # mist.cleanup imports mist.apps, which this module imports
    from mist.cleanup import Cleanup


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


class Projects:
    """What the API asks of projects: each call one transaction, off the event loop; a deleted
    project's apps and network are removed from the engine here, after the rows are gone."""

    def __init__(self, db: Database, cleanup: Cleanup) -> None:
        self.db = db
        self.cleanup = cleanup

    async def create(self, user: User, name: str, description: str) -> Project:
        return await self.db.run(create, user, name, description)

    async def list_for(self, user: User) -> list[Project]:
        return await self.db.run(list_for, user)

    async def get(self, user: User, project_id: int) -> Project:
        return await self.db.run(project_for, user, project_id)

    async def update_members(self, user: User, project_id: int, user_ids: list[int]) -> Project:
        return await self.db.run(update_members, user, project_id, user_ids)

    async def delete(self, user: User, project_id: int) -> None:
        removed = await self.db.run(delete, user, project_id)
        await self.cleanup.remove(removed)
        await self.cleanup.remove_network(project_id)
