"""Volumes of apps. Owns writes to `volumes`.

A named volume (`mist-app-{appId}-vol-{name}`) is Docker's, survives every redeploy and goes only
when asked: with the volume's deletion (`removeData`) or the app's (`deleteVolumes`). A host
directory can be mounted by owners and admins only, and never one that exposes the engine, the
host's system directories or Mist's own data. Mounts change with the next deployment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.auth.permissions import app_for, part_of_app_for
from mist.auth.users import is_admin
from mist.db.models import User, Volume, iso
from mist.errors import Conflict, InvalidInput, PermissionDenied
from mist.templates import TEMPLATES

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
# Mounting one of these, anything inside one, or any directory above one gives a container the
# host: the engine's socket, its state, the kernel's interfaces, the system's configuration.
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


def check_host_path(value: str, data_dir: Path) -> str:
    if not value.startswith("/") or any(ord(c) < 0x20 or c in ":," for c in value):
        raise InvalidInput("hostPath: must be an absolute path without ':', ',' or control characters")
    # Symlinks resolved: a link may not lead where its name would be refused.
    real = os.path.realpath(value)
    if real == "/":
        raise InvalidInput("hostPath: the host's root directory cannot be mounted")
    for forbidden in _FORBIDDEN_HOST_PATHS:
        if _overlaps(real, os.path.realpath(forbidden)) or _overlaps(real, forbidden):
            raise InvalidInput(f"hostPath: '{value}' would expose {forbidden} to the container")
    mist_data = os.path.realpath(data_dir)
    if _overlaps(real, mist_data):
        raise InvalidInput(f"hostPath: '{value}' would expose Mist's data directory to the container")
    return real


def create(
    session: Session, user: User, app_id: int, name: str, container_path: str, host_path: str,
    read_only: bool, data_dir: Path,
) -> Volume:
    app = app_for(session, user, app_id)
    if not _NAME.match(name):
        raise InvalidInput("name: use 1-63 lowercase letters, digits, '_', '.' and '-', starting with a letter or digit")
    path = _container_path(container_path)
    if host_path:
        if not is_admin(user):
            raise PermissionDenied("only the owner and admins can mount host directories")
        host_path = check_host_path(host_path, data_dir)
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


def delete(session: Session, user: User, volume_id: int) -> Volume:
    volume = get(session, user, volume_id)
    if volume.host_path and not is_admin(user):
        raise PermissionDenied("only the owner and admins can change host directory mounts")
    session.delete(volume)
    session.flush()
    return volume


def docker_name(volume: Volume) -> str:
    return f"mist-app-{volume.app_id}-vol-{volume.name}"


def to_json(volume: Volume) -> dict:
    return {
        "id": volume.id,
        "appId": volume.app_id,
        "name": volume.name,
        "containerPath": volume.container_path,
        "hostPath": volume.host_path or None,
        "readOnly": volume.read_only,
        "createdAt": iso(volume.created_at),
    }
