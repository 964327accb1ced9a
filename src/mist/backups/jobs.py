"""The backup worker: one per process, beside the deploy workers. It claims backups, verifications
and restores from the database (any process may take any of them, see store.claim_*), runs each
with a lease it renews, and writes the outcome with its notification.

A backup is: dump (exec in the app's container) → encrypt → store (streamed, checked by size and
checksum) → verify (the stored file read back, decrypted, restored into a throwaway container and
checked). Only then is it a success. Whatever fails, the file goes and the row says why.

A restore is: take a `before_restore` backup of the data it replaces → check the file → restore it
in the app's container. Each step is a line of the restore's log, which the dashboard follows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from mist.backups import cipher, store
from mist.backups.destinations import Storages
from mist.backups.dumps import DUMPERS, Database, Dumper
from mist.backups.storage import Storage
from mist.db.engine import Database as Db
from mist.db.models import App, Backup, Restore, utcnow
from mist.deploy import store as deployments
from mist.errors import CorruptBackup, MistError
from mist.runtime.engine import Engine
from mist.templates import TEMPLATES, template_image, volume_name

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
LEASE = timedelta(seconds=60)
Log = Callable[[str], Awaitable[None]]


class LeaseLost(MistError):
    """Another process took the job over: this one stops writing to it."""


@dataclass(frozen=True)
class _Source:
    """A database app as a backup or restore needs it, read in one transaction."""

    app_id: int
    name: str
    engine: str
    container_id: str  # of its active deployment; "" when it has none
    env: dict[str, str]


def _source(session: Session, app_id: int) -> _Source:
    app = session.get(App, app_id)
    if app is None:
        raise MistError(f"app {app_id} no longer exists")
    if app.template_name not in DUMPERS:
        raise MistError(f"app {app.name} is not a database app")
    active = deployments.active(session, app.id)
    return _Source(app.id, app.name, app.template_name, active.container_id if active else "",
                   {e.key: e.value for e in app.env_vars})


async def _checked(chunks: AsyncIterable[bytes], size: int, sha256: str) -> AsyncIterator[bytes]:
    """The stored file as read back, refused at its end if it is not the file that was stored."""
    digest, seen = hashlib.sha256(), 0
    async for chunk in chunks:
        digest.update(chunk)
        seen += len(chunk)
        if seen > size:
            raise CorruptBackup(f"the backup file is larger than the {size} bytes stored")
        yield chunk
    if seen != size or digest.hexdigest() != sha256:
        raise CorruptBackup(f"the backup file does not match what was stored ({seen} bytes read of {size}, "
                            "checksum differs)" if seen == size else
                            f"the backup file is {seen} bytes, {size} were stored")


async def _drain(chunks: AsyncIterable[bytes]) -> None:
    async for _ in chunks:
        pass


class BackupJobs:
    def __init__(self, db: Db, engine: Engine, storages: Storages, key: bytes,
                 template_images: dict[str, str], *, poll_seconds: float = POLL_SECONDS,
                 lease: timedelta = LEASE) -> None:
        self.db = db
        self.engine = engine
        self.storages = storages
        self.key = key
        self.template_images = template_images
        self.poll_seconds = poll_seconds
        self.lease = lease
        self.worker = f"backups-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mist-backups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None

    def notify(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            ran = False
            try:
                await self._fail_lapsed()
                ran = await self.run_once()
            except Exception:  # a locked or broken database must not end backups for good
                log.exception("backups: the worker failed; trying again in %g s", self.poll_seconds)
            if not ran:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                except TimeoutError:
                    pass

    async def run_once(self) -> bool:
        """Claims and runs one job (restores first: someone waits on them); whether there was one."""
        restore = await self.db.run(store.claim_restore, self.worker, self.lease)
        if restore is not None:
            await self._held(Restore, restore.id, self._restore(restore.id))
            return True
        backup = await self.db.run(store.claim_backup, self.worker, self.lease)
        if backup is not None:
            job = self._verify_again(backup.id) if backup.job == store.VERIFY else self._backup(backup.id)
            await self._held(Backup, backup.id, job)
            return True
        return False

    async def _fail_lapsed(self) -> None:
        """Jobs whose process died: failed, saying so (the file of a half-made backup goes too)."""
        now = utcnow()
        for backup_id in await self.db.run(store.lapsed_backups, now):
            row = await self.db.run(store.fail, backup_id, None, "Mist stopped while this backup ran")
            if row is not None:
                log.warning("backup %d: its process stopped while it ran; marked failed", backup_id)
                await self._remove_file(row)
        for restore_id in await self.db.run(store.lapsed_restores, now):
            await self.db.run(store.log_restore, restore_id, ["Mist stopped while this restore ran"])
            await self.db.run(store.finish_restore, restore_id, None, "Mist stopped while this restore ran")

    async def _held(self, model: type[Backup] | type[Restore], row_id: int, job: Awaitable[None]) -> None:
        """Runs `job` while renewing its lease; a lost lease cancels it."""
        task = asyncio.ensure_future(job)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=self.lease.total_seconds() / 3)
                if not task.done() and not await self.db.run(store.renew, model, row_id, self.worker, self.lease):
                    log.warning("%s %d: lease lost to another process; stopping", model.__tablename__, row_id)
                    task.cancel()
                    await asyncio.wait({task})
                    return
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            raise
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc

    # ----------------------------------------------------------------------- backups

    async def _backup(self, backup_id: int) -> None:
        row = await self.db.run(store.get, backup_id)

        async def quiet(line: str) -> None:
            log.info("backup %d: %s", backup_id, line)

        try:
            await self._make(row, quiet)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged by _failed; whatever broke, the backup failed
            await self._failed(backup_id, exc)
            return
        await self._succeeded(backup_id)

    async def _make(self, row: Backup, log_line: Log) -> None:
        """Dumps, stores and verifies the backup `row` (claimed by this worker)."""
        source = await self.db.run(_source, row.app_id)
        dumper = DUMPERS[source.engine]
        target = await self._database(source)
        storage = await self.storages.of(row.destination_id)
        name = f"app-{source.app_id}/backup-{row.id}.{dumper.extension}.mist"
        await dumper.ready(self.engine, target)
        await log_line(f"Dumping {source.engine} from the container {target.container_id[:12]}")
        stored = await storage.put(name, cipher.encrypt(self.key, dumper.dump(self.engine, target)))
        if not await self.db.run(store.record_stored, row.id, self.worker, name, stored.location, stored.size,
                                 stored.sha256):
            await storage.delete(name)
            raise LeaseLost(f"backup {row.id} was taken over")
        await log_line(f"Stored {stored.size} bytes (encrypted) at {stored.location}, sha256 {stored.sha256[:16]}…")
        summary = await self._check(dumper, storage, name, stored.size, stored.sha256, target.image, log_line)
        await log_line(f"Verified: {summary}")

    async def _check(self, dumper: Dumper, storage: Storage, name: str, size: int, sha256: str, image: str,
                     log_line: Log) -> str:
        """Restores the stored file into a throwaway container of `image`: a backup is proven restorable."""
        chunks = cipher.decrypt(self.key, _checked(storage.get(name), size, sha256))
        return await dumper.verify(self.engine, image, chunks, log_line)

    async def _verify_again(self, backup_id: int) -> None:
        row = await self.db.run(store.get, backup_id)
        dumper = DUMPERS[row.engine]

        async def quiet(line: str) -> None:
            log.info("backup %d (verifying again): %s", backup_id, line)

        try:
            storage = await self.storages.of(row.destination_id)
            await self._check(dumper, storage, row.name, row.size_bytes, row.sha256,
                              await self._image_for(row), quiet)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged by _failed
            # Kept: the file is evidence, and the only copy there is; the row now says it cannot be trusted.
            await self._failed(backup_id, exc, remove_file=False)
            return
        await asyncio.shield(self.db.run(store.succeed, backup_id, self.worker))

    async def _image_for(self, row: Backup) -> str:
        """The app's running image if it still runs, else its engine's template image."""
        try:
            source = await self.db.run(_source, row.app_id)
            return (await self._database(source)).image
        except MistError:
            return template_image(row.engine, self.template_images)

    async def _database(self, source: _Source) -> Database:
        state = await self.engine.inspect(source.container_id) if source.container_id else None
        if state is None and source.container_id:
            # Swarm mode records the app's service: its one replica runs here, pinned to the node that
            # holds its volume (the manager Mist talks to), so the dump runs wherever the database runs.
            running = [c for c in await self.engine.app_containers(source.app_id) if c.status == "running"]
            state = running[0] if running else None
        if state is None or state.status != "running":
            raise MistError(f"the database {source.name} is not running: deploy it first")
        return Database(container_id=state.id, image=state.image or template_image(source.engine, self.template_images),
                        env=source.env, volume=volume_name(source.app_id),
                        data_path=TEMPLATES[source.engine].data_path)

    async def _succeeded(self, backup_id: int) -> None:
        row = await asyncio.shield(self.db.run(store.succeed, backup_id, self.worker))
        if row is None:
            return
        log.info("backup %d of app %d: verified and stored (%d bytes)", backup_id, row.app_id, row.size_bytes)
        for victim in await asyncio.shield(self.db.run(_retain, row.app_id)):
            log.info("backup %d: removed by the retention of app %d", victim.id, victim.app_id)
            await self._remove_file(victim)

    async def _failed(self, backup_id: int, exc: BaseException, remove_file: bool = True) -> None:
        reason = exc.message if isinstance(exc, MistError) else f"internal error: {type(exc).__name__}"
        if not isinstance(exc, MistError):
            log.error("backup %d failed", backup_id, exc_info=exc)
        else:
            log.warning("backup %d failed: %s", backup_id, reason)
        row = await asyncio.shield(self.db.run(store.fail, backup_id, self.worker, reason))
        if row is not None and remove_file:
            await self._remove_file(row)

    async def _remove_file(self, row: Backup) -> None:
        if not row.name:
            return
        try:
            await (await self.storages.of(row.destination_id)).delete(row.name)
        except MistError as exc:
            log.warning("backup %d: its file %s could not be removed: %s", row.id, row.location, exc.message)

    async def remove_files(self, rows: list[Backup]) -> None:
        for row in rows:
            await self._remove_file(row)

    # ----------------------------------------------------------------------- restores

    async def _restore(self, restore_id: int) -> None:
        async def log_line(line: str) -> None:
            await self.db.run(store.log_restore, restore_id, [line])

        try:
            await self._restore_steps(restore_id, log_line)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = exc.message if isinstance(exc, MistError) else f"internal error: {type(exc).__name__}"
            if not isinstance(exc, MistError):
                log.error("restore %d failed", restore_id, exc_info=exc)
            await asyncio.shield(self._finish_restore(restore_id, reason, log_line))
            return
        await asyncio.shield(self._finish_restore(restore_id, "", log_line))

    async def _finish_restore(self, restore_id: int, error: str, log_line: Log) -> None:
        await log_line(f"Restore failed: {error}" if error else "Restore finished")
        await self.db.run(store.finish_restore, restore_id, self.worker, error)

    async def _restore_steps(self, restore_id: int, log_line: Log) -> None:
        restore = await self.db.run(store.get_restore, restore_id)
        backup = await self.db.run(store.get, restore.backup_id)
        if backup.status != store.SUCCESS:
            raise MistError(f"backup {backup.id} is {backup.status}: only a successful backup is restored")
        source = await self.db.run(_source, restore.app_id)
        target = await self._database(source)
        dumper = DUMPERS[source.engine]
        await log_line(f"Restoring backup #{backup.id} of {backup.app_name} ({backup.engine}, "
                       f"{backup.size_bytes} bytes) into {source.name}")

        await log_line("Backing up the data it replaces first")
        before = await self.db.run(_start_before_restore, source.app_id, self.worker, self.lease)
        await self.db.run(store.set_before_backup, restore_id, before.id)
        try:
            await self._held_inline(before, log_line)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(before.id, exc)
            reason = exc.message if isinstance(exc, MistError) else type(exc).__name__
            raise MistError(f"the data it would replace could not be backed up (backup {before.id}): {reason}") from exc
        await self._succeeded(before.id)
        await log_line(f"Backup #{before.id} holds the data as it was before this restore")

        storage = await self.storages.of(backup.destination_id)
        await log_line("Checking the backup file (size, checksum, encryption)")
        await _drain(cipher.decrypt(self.key, _checked(storage.get(backup.name), backup.size_bytes, backup.sha256)))
        await log_line(f"Restoring into the container {target.container_id[:12]}")
        await dumper.ready(self.engine, target)
        await dumper.restore(self.engine, target, cipher.decrypt(
            self.key, _checked(storage.get(backup.name), backup.size_bytes, backup.sha256)), log_line)

    async def _held_inline(self, before: Backup, log_line: Log) -> None:
        """The before_restore backup, with its own lease renewed while it runs."""
        await self._held(Backup, before.id, self._make(before, log_line))


def _start_before_restore(session: Session, app_id: int, worker: str, lease: timedelta) -> Backup:
    return store.start_now(session, session.get_one(App, app_id), store.BEFORE_RESTORE, worker, lease)


def _retain(session: Session, app_id: int) -> list[Backup]:
    app = session.get(App, app_id)
    return store.retention_victims(session, app_id, app.backup_retention) if app is not None else []
