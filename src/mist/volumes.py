"""Volumes of apps. Owns writes to `volumes`.

A named volume (`mist-app-{appId}-vol-{name}`) is Docker's, survives every redeploy and goes only
when asked: with the volume's deletion (`removeData`) or the app's (`deleteVolumes`). A host
directory can be mounted by owners and admins only, and only from inside one of the directories
the operator allowed (`MIST_HOST_MOUNT_ROOTS`; none by default, so host mounts are off). A denylist
cannot be complete (a container writing to /root, /etc/cron.d or Mist's own code owns the host),
an allowlist can. The path is resolved, symlinks followed, when the volume is created and again for
every deployment and rollback, so a link swapped since, or a root removed from the setting, never
reaches the engine. Mounts change with the next deployment.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

import mist
from mist.auth.permissions import app_for, part_of_app_for
from mist.auth.users import is_admin
from mist.db.engine import Database
from mist.db.models import User, Volume
from mist.errors import Conflict, InvalidInput, PermissionDenied
from mist.templates import TEMPLATES

if TYPE_CHECKING:
    from mist.cleanup import Cleanup

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_MAX_HOST_PATH = 1024
ROOTS_SETTING = "MIST_HOST_MOUNT_ROOTS"
# Refused even inside an allowed root, and so is any directory above one of them: the engine's
# socket and state, the kernel's interfaces and the system's configuration give a container the host.
_FORBIDDEN_HOST_PATHS = (
    "/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker", "/run/containerd",
    "/proc", "/sys", "/dev", "/boot", "/etc",
)


def _container_path(value: str) -> str:
    if not value.startswith("/") or any(ord(c) < 0x20 or c in ":," for c in value):
        raise InvalidInput("containerPath: must be an absolute path without ':', ',' or control characters")
    path = PurePosixPath(value)
    if ".." in path.parts or str(path) == "/":
        raise InvalidInput("containerPath: must not be '/' or contain '..'")
    return str(path)


def _overlaps(a: str, b: str) -> bool:
    """One path is the other or lies inside it."""
    pa, pb = PurePosixPath(a), PurePosixPath(b)
    return pa == pb or pa in pb.parents or pb in pa.parents


def _inside(path: str, root: str) -> bool:
    pp, pr = PurePosixPath(path), PurePosixPath(root)
    return pp == pr or pr in pp.parents


def _resolve(value: str) -> str:
    """The real path, every symlink followed. A path that does not exist yet resolves as far as it
    exists (Docker creates the rest); a loop of links or an over-long name cannot be resolved."""
    try:
        return os.path.realpath(value, strict=True)
    except FileNotFoundError:
        # Up to the first missing component everything resolved, and nothing after it can be a link.
        return os.path.realpath(value)
    except OSError as exc:
        reason = "a loop of symbolic links" if exc.errno == errno.ELOOP else (exc.strerror or "unresolvable")
        raise InvalidInput(f"hostPath: '{value[:200]}' cannot be resolved ({reason})") from exc
    except ValueError as exc:  # an embedded NUL, if it got this far
        raise InvalidInput("hostPath: must not contain NUL characters") from exc


def _own_paths(data_dir: Path) -> list[tuple[str, str]]:
    """Mist's data (database, secret key, git mirrors) and its code: a container writing there owns Mist."""
    return [
        (os.path.realpath(data_dir), "Mist's data directory"),
        (os.path.realpath(Path(mist.__file__).parent), "Mist's own code"),
        (os.path.realpath(sys.prefix), "Mist's Python environment"),
    ]


def check_host_path(value: str, data_dir: Path, roots: Iterable[Path]) -> str:
    """The resolved host path if it may be mounted, else InvalidInput saying why."""
    allowed = [os.path.realpath(r) for r in roots]
    if not allowed:
        raise InvalidInput(
            f"hostPath: host mounts are disabled; set {ROOTS_SETTING} to the directories they may come from"
        )
    if not isinstance(value, str) or not value.startswith("/") or any(ord(c) < 0x20 or c in ":," for c in value):
        raise InvalidInput("hostPath: must be an absolute path without ':', ',' or control characters")
    if len(value) > _MAX_HOST_PATH:
        raise InvalidInput(f"hostPath: longer than {_MAX_HOST_PATH} characters")
    real = _resolve(value)
    if not any(_inside(real, root) for root in allowed):
        raise InvalidInput(
            f"hostPath: '{value}' resolves to {real}, which is outside the allowed roots "
            f"({ROOTS_SETTING}: {', '.join(allowed)})"
        )
    for forbidden in _FORBIDDEN_HOST_PATHS:
        if _overlaps(real, os.path.realpath(forbidden)) or _overlaps(real, forbidden):
            raise InvalidInput(f"hostPath: '{value}' would expose {forbidden} to the container")
    for path, what in _own_paths(data_dir):
        if _overlaps(real, path):
            raise InvalidInput(f"hostPath: '{value}' would expose {what} to the container")
    return real


