"""The running container of an app: stop, start, restart, status and runtime logs.

The app's container is the one its active deployment started. Control is refused while a
deployment is switching containers, so a stop never races a swap. A start or restart may give the
container a new address, so the proxy is pointed at it again; a restart first applies the app's
current limits and restart policy, which is what `actionRequired: "restart"` promises.

In Swarm mode (MIST_RUNTIME=swarm) the app is a service of `replicas` tasks (the services port): stop
scales it to 0, start back to the app's replicas, restart replaces every task with a fresh one (Swarm's
forced update, rolled back if a new task fails); status answers per replica and logs merge the replicas'.
The proxy reaches a service's tasks by name, so nothing is re-routed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist import replicas
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
from mist.errors import Conflict, NotFound, RuntimeEngineError
from mist.feeds import Feeds, Running
from mist.proxy.router import Router
from mist.runtime.engine import Engine
from mist.runtime.requests import ContainerState
from mist.runtime.services import Services, service_name

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
    replicas: int = 1

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
        replicas=app.replicas,
    )


def _uptime(started_at: str) -> int | None:
    if not started_at:
        return None
    # The engine gives nanoseconds; seconds are all an uptime needs.
    started = datetime.strptime(started_at[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return max(0, int((datetime.now(UTC) - started).total_seconds()))


class Containers:
    """`services` is the orchestrator in Swarm mode (MIST_RUNTIME=swarm), None on one Docker engine."""

    def __init__(self, db: Database, engine: Engine, router: Router, settings: Settings,
                 services: Services | None = None) -> None:
        self.db = db
        self.engine = engine
        self.router = router
        self.stop_timeout = settings.stop_timeout_seconds
        self.settings = settings
        self.services = services
        # A feed uses only `follow_logs` and `inspect`, which ServiceLogSource answers for a service.
        source = engine if services is None else cast(Engine, replicas.ServiceLogSource(services))
        self.feeds = Feeds(source, self._running)

    async def _running(self, app_id: int) -> Running:
        running = await self.db.run(_running, app_id)
        if self.services is not None and running.container_id:
            return Running(service_name(app_id), running.secrets)
        return running

    async def target(self, user: User, app_id: int) -> Target:
        return await self.db.run(_target, user, app_id, self.settings)

    async def stop(self, user: User, app_id: int) -> dict[str, Any]:
        target = await self.target(user, app_id)
        if self.services is not None:
            target.require_idle()
            await self._scale(target, 0)
        else:
            await self.engine.stop(target.require_idle(), self.stop_timeout)
        return await self._status(target)

    async def start(self, user: User, app_id: int) -> dict[str, Any]:
        target = await self.target(user, app_id)
        if self.services is not None:
            target.require_idle()
            await self._scale(target, target.replicas)
        else:
            await self.engine.start(target.require_idle())
            await self._route(target)
        return await self._status(target)

    async def restart(self, user: User, app_id: int) -> dict[str, Any]:
        target = await self.target(user, app_id)
        container = target.require_idle()
        if self.services is not None:
            await self._restart_service(target)
            return await self._status(target)
        await self.engine.update_resources(container, target.cpu_limit, target.memory_limit, target.restart_policy)
        await self.engine.restart(container, self.stop_timeout)
        await self._route(target)
        return await self._status(target)

    async def status(self, user: User, app_id: int) -> dict[str, Any]:
        return await self._status(await self.target(user, app_id))

    async def logs(self, user: User, app_id: int, tail: int) -> str:
        target = await self.target(user, app_id)
        container = target.require_container()
        if self.services is not None:
            # Merged from every replica, oldest first, each line naming its task (`mist-app-3.2`).
            lines = [line async for line in self.services.logs(service_name(target.app_id), tail)]
        else:
            lines = await self.engine.logs(container, tail)
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

    # ---- Swarm mode

    def _service(self) -> Services:
        assert self.services is not None  # only called in Swarm mode
        return self.services

    async def _scale(self, target: Target, count: int) -> None:
        name = service_name(target.app_id)
        try:
            await self._service().scale(name, count)
        except NotFound:
            raise _gone(target) from None

    async def _restart_service(self, target: Target) -> None:
        """Every replica replaced by a fresh one, one at a time (a replacement that fails is rolled back by
        Swarm, and the restart fails with its reason); a stopped app is started, as a stopped container is."""
        services, name = self._service(), service_name(target.app_id)
        try:
            tasks = await services.tasks(name)
            if not replicas.current(tasks):
                await services.scale(name, target.replicas)
                return
            outcome = await services.force_update(name)
        except NotFound:
            raise _gone(target) from None
        if not outcome.ok:
            redact = Redactor(target.secrets)
            failed = outcome.failed_task
            why = f" ({failed.name}: {failed.error})" if failed is not None and failed.error else ""
            raise RuntimeEngineError(redact(
                f"the restart of app {target.app_id} did not complete; Swarm {outcome.status.replace('_', ' ')}"
                f" the service: {outcome.message or 'no reason given'}{why}"))

    async def _swarm_status(self, target: Target) -> dict[str, Any]:
        base = {"appId": target.app_id, "deploymentId": target.deployment_id,
                "deploymentNumber": target.deployment_number}
        name = service_name(target.app_id)
        tasks = None
        if target.container_id:
            try:
                tasks = await self._service().tasks(name)
            except NotFound:
                tasks = None
        if tasks is None:
            return {**base, "containerId": None, "name": None,
                    "state": "not_deployed" if not target.container_id else "removed", "health": "none",
                    "startedAt": None, "uptime": None, "image": None, "restarts": 0, "exitCode": None,
                    "cpuLimit": None, "memoryLimit": None, "restartPolicy": None, "replicas": []}
        now = replicas.current(tasks)
        state, health = replicas.summary(now)
        redact = Redactor(target.secrets)
        rows = [replicas.replica(t, tasks, redact) for t in now]
        # The app has been up since its longest-running replica started.
        started = min((t.started_at for t in now if t.running), default="")
        ended = [t for t in tasks if t.exit_code is not None]
        last_exit = max(ended, key=lambda t: t.started_at).exit_code if ended else None
        return {
            **base,
            "containerId": name,  # the service: it outlives each replica's container
            "name": name,
            "state": state,
            "health": health,
            "startedAt": started or None,
            "uptime": _uptime(started),
            "image": now[0].image if now else None,
            "restarts": sum(row["restarts"] for row in rows),
            "exitCode": last_exit if state != "running" else None,
            # The app's settings, which each deployment gives the service (a restart keeps the service's).
            "cpuLimit": target.cpu_limit,
            "memoryLimit": target.memory_limit,
            "restartPolicy": target.restart_policy,
            "replicas": rows,
        }

    # ---- one Docker engine

    async def _route(self, target: Target) -> None:
        state = await self.engine.inspect(target.container_id)
        if state is not None and (address := state.address(target.port)):
            await self.router.switch(target.app_id, address)

    async def _status(self, target: Target) -> dict[str, Any]:
        if self.services is not None:
            return await self._swarm_status(target)
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



def _gone(target: Target) -> Conflict:
    return Conflict(f"app {target.app_id}'s service {service_name(target.app_id)} is not in the swarm; "
                    "deploy the app again")
