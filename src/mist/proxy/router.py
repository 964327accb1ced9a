"""Keeps the proxy's routes equal to what the database and the running containers say: each web
app's domains go to the container of its current deployment.

The pipeline moves an app's traffic with `switch`; the domains API calls `refresh`; a watcher puts
the routes back when Caddy restarted without them. Without a proxy (MIST_PROXY_ENABLED=false) the
router only remembers upstreams.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from mist.db.engine import Database
from mist.db.models import App, Deployment, Domain
from mist.errors import MistError
from mist.proxy.caddy import CaddyProxy, Route, covers
from mist.runtime.engine import Engine

log = logging.getLogger(__name__)

WATCH_SECONDS = 2.0


def _domains(session) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for app_id, domain in session.execute(select(Domain.app_id, Domain.domain).order_by(Domain.domain)):
        out.setdefault(app_id, []).append(domain)
    return out


def _active(session) -> list[tuple[int, str, int | None]]:
    return list(session.execute(
        select(Deployment.app_id, Deployment.container_id, App.port)
        .join(App, App.id == Deployment.app_id)
        .where(Deployment.is_active.is_(True))
    ))


class Router:
    def __init__(
        self, db: Database, engine: Engine, proxy: CaddyProxy | None, reserved: frozenset[str] = frozenset()
    ) -> None:
        self.db = db
        # Domains saved before a host became reserved (MIST_PUBLIC_URL, MIST_RESERVED_DOMAINS) stay in
        # the database but are never routed: the dashboard's host must not reach an app.
        self.reserved = reserved
        self.engine = engine
        self.proxy = proxy
        self._upstreams: dict[int, str] = {}
        self._applied: list[Route] | None = None  # what the proxy was last given
        self._lock = asyncio.Lock()
        self._watcher: asyncio.Task | None = None

    async def start(self) -> None:
        """Adopts (or starts) the proxy and routes every app to its running container."""
        for app_id, container_id, port in await self.db.run(_active):
            try:
                state = await self.engine.inspect(container_id) if container_id else None
            except MistError as exc:
                # Mist starts without its engine too (and says so); the app is routed again once its
                # container is started or redeployed.
                log.error("app %s: cannot find its container: %s", app_id, exc.message)
                continue
            if state is not None and (address := state.address(port)):
                self._upstreams[app_id] = address
        if self.proxy is None:
            return
        try:
            started = await asyncio.to_thread(self.proxy.ensure_running)
            log.info("%s Caddy at %s", "started" if started else "adopted", self.proxy.admin)
            await self.refresh()
        except MistError as exc:
            log.error("the proxy is not available: %s", exc.message)
        self._watcher = asyncio.create_task(self._watch(), name="mist-proxy-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait({self._watcher})

    async def switch(self, app_id: int, upstream: str | None) -> None:
        async with self._lock:
            previous = self._upstreams.get(app_id)
            self._set(app_id, upstream)
            try:
                await self._apply()
            except MistError:
                self._set(app_id, previous)
                raise

    def _set(self, app_id: int, upstream: str | None) -> None:
        if upstream is None:
            self._upstreams.pop(app_id, None)
        else:
            self._upstreams[app_id] = upstream

    async def forget(self, app_ids: list[int]) -> None:
        async with self._lock:
            for app_id in app_ids:
                self._upstreams.pop(app_id, None)
            await self._apply()

    async def refresh(self) -> None:
        async with self._lock:
            await self._apply()

    def upstream(self, app_id: int) -> str | None:
        return self._upstreams.get(app_id)

    async def _routes(self) -> list[Route]:
        domains = await self.db.run(_domains)
        routes = []
        for app_id, names in sorted(domains.items()):
            allowed = tuple(n for n in names if not any(covers(n, host) for host in self.reserved))
            if app_id in self._upstreams and allowed:
                routes.append(Route(app_id=app_id, domains=allowed, upstream=self._upstreams[app_id]))
        return routes

    async def _apply(self) -> None:
        """Loads the route table if it changed: every load makes Caddy close idle connections.
        The watcher, not this, notices a Caddy that lost what it was given."""
        if self.proxy is None:
            return
        routes = await self._routes()
        if routes != self._applied:
            await asyncio.to_thread(self.proxy.apply, routes)
            self._applied = routes

    async def _watch(self) -> None:
        """Caddy runs on its own; if it restarted (or was restarted empty), put the routes back."""
        assert self.proxy is not None
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                async with self._lock:
                    routes = await self._routes()
                    if not await asyncio.to_thread(self.proxy.in_sync, routes):
                        await asyncio.to_thread(self.proxy.ensure_running)
                        await asyncio.to_thread(self.proxy.apply, routes)
                        self._applied = routes
                        log.warning("the proxy had lost its routes; they are back")
            except MistError as exc:
                log.error("the proxy is not reachable: %s", exc.message)
