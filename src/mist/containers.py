"""The running container of an app: stop, start, restart, status and runtime logs.

The app's container is the one its active deployment started. Control is refused while a
deployment is switching containers, so a stop never races a swap. A start or restart may give the
container a new address, so the proxy is pointed at it again; a restart first applies the app's
current limits and restart policy, which is what `actionRequired: "restart"` promises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.app_settings import resolve
from mist.apps import secret_values
from mist.auth.permissions import app_for
from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App, Deployment, User
from mist.deploy import store
from mist.deploy.health import HealthCheck, probe
from mist.deploy.logs import Redactor
from mist.deploy.plan import Runtime
from mist.deploy.stages import DEPLOYING
from mist.errors import Conflict
from mist.feeds import Feeds, Running
from mist.proxy.router import Router
from mist.runtime.engine import Engine
from mist.runtime.requests import ContainerState

MAX_TAIL = 10_000  # the most lines a caller may ask for at once


@dataclass(frozen=True)
class Target:
    """An app and the container of its active deployment, as read for one request."""

    app_id: int
    port: int | None
    health_path: str
    cpu_limit: float | None
    memory_limit: int | None
    restart_policy: str
    deployment_id: int | None
    deployment_number: int | None
    container_id: str
    deploying: bool
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def require_container(self) -> str:
        if not self.container_id:
            raise Conflict(f"app {self.app_id} has no running deployment yet; deploy it first")
        return self.container_id

    def require_idle(self) -> str:
        if self.deploying:
            raise Conflict(f"app {self.app_id} is switching to a new container; try again when it has finished")
        return self.require_container()


def _secrets(app: App, active: Deployment | None) -> tuple[str, ...]:
    """What the app's logs must not show: its secret values now, and those its container started with."""
    snapshot_secrets = Runtime.from_json(active.snapshot).secrets if active and active.snapshot else ()
    return tuple(secret_values(app)) + tuple(snapshot_secrets)


def _running(session: Session, app_id: int) -> Running:
    app = session.get(App, app_id)
    active = store.active(session, app_id) if app is not None else None
    return Running(container_id=active.container_id if active else "",
                   secrets=_secrets(app, active) if app is not None else ())


def _target(session: Session, user: User, app_id: int, settings: Settings) -> Target:
    app: App = app_for(session, user, app_id)
    active = store.active(session, app.id)
    deploying = session.scalar(
        select(Deployment.id).where(Deployment.app_id == app.id, Deployment.status == DEPLOYING)
    )
    return Target(
        app_id=app.id, port=app.port, health_path=app.healthcheck_path,
        cpu_limit=app.cpu_limit, memory_limit=app.memory_limit,
        restart_policy=resolve(app, settings).restart_policy.value,
        deployment_id=active.id if active else None,
        deployment_number=active.deployment_number if active else None,
        container_id=active.container_id if active else "",
        deploying=deploying is not None,
        secrets=_secrets(app, active),
    )


def _uptime(started_at: str) -> int | None:
    if not started_at:
        return None
    # The engine gives nanoseconds; seconds are all an uptime needs.
    started = datetime.strptime(started_at[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return max(0, int((datetime.now(UTC) - started).total_seconds()))


class Containers:
    def __init__(self, db: Database, engine: Engine, router: Router, settings: Settings) -> None:
        self.db = db
        self.engine = engine
        self.router = router
        self.stop_timeout = settings.stop_timeout_seconds
        self.settings = settings
        self.feeds = Feeds(engine, self._running)

    async def _running(self, app_id: int) -> Running:
        return await self.db.run(_running, app_id)

    async def target(self, user: User, app_id: int) -> Target:
        return await self.db.run(_target, user, app_id, self.settings)

    async def stop(self, user: User, app_id: int) -> dict[str, Any]:
        target = await self.target(user, app_id)
        await self.engine.stop(target.require_idle(), self.stop_timeout)
        return await self._status(target)

    async def start(self, user: User, app_id: int) -> dict[str, Any]:
        target = await self.target(user, app_id)
        await self.engine.start(target.require_idle())
        await self._route(target)
        return await self._status(target)

    async def restart(self, user: User, app_id: int) -> dict[str, Any]:
        target = await self.target(user, app_id)
        container = target.require_idle()
        await self.engine.update_resources(container, target.cpu_limit, target.memory_limit, target.restart_policy)
        await self.engine.restart(container, self.stop_timeout)
        await self._route(target)
        return await self._status(target)

    async def status(self, user: User, app_id: int) -> dict[str, Any]:
        return await self._status(await self.target(user, app_id))

    async def logs(self, user: User, app_id: int, tail: int) -> str:
        target = await self.target(user, app_id)
        lines = await self.engine.logs(target.require_container(), tail)
        redact = Redactor(target.secrets)
        return "\n".join(redact(line) for line in lines)

    async def follow(self, target: Target, tail: int) -> AsyncIterator[str]:
        """Encoded messages: the last `tail` log lines of the app's container, then its lines as
        they are written, and (when it stops) a status message; the stream goes on with the same
        container started again, or the app's next one. Watchers of what comes from now on share
        one engine stream (`mist.feeds`)."""
        target.require_container()
        follower = self.feeds.join(target.app_id, tail)
        try:
            async for item in follower.items():
                yield item.text
        finally:
            follower.close()

    async def _route(self, target: Target) -> None:
        state = await self.engine.inspect(target.container_id)
        if state is not None and (address := state.address(target.port)):
            await self.router.switch(target.app_id, address)

    async def _status(self, target: Target) -> dict[str, Any]:
        state: ContainerState | None = None
        if target.container_id:
            state = await self.engine.inspect(target.container_id)
        health = "none"
        if state is not None and state.status == "running" and target.port and state.ip_address:
            reason = await probe(state.ip_address, target.port, HealthCheck(path=target.health_path, timeout=2))
            health = "healthy" if reason is None else "unhealthy"
        elif state is not None and state.status != "running":
            health = "unhealthy"
        return {
            "appId": target.app_id,
            "deploymentId": target.deployment_id,
            "deploymentNumber": target.deployment_number,
            "containerId": state.id if state else None,
            "name": state.name if state else None,
            "state": state.status if state else "not_deployed" if not target.container_id else "removed",
            "health": health,
            "startedAt": state.started_at or None if state else None,
            "uptime": _uptime(state.started_at) if state else None,
            "image": state.image if state else None,
            "restarts": state.restart_count if state else 0,
            "exitCode": state.exit_code if state and state.status != "running" else None,
            "cpuLimit": state.cpu_limit if state else None,
            "memoryLimit": state.memory_limit if state else None,
            "restartPolicy": state.restart_policy if state else None,
        }

