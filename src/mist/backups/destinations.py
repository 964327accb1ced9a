"""Where backups are kept: MIST_BACKUP_DIR, or an S3-compatible bucket. Owns writes to
`backup_destinations`. A destination's secret key is stored encrypted (mist.secretbox), checked
against the bucket before it is saved, and never returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mist.backups import store
from mist.backups.storage import LocalStorage, S3Storage, S3Target, Storage
from mist.db.engine import Database
from mist.db.models import BackupDestination
from mist.errors import Conflict, InvalidInput, NotFound
from mist.secretbox import SecretBox

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]{0,64}$")
_PREFIX = re.compile(r"^[A-Za-z0-9._/-]{0,200}$")


@dataclass(frozen=True)
class DestinationInput:
    name: str
    endpoint: str
    bucket: str
    region: str
    prefix: str
    access_key: str
    secret_key: str


def target_of(fields: DestinationInput) -> S3Target:
    """The bucket the fields name, checked for shape; raises InvalidInput naming the field."""
    name = fields.name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name: 1 to 100 characters")
    endpoint = fields.endpoint.strip().rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise InvalidInput("endpoint: an http:// or https:// URL of the S3 service, without a path")
    if len(endpoint) > 500:
        raise InvalidInput("endpoint: at most 500 characters")
    if not _BUCKET.match(fields.bucket):
        raise InvalidInput("bucket: 3 to 63 lowercase letters, digits, dots and hyphens")
    if not _REGION.match(fields.region):
        raise InvalidInput("region: lowercase letters, digits and hyphens (e.g. us-east-1)")
    prefix = fields.prefix.strip("/")
    if not _PREFIX.match(prefix) or ".." in prefix.split("/"):
        raise InvalidInput("prefix: letters, digits, '.', '_', '-' and '/', at most 200, no '..'")
    if not 1 <= len(fields.access_key) <= 200 or not 1 <= len(fields.secret_key) <= 200:
        raise InvalidInput("accessKey and secretKey: 1 to 200 characters each")
    return S3Target(endpoint=endpoint, bucket=fields.bucket, region=fields.region or "us-east-1",
                    prefix=prefix, access_key=fields.access_key, secret_key=fields.secret_key)


def add(session: Session, fields: DestinationInput, target: S3Target, box: SecretBox) -> BackupDestination:
    if session.scalar(select(BackupDestination.id).where(BackupDestination.name == fields.name.strip())):
        raise Conflict(f"a destination named {fields.name.strip()!r} exists")
    row = BackupDestination(name=fields.name.strip(), endpoint=target.endpoint, bucket=target.bucket,
                            region=target.region, prefix=target.prefix, access_key=target.access_key,
                            secret_key=box.encrypt(target.secret_key))
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a destination named {fields.name.strip()!r} exists") from exc
    return row


def get(session: Session, destination_id: int) -> BackupDestination:
    row = session.get(BackupDestination, destination_id)
    if row is None:
        raise NotFound(f"backup destination {destination_id} not found")
    return row


def list_all(session: Session) -> list[BackupDestination]:
    return list(session.scalars(select(BackupDestination).order_by(BackupDestination.id)))


def remove(session: Session, destination_id: int) -> BackupDestination:
    row = get(session, destination_id)
    if (used := store.uses_destination(session, row.id)) is not None:
        raise Conflict(f"backup destination {row.name!r} is in use: {used}")
    session.delete(row)
    session.flush()
    return row


def _target(session: Session, destination_id: int, box: SecretBox) -> S3Target:
    row = get(session, destination_id)
    return S3Target(endpoint=row.endpoint, bucket=row.bucket, region=row.region, prefix=row.prefix,
                    access_key=row.access_key, secret_key=box.decrypt(row.secret_key))


class Storages:
    """The storage a backup row names: the local directory for None, else its destination's bucket."""

    def __init__(self, db: Database, box: SecretBox, local_dir: Path) -> None:
        self.db = db
        self.box = box
        self.local = LocalStorage(local_dir)

    async def of(self, destination_id: int | None) -> Storage:
        if destination_id is None:
            return self.local
        return S3Storage(await self.db.run(_target, destination_id, self.box))

