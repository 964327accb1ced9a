"""Keeps the proxy's routes equal to what the database says: each web app's domains go to the
container of its current deployment (its upstream, kept in the `upstreams` table).

The pipeline moves an app's traffic with `switch`; the domains API calls `refresh`; a watcher puts
the routes back when Caddy restarted without them. Several Mist processes may share one Caddy: each
change is applied under a database lock (so two processes never load Caddy at once, and the last
load always holds the database's state), and one process at a time, the leader, starts Caddy and
watches it; when the leader dies another takes over within seconds. Without a proxy
(MIST_PROXY_ENABLED=false) the router only records upstreams.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.locks import PROXY_LEADER, ROUTES, Leadership, Lock
from mist.db.models import App, Deployment, Domain, Upstream
from mist.errors import MistError
from mist.proxy.caddy import Route, covers
from mist.runtime.engine import Engine

log = logging.getLogger(__name__)

WATCH_SECONDS = 2.0


class Proxy(Protocol):
    """What the router needs of the reverse proxy (mist.proxy.caddy.Caddy)."""

    admin: str

    async def ensure_running(self) -> bool: ...
    async def apply(self, routes: Sequence[Route]) -> None: ...
    async def in_sync(self, routes: Sequence[Route]) -> bool: ...


def _routes(session: Session, reserved: frozenset[str], override: dict[int, str | None]) -> list[Route]:
    """The route table the database describes, with `override`'s upstreams in place of the stored ones."""
    upstreams: dict[int, str | None] = {
        row.app_id: row.address for row in session.execute(select(Upstream.app_id, Upstream.address))}
    upstreams.update(override)
    domains: dict[int, list[str]] = {}
    for app_id, domain in session.execute(select(Domain.app_id, Domain.domain).order_by(Domain.domain)):
        domains.setdefault(app_id, []).append(domain)
    routes = []
    for app_id, names in sorted(domains.items()):
        allowed = tuple(n for n in names if not any(covers(n, host) for host in reserved))
        if (upstream := upstreams.get(app_id)) and allowed:
            routes.append(Route(app_id=app_id, domains=allowed, upstream=upstream))
    return routes


def _save(session: Session, app_id: int, upstream: str | None) -> None:
    session.execute(delete(Upstream).where(Upstream.app_id == app_id))
    if upstream is not None and session.get(App, app_id) is not None:
        session.add(Upstream(app_id=app_id, address=upstream))


def _upstream(session: Session, app_id: int) -> str | None:
    return session.scalar(select(Upstream.address).where(Upstream.app_id == app_id))


def _active(session: Session) -> list[tuple[int, str, int | None, str | None]]:
    """Each app's active container, its port and the upstream recorded for it."""
    return [(row.app_id, row.container_id, row.port, row.address) for row in session.execute(
        select(Deployment.app_id, Deployment.container_id, App.port, Upstream.address)
        .join(App, App.id == Deployment.app_id)
        .outerjoin(Upstream, Upstream.app_id == Deployment.app_id)
        .where(Deployment.is_active.is_(True))
    )]


class Router:
    def __init__(
        self, db: Database, engine: Engine, proxy: Proxy | None, reserved: frozenset[str] = frozenset(),
        *, orchestrated: bool = False,
    ) -> None:
        self.db = db
        # Swarm mode: an upstream names the app's service ("tasks.mist-app-7:8000"), which the proxy
        # resolves itself, so no container address ever replaces it.
        self.orchestrated = orchestrated
        # Domains saved before a host became reserved (MIST_PUBLIC_URL, MIST_RESERVED_DOMAINS) stay in
        # the database but are never routed: the dashboard's host must not reach an app.
        self.reserved = reserved
        self.engine = engine
        self.proxy = proxy
        self._applied: list[Route] | None = None  # what this process last gave the proxy
        self._lock = Lock(db, ROUTES)
        self._leadership = Leadership(db, PROXY_LEADER)
        self._leading = False
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Re-reads each app's upstream from its running container (its address may have changed
        while Mist was down, e.g. when the engine restarted), then, as leader, adopts (or starts) the
        proxy and loads the routes. Orchestrated upstreams are service names and stay as recorded."""
        active = [] if self.orchestrated else await self.db.run(_active)
        for app_id, container_id, port, recorded in active:
            try:
                state = await self.engine.inspect(container_id) if container_id else None
            except MistError as exc:
                # Mist starts without its engine too (and says so); the app is routed again once its
                # container is started or redeployed.
                log.error("app %s: cannot find its container: %s", app_id, exc.message)
                continue
            # A container this process's engine does not show may run on another process's engine:
            # only an address actually read replaces the recorded one.
            address = state.address(port) if state is not None else None
            if address is not None and address != recorded:
                await self.db.run(_save, app_id, address)
        if self.proxy is None:
            return
        await self._lead()
        self._watcher = asyncio.create_task(self._watch(), name="mist-proxy-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait({self._watcher})
        await self._leadership.release()

    async def switch(self, app_id: int, upstream: str | None) -> None:
        """Sends the app's traffic to `upstream` (None: nowhere). Recorded only once the proxy took
        it: a failed switch leaves both the proxy and the database as they were."""
        await self._apply({app_id: upstream})

    async def refresh(self) -> None:
        await self._apply({})

    async def upstream(self, app_id: int) -> str | None:
        return await self.db.run(_upstream, app_id)

    async def _apply(self, override: dict[int, str | None]) -> None:
        """Loads the route table if it changed: every load makes Caddy close idle connections."""
        async with self._lock:
            routes = await self.db.run(_routes, self.reserved, override)
            if self.proxy is not None and routes != self._applied:
                await self.proxy.apply(routes)
                self._applied = routes
            for app_id, upstream in override.items():
                await self.db.run(_save, app_id, upstream)

    async def _lead(self) -> None:
        """Claims the lead if free; the leader keeps Caddy running and holding the routes."""
        assert self.proxy is not None
        leading = await self._leadership.claim()
        if leading and not self._leading:
            log.info("proxy: this process now configures Caddy at %s", self.proxy.admin)
        self._leading = leading
        if not leading:
            return
        try:
            if await self.proxy.ensure_running():
                log.info("started Caddy at %s", self.proxy.admin)
            await self._restore()
        except MistError as exc:
            log.error("the proxy is not available: %s", exc.message)

    async def _restore(self) -> None:
        """Caddy runs on its own; if it restarted (or was restarted empty), put the routes back."""
        assert self.proxy is not None
        async with self._lock:
            routes = await self.db.run(_routes, self.reserved, {})
            if not await self.proxy.in_sync(routes):
                await self.proxy.apply(routes)
                if self._applied is not None:
                    log.warning("the proxy had lost its routes; they are back")
            self._applied = routes

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            await self._lead()
