"""The ASGI application: routes, error handling, and the lifespan that starts the workers."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from mist.api import (
    apps,
    audit,
    auth,
    backups,
    containers,
    deployments,
    domains,
    errors,
    nodes,
    notifications,
    projects,
    tokens,
    users,
    webhooks,
    ws,
)
from mist.api import settings as settings_routes  # not `settings`: create_app's argument
from mist.api.access import AccessWatch
from mist.api.bodylimit import BodyLimit
from mist.api.origin import OriginGuard
from mist.api.pacer import Pacer, Priority
from mist.config import Settings
from mist.db.engine import Database
from mist.errors import MistError
from mist.keycheck import check as check_secret_key
from mist.secretbox import SecretBox
from mist.services import Services, build_services
from mist.web import routes as web

log = logging.getLogger(__name__)


class DataDirLocked(MistError):
    """Another Mist process already serves this data directory, or this SQLite database."""


def _flock(path: Path, refusal: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise DataDirLocked(refusal) from exc
    return fd


def _lock(settings: Settings) -> list[int]:
    """One Mist per data directory (its git mirrors and builds are this process's own), and on
    SQLite one per database: recovery there relies on no other process holding deployments."""
    fds = [_flock(settings.data_dir / "mist.lock", f"another Mist process is using {settings.data_dir}")]
    if (path := settings.sqlite_path) is not None:
        try:
            fds.append(_flock(path.with_name(path.name + ".lock"), (
                f"another Mist process is using the SQLite database {path}: SQLite serves one Mist process; "
                "to run several, share a PostgreSQL database (MIST_DATABASE_URL)")))
        except DataDirLocked:
            os.close(fds[0])
            raise
    return fds


def prepare(settings: Settings, db: Database, box: SecretBox) -> list[int]:
    """What must hold before Mist serves: this process's locks (returned: held for its life), the
    schema at head, and the server secret. Raises MistError saying what is wrong. `mist serve` calls
    it before the server starts, so that a refusal is one clear line rather than a failed start-up."""
    settings.prepare_dirs()
    locks = _lock(settings)
    try:
        db.migrate()
        check_secret_key(db, box)
    except BaseException:
        for fd in locks:
            os.close(fd)
        raise
    return locks


def create_app(settings: Settings, services: Services | None = None, locks: list[int] | None = None) -> FastAPI:
    """`locks`: those `prepare` returned; without them the app prepares itself as it starts."""
    svc = services or build_services(settings)
    access = AccessWatch(svc.db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        held = locks if locks is not None else await asyncio.to_thread(prepare, settings, svc.db, svc.box)
        try:
            await asyncio.to_thread(svc.logs.import_files, settings.logs_dir)
            if svc.channel is not None:
                await svc.channel.start()
            try:
                await svc.engine.ping()
            except MistError as exc:
                log.warning("%s; deployments will fail until it is reachable", exc.message)
            await svc.housekeeping.start()
            await svc.router.start()
            await svc.workers.start()
            await svc.dispatcher.start()
            await svc.crashes.start()
            await svc.backup_jobs.start()
            await svc.backup_scheduler.start()
            log.info("Mist is ready: data in %s, %d workers", settings.data_dir, settings.workers)
            # What exists now (modules, routes, the ORM's mappers) lives as long as the process: moved
            # out of the collector's sight, a full collection under load scans only what requests made,
            # instead of stalling every request for a tenth of a second.
            gc.freeze()
            yield
        finally:
            await svc.backup_scheduler.stop()
            await svc.backup_jobs.stop()
            await svc.crashes.stop()
            await svc.dispatcher.stop()
            await svc.workers.stop()
            await access.stop()
            await svc.router.stop()
            await svc.housekeeping.stop()
            if svc.channel is not None:
                await svc.channel.stop()
            await svc.engine.aclose()
            await svc.swarm.aclose()
            if svc.orchestrator is not None:
                await svc.orchestrator.aclose()
            svc.db.dispose()
            for fd in held:
                os.close(fd)

    app = FastAPI(title="Mist", version="0.1.0", lifespan=lifespan)
    app.state.services = svc
    app.state.access = access
    app.state.pacer = pacer = Pacer()
    app.state.handshakes = asyncio.Semaphore(ws.HANDSHAKES_AT_ONCE)
    app.add_middleware(Priority, pacer=pacer)
    app.add_middleware(OriginGuard, public_url=settings.public_url)
    # Added last, so outermost: an oversized body is refused before anything else looks at it.
    app.add_middleware(BodyLimit, limit=settings.max_body_kb * 1024,
                       webhook_limit=settings.webhook_max_body_kb * 1024)
    errors.install(app)
    for module in (auth, users, tokens, audit, settings_routes, projects, apps, domains, containers, deployments,
                   webhooks, notifications, backups, nodes, ws):
        app.include_router(module.router)
    app.include_router(web.router)
    return app
