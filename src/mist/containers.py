"""The running container of an app: stop, start, restart, status and runtime logs.

The app's container is the one its active deployment started. Control is refused while a
deployment is switching containers, so a stop never races a swap. A start or restart may give the
container a new address, so the proxy is pointed at it again; a restart first applies the app's
current limits and restart policy, which is what `actionRequired: "restart"` promises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import select

from mist.apps import secret_values
from mist.auth.permissions import app_for
from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App, Deployment, User
from mist.deploy.events import message
from mist.deploy.health import HealthCheck, probe
from mist.deploy.logs import Redactor
from mist.deploy.plan import Runtime
from mist.deploy.stages import DEPLOYING
from mist.errors import Conflict
from mist.lines import CONTINUED
from mist.proxy.router import Router
from mist.runtime.docker import DockerRuntime
from mist.runtime.requests import ContainerState

MAX_TAIL = 10_000  # the most lines a caller may ask for at once
FOLLOW_POLL_SECONDS = 1.0


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


def _target(session, user: User, app_id: int, default_policy: str) -> Target:
    app: App = app_for(session, user, app_id)
    active = session.scalar(select(Deployment).where(Deployment.app_id == app.id, Deployment.is_active.is_(True)))
    deploying = session.scalar(
        select(Deployment.id).where(Deployment.app_id == app.id, Deployment.status == DEPLOYING)
    )
    snapshot_secrets = Runtime.from_json(active.snapshot).secrets if active and active.snapshot else ()
    return Target(
        app_id=app.id, port=app.port, health_path=app.healthcheck_path,
        cpu_limit=app.cpu_limit, memory_limit=app.memory_limit,
        restart_policy=app.restart_policy or default_policy,
        deployment_id=active.id if active else None,
        deployment_number=active.deployment_number if active else None,
        container_id=active.container_id if active else "",
        deploying=deploying is not None,
        secrets=tuple(secret_values(app)) + tuple(snapshot_secrets),
    )


def _uptime(started_at: str) -> int | None:
    if not started_at:
        return None
    # The engine gives nanoseconds; seconds are all an uptime needs.
    started = datetime.strptime(started_at[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return max(0, int((datetime.now(timezone.utc) - started).total_seconds()))


class Containers:
    def __init__(self, db: Database, runtime: DockerRuntime, router: Router, settings: Settings) -> None:
        self.db = db
        self.runtime = runtime
        self.router = router
        self.stop_timeout = settings.stop_timeout_seconds
        self.default_policy = settings.restart_policy

    async def target(self, user: User, app_id: int) -> Target:
        return await asyncio.to_thread(self.db.call, _target, user, app_id, self.default_policy)

    async def stop(self, user: User, app_id: int) -> dict:
        target = await self.target(user, app_id)
        await asyncio.to_thread(self.runtime.stop, target.require_idle(), self.stop_timeout)
        return await self._status(target)

    async def start(self, user: User, app_id: int) -> dict:
        target = await self.target(user, app_id)
        await asyncio.to_thread(self.runtime.start, target.require_idle())
        await self._route(target)
        return await self._status(target)

    async def restart(self, user: User, app_id: int) -> dict:
        target = await self.target(user, app_id)
        container = target.require_idle()
        await asyncio.to_thread(
            self.runtime.update_resources, container, target.cpu_limit, target.memory_limit, target.restart_policy
        )
        await asyncio.to_thread(self.runtime.restart, container, self.stop_timeout)
        await self._route(target)
        return await self._status(target)

    async def status(self, user: User, app_id: int) -> dict:
        return await self._status(await self.target(user, app_id))

    async def logs(self, user: User, app_id: int, tail: int) -> str:
        target = await self.target(user, app_id)
        lines = await asyncio.to_thread(self.runtime.logs, target.require_container(), tail)
        redact = Redactor(target.secrets)
        return "\n".join(redact(line) for line in lines)

    async def follow(self, target: Target, tail: int) -> AsyncIterator[dict]:
        """Log lines of the app's container as they are written, then (when it stops) a status
        message; resumes with the app's next container, or the same one started again."""
        redact = Redactor(target.secrets)
        container, since, stamp = target.require_container(), None, ""
        while True:
            async for line in self.runtime.follow_logs(container, tail if since is None else "all", since):
                if line.startswith(CONTINUED):  # the rest of an over-long line: no stamp of its own
                    text = line
                else:
                    stamp, _, text = line.partition(" ")
                yield message("log", {"timestamp": stamp, "line": redact(text)})
            since = time.time()
            state = await asyncio.to_thread(self.runtime.inspect, container)
            yield message("status", {"state": state.status if state else "removed"})
            container, since = await self._next_running(target, container, since)

    async def _next_running(self, target: Target, previous: str, since: float) -> tuple[str, float | None]:
        """Waits until the app runs a container again: the same one restarted continues after what
        was sent; a new one (a deployment) is followed from its start."""
        while True:
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            current = await asyncio.to_thread(self.db.call, _active_container, target.app_id)
            if not current:
                continue
            state = await asyncio.to_thread(self.runtime.inspect, current)
            if state is not None and state.status == "running":
                return current, (since if current == previous else None)

    async def _route(self, target: Target) -> None:
        state = await asyncio.to_thread(self.runtime.inspect, target.container_id)
        if state is not None and state.ip_address and target.port:
            await self.router.switch(target.app_id, f"{state.ip_address}:{target.port}")

    async def _status(self, target: Target) -> dict:
        state: ContainerState | None = None
        if target.container_id:
            state = await asyncio.to_thread(self.runtime.inspect, target.container_id)
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


def _active_container(session, app_id: int) -> str:
    return session.scalar(
        select(Deployment.container_id).where(Deployment.app_id == app_id, Deployment.is_active.is_(True))
    ) or ""

