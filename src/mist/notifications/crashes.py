"""`container.crashed`: an app's running container exited when nobody asked it to, or keeps dying.

The engine's own events tell a crash from a stop: Docker announces a `kill` before every `die` that
a stop, restart or removal causes (whichever Mist process, or person, asked for it), and none before
a process that ended on its own or was killed for memory. So a `die` with no `kill` since the
container last started is a crash; Mist keeps no list of the stops it makes, and a stop made by
another process sharing the database is known here all the same. Only the container of the app's
active deployment counts: one a deployment is replacing, or that failed its health check, is not
"the running container".

A restart loop (a restart policy bringing the container back each time it dies) tells once: after
telling of a container, its crashes in the next LOOP_WINDOW are counted, not sent.

Every process follows the events and keeps the same counts; the one holding the lead when a crash
comes (an advisory lock, like the proxy's) writes the outbox rows, so several processes sharing a
PostgreSQL database tell each crash once, and another takes over when that one dies.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import App, Deployment, Project, iso
from mist.errors import MistError
from mist.notifications import events, outbox
from mist.runtime.engine import DEPLOYMENT_LABEL, Engine
from mist.runtime.requests import ContainerEvent
from mist.runtime.services import TASK_SERVICE_LABEL

log = logging.getLogger(__name__)

LOOP_WINDOW = 300.0  # seconds
LOOP_CRASHES = 3  # within LOOP_WINDOW: a restart loop
RETRY_SECONDS = 5.0


class Lead(Protocol):
    async def claim(self) -> bool: ...

    async def release(self) -> None: ...


@dataclass
class _Seen:
    """What the events told of one container since it was last started or stopped on purpose."""

    killed: bool = False  # a kill came since it last started: its next die was asked for
    crashes: deque[float] = field(default_factory=deque)  # when it died on its own, within LOOP_WINDOW
    told_at: float | None = None


@dataclass(frozen=True)
class Crash:
    event: ContainerEvent
    restarts: int
    crashes: int  # within LOOP_WINDOW, this one included


def _source(event: ContainerEvent) -> str:
    """What crashed: the container, or in Swarm mode (where the active deployment records the app's service)
    the service, whose task Swarm replaces with a new container at each restart."""
    return event.labels.get(TASK_SERVICE_LABEL) or event.container_id


def _enqueue(session: Session, crash: Crash, send: bool) -> bool:
    """Whether the container is the one its app runs now (in Swarm mode: a task of the active deployment's
    spec); if so, and `send`, adds the deliveries."""
    query = select(Deployment).where(Deployment.container_id == _source(crash.event), Deployment.is_active.is_(True))
    if TASK_SERVICE_LABEL in crash.event.labels:  # a task of an earlier spec ending is an update, not a crash
        label = crash.event.labels.get(DEPLOYMENT_LABEL, "")
        query = query.where(Deployment.id == (int(label) if label.isdigit() else None))
    deployment = session.scalars(query).first()
    if deployment is None:
        return False
    if send:
        outbox.enqueue(session, events.CONTAINER_CRASHED, payload(session, deployment, crash))
    return True


def payload(session: Session, deployment: Deployment, crash: Crash) -> dict[str, Any]:
    app = session.get_one(App, deployment.app_id)
    project = session.get_one(Project, app.project_id)
    event = crash.event
    return {
        "event": events.CONTAINER_CRASHED,
        "at": iso(datetime.fromtimestamp(event.at, UTC).replace(tzinfo=None)),
        "project": {"id": project.id, "name": project.name},
        "app": {"id": app.id, "name": app.name},
        "container": {"id": event.container_id, "name": event.name, "exitCode": event.exit_code,
                      "restarts": crash.restarts, "restartLoop": crash.crashes >= LOOP_CRASHES},
        "deployment": {"id": deployment.id, "number": deployment.deployment_number},
        "url": None,
    }


class CrashWatch:
    def __init__(self, db: Database, engine: Engine, lead: Lead, retry_seconds: float = RETRY_SECONDS) -> None:
        self.db = db
        self.engine = engine
        self.lead = lead
        self.retry_seconds = retry_seconds
        self._seen: dict[str, _Seen] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="mist-crash-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None
        await self.lead.release()

    async def handle(self, event: ContainerEvent) -> bool:
        """Takes in one event; answers whether it wrote a `container.crashed` (this process leading)."""
        key = _source(event)
        seen = self._seen.setdefault(key, _Seen())
        if event.action == "kill":
            seen.killed = True
            return False
        if event.action != "die":
            seen.killed = False
            return False
        if seen.killed:  # a stop, restart or removal someone asked for: it starts over from here
            del self._seen[key]
            return False
        seen.crashes.append(event.at)
        while seen.crashes and seen.crashes[0] <= event.at - LOOP_WINDOW:
            seen.crashes.popleft()
        if seen.told_at is not None and event.at - seen.told_at < LOOP_WINDOW:
            return False
        try:
            state = await self.engine.inspect(event.container_id)
        except MistError:  # the count is a detail: the crash is told without it
            state = None
        crash = Crash(event, state.restart_count if state is not None else 0, len(seen.crashes))
        leading = await self.lead.claim()
        if not await self.db.run(_enqueue, crash, leading):
            del self._seen[key]
            return False
        seen.told_at = event.at
        if leading:
            log.warning("container %s of app %s exited with code %d on its own", event.name,
                        event.labels.get("mist.app", "?"), event.exit_code)
        return leading

    async def _loop(self) -> None:
        while True:
            try:
                async for event in self.engine.container_events():
                    await self.handle(event)
            except Exception:  # an engine or database that is down must not end the watch for good
                log.exception("container.crashed: the watch failed; trying again in %g s", self.retry_seconds)
            await asyncio.sleep(self.retry_seconds)
