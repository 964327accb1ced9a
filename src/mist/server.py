"""The ASGI application: routes, error handling, and the lifespan that starts the workers."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mist.api import (
    apps,
    audit,
    auth,
    containers,
    deployments,
    domains,
    errors,
    projects,
    tokens,
    users,
    webhooks,
    ws,
)
from mist.api import settings as settings_routes  # not `settings`: create_app's argument
from mist.api.access import AccessWatch
from mist.api.pacer import Pacer, Priority
from mist.api.bodylimit import BodyLimit
from mist.api.origin import OriginGuard
from mist.config import Settings
from mist.errors import MistError
from mist.services import Services, build_services
from mist.web import routes as web

log = logging.getLogger(__name__)


class DataDirLocked(MistError):
    """Another Mist process already serves this data directory."""


def _lock_data_dir(settings: Settings) -> int:
    """One Mist per data directory: recovery relies on no other process holding deployments."""
    fd = os.open(settings.data_dir / "mist.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise DataDirLocked(f"another Mist process is using {settings.data_dir}") from exc
    return fd


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    svc = services or build_services(settings)
    access = AccessWatch(svc.db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        settings.prepare_dirs()
        lock = _lock_data_dir(settings)
        try:
            await asyncio.to_thread(svc.db.migrate)
            try:
                await svc.engine.ping()
            except MistError as exc:
                log.warning("%s; deployments will fail until it is reachable", exc.message)
            await svc.housekeeping.start()
            await svc.router.start()
            await svc.workers.start()
            log.info("Mist is ready: data in %s, %d workers", settings.data_dir, settings.workers)
            # What exists now (modules, routes, the ORM's mappers) lives as long as the process: moved
            # out of the collector's sight, a full collection under load scans only what requests made,
            # instead of stalling every request for a tenth of a second.
            gc.freeze()
            yield
        finally:
            await svc.workers.stop()
            await access.stop()
            await svc.router.stop()
            await svc.housekeeping.stop()
            await svc.engine.aclose()
            svc.db.dispose()
            os.close(lock)

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
                   webhooks, ws):
        app.include_router(module.router)
    app.include_router(web.router)
    return app