def checked_binds(binds: dict[str, str], data_dir: Path, roots: Iterable[Path]) -> dict[str, str]:
    """Host path -> container path, each host path checked and resolved again: at deploy time the
    setting or the links on disk may have changed since the volume (or a rollback's snapshot) was made."""
    roots = tuple(roots)
    out = {}
    for host_path, container_path in binds.items():
        try:
            out[check_host_path(host_path, data_dir, roots)] = container_path
        except InvalidInput as exc:
            raise InvalidInput(f"the host mount at {container_path} is no longer allowed: {exc.message}") from exc
    return out


def create(
    session: Session, user: User, app_id: int, name: str, container_path: str, host_path: str,
    read_only: bool, data_dir: Path, roots: Iterable[Path],
) -> Volume:
    app = app_for(session, user, app_id)
    if not _NAME.match(name):
        raise InvalidInput(
            "name: use 1-63 lowercase letters, digits, '_', '.' and '-', starting with a letter or digit"
        )
    path = _container_path(container_path)
    if host_path:
        if not is_admin(user):
            raise PermissionDenied("only the owner and admins can mount host directories")
        host_path = check_host_path(host_path, data_dir, roots)
    template = TEMPLATES.get(app.template_name)
    if template is not None and _overlaps(path, template.data_path):
        raise Conflict(f"containerPath: {template.data_path} holds the database's own data volume")
    for other in session.scalars(select(Volume).where(Volume.app_id == app.id)):
        if other.name == name:
            raise Conflict(f"the app already has a volume named '{name}'")
        if other.container_path == path:
            raise Conflict(f"volume '{other.name}' is already mounted at {path}")
    volume = Volume(app_id=app.id, name=name, container_path=path, host_path=host_path, read_only=read_only)
    session.add(volume)
    session.flush()
    return volume


def list_for(session: Session, user: User, app_id: int) -> list[Volume]:
    app = app_for(session, user, app_id)
    return list(session.scalars(select(Volume).where(Volume.app_id == app.id).order_by(Volume.id)))


def get(session: Session, user: User, volume_id: int) -> Volume:
    return part_of_app_for(session, user, Volume, volume_id, "volume")[1]


def deletable(session: Session, user: User, volume_id: int) -> Volume:
    volume = get(session, user, volume_id)
    if volume.host_path and not is_admin(user):
        raise PermissionDenied("only the owner and admins can change host directory mounts")
    return volume


def delete(session: Session, user: User, volume_id: int) -> Volume:
    volume = deletable(session, user, volume_id)
    session.delete(volume)
    session.flush()
    return volume


def docker_name(volume: Volume) -> str:
    return f"mist-app-{volume.app_id}-vol-{volume.name}"


class Volumes:
    """What the API asks of volumes: each call one transaction, off the event loop; removing a
    named volume's data goes through the engine (via clean-up) before its row goes."""

    def __init__(self, db: Database, cleanup: Cleanup, data_dir: Path, roots: Iterable[Path]) -> None:
        self.db = db
        self.cleanup = cleanup
        self.data_dir = data_dir
        self.roots = tuple(roots)

    async def create(
        self, user: User, app_id: int, name: str, container_path: str, host_path: str, read_only: bool,
    ) -> Volume:
        return await self.db.run(
            create, user, app_id, name, container_path, host_path, read_only, self.data_dir, self.roots,
        )

    async def list_for(self, user: User, app_id: int) -> list[Volume]:
        return await self.db.run(list_for, user, app_id)

    async def delete(self, user: User, volume_id: int, remove_data: bool) -> None:
        volume = await self.db.run(deletable, user, volume_id)
        if remove_data and not volume.host_path:
            # Data first: if the engine refuses (the volume is mounted), nothing has changed.
            await self.cleanup.remove_volume(docker_name(volume))
        await self.db.run(delete, user, volume_id)
